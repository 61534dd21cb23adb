"""Token ids of many texts as two flat arrays, ids and offsets: 4 bytes a token instead of a Python list of
Python ints a text (about 40 bytes a token), encoded a chunk at a time so the tokenizer's per-text objects
never all exist at once (memory at a million texts: docs/performance.md, scripts/bench_memory.py --million).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

ENCODE_CHUNK = 20_000  # texts per call of the tokenizer's batch API
COUNT_CHUNK = 1 << 16  # ids per bincount call (its int64 copy stays small: 512 KiB)


class RaggedIds(Sequence):
    """A read-only sequence of int32 id arrays, row k being `flat[offsets[k]:offsets[k + 1]]`."""

    def __init__(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        self.flat = flat
        self.offsets = offsets

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]]) -> RaggedIds:
        """Pack Python lists (or arrays) of ids."""
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int32, count=int(offsets[-1]))
        return cls(flat, offsets)

    @classmethod
    def concat(cls, parts: Sequence[RaggedIds]) -> RaggedIds:
        """One RaggedIds holding the rows of `parts` in order."""
        lengths = np.concatenate([np.diff(part.offsets) for part in parts]) if parts else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.concatenate([part.flat for part in parts]) if parts else np.zeros(0, np.int32)
        return cls(flat, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"row {index} of {len(self)}")
        return self.flat[self.offsets[index] : self.offsets[index + 1]]

    def __iter__(self) -> Iterator[np.ndarray]:
        for k in range(len(self)):
            yield self.flat[self.offsets[k] : self.offsets[k + 1]]

    def lengths(self) -> np.ndarray:
        """(n,) int64 length of each row."""
        return np.diff(self.offsets)

    def tolist(self) -> list[list[int]]:
        """The rows as Python lists."""
        return [row.tolist() for row in self]


def encode_texts(tokenizer: Any, texts: Sequence[str], chunk_size: int = ENCODE_CHUNK) -> RaggedIds:
    """`tokenizer.encode_batch` over `texts`, a chunk at a time, packed into a RaggedIds."""
    return RaggedIds.concat([RaggedIds.from_rows(tokenizer.encode_batch(texts[start : start + chunk_size]))
                             for start in range(0, len(texts), chunk_size)])


def row_lengths(rows: Sequence[Sequence[int]]) -> np.ndarray:
    """(n,) int64 length of each row, of a RaggedIds or of any sequence of sequences."""
    return rows.lengths() if isinstance(rows, RaggedIds) else np.fromiter(map(len, rows), np.int64, len(rows))


def max_id(rows: Sequence[Sequence[int]]) -> int:
    """The largest id in all rows; -1 when they hold none."""
    if isinstance(rows, RaggedIds):
        return int(rows.flat.max()) if len(rows.flat) else -1
    return max((int(max(row)) for row in rows if len(row)), default=-1)


def token_counts(rows: Sequence[Sequence[int]], size: int) -> np.ndarray:
    """(size,) int64 occurrences of each id in all rows (ids >= size are not counted)."""
    flat = rows.flat if isinstance(rows, RaggedIds) else np.fromiter(
        itertools.chain.from_iterable(rows), dtype=np.int64)
    counts = np.zeros(size, dtype=np.int64)
    # a chunk at a time: bincount makes an int64 copy of its input, 8 bytes a token of the whole corpus at once
    for start in range(0, len(flat), COUNT_CHUNK):
        counts += np.bincount(flat[start : start + COUNT_CHUNK], minlength=size)[:size]
    return counts
