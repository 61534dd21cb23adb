"""Keras's `pad_sequences`, for code ported from Keras tutorials (the toolkit's own batches are built by
`collate`: right-padded, with lengths, so the LSTM never reads padding)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def pad_sequences(
    sequences: Sequence[Any],
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and cut) sequences to one length, as `keras.utils.pad_sequences` does: a (len(sequences), maxlen,
    *sample_shape) NumPy array of `dtype`.

    maxlen defaults to the longest sequence; longer ones lose values at the start (truncating="pre") or the
    end ("post"); shorter ones get `value` before (padding="pre") or after ("post") them; an empty sequence
    is all `value`. Values are converted to `dtype`, so floats become integers with the default "int32",
    as in Keras: pass dtype="float32" to keep them. Elements may themselves be vectors (sample_shape, taken
    from the first non-empty sequence).
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    lengths = []
    sample_shape: tuple[int, ...] = ()
    found_shape = False
    for x in sequences:
        try:
            lengths.append(len(x))
            if not found_shape and len(x):
                sample_shape = np.asarray(x).shape[1:]
                found_shape = True
        except TypeError as err:
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: {x}") from err
    if maxlen is None:
        maxlen = int(np.max(lengths)) if lengths else 0
    is_dtype_str = np.issubdtype(dtype, np.str_)
    if isinstance(value, str) and np.dtype(dtype) != np.dtype(object) and not is_dtype_str:
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         f"You should set `dtype=object` for variable length strings.")
    x = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for idx, s in enumerate(sequences):
        if not len(s):
            continue
        if truncating == "pre":
            trunc = s[-maxlen:]
        elif truncating == "post":
            trunc = s[:maxlen]
        else:
            raise ValueError(f'Truncating type "{truncating}" not understood')
        trunc = np.asarray(trunc, dtype=dtype)
        if trunc.shape[1:] != sample_shape:
            raise ValueError(f"Shape of sample {trunc.shape[1:]} of sequence at position {idx} is different from "
                             f"expected shape {sample_shape}")
        if padding == "post":
            x[idx, : len(trunc)] = trunc
        elif padding == "pre":
            x[idx, -len(trunc):] = trunc
        else:
            raise ValueError(f'Padding type "{padding}" not understood')
    return x
