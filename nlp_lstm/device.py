"""Device selection (CUDA when present, unless told otherwise) and what precision it trains in."""

from __future__ import annotations

import torch

from .errors import ConfigError


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


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype `training.precision` autocasts to on `device` (None for fp32); fp16 needs CUDA."""
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f'training.precision = "fp16" needs a CUDA device, and training runs on {device}; '
                          f'use "bf16" or "fp32"')
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f'training.precision = "bf16": {torch.cuda.get_device_name(device)} has no bfloat16 '
                          f'support; use "fp16" or "fp32"')
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
