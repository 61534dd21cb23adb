"""Device selection: CUDA when present, unless told otherwise."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA when available, else CPU; `cuda` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but torch.cuda.is_available() is False "
                          f"(torch {torch.__version__}); install a CUDA build of torch or use --device cpu")
    return device
