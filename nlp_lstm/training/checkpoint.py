"""A training checkpoint as one safetensors file: weights, best and recent epochs' weights, optimizer, scheduler, RNG
states, progress.

Reading one unpickles nothing: the tensors come from safetensors and everything else from a JSON string in
its metadata. It is written to a temporary file and renamed over the last one, so a crash at any moment
leaves either the previous checkpoint or the new one, whole.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from ..errors import TrainingError
from ..io import atomic_save_tensors

FORMAT = 1
METADATA_KEY = "nlp_lstm_checkpoint"


@dataclass
class Checkpoint:
    """What `read_checkpoint` found: tensors grouped by part, and the JSON-side state."""

    model: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor] | None
    recent: list[dict[str, torch.Tensor]]  # the last epochs' weights, oldest first, for checkpoint averaging
    optimizer: dict[str, Any]  # an Optimizer.state_dict()
    scheduler: dict[str, Any] | None
    scaler: dict[str, Any] | None
    rng: dict[str, torch.Tensor]  # "torch", "cuda/N", and named generators
    progress: dict[str, Any]  # epoch, batch, epoch_done, steps, history, best_epoch, ... and "loss_sum"


def write_checkpoint(
    path: Path,
    model: torch.nn.Module,
    best: dict[str, torch.Tensor] | None,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    scaler: torch.amp.GradScaler | None,
    generators: dict[str, torch.Generator],
    progress: dict[str, Any],
    loss_sum: torch.Tensor,
    recent: list[dict[str, torch.Tensor]] | None = None,
) -> None:
    """Write the checkpoint file atomically."""
    tensors = {f"model/{name}": t for name, t in model.state_dict().items()}
    tensors.update({f"best/{name}": t for name, t in (best or {}).items()})
    for k, state in enumerate(recent or []):
        tensors.update({f"recent/{k}/{name}": t for name, t in state.items()})
    state = optimizer.state_dict()
    optimizer_json: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optimizer/{index}/{key}"] = value
            else:
                optimizer_json["state"].setdefault(str(index), {})[key] = value
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for k, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{k}"] = cuda_state
    tensors.update({f"rng/{name}": generator.get_state() for name, generator in generators.items()})
    tensors["progress/loss_sum"] = loss_sum.detach().float()
    meta = {"format": FORMAT, "progress": progress, "optimizer": optimizer_json,
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "scaler": scaler.state_dict() if scaler is not None else None}
    atomic_save_tensors(path, tensors, metadata={METADATA_KEY: json.dumps(meta)})


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by `write_checkpoint`; a missing, truncated or foreign file is a TrainingError."""
    if not path.is_file():
        raise TrainingError(f"no checkpoint to resume from: {path} does not exist (a run writes it at the end of "
                            f"its first epoch, every training.checkpoint_every steps, and when it is stopped by "
                            f"SIGINT or SIGTERM)")
    data = path.read_bytes()
    try:
        tensors = load_safetensors(data)
        header_size = int.from_bytes(data[:8], "little")
        meta = json.loads(json.loads(data[8 : 8 + header_size])["__metadata__"][METADATA_KEY])
    except (SafetensorError, ValueError, KeyError, TypeError) as err:
        raise TrainingError(f"{path}: not a readable nlp-lstm checkpoint ({err}); it may be truncated or from "
                            f"another program") from None
    if meta.get("format") != FORMAT:
        raise TrainingError(f"{path}: checkpoint format {meta.get('format')!r}; this nlp-lstm reads format {FORMAT}")
    parts: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        part, _, name = key.partition("/")
        parts.setdefault(part, {})[name] = tensor
    optimizer = {"param_groups": meta["optimizer"]["param_groups"], "state": {}}
    for key, tensor in parts.get("optimizer", {}).items():
        index, _, name = key.partition("/")
        optimizer["state"].setdefault(int(index), {})[name] = tensor
    for index, values in meta["optimizer"]["state"].items():
        optimizer["state"].setdefault(int(index), {}).update(values)
    for group in optimizer["param_groups"]:
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    recent: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in parts.get("recent", {}).items():
        index, _, name = key.partition("/")
        recent.setdefault(int(index), {})[name] = tensor
    progress = dict(meta["progress"], loss_sum=parts["progress"]["loss_sum"])
    return Checkpoint(parts.get("model", {}), parts.get("best"), [recent[k] for k in sorted(recent)], optimizer,
                      meta["scheduler"], meta["scaler"], parts.get("rng", {}), progress)


def restore_rng(rng: dict[str, torch.Tensor], generators: dict[str, torch.Generator]) -> None:
    """Put back the global torch (and CUDA) RNG states and those of the named generators."""
    torch.set_rng_state(rng["torch"])
    cuda = sorted((int(key.split("/")[1]), state) for key, state in rng.items() if key.startswith("cuda/"))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state for _, state in cuda][: torch.cuda.device_count()])
    for name, generator in generators.items():
        if name in rng:
            generator.set_state(rng[name])
