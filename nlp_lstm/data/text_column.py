"""Texts of large data sets in an Arrow file on disk, memory-mapped, instead of one Python string each.

A Python string costs about 50 bytes of overhead, and a million short texts about 130 MB that nothing can
page out. Past SPILL_ROWS texts a reader's output goes, a chunk at a time, into an Arrow IPC file in the
cache folder; the file is memory-mapped and unlinked at once, so the kernel can drop its pages under
memory pressure and nothing is left behind when the process ends. A text becomes a Python string only
while it is used: tokenizer training and encoding read the column a chunk at a time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .encode_cache import cache_root

SPILL_ROWS = 100_000  # texts kept as Python strings before the rest go to disk
CHUNK_ROWS = 65_536  # texts per Arrow record batch, and per chunk when iterating


def release_arrow_memory() -> None:
    """Give the OS back the pages pyarrow's memory pool holds free; nothing happens if pyarrow is not loaded.

    pyarrow's default pool (mimalloc) keeps freed pages: after reading 2,000,000 parquet rows it held 200 MB
    that no Arrow buffer used (bytes_allocated 0) for the rest of the run.
    """
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()


class TextColumn(Sequence):
    """A read-only sequence of str over an Arrow string column, optionally through a row index (a subset)."""

    def __init__(self, array: Any, rows: np.ndarray | None = None) -> None:
        self.array = array  # pyarrow ChunkedArray of (large_)string
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows) if self.rows is not None else len(self.array)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if self.rows is None and step == 1:
                return self.array.slice(start, max(stop - start, 0)).to_pylist()
            positions = np.arange(start, stop, step)
            return self.array.take(positions if self.rows is None else self.rows[positions]).to_pylist()
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"text {index} of {len(self)}")
        return self.array[int(self.rows[index]) if self.rows is not None else index].as_py()

    def __iter__(self) -> Iterator[str]:
        for start in range(0, len(self), CHUNK_ROWS):
            yield from self[start : start + CHUNK_ROWS]

    def take(self, indices: Sequence[int]) -> TextColumn:
        """The texts at `indices`, in that order, as a view of the same column."""
        positions = np.asarray(indices, dtype=np.int64)
        return TextColumn(self.array, positions if self.rows is None else self.rows[positions])


class TextCollector:
    """Collects texts in order: Python strings up to `spill_rows`, then an Arrow file memory-mapped at the end."""

    def __init__(self, spill_rows: int | None = None) -> None:
        self.spill_rows = SPILL_ROWS if spill_rows is None else spill_rows
        self.texts: list[str] = []
        self.count = 0
        self._writer: Any = None
        self._path: Path | None = None

    def append(self, text: str) -> None:
        """Add one text."""
        self.texts.append(text)
        self.count += 1
        if self._writer is not None and len(self.texts) >= CHUNK_ROWS:
            self._flush()
        elif self._writer is None and self.count > self.spill_rows:
            self._start_spilling()

    def finish(self) -> list[str] | TextColumn:
        """All texts: the list itself when it stayed small, else the memory-mapped column."""
        if self._writer is None:
            return self.texts
        import pyarrow as pa

        self._flush()
        self._writer.close()
        self._writer = None
        assert self._path is not None
        try:
            table = pa.ipc.open_file(pa.memory_map(str(self._path))).read_all()  # zero-copy over the mapping
        finally:
            self._path.unlink(missing_ok=True)  # the mapping keeps the data until the column is dropped
        return TextColumn(table.column(0))

    def close(self) -> None:
        """Remove the file, if any (after `finish` its mapping holds the data; after an error nothing does)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)

    def _start_spilling(self) -> None:
        import pyarrow as pa

        try:  # the cache folder rather than /tmp, which may be a RAM disk
            folder = cache_root() / "texts"
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=folder, prefix="texts-", suffix=".arrow")
        except OSError:
            fd, name = tempfile.mkstemp(prefix="nlp-lstm-texts-", suffix=".arrow")
        os.close(fd)
        self._path = Path(name)
        self._writer = pa.ipc.new_file(name, pa.schema([("text", pa.large_string())]))
        self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self.texts:
            self._writer.write_batch(pa.record_batch([pa.array(self.texts, pa.large_string())], names=["text"]))
            self.texts = []


def collect_texts(texts: Iterable[str], spill_rows: int | None = None) -> list[str] | TextColumn:
    """`texts` as a list, or past `spill_rows` as a memory-mapped TextColumn."""
    collector = TextCollector(spill_rows)
    try:
        for text in texts:
            collector.append(text)
        return collector.finish()
    finally:
        collector.close()
