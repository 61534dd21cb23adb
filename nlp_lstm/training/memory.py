"""glibc malloc settings for CPU training: a step's freed buffers are kept for the next step.

By default glibc hands buffers over 128 KiB to the kernel when they are freed (and raises that limit only to
32 MiB), so every training step maps its activations, gradients and oneDNN workspaces afresh and the kernel
zero-fills each page on first touch, a large share of a small model's step. Keeping up to 128 MiB of freed
buffers removes those faults.

The price is a heap that can grow where buffers of many sizes come and go (the SST-2 + GloVe recipe peaks
higher with it; docs/performance.md has the numbers and the command). So it is opt-in:
`training.keep_freed_memory = true` (the zh-reviews recipe sets it).

Either way the trainer hands the heap's free pages back between phases (`release_freed_memory`): after data
preparation and at each epoch's end, much of the heap is free but still mapped, and the dev scoring that
follows allocates its own large buffers on top. pyarrow's memory pool is emptied the same way
(`release_arrow_memory`): it keeps the pages of freed record batches otherwise.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

from ..data.text_column import release_arrow_memory

M_TRIM_THRESHOLD = -1  # from glibc's malloc.h: free memory at the heap's top beyond this goes back to the kernel
M_MMAP_THRESHOLD = -3  # allocations above this get their own mapping, unmapped when freed
KEEP_BYTES = 128 * 2**20
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_applied = False


def _libc_function(name: str) -> ctypes._CFuncPtr | None:
    """A glibc function by name, or None off glibc."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Give the kernel back the pages glibc's heaps (malloc_trim(0), nothing off glibc) and pyarrow's memory
    pool hold free."""
    trim = _libc_function("malloc_trim")
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
        trim(0)
    release_arrow_memory()


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to 128 MiB once per process; whether they are set now. Nothing
    happens off glibc, or when the user set malloc's environment variables or GLIBC_TUNABLES."""
    global _applied
    if _applied:
        return True
    if any(name in os.environ for name in USER_SETTINGS) or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
    return _applied
