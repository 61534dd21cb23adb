"""glibc malloc settings for CPU training: freed buffers are kept, so a step's pages are not faulted in anew."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")

# allocate and free a 48 MiB tensor 20 times, before and after keep_freed_memory(): minor page faults of each
PROBE = """
import resource, sys, torch
from nlp_lstm.training.memory import keep_freed_memory
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        torch.ones(12 * 2**20).sum()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
default = faults()
applied = keep_freed_memory()
faults()  # the first allocation after the change maps its pages once
print(default, applied, faults())
"""


def probe(**env: str) -> tuple[int, bool, int]:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}, **env})
    default, applied, kept = done.stdout.split()
    return int(default), applied == "True", int(kept)


def test_keeping_freed_memory_stops_the_page_faults_of_repeated_large_buffers() -> None:
    default, applied, kept = probe()
    assert applied
    assert default > 20 * 10_000  # 12,288 pages of 4 KiB each time under glibc's defaults
    assert kept < default / 20


def test_a_users_own_malloc_settings_are_kept() -> None:
    default, applied, kept = probe(MALLOC_MMAP_THRESHOLD_="131072")
    assert not applied
    assert kept > default / 2


@pytest.mark.parametrize("keep", [False, True])
def test_the_trainer_changes_malloc_only_when_the_config_asks(keep: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from nlp_lstm.config import TrainingConfig
    from nlp_lstm.training import trainer
    from nlp_lstm.training.tasks import ClassificationTask

    calls = []
    monkeypatch.setattr(trainer, "keep_freed_memory", lambda: calls.append(1))
    trainer.Trainer(torch.nn.Linear(2, 2), TrainingConfig(keep_freed_memory=keep), torch.device("cpu"),
                    ClassificationTask(["a", "b"], 0))
    assert calls == ([1] if keep else [])
