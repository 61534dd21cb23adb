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


def native_bf16(device: torch.device) -> str:
    """What computes bfloat16 natively on `device` ("" if nothing): AVX512-BF16 or AMX on a CPU."""
    if device.type != "cpu":
        return ""
    checks = (("AMX", "_is_amx_tile_supported"), ("AVX512-BF16", "_is_avx512_bf16_supported"))
    found = [name for name, check in checks if getattr(torch.cpu, check, lambda: False)()]
    return " and ".join(found)


def onednn_bf16() -> bool:
    """Whether torch's oneDNN kernels, its CPU LSTM among them, run in bfloat16 on this CPU (they need AVX512)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else True


def resolve_precision(precision: str, device: torch.device) -> tuple[str, str]:
    """The precision `training.precision` trains in on `device`, and why when it was "auto": bf16 on a CPU with
    native bf16 (docs/performance.md#bf16), else fp32."""
    if precision != "auto":
        return precision, ""
    units = native_bf16(device)
    if units:
        return "bf16", f"auto: this CPU has {units}"
    where = "on CUDA" if device.type == "cuda" else "without AVX512-BF16 or AMX"
    return "fp32", f"auto: fp32 {where}"


def precision_note(precision: str, device: torch.device) -> str:
    """The precision a run trains in as it prints it, with why where "auto" chose: "bf16 (auto: ...)"."""
    resolved, why = resolve_precision(precision, device)
    return resolved + (f" ({why})" if why else "")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The dtype `training.precision` autocasts to on `device` (None for fp32); fp16 needs CUDA."""
    precision = resolve_precision(precision, device)[0]
    if precision == "fp32":
        return None
    if precision == "fp16" and device.type != "cuda":
        raise ConfigError(f'training.precision = "fp16" needs a CUDA device, and training runs on {device}; '
                          f'use "bf16" or "fp32"')
    if precision == "bf16" and device.type == "cpu" and not onednn_bf16():
        raise ConfigError('training.precision = "bf16": torch\'s LSTM has no bfloat16 kernel on this CPU (oneDNN '
                          'needs AVX512); use "fp32", or "auto", which trains in fp32 here')
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(f'training.precision = "bf16": {torch.cuda.get_device_name(device)} has no bfloat16 '
                          f'support; use "fp16" or "fp32"')
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
