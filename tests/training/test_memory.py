"""glibc malloc settings for CPU training: freed buffers are kept, so a step's pages are not faulted in anew."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_slice

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
    from nlp_lstm.tasks.classification import ClassificationTask
    from nlp_lstm.training import trainer

    calls = []
    monkeypatch.setattr(trainer, "keep_freed_memory", lambda: calls.append(1))
    trainer.Trainer(torch.nn.Linear(2, 2), TrainingConfig(keep_freed_memory=keep), torch.device("cpu"),
                    ClassificationTask(["a", "b"], 0))
    assert calls == ([1] if keep else [])


# many small buffers kept in glibc's heap and freed, leaving free pages inside it: RSS in MB before, freed, released
RELEASE_PROBE = """
from nlp_lstm.training.memory import release_freed_memory
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
start = rss()
buffers = [bytearray(64 * 1024) for _ in range(4000)]  # 250 MiB in 64 KiB pieces, below the mmap threshold
keep = buffers[-1]
del buffers
freed = rss()
release_freed_memory()
print(start, freed, rss())
"""


def test_released_memory_goes_back_to_the_kernel() -> None:
    done = subprocess.run([sys.executable, "-c", RELEASE_PROBE], capture_output=True, text=True, check=True)
    start, freed, released = map(float, done.stdout.split())
    assert freed - start > 200  # the last buffer keeps the heap's top in use, so free() alone returned nothing
    assert released - start < 50


def test_the_trainer_releases_memory_before_training_and_after_each_phase(
    sst2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from nlp_lstm.config import ModelConfig, TrainingConfig
    from nlp_lstm.data.sources import load_texts
    from nlp_lstm.models.classifier import BiLSTMClassifier
    from nlp_lstm.tasks.classification import ClassificationTask, EncodedSplit
    from nlp_lstm.text.tokenizers import TextTokenizer
    from nlp_lstm.training import trainer

    data = load_texts(f"tsv:{write_slice(sst2_dir / 'train.tsv', tmp_path / 'train.tsv', 0, 200)}", "sentence")
    labels = sorted(set(data.labels))
    tokenizer = TextTokenizer.train(data.texts, "word", True, 5000, 1)
    split = EncodedSplit(tokenizer.encode_batch(data.texts), [labels.index(label) for label in data.labels])
    model = BiLSTMClassifier(len(tokenizer), len(labels), ModelConfig(embedding_dim=8, hidden_size=8),
                             padding_idx=tokenizer.pad_id)
    events: list[str] = []
    monkeypatch.setattr(trainer, "release_freed_memory", lambda: events.append("release"))
    train_epoch, evaluate = trainer.Trainer.train_epoch, ClassificationTask.evaluate

    def logged_epoch(self: trainer.Trainer, *args: object) -> tuple[float, int, float]:
        events.append("train")
        return train_epoch(self, *args)

    def logged_evaluate(self: ClassificationTask, *args: object) -> object:
        events.append("score")
        return evaluate(self, *args)

    monkeypatch.setattr(trainer.Trainer, "train_epoch", logged_epoch)
    monkeypatch.setattr(ClassificationTask, "evaluate", logged_evaluate)
    fitting = trainer.Trainer(model, TrainingConfig(epochs=2, batch_size=32, device="cpu"), torch.device("cpu"),
                              ClassificationTask(labels, tokenizer.pad_id), progress=False, verbose=False)
    fitting.fit(split, split)
    epoch = ["train", "release", "score", "release"]
    assert events == ["release", *epoch, *epoch, "release"]
    fitting.evaluate(split)
    assert events[-2:] == ["score", "release"]
