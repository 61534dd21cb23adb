"""Hostile and dirty input (issue 8), item by item. Each gives one of our errors, whose message names the
file, line, byte or field and what was expected, or a documented behaviour that is asserted here; nothing
may end in a traceback from inside csv, json, tokenizers or torch.

The list: empty files; a header only; one class (or one tag) only; labels with whitespace or of mixed
types; extremely long texts; control characters; invalid UTF-8 and lone surrogates; CoNLL files with
Windows (or old Mac) line endings, tabs or spaces, no final newline; token/tag count mismatches; config
values of the wrong type, zero or negative sizes, an out-of-range learning rate. The readers are called
directly; a few cases go through `nlp-lstm` end to end, with configs that train in about a second.
Property-based tests of the same readers, the tokenizer and the vocab are in test_properties.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import assert_error, run_cli

from nlp_lstm.config import DataConfig, load_config
from nlp_lstm.data.conll import TaggedDataset, load_tagged
from nlp_lstm.data.sources import load_texts
from nlp_lstm.data.tagged import load_tagged_splits
from nlp_lstm.errors import ConfigError, DataError
from nlp_lstm.predictor import Predictor
from nlp_lstm.text.tokenizers import TextTokenizer

POSITIVE = ["great fun", "loved every minute", "a warm and witty film", "superb acting", "pure joy", "so good"]
NEGATIVE = ["dull and slow", "hated it", "a tedious mess", "awful acting", "pure boredom", "so bad"]
ROWS = [(text, "pos") for text in POSITIVE] + [(text, "neg") for text in NEGATIVE]

CONLL = "-DOCSTART- -X- O O\n\nEU NNP B-ORG\nrejects VBZ O\nGerman JJ B-MISC\n\nPeter NNP B-PER\nBlackburn NNP I-PER\n"
CONLL_SENTENCES = [["EU", "rejects", "German"], ["Peter", "Blackburn"]]
CONLL_TAGS = [["B-ORG", "O", "B-MISC"], ["B-PER", "I-PER"]]


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def tsv(rows: list[tuple[str, str]], newline: str = "\n") -> str:
    return newline.join(["text\tlabel", *(f"{text}\t{label}" for text, label in rows)]) + newline


def tiny_config(path: Path, train: str, dev: str = "", extra: str = "") -> Path:
    """A config that trains in about a second (dev carved out of train when `dev` is empty)."""
    return write(path, f"""[data]
train = {json.dumps(train)}
dev = {json.dumps(dev)}
validation_fraction = 0.25
max_length = 8

[model]
embedding_dim = 8
hidden_size = 8

[training]
epochs = 1
batch_size = 8
device = "cpu"
plots = false
{extra}""")


def train_argv(config: Path, output: Path, *overrides: str) -> list[object]:
    return ["train", config, *(a for o in overrides for a in ("--set", o)), "--output", output, "--no-progress"]


def data_error(spec: str) -> str:
    """The message of the DataError that loading `spec` raises."""
    with pytest.raises(DataError) as info:
        load_texts(spec) if spec.split(":")[0] in ("tsv", "csv", "jsonl", "parquet") else load_tagged(spec)
    return str(info.value)


# ---------------------------------------------------------------- empty files and a header only


@pytest.mark.parametrize("kind, body, message", [
    ("tsv", "", "{path}: empty file, expected a header row (e.g. text<TAB>label)"),
    ("tsv", "\n \n\n", "{path}: empty file, expected a header row (e.g. text<TAB>label)"),
    ("csv", "", "{path}: empty file, expected a header row (e.g. text,label)"),
    ("csv", "\r\n\r\n", "{path}: empty file, expected a header row (e.g. text,label)"),
    ("jsonl", "", "jsonl:{path}: no examples (the source is empty or has only a header)"),
    ("jsonl", "\n  \n", "jsonl:{path}: no examples (the source is empty or has only a header)"),
    ("parquet", "", "{path}: cannot read as Parquet: Parquet file size is 0 bytes"),
    ("tsv", "text\tlabel\n", "tsv:{path}: no examples (the source is empty or has only a header)"),
    ("csv", "text,label", "csv:{path}: no examples (the source is empty or has only a header)"),
    ("conll", "", "{path}: no sentences (expected token lines such as 'EU NNP I-NP I-ORG')"),
    ("conll", "-DOCSTART- -X- O O\n\n", "{path}: no sentences (expected token lines such as 'EU NNP I-NP I-ORG')"),
    ("conllu", "# sent_id = 1\n# text = \n\n", "{path}: no sentences (expected CoNLL-U word lines of 10 "
                                               "tab-separated fields)"),
    ("wordtag", "\r\n\r\n", "{path}: no sentences (expected lines of word/TAG tokens)"),
], ids=["tsv", "tsv-blank-lines", "csv", "csv-blank-lines", "jsonl", "jsonl-blank-lines", "parquet",
        "tsv-header-only", "csv-header-only-no-newline", "conll", "conll-docstart-only", "conllu-comments-only",
        "wordtag-blank-lines"])
def test_empty_file_or_header_only(tmp_path: Path, kind: str, body: str, message: str) -> None:
    path = write(tmp_path / f"data.{kind}", body)
    assert message.format(path=path) in data_error(f"{kind}:{path}")


def test_empty_training_file_through_the_cli(capsys, tmp_path: Path) -> None:
    train = write(tmp_path / "train.tsv", "")
    config = tiny_config(tmp_path / "c.toml", f"tsv:{train}")
    assert_error(capsys, train_argv(config, tmp_path / "run"), f"{train}: empty file, expected a header row")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- one class or one tag only


def test_one_class_only_through_the_cli(capsys, tmp_path: Path) -> None:
    train = write(tmp_path / "train.tsv", tsv([(text, "pos") for text in POSITIVE + NEGATIVE]))
    config = tiny_config(tmp_path / "c.toml", f"tsv:{train}")
    assert_error(capsys, train_argv(config, tmp_path / "run"),
                 f"tsv:{train} [train: rest after carving dev, seed 0]: the training data has a single label 'pos'; "
                 f"a classifier needs at least 2")
    assert not (tmp_path / "run").exists()


def test_one_tag_only(tmp_path: Path) -> None:
    path = write(tmp_path / "o.conll", "EU NNP O\nrejects VBZ O\n\nPeter NNP O\n")
    with pytest.raises(DataError, match=rf"^conll:{path}: the training data has a single tag 'O'; a tagger needs "
                                        r"at least 2$"):
        load_tagged_splits(DataConfig(train=f"conll:{path}", dev=f"conll:{path}"))


# ---------------------------------------------------------------- labels: whitespace and mixed types


def test_labels_are_stripped_strings_inner_whitespace_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "l.tsv", tsv([("a", " pos "), ("b", "pos\u00a0"), ("c", "\u3000neg"), ("d", "very pos"),
                                          ("e", "  Neg")]))
    assert load_texts(f"tsv:{path}").labels == ["pos", "pos", "neg", "very pos", "Neg"]


def test_mixed_type_labels_become_strings(tmp_path: Path) -> None:
    labels = [1, "1", 1.0, " 1 ", True, False, 0.5, -2, 1e20, "pos"]
    path = write(tmp_path / "m.jsonl", "".join(json.dumps({"text": "t", "label": v}) + "\n" for v in labels))
    assert load_texts(f"jsonl:{path}").labels == ["1", "1", "1", "1", "true", "false", "0.5", "-2",
                                                  "100000000000000000000", "pos"]


@pytest.mark.parametrize("row, message", [
    ('{"text": "t", "label": [1]}', "label in column 'label' must be a string or a finite number, got [1]"),
    ('{"text": "t", "label": {"a": 1}}', "label in column 'label' must be a string or a finite number, got {'a': 1}"),
    ('{"text": "t", "label": Infinity}', "label in column 'label' must be a string or a finite number, got inf"),
    ('{"text": "t", "label": -Infinity}', "label in column 'label' must be a string or a finite number, got -inf"),
    ('{"text": "t", "label": NaN}', "missing label in column 'label'"),
    ('{"text": "t", "label": null}', "missing label in column 'label'"),
    ('{"text": "t", "label": " \\t "}', "empty label in column 'label'"),
    ('{"text": "t"}', "missing label column 'label'; keys in this object: 'text'"),
    ('{"text": 5, "label": "a"}', "text in column 'text' must be a string, got 5"),
    ('{"text": ["' + "w\", \"" * 100 + '"], "label": "a"}',
     "text in column 'text' must be a string, got ['w', 'w', 'w', 'w', 'w', 'w', 'w', 'w', 'w', 'w', 'w', 'w', 'w', "
     "'w', 'w', 'w',..."),
], ids=["list", "object", "infinity", "-infinity", "nan", "null", "blank", "no-label-key", "number-text", "list-text"])
def test_bad_label_or_text_value(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path / "bad.jsonl", '{"text": "fine", "label": "a"}\n' + row + "\n")
    assert data_error(f"jsonl:{path}") == f"{path}: line 2: {message}"


# ---------------------------------------------------------------- extremely long texts


@pytest.mark.parametrize("kind", ["tsv", "csv", "jsonl"])
def test_long_texts_are_read_whole(tmp_path: Path, kind: str) -> None:
    long = "word " * 60_000 + "end"  # 300,003 characters: over the csv module's default field limit
    rows = [(long, "pos"), ("short", "neg")]
    if kind == "tsv":
        body = tsv(rows)
    elif kind == "csv":
        body = "text,label\n" + "".join(f'"{text}",{label}\n' for text, label in rows)
    else:
        body = "".join(json.dumps({"text": text, "label": label}) + "\n" for text, label in rows)
    data = load_texts(f"{kind}:{write(tmp_path / f'long.{kind}', body)}")
    assert data.texts == [long, "short"]


def test_long_texts_are_truncated_to_max_length_in_training_and_prediction(capsys, tmp_path: Path) -> None:
    """Texts longer than data.max_length tokens keep their first max_length tokens; metrics.json records the
    lengths before truncation (data.stats.SPLIT.length_counts), from which the truncated share follows."""
    rows = [(f"{text} " + " ".join(["filler"] * (200 + 7 * k)), label) for k, (text, label) in enumerate(ROWS * 2)]
    train = write(tmp_path / "train.tsv", tsv(rows))
    code, out, err = run_cli(capsys, *train_argv(tiny_config(tmp_path / "c.toml", f"tsv:{train}"), tmp_path / "run"))
    assert code == 0, err
    data = json.loads((tmp_path / "run" / "metrics.json").read_text())["data"]
    lengths = {int(length) for split in ("train", "dev") for length in data["stats"][split]["length_counts"]}
    assert min(lengths) > 8  # every text is longer than max_length = 8
    sizes = data["sizes"]
    assert data["truncated"] == {"max_length": 8, "train": sizes["train"], "dev": sizes["dev"]}
    assert (f"note: {sizes['train']:,} of {sizes['train']:,} train, {sizes['dev']:,} of {sizes['dev']:,} dev texts "
            f"are longer than data.max_length = 8 tokens; they keep their first 8") in out
    predictor = Predictor.load(tmp_path / "run" / "model", "cpu")
    long_text = "superb acting " + "filler " * 100_000
    first_eight = " ".join(long_text.split()[:8])
    probabilities = predictor.predict_proba([long_text, first_eight])
    assert probabilities[0].tolist() == pytest.approx(probabilities[1].tolist(), abs=1e-6)


# ---------------------------------------------------------------- control characters


def test_readers_keep_control_characters_and_tokenizers_drop_them(tmp_path: Path) -> None:
    text = "page\x0cbreak a\x00b \x1b[31mred\x1b[0m del\x7fete zero\u200bwidth"
    path = write(tmp_path / "c.tsv", tsv([(text, "pos"), ("plain", "neg")]))
    assert load_texts(f"tsv:{path}").texts[0] == text
    word = TextTokenizer.train([text], kind="word")
    assert word.tokenize(text) == ["page", "break", "ab", "[", "31mred", "[", "0m", "delete", "zerowidth"]
    for kind in ("bpe", "wordpiece"):  # the same normalizer: form feed a space, the other controls gone
        normalizer = TextTokenizer.train([text], kind=kind).tokenizer.normalizer
        assert normalizer.normalize_str(text) == "page break ab [31mred[0m delete zerowidth", kind
    char = TextTokenizer.train([text], kind="char")
    assert char.tokenize("a\x00b\x0cc\x85d") == ["a", "b", " ", "c", " ", "d"]
    assert char.encode("\x00\x01\x02\x1b") == []  # a text of control characters only gives no ids


def test_conll_tokens_keep_control_characters(tmp_path: Path) -> None:
    path = write(tmp_path / "c.conll", "EU\x00 B-ORG\nre\x1bjects O\n")
    assert load_tagged(f"conll:{path}").sentences == [["EU\x00", "re\x1bjects"]]


@pytest.mark.parametrize("lowercase", [False, True])
def test_words_that_look_like_special_tokens_are_ordinary_words(tmp_path: Path, lowercase: bool) -> None:
    """A token "<pad>" or "<unk>" in the data is a word like any other: the specials keep ids 0 and 1, and
    id 0 (padding) never comes out of the tokenizer."""
    path = write(tmp_path / "s.conll", "<pad> O\n<UNK> O\nEU B-ORG\n\n<unk> O\n")
    sentences = load_tagged(f"conll:{path}").sentences
    assert sentences == [["<pad>", "<UNK>", "EU"], ["<unk>"]]
    words = TextTokenizer.train_words(sentences, lowercase=lowercase)
    assert words.vocab.get_itos()[:2] == ["<pad>", "<unk>"]
    assert [words.tokenizer.token_to_id(token) for token in words.vocab.get_itos()] == list(range(len(words)))
    ids = words.encode_words_batch(sentences)
    assert all(0 < i < len(words) for row in ids for i in row)
    text = TextTokenizer.train(["EU <pad> <unk>"], kind="word")
    assert text.tokenize("<pad>") == ["<", "pad", ">"] and 0 not in text.encode("x <pad> <unk>")


# ---------------------------------------------------------------- invalid UTF-8 and lone surrogates


@pytest.mark.parametrize("kind, good, bad", [
    ("tsv", "text\tlabel\nfine\tpos\n", b"caf\xe9\tneg\n"),
    ("csv", "text,label\nfine,pos\n", b"caf\xe9,neg\n"),
    ("jsonl", '{"text": "fine", "label": "pos"}\n', b'{"text": "caf\xe9", "label": "neg"}\n'),
    ("conll", "EU B-ORG\n\n", b"Caf\xe9 B-LOC\n"),
    ("conllu", "1\tEU\teu\tPROPN\tNNP\t_\t0\troot\t_\t_\n\n", b"1\tCaf\xe9\tcafe\tNOUN\tNN\t_\t0\troot\t_\t_\n"),
    ("wordtag", "EU/nt\n", b"Caf\xe9/n\n"),
])
def test_invalid_utf8_names_file_byte_and_line(tmp_path: Path, kind: str, good: str, bad: bytes) -> None:
    data = good.encode() + bad
    path = write(tmp_path / f"latin1.{kind}", data)
    offset = data.index(b"\xe9")
    assert data_error(f"{kind}:{path}") == (f"{path}: not valid UTF-8 at byte {offset} (line {good.count(chr(10)) + 1}"
                                            f"): b'\\xe9' (invalid continuation byte)")


def test_utf16_file_is_named_at_byte_0(tmp_path: Path) -> None:
    path = write(tmp_path / "u16.tsv", tsv(ROWS).encode("utf-16"))
    assert data_error(f"tsv:{path}") == f"{path}: not valid UTF-8 at byte 0 (line 1): b'\\xff' (invalid start byte)"


def test_invalid_utf8_config_through_the_cli(capsys, tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", '[data]\ntext_column = "r\xe9sum\xe9"\n'.encode("latin-1"))
    assert_error(capsys, train_argv(config, tmp_path / "run"),
                 f"{config}: not valid UTF-8 at byte 23 (line 2): b'\\xe9' (invalid continuation byte)")


@pytest.mark.parametrize("row, message", [
    ('{"text": "caf\\udce9", "label": "pos"}', "text in column 'text' holds the lone surrogate U+DCE9 at character 4"),
    ('{"text": "ok", "label": "\\ud83d"}', "label in column 'label' holds the lone surrogate U+D83D at character 1"),
])
def test_lone_surrogate_escape_in_jsonl(tmp_path: Path, row: str, message: str) -> None:
    path = write(tmp_path / "s.jsonl", row + "\n")
    assert data_error(f"jsonl:{path}").startswith(f"{path}: line 1: {message}; expected Unicode text")
    write(path, '{"text": "\\ud83d\\ude00", "label": "pos"}\n')  # a valid surrogate pair is one emoji
    assert load_texts(f"jsonl:{path}").texts == ["😀"]


def test_lone_surrogate_in_tokenizer_input_is_named() -> None:
    tokenizer = TextTokenizer.train(["good film", "bad film"])
    with pytest.raises(DataError, match=r"^text 2 holds the lone surrogate U\+DCFF at character 4; expected Unicode"):
        tokenizer.encode_batch(["fine", "bad\udcff"])
    with pytest.raises(DataError, match=r"^text 1: word 2 holds the lone surrogate U\+D800 at character 1"):
        TextTokenizer.train_words([["EU", "\ud800"]])
    with pytest.raises(DataError, match=r"^text 2 must be a str, got NoneType: None$"):
        tokenizer.encode_batch(["fine", None])


# ---------------------------------------------------------------- predict: hostile texts end to end


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier trained through `nlp-lstm train` on a dirty file: CRLF line endings, no final
    newline, padded labels, control characters inside the texts."""
    import contextlib
    import io

    from nlp_lstm.cli import main

    folder = tmp_path_factory.mktemp("dirty")
    rows = [(f"\x00{text}\x0c{text}\x1b ", f"  {label} ") for text, label in ROWS * 2]
    train = write(folder / "train.tsv", tsv(rows, "\r\n").removesuffix("\r\n"))
    config = tiny_config(folder / "c.toml", f"tsv:{train}")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([str(a) for a in train_argv(config, folder / "run")]) == 0
    return folder / "run" / "model"


def test_dirty_training_file_trains_with_clean_labels(trained_model: Path) -> None:
    assert Predictor.load(trained_model, "cpu").labels == ["neg", "pos"]


def test_predict_hostile_texts(capsys, trained_model: Path) -> None:
    texts = ["", "\x00\x01\x1b[0m", "\u200b\ufeff", "superb " * 50_000, "😀" * 1000, "\U0010ffff\ue000"]
    code, out, err = run_cli(capsys, "predict", trained_model, *texts)
    assert code == 0, err
    expected = [p.label for p in Predictor.load(trained_model, "cpu").predict(texts)]
    assert [line.split("\t", 2)[0] for line in out.split("\n")[:-1]] == expected


@pytest.mark.parametrize(("line", "message"), [
    ("[" * 100_000 + "]" * 100_000, "line 2: invalid JSON: nested too deeply"),
    ('{"text": 5}', "line 2: 'text' must be a string; got int 5"),
    ('{"tokens": ["a", 1]}', "line 2: 'tokens' must be a list of strings; got list [\"a\", 1]"),
    ('{"words": "a"}', "line 2: missing text column 'text'"),
])
def test_predict_input_file_with_a_bad_json_line(capsys, trained_model: Path, tmp_path: Path, line: str,
                                                 message: str) -> None:
    path = write(tmp_path / "inputs.jsonl", '{"text": "fine"}\n' + line + "\n")
    assert_error(capsys, ["predict", trained_model, "--input", path], f"{path}: {message}")


def test_predict_argument_that_is_not_utf8(capsys, trained_model: Path) -> None:
    """On Linux a non-UTF-8 argument arrives as a str with a surrogate escape (b"\\xff" -> "\\udcff")."""
    assert_error(capsys, ["predict", trained_model, "fine", "caf\udcff"],
                 "text 2 holds the lone surrogate U+DCFF at character 4; expected Unicode text")


# ---------------------------------------------------------------- line endings, tabs vs spaces, final newline


@pytest.mark.parametrize("variant", ["lf", "crlf", "cr", "tabs", "mixed", "no-final-newline", "crlf-tabs-no-newline"])
def test_conll_layouts_read_the_same(tmp_path: Path, variant: str) -> None:
    text = {"lf": CONLL, "crlf": CONLL.replace("\n", "\r\n"), "cr": CONLL.replace("\n", "\r"),
            "tabs": CONLL.replace(" ", "\t"), "mixed": CONLL.replace(" NNP ", "\t NNP\t\t"),
            "no-final-newline": CONLL.rstrip("\n"),
            "crlf-tabs-no-newline": CONLL.replace(" ", "\t").replace("\n", "\r\n").rstrip("\r\n")}[variant]
    data = load_tagged(f"conll:{write(tmp_path / 'd.conll', text)}")
    assert (data.sentences, data.tags) == (CONLL_SENTENCES, CONLL_TAGS)


@pytest.mark.parametrize("kind", ["tsv", "csv", "jsonl"])
@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_text_files_with_windows_or_old_mac_line_endings(tmp_path: Path, kind: str, newline: str) -> None:
    rows = [("a b", "pos"), ("c", "neg")]
    body = {"tsv": tsv(rows), "csv": "text,label\na b,pos\nc,neg\n",
            "jsonl": "".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows)}[kind]
    data = load_texts(f"{kind}:{write(tmp_path / f'd.{kind}', body.replace(chr(10), newline).rstrip(newline))}")
    assert (data.texts, data.labels) == (["a b", "c"], ["pos", "neg"])


@pytest.mark.parametrize("kind, header, hint", [
    ("tsv", "text label", "the header has no tab: is the file separated by a space?"),
    ("tsv", "text,label", "the header has no tab: is the file separated by a comma (csv:)?"),
    ("csv", "text\tlabel", "the header has no comma: is the file separated by a tab (tsv:)?"),
    ("csv", "text;label", "the header has no comma: is the file separated by a semicolon?"),
])
def test_wrong_separator_is_hinted(tmp_path: Path, kind: str, header: str, hint: str) -> None:
    path = write(tmp_path / f"d.{kind}", f"{header}\nfine{header[4]}pos\n")
    assert data_error(f"{kind}:{path}") == f"{path}: missing text column 'text'; columns present: {header!r}; {hint}"


def test_tagging_run_on_a_crlf_tab_separated_file_without_final_newline(capsys, tmp_path: Path) -> None:
    """Also holds the words "<pad>" and "<UNK>": once they broke the vocabulary's ids and training failed
    inside torch's embedding lookup."""
    text = ("<pad> NN O\n<UNK> NN O\n\n" + CONLL * 4).replace(" ", "\t").replace("\n", "\r\n").rstrip("\r\n")
    data = write(tmp_path / "d.conll", text)
    config = write(tmp_path / "t.toml", f"""task = "tagging"
[data]
train = "conll:{data}"
dev = "conll:{data}"
[model]
embedding_dim = 8
hidden_size = 8
[training]
epochs = 1
max_steps = 2
device = "cpu"
metric = "accuracy"
plots = false
""")
    code, out, err = run_cli(capsys, *train_argv(config, tmp_path / "run"))
    assert code == 0, err
    assert out.startswith("data: train 9, dev 9 | 13 tags (bio data, bioes model)"), out


# ---------------------------------------------------------------- token/tag count mismatches


@pytest.mark.parametrize("kind, text, message", [
    ("conll", "EU NNP B-ORG\nrejects VBZ\n", "line 2: expected 3 columns like line 1 (the first token line), got 2: "
                                             "'rejects VBZ'"),
    ("conll", "EU NNP B-ORG\r\nrejects VBZ O O\r\n", "line 2: expected 3 columns like line 1 (the first token line), "
                                                     "got 4: 'rejects VBZ O O'"),
    ("conll", "EU\nrejects\n", "line 1: expected at least 2 columns (a token and its tag), got 1"),
    ("wordtag", "EU/nt rejects/v German\n", "line 1: token 'German' has no '/'; expected word/TAG"),
    ("wordtag", "EU/nt\nrejects/\n", "line 2: token 'rejects/' has an empty tag; expected word/TAG"),
    ("conllu", "1\tEU\teu\tPROPN\tNNP\t_\t0\troot\t_\n", "line 1: expected 10 tab-separated fields (ID FORM LEMMA "
                                                           "UPOS XPOS FEATS HEAD DEPREL DEPS MISC), got 9"),
])
def test_token_tag_count_mismatch_names_the_line(tmp_path: Path, kind: str, text: str, message: str) -> None:
    path = write(tmp_path / f"d.{kind}", text)
    assert data_error(f"{kind}:{path}").startswith(f"{path}: {message}")


def test_tagged_dataset_checks_one_tag_per_token() -> None:
    with pytest.raises(DataError, match=r"^toy: sentence 2 has 1 tokens but 2 tags; expected one tag per token$"):
        TaggedDataset([["EU"], ["Peter"]], [["B-ORG"], ["B-PER", "I-PER"]], "toy")


# ---------------------------------------------------------------- JSON that Python's parser cannot take


@pytest.mark.parametrize("line, message", [
    ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply (arrays or objects inside one another more "
                                    "than about 1,000 levels)"),
    ('{"text": "t", "label": 1' + "0" * 5000 + "}", "invalid JSON: an integer of more than 4,300 digits"),
    ('{"text": "t", "label": "a"', "invalid JSON: Expecting ',' delimiter (column 27)"),
], ids=["nested-100000-deep", "5001-digit-int", "unclosed-object"])
def test_json_the_parser_cannot_take(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path / "j.jsonl", line + "\n")
    assert data_error(f"jsonl:{path}") == f"{path}: line 1: {message}"


# ---------------------------------------------------------------- config: wrong types, sizes, learning rate


@pytest.mark.parametrize("override, expected", [
    # wrong types
    ('model.hidden_size="128"', "The 'model.hidden_size' parameter must be a positive int. Got '128' instead."),
    ("model.hidden_size=true", "The 'model.hidden_size' parameter must be a positive int. Got True instead."),
    ("training.epochs=1.5", "The 'training.epochs' parameter must be a positive int. Got 1.5 instead."),
    ("data.max_length=[64]", "The 'data.max_length' parameter must be a positive int. Got [64] instead."),
    ('model.bidirectional="yes"', "The 'model.bidirectional' parameter must be true or false. Got 'yes' instead."),
    ("tokenizer.lowercase=1", "The 'tokenizer.lowercase' parameter must be true or false. Got 1 instead."),
    ("data.train=5", "The 'data.train' parameter must be a data spec string. Got 5 instead."),
    ("tokenizer.kind=3", "The 'tokenizer.kind' parameter must be one of word, char, bpe, wordpiece. Got 3 instead."),
    # zero and negative sizes
    ("model.hidden_size=0", "The 'model.hidden_size' parameter must be a positive int. Got 0 instead."),
    ("model.embedding_dim=-8", "The 'model.embedding_dim' parameter must be a positive int. Got -8 instead."),
    ("model.num_layers=0", "The 'model.num_layers' parameter must be a positive int. Got 0 instead."),
    ("model.char_filters=0", "The 'model.char_filters' parameter must be a positive int. Got 0 instead."),
    ("model.char_embedding_dim=-1", "The 'model.char_embedding_dim' parameter must be an int >= 0. Got -1 instead."),
    ("training.batch_size=0", "The 'training.batch_size' parameter must be a positive int. Got 0 instead."),
    ("training.epochs=-1", "The 'training.epochs' parameter must be a positive int. Got -1 instead."),
    ("data.max_length=0", "The 'data.max_length' parameter must be a positive int. Got 0 instead."),
    ("tokenizer.vocab_size=0", "The 'tokenizer.vocab_size' parameter must be a positive int. Got 0 instead."),
    ("tokenizer.min_freq=0", "The 'tokenizer.min_freq' parameter must be a positive int. Got 0 instead."),
    ("training.max_steps=-1", "The 'training.max_steps' parameter must be an int >= 0. Got -1 instead."),
    # sizes and seeds that torch or numpy would fail on deep inside
    ("model.hidden_size=100000", "The 'model.hidden_size' parameter must be at most 16,384 (larger layers need tens "
                                 "of GB). Got 100000 instead."),
    ("model.embedding_dim=1000000000", "The 'model.embedding_dim' parameter must be at most 16,384"),
    ("model.num_layers=1000", "The 'model.num_layers' parameter must be at most 64. Got 1000 instead."),
    ("training.seed=-1", "The 'training.seed' parameter must be an int in [0, 2**32 - 1 = 4294967295]. Got -1"),
    ("training.seed=99999999999999999999", "The 'training.seed' parameter must be an int in [0, 2**32 - 1"),
    ("data.split_seed=4294967296", "The 'data.split_seed' parameter must be at most 2**32 - 1 = 4294967295. Got "
                                   "4294967296 instead."),
    # out-of-range learning rates
    ("training.learning_rate=0", "The 'training.learning_rate' parameter must be a float in (0, 10]. Got 0.0 instead."),
    ("training.learning_rate=-0.001", "The 'training.learning_rate' parameter must be a float in (0, 10]. Got -0.001"),
    ("training.learning_rate=11", "The 'training.learning_rate' parameter must be a float in (0, 10]. Got 11.0"),
    ("training.learning_rate=nan", "The 'training.learning_rate' parameter must be a float in (0, 10]. Got nan"),
    ("training.learning_rate=inf", "The 'training.learning_rate' parameter must be a float in (0, 10]. Got inf"),
    ("training.learning_rate=fast", "The 'training.learning_rate' parameter must be a float in (0, 10]. Got 'fast'"),
])
def test_bad_config_value_is_named(tmp_path: Path, override: str, expected: str) -> None:
    path = write(tmp_path / "c.toml", "[training]\nepochs = 1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, [override])
    assert str(info.value).startswith(f"{path}: {expected}")


def test_bad_config_values_through_the_cli(capsys, tmp_path: Path) -> None:
    config = tiny_config(tmp_path / "c.toml", "tsv:unused.tsv", extra="learning_rate = 50\n")
    assert_error(capsys, train_argv(config, tmp_path / "run"),
                 f"{config}: The 'training.learning_rate' parameter must be a float in (0, 10]. Got 50.0 instead.")
    config = tiny_config(tmp_path / "c.toml", "tsv:unused.tsv")
    assert_error(capsys, train_argv(config, tmp_path / "run", 'model.hidden_size="16"'),
                 f"{config}: The 'model.hidden_size' parameter must be a positive int. Got '16' instead.")
    assert not (tmp_path / "run").exists()


def test_config_with_bom_and_crlf_reads_like_plain(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain.toml", "[training]\nepochs = 2\nlearning_rate = 0.01\n")
    windows = write(tmp_path / "windows.toml", "\ufeff[training]\r\nepochs = 2\r\nlearning_rate = 0.01")
    assert load_config(windows) == load_config(plain)
