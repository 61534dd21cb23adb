"""Property-based tests (hypothesis) of the tokenizer, the vocab and the file readers: any input either works,
and the result keeps the invariants stated in each test, or raises the documented error; never anything else.

Text comes from `st.text()`, which draws any code point except surrogates: control and format characters,
private-use and unassigned code points, combining marks, emoji, CJK. Lone surrogates (U+D800-U+DFFF),
which a Python str may hold but Unicode text cannot, are drawn on purpose where they can reach us: the
tokenizer must answer them with `DataError`, and so must the jsonl reader for a "\\udc80" escape. Files
are also filled with arbitrary bytes. The documented errors: `DataError` for texts and data files;
for `Vocab` the torchtext-compatible ValueError (duplicate tokens) and VocabLookupError.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp_lstm.data.conll import read_conll, read_conllu, read_word_tag
from nlp_lstm.data.sources import load_texts
from nlp_lstm.errors import DataError
from nlp_lstm.text.tokenizers import KINDS, TextTokenizer
from nlp_lstm.text.vocab import Vocab, VocabLookupError, build_vocab_from_iterator

# database=None: no .hypothesis/ folder of saved examples in the working tree
FAST = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=40, deadline=None, database=None)

TRAINING_TEXTS = ["A great film, don't miss it!", "这部电影很好看 😀", "naïve café ＡＢＣ", "bad\tplot\nweak cast"]
TOKENIZERS = {kind: TextTokenizer.train(TRAINING_TEXTS, kind=kind, vocab_size=200) for kind in KINDS}
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
SPECIAL_LOOKING = st.sampled_from(["<pad>", "<unk>", "<PAD>", "<Unk>"])  # must never give id 0 (padding)
TEXT = st.one_of(st.text(max_size=200),
                 st.tuples(st.text(max_size=20), SPECIAL_LOOKING, st.text(max_size=20)).map("".join))
# characters that make file formats interesting: separators, quotes, line breaks, JSON syntax, a BOM, NUL
FORMAT_CHARS = st.sampled_from(list('\t, "\'\r\n{}[]:\\/-#01aé中\x00\ufeff\u2028'))


def text_with_surrogate(draw: st.DrawFn) -> tuple[str, int]:
    """A text with one lone surrogate inserted; the surrogate's 1-based position."""
    text, surrogate = draw(st.text(max_size=30)), draw(SURROGATES)
    position = draw(st.integers(0, len(text)))
    return text[:position] + surrogate + text[position:], position + 1


# ---------------------------------------------------------------- tokenizer


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None, database=None)
@given(text=TEXT)
def test_any_text_encodes_to_ids_in_range(kind: str, text: str) -> None:
    tokenizer = TOKENIZERS[kind]
    ids = tokenizer.encode(text)
    assert all(isinstance(i, int) and 0 < i < len(tokenizer) for i in ids)  # 0 is <pad>: never a token
    assert tokenizer.encode_batch([text, text]) == [ids, ids]
    assert tokenizer.encode(f" \t{text}\n ") == ids  # surrounding whitespace never matters
    tokens = tokenizer.tokenize(text)
    assert len(tokens) == len(ids) or kind in ("bpe", "wordpiece")  # word-level: one id per token
    if kind == "char":
        assert all(len(token) == 1 for token in tokens)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=50, deadline=None, database=None)
@given(data=st.data())
def test_a_lone_surrogate_is_a_data_error_naming_text_and_character(kind: str, data: st.DataObject) -> None:
    text, position = data.draw(st.composite(text_with_surrogate)())
    tokenizer = TOKENIZERS[kind]
    message = rf"holds the lone surrogate U\+{ord(text[position - 1]):04X} at character {position};"
    with pytest.raises(DataError, match=rf"^the text {message}"):
        tokenizer.encode(text)
    with pytest.raises(DataError, match=rf"^the text {message}"):
        tokenizer.tokenize(text)
    with pytest.raises(DataError, match=rf"^text 2 {message}"):
        tokenizer.encode_batch(["fine", text])


@SLOW
@given(texts=st.lists(st.text(max_size=40), max_size=6), kind=st.sampled_from(KINDS))
def test_training_on_any_texts_works(texts: list[str], kind: str) -> None:
    tokenizer = TextTokenizer.train(texts, kind=kind, vocab_size=1000)
    assert tokenizer.vocab.get_itos()[:2] == ["<pad>", "<unk>"]
    for text in texts:
        ids = tokenizer.encode(text)
        assert all(0 < i < len(tokenizer) for i in ids)
        if kind in ("word", "char"):  # a word-level vocabulary holds every token of its training texts
            assert tokenizer.unk_id not in ids


@SLOW
@given(sentences=st.lists(st.lists(st.one_of(st.text(min_size=1, max_size=10), SPECIAL_LOOKING), min_size=1,
                                   max_size=5), min_size=1, max_size=5),
       lowercase=st.booleans())
def test_word_vocabulary_gives_one_id_per_word(sentences: list[list[str]], lowercase: bool) -> None:
    tokenizer = TextTokenizer.train_words(sentences, lowercase=lowercase)
    vocab = tokenizer.tokenizer.get_vocab()  # ids 0..n-1 without gaps, <pad> 0 and <unk> 1, whatever the words
    assert sorted(vocab, key=vocab.__getitem__) == tokenizer.vocab.get_itos()
    assert sorted(vocab.values()) == list(range(len(tokenizer))) and (tokenizer.pad_id, tokenizer.unk_id) == (0, 1)
    encoded = tokenizer.encode_words_batch(sentences)
    assert [len(ids) for ids in encoded] == [len(words) for words in sentences]
    assert all(0 < i < len(tokenizer) for ids in encoded for i in ids)


# ---------------------------------------------------------------- vocab


TOKENS = st.text(alphabet=st.characters(), max_size=4)  # a Vocab takes any str, lone surrogates included


@settings(max_examples=150, deadline=None, database=None)
@given(corpus=st.lists(st.lists(TOKENS, max_size=8), max_size=8),
       specials=st.lists(TOKENS, max_size=3, unique=True), min_freq=st.integers(1, 3))
def test_build_vocab_from_iterator_orders_by_frequency_then_code_point(corpus: list[list[str]], specials: list[str],
                                                                      min_freq: int) -> None:
    vocab = build_vocab_from_iterator(iter(corpus), min_freq=min_freq, specials=specials)
    counts = Counter(token for tokens in corpus for token in tokens)
    itos = vocab.get_itos()
    assert itos[:len(specials)] == specials
    rest = itos[len(specials):]
    assert set(rest) == {t for t, n in counts.items() if n >= min_freq and t not in specials}
    assert rest == sorted(rest, key=lambda t: (-counts[t], t))
    assert all(vocab[token] == index for index, token in enumerate(itos))
    assert vocab.lookup_tokens(range(len(vocab))) == itos
    assert Vocab.from_dict(vocab.to_dict()) == vocab
    if all(token == token.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for token in itos):
        # through JSON too, unless a token holds surrogates: JSON reads "\ud800\udc00" back as one character
        assert Vocab.from_dict(json.loads(json.dumps(vocab.to_dict()))) == vocab


@settings(max_examples=150, deadline=None, database=None)
@given(tokens=st.lists(TOKENS, max_size=10), queries=st.lists(TOKENS, max_size=5))
def test_vocab_lookups_either_work_or_raise_the_documented_errors(tokens: list[str], queries: list[str]) -> None:
    if len(set(tokens)) < len(tokens):
        with pytest.raises(ValueError, match="Duplicate token found in tokens list"):
            Vocab(tokens)
        return
    vocab = Vocab(tokens)
    for token in queries:
        if token in tokens:
            assert vocab[token] == tokens.index(token)
        else:
            with pytest.raises(VocabLookupError, match="not found and default index is not set"):
                vocab[token]
    vocab.set_default_index(len(vocab))
    assert vocab.lookup_indices(queries) == [tokens.index(t) if t in tokens else len(tokens) for t in queries]


# ---------------------------------------------------------------- readers: anything in a file


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


def structured_text() -> st.SearchStrategy[str]:
    """Lines of fields built from the characters file formats care about, plus arbitrary text."""
    field = st.text(alphabet=st.one_of(FORMAT_CHARS, st.characters(codec="utf-8")), max_size=8)
    line = st.lists(field, max_size=4).map(lambda fields: "\t".join(fields))
    return st.one_of(st.lists(line, max_size=6).map("\n".join), st.text(max_size=200))


FILE_CONTENT = st.one_of(st.binary(max_size=300), structured_text().map(lambda text: text.encode("utf-8")))


def check_text_dataset(data) -> None:
    assert len(data.texts) == len(data.labels) >= 1
    assert all(isinstance(t, str) and t == t.strip() for t in data.texts)
    assert all(isinstance(label, str) and label and label == label.strip() for label in data.labels)
    for value in (*data.texts, *data.labels):
        value.encode("utf-8")  # no lone surrogates get through


@FAST
@given(content=FILE_CONTENT, kind=st.sampled_from(["tsv", "csv", "jsonl"]))
def test_text_readers_take_any_file(folder: Path, content: bytes, kind: str) -> None:
    path = folder / f"any.{kind}"
    path.write_bytes(content)
    try:
        data = load_texts(f"{kind}:{path}")
    except DataError as err:
        assert str(path) in str(err)  # every error names the file
        return
    check_text_dataset(data)


@FAST
@given(content=FILE_CONTENT, kind=st.sampled_from(["conll", "conllu", "wordtag"]))
def test_tagged_readers_take_any_file(folder: Path, content: bytes, kind: str) -> None:
    path = folder / f"any.{kind}"
    path.write_bytes(content)
    reader = {"conll": read_conll, "conllu": read_conllu, "wordtag": read_word_tag}[kind]
    try:
        data = reader(path)
    except DataError as err:
        assert str(path) in str(err)
        return
    assert len(data) >= 1
    for tokens, tags in zip(data.sentences, data.tags):
        assert len(tokens) == len(tags) >= 1
        assert all(token and tag for token, tag in zip(tokens, tags))
        if kind != "conllu":  # conllu splits on tabs only, so its forms may hold spaces
            assert all(token.split() == [token] for token in tokens)


# ---------------------------------------------------------------- readers: well-formed files read back exactly


FIELD = st.text(max_size=12).filter(lambda t: not any(c in t for c in "\t\r\n"))
LABEL = FIELD.filter(lambda t: t.strip() != "")
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@FAST
@given(rows=st.lists(st.tuples(FIELD, LABEL), min_size=1, max_size=6), newline=NEWLINES,
       final_newline=st.booleans())
def test_tsv_rows_read_back_stripped(folder: Path, rows: list[tuple[str, str]], newline: str,
                                     final_newline: bool) -> None:
    lines = ["text\tlabel", *(f"{text}\t{label}" for text, label in rows)]
    path = folder / "rows.tsv"
    path.write_text(newline.join(lines) + (newline if final_newline else ""), encoding="utf-8", newline="")
    data = load_texts(f"tsv:{path}")
    assert data.texts == [text.strip() for text, _ in rows]
    assert data.labels == [label.strip() for _, label in rows]


@FAST
@given(rows=st.lists(st.tuples(st.text(max_size=12), st.text(max_size=8).filter(lambda t: t.strip() != "")),
                     min_size=1, max_size=6),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_csv_rows_read_back_stripped(folder: Path, rows: list[tuple[str, str]], newline: str) -> None:
    buffer = io.StringIO()
    # a field holding a CR or LF must be quoted (RFC 4180); csv.writer quotes only the line terminator's own
    # characters, so with "\n" every field is quoted (an unquoted CR ends the line, and the reader says so)
    quoting = csv.QUOTE_MINIMAL if newline == "\r\n" else csv.QUOTE_ALL
    csv.writer(buffer, lineterminator=newline, quoting=quoting).writerows([("text", "label"), *rows])
    path = folder / "rows.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    data = load_texts(f"csv:{path}")
    assert data.texts == [text.strip() for text, _ in rows]
    assert data.labels == [label.strip() for _, label in rows]


def expected_label(value: object) -> str:
    """The documented label rule: strings stripped, ints as digits, integral floats as ints, bools lowercase."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


@FAST
@given(rows=st.lists(st.tuples(st.text(max_size=12),
                               st.one_of(st.text(max_size=8).filter(lambda t: t.strip() != ""), st.integers(),
                                         st.floats(allow_nan=False, allow_infinity=False), st.booleans())),
                     min_size=1, max_size=6),
       ascii_only=st.booleans(), newline=NEWLINES)
def test_jsonl_rows_read_back_with_string_labels(folder: Path, rows: list[tuple[str, object]], ascii_only: bool,
                                                 newline: str) -> None:
    path = folder / "rows.jsonl"
    lines = [json.dumps({"text": text, "label": label}, ensure_ascii=ascii_only) for text, label in rows]
    path.write_text(newline.join(lines), encoding="utf-8", newline="")
    data = load_texts(f"jsonl:{path}")
    assert data.texts == [text.strip() for text, _ in rows]
    assert data.labels == [expected_label(label) for _, label in rows]


@FAST
@given(data=st.data())
def test_jsonl_lone_surrogate_escape_is_a_data_error(folder: Path, data: st.DataObject) -> None:
    text, position = data.draw(st.composite(text_with_surrogate)())
    path = folder / "surrogate.jsonl"
    path.write_text(json.dumps({"text": "fine", "label": "a"}) + "\n" + json.dumps({"text": text, "label": "a"}),
                    encoding="utf-8")  # json.dumps writes the surrogate as a \\udXXX escape
    with pytest.raises(DataError, match=rf": line 2: text in column 'text' holds the lone surrogate U\+"
                                        rf"{ord(text[position - 1]):04X} at character \d+"):
        load_texts(f"jsonl:{path}")


# no whitespace inside (columns split on it), not a document marker, no leading BOM (a file's first BOM is dropped)
TOKEN = st.text(min_size=1, max_size=8).filter(lambda t: t.split() == [t] and t != "-DOCSTART-"
                                               and not t.startswith("\ufeff"))


@FAST
@given(sentences=st.lists(st.lists(st.tuples(TOKEN, TOKEN), min_size=1, max_size=5), min_size=1, max_size=4),
       separator=st.sampled_from([" ", "\t", "  ", " \t"]), newline=NEWLINES, final_newline=st.booleans())
def test_conll_sentences_read_back_exactly(folder: Path, sentences: list[list[tuple[str, str]]], separator: str,
                                           newline: str, final_newline: bool) -> None:
    blocks = [newline.join(f"{token}{separator}{tag}" for token, tag in sentence) for sentence in sentences]
    path = folder / "sentences.conll"
    path.write_text((newline * 2).join(blocks) + (newline if final_newline else ""), encoding="utf-8", newline="")
    data = read_conll(path)
    assert data.sentences == [[token for token, _ in sentence] for sentence in sentences]
    assert data.tags == [[tag for _, tag in sentence] for sentence in sentences]
