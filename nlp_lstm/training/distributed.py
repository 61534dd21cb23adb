"""Training across processes with torch.distributed, as started by torchrun: who this process is, its device,
and the few collective steps the run needs (share the run directory, sum a number over ranks)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ..errors import ConfigError


@dataclass
class Distributed:
    """This process's place in a torchrun job."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes files and prints."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether torchrun (or another launcher setting WORLD_SIZE > 1) started this process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def start(device_name: str) -> tuple[Distributed, torch.device]:
    """Join the process group torchrun set up (NCCL on CUDA, gloo on the CPU); the device is cuda:LOCAL_RANK
    when CUDA is used."""
    try:
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError) as err:
        raise ConfigError(f"WORLD_SIZE is set but RANK or LOCAL_RANK is missing or not a number ({err}); start "
                          f"distributed runs with torchrun") from None
    use_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ConfigError(f"training.device = {device_name!r} under torchrun, but torch.cuda.is_available() is False")
    if use_cuda:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return Distributed(rank, world_size, local_rank), device


def share(value: Any, source: int = 0) -> Any:
    """`value` as rank `source` has it, on every rank."""
    box = [value]
    dist.broadcast_object_list(box, src=source)
    return box[0]


def total(value: float, device: torch.device) -> float:
    """The sum of `value` over all ranks (the value itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    tensor = torch.tensor(float(value), dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor)


def finish() -> None:
    """Wait for every rank, then leave the process group."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
