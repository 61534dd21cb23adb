"""Tokenize large training data once: the trained tokenizer and the encoded ids are kept on disk, keyed by
a hash of the texts and the tokenizer settings, and later runs on the same data load them instead.

On 1,000,000 texts of 14 tokens on 2 cores, training the tokenizer takes about 15 s and encoding about 20 s
(`data.num_proc` forked processes, each encoding a share; scripts/bench_tokenize.py); a run that finds both
in the cache loads them in about a second, the ids memory-mapped rather than read in.
Only data of at least CACHE_MIN_TEXTS texts is cached, so small runs leave nothing behind. The cache lives
in $NLP_LSTM_CACHE, else $XDG_CACHE_HOME/nlp-lstm, else ~/.cache/nlp-lstm; deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .ragged import ENCODE_CHUNK, RaggedIds, encode_texts

CACHE_MIN_TEXTS = 50_000
VERSION = 2  # bump when the stored layout or what is hashed changes (2: ids as raw flat.int32)


def cache_root() -> Path:
    """Where the cache lives."""
    if os.environ.get("NLP_LSTM_CACHE"):
        return Path(os.environ["NLP_LSTM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nlp-lstm"


def texts_digest(texts: Sequence[str]) -> str:
    """A hash of the texts, in order."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _key(*parts: Any) -> str:
    """The entry's name: a hash of `parts`, this layout's VERSION and the tokenizer code, so an entry made by
    another version of nlp_lstm/text/tokenizers.py is never used."""
    from ..text import tokenizers

    code = hashlib.sha256(Path(tokenizers.__file__).read_bytes()).hexdigest()
    return hashlib.sha256(json.dumps([VERSION, code, *parts], sort_keys=True).encode()).hexdigest()[:32]


def cached_tokenizer(texts: Sequence[str], settings: dict[str, Any], train: Callable[[], Any],
                     load: Callable[[Path], Any], digest: str | None = None) -> Any:
    """`train()`'s tokenizer, or the one an earlier run trained with the same `settings` on the same texts."""
    if len(texts) < CACHE_MIN_TEXTS:
        return train()
    folder = cache_root() / "tokenizers" / _key(digest or texts_digest(texts), settings)
    path = folder / "tokenizer.json"
    if path.is_file():
        try:
            return load(path)
        except Exception:  # a damaged entry is trained again and replaced
            shutil.rmtree(folder, ignore_errors=True)
    tokenizer = train()
    _publish(folder, lambda tmp: tokenizer.save(tmp / "tokenizer.json"))
    return tokenizer


def cached_encode(tokenizer: Any, texts: Sequence[str], digest: str | None = None, num_proc: int = 1) -> RaggedIds:
    """`encode_texts(tokenizer, texts)`, memory-mapped from the cache: encoded by an earlier run with the same
    tokenizer, or now, a chunk at a time straight into the cache entry (the ids never sit whole in memory), by
    `num_proc` processes (0: one per CPU core)."""
    if len(texts) < CACHE_MIN_TEXTS:
        return encode_texts(tokenizer, texts)
    folder = cache_root() / "encoded" / _key(digest or texts_digest(texts), tokenizer.tokenizer.to_str())
    cached = _mapped_ids(folder, len(texts))
    if cached is not None:
        return cached
    _publish(folder, lambda tmp: _encode_into(tokenizer, texts, tmp, num_proc))
    cached = _mapped_ids(folder, len(texts))
    return cached if cached is not None else encode_texts(tokenizer, texts)  # an unwritable cache: in memory


def encode_processes(num_proc: int, count: int) -> int:
    """How many processes encode `count` texts for `num_proc` (0: the CPU cores this process may use, shared
    among torchrun's local ranks); one per chunk at most, and 1 off Linux, where workers are not forked."""
    if sys.platform != "linux":
        return 1
    cores = len(os.sched_getaffinity(0)) // max(int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1), 1)
    return max(1, min(num_proc or cores, -(-count // ENCODE_CHUNK)))


def _encode_into(tokenizer: Any, texts: Sequence[str], folder: Path, num_proc: int = 1) -> None:
    """Encode `texts` into folder/flat.int32 (raw little-endian ids) and offsets.npy; with several processes
    each encodes a contiguous share into a part file, and the parts are joined in order."""
    workers = encode_processes(num_proc, len(texts))
    if workers == 1:
        lengths = [_encode_share(tokenizer, texts, 0, len(texts), folder / "flat.int32")]
    else:
        bounds = [len(texts) * k // workers for k in range(workers + 1)]
        parts = [folder / f"part-{k}.int32" for k in range(workers)]
        lengths = _encode_forked(tokenizer, texts, bounds, parts)
        with open(folder / "flat.int32", "wb") as out:
            for part in parts:
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, out, 1 << 22)
                part.unlink()
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(lengths), out=offsets[1:])
    np.save(folder / "offsets.npy", offsets)


def _encode_share(tokenizer: Any, texts: Sequence[str], start: int, stop: int, path: Path) -> np.ndarray:
    """Encode texts[start:stop] a chunk at a time into `path`; their lengths in tokens."""
    lengths = np.zeros(stop - start, dtype=np.int64)
    with open(path, "wb") as out:
        for first in range(start, stop, ENCODE_CHUNK):
            chunk = RaggedIds.from_rows(tokenizer.encode_batch(texts[first : min(first + ENCODE_CHUNK, stop)]))
            out.write(chunk.flat.astype("<i4", copy=False).tobytes())
            lengths[first - start : first - start + len(chunk)] = chunk.lengths()
    return lengths


_FORKED_JOB: tuple[Any, Sequence[str]] | None = None  # (tokenizer, texts): forked workers inherit them, unpickled


def _encode_forked_share(start: int, stop: int, path: str) -> np.ndarray:
    """`_encode_share` of the job this worker was forked with."""
    assert _FORKED_JOB is not None
    tokenizer, texts = _FORKED_JOB
    return _encode_share(tokenizer, texts, start, stop, Path(path))


def _encode_forked(tokenizer: Any, texts: Sequence[str], bounds: list[int], parts: list[Path]) -> list[np.ndarray]:
    """Encode each share in a forked process (the texts are inherited, not copied); each share's lengths."""
    global _FORKED_JOB
    # a forked child turns the tokenizer's threads off anyway (and warns unless this is set): one process
    # per core does their work, and the Python around each batch runs in parallel too
    parallelism = os.environ.get("TOKENIZERS_PARALLELISM")
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _FORKED_JOB = (tokenizer, texts)
    try:
        with ProcessPoolExecutor(len(parts), mp_context=multiprocessing.get_context("fork")) as pool:
            shares = [pool.submit(_encode_forked_share, bounds[k], bounds[k + 1], str(part))
                      for k, part in enumerate(parts)]
            return [share.result() for share in shares]
    except BrokenProcessPool:
        raise DataError(f"a process tokenizing the training texts ended abruptly (out of memory?); "
                        f"data.num_proc = 1 tokenizes in this process (now {len(parts)} processes)") from None
    finally:
        _FORKED_JOB = None
        if parallelism is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = parallelism


def _mapped_ids(folder: Path, count: int) -> RaggedIds | None:
    """The entry's ids memory-mapped, or None when it is missing, damaged or for another number of texts."""
    try:
        offsets = np.load(folder / "offsets.npy", mmap_mode="r")
        size = (folder / "flat.int32").stat().st_size
        flat = np.memmap(folder / "flat.int32", dtype="<i4", mode="r") if size else np.zeros(0, dtype=np.int32)
    except (OSError, ValueError):
        return None
    if len(offsets) != count + 1 or int(offsets[-1]) != len(flat) or size != 4 * len(flat):
        return None
    return RaggedIds(flat, offsets)


def _publish(folder: Path, write: Callable[[Path], None]) -> None:
    """Write an entry into a temporary folder and rename it into place; a cache that cannot be written is
    skipped (the run goes on without it)."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    except OSError:
        return
    try:
        write(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    except BaseException as err:  # nothing half-written is left in the cache
        shutil.rmtree(tmp, ignore_errors=True)
        if not isinstance(err, OSError):  # bad data or an interrupt goes on up; a cache write error does not
            raise
