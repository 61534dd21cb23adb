"""Exact resume: a run killed (SIGKILL), stopped (SIGINT, SIGTERM) or crashed mid-epoch and resumed with
`--resume` ends with the same weights, metrics and history as an unbroken run of the same seed."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import sentence_blocks, write_conll, write_sst2_recipe
from safetensors.torch import load_file

from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig, dump_config, load_config
from nlp_lstm.errors import ConfigError, TrainingError, TrainingInterrupted
from nlp_lstm.runs import train
from nlp_lstm.tasks.classification import ClassificationTask
from nlp_lstm.tasks.tagging import TaggingTask
from nlp_lstm.training.checkpoint import read_checkpoint

ROOT = Path(__file__).resolve().parents[2]
TIMING_KEYS = {"train_tokens_per_second", "train_seconds", "wall_seconds", "train_seconds_per_epoch",
               "environment"}
# one thread in every process: the same arithmetic in the unbroken run and the resumed one
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}



@pytest.fixture(scope="module")
def recipe(sst2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every source of randomness (dropout, <unk> replacement, shuffled buckets) and a learning-rate schedule:
    189 steps in 3 epochs, a checkpoint every 5."""
    return write_sst2_recipe(sst2_dir, tmp_path_factory.mktemp("resume"),
                             'checkpoint_every = 5\nunk_replace = 0.5\nlr_schedule = "linear"\n')


def cli(*argv: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nlp_lstm", "train", *map(str, argv), "--no-progress"], cwd=ROOT,
                            env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def unbroken(recipe: Path) -> Path:
    run = recipe.parent / "unbroken"
    process = cli(recipe, "--output", run)
    assert process.wait() == 0, process.stderr.read()
    return run


def checkpoint_steps(run: Path) -> int:
    path = run / "checkpoints" / "last.safetensors"
    return read_checkpoint(path).progress["steps"] if path.is_file() else 0


def wait_for_checkpoint(run: Path, process: subprocess.Popen, steps: int) -> None:
    deadline = time.monotonic() + 120
    while checkpoint_steps(run) < steps:
        assert process.poll() is None, f"the run ended before step {steps}: {process.stderr.read()}"
        assert time.monotonic() < deadline
        time.sleep(0.02)


def outcome(run: Path) -> dict[str, Any]:
    """Weights, metrics, history and predictions of a finished run, timings left out."""
    metrics = json.loads((run / "metrics.json").read_text())
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    return {
        "weights": load_file(run / "model" / "model.safetensors"),
        "metrics": {k: v for k, v in metrics.items() if k not in TIMING_KEYS},
        "history": [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in history],
        "predictions": (run / "predictions.jsonl").read_text(),
    }


def assert_same_run(run: Path, reference: Path) -> None:
    got, want = outcome(run), outcome(reference)
    assert got["weights"].keys() == want["weights"].keys()
    for name, tensor in want["weights"].items():
        assert torch.equal(got["weights"][name], tensor), name
    assert got["history"] == want["history"]
    assert got["metrics"] == want["metrics"]
    assert got["predictions"] == want["predictions"]


def test_a_run_killed_at_a_random_step_and_resumed_ends_as_the_unbroken_run(recipe: Path, unbroken: Path) -> None:
    steps = random.Random().randrange(5, 175)  # a kill between two checkpoints, anywhere in the 3 epochs
    run = recipe.parent / f"killed-{steps}"
    process = cli(recipe, "--output", run)
    wait_for_checkpoint(run, process, steps)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (run / "metrics.json").exists()
    resumed = cli(recipe, "--resume", run)
    assert resumed.wait() == 0, f"killed after the checkpoint at step {steps}: {resumed.stderr.read()}"
    assert_same_run(run, unbroken)


def test_sigterm_writes_a_checkpoint_and_exits_with_how_to_go_on(recipe: Path, unbroken: Path) -> None:
    signum = signal.SIGTERM
    run = recipe.parent / f"stopped-{signum}"
    process = cli(recipe, "--output", run)
    wait_for_checkpoint(run, process, 70)  # inside epoch 2
    process.send_signal(signum)
    assert process.wait() == 128 + signum
    err = process.stderr.read()
    name = signal.Signals(signum).name
    assert f"nlp-lstm: stopped by {name} after step" in err and "(epoch 2, batch " in err, err
    assert f"go on with: nlp-lstm train {recipe} --resume {run}" in err
    assert "Traceback" not in err
    state = read_checkpoint(run / "checkpoints" / "last.safetensors").progress
    assert not state["epoch_done"] and state["steps"] >= 70
    resumed = cli(recipe, "--resume", run)
    assert resumed.wait() == 0, resumed.stderr.read()
    assert_same_run(run, unbroken)


def quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return fn(*args, **kwargs)


def tagger_config(folder: Path) -> Config:
    """A small BiLSTM-CNN-CRF with <unk> replacement: 13 batches an epoch, a checkpoint every 4 steps."""
    return Config(
        task="tagging",
        data=DataConfig(train=f"conll:{folder / 'train.conll'}", dev=f"conll:{folder / 'dev.conll'}", tag_column=3,
                        validation_fraction=0.0),
        tokenizer=TokenizerConfig(lowercase=True, digits_to_zero=True),
        model=ModelConfig(embedding_dim=16, hidden_size=16, dropout=0.5, char_embedding_dim=8, char_filters=8,
                          casing_embedding_dim=4, crf=True, tag_scheme="bioes"),
        training=TrainingConfig(plots=False, epochs=2, batch_size=16, learning_rate=0.01, patience=0, metric="f1",
                                seed=0, device="cpu", checkpoint_every=4, unk_replace=0.5),
    )


@pytest.mark.parametrize("added_words", [0, 2000])
def test_a_crf_tagger_crashed_mid_epoch_resumes_exactly(shared_data: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, added_words: int) -> None:
    write_conll(tmp_path / "train.conll", sentence_blocks(shared_data / "conll2003" / "eng.train")[:200])
    write_conll(tmp_path / "dev.conll", sentence_blocks(shared_data / "conll2003" / "eng.testa")[:50])
    config = tagger_config(tmp_path)
    if added_words:  # GloVe words no training sentence has: the optimizer holds the embedding's other rows only
        config.model = dataclasses.replace(config.model, embedding_dim=50, pretrained_vectors="glove-6b-50d",
                                           extend_vocab=added_words)
        config.training = dataclasses.replace(config.training, weight_decay=0.0)  # as the taggers' default
    assert config.model.crf
    quiet(train, config, tmp_path / "unbroken", progress=False)

    loss, calls = TaggingTask.loss, []

    def crash_at_step_19(self: TaggingTask, *args: Any) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 19:  # epoch 2 (13 batches an epoch), after the checkpoint at step 16
            raise RuntimeError("the machine went away")
        return loss(self, *args)

    monkeypatch.setattr(TaggingTask, "loss", crash_at_step_19)
    with pytest.raises(RuntimeError, match="went away"):
        quiet(train, config, tmp_path / "crashed", progress=False)
    monkeypatch.setattr(TaggingTask, "loss", loss)
    checkpoint = read_checkpoint(tmp_path / "crashed" / "checkpoints" / "last.safetensors")
    assert checkpoint.progress["steps"] == 16
    table = checkpoint.model["embedding.weight"]
    assert checkpoint.optimizer["state"][0]["exp_avg"].shape == (table.size(0) - added_words, table.size(1))
    quiet(train, config, resume=tmp_path / "crashed", progress=False)
    got, want = outcome(tmp_path / "crashed"), outcome(tmp_path / "unbroken")
    for name, tensor in want.pop("weights").items():
        assert torch.equal(got["weights"][name], tensor), name
    got.pop("weights")
    assert got == want


def test_resume_refuses_another_config_a_finished_run_and_a_run_without_a_checkpoint(
        recipe: Path, unbroken: Path, tmp_path: Path) -> None:
    config = load_config(recipe)
    with pytest.raises(ConfigError, match=r"that run finished \(metrics.json is written\); nothing to resume"):
        train(config, resume=unbroken)
    with pytest.raises(ConfigError, match=r"no run there \(.*config.toml not found\)"):
        train(config, resume=tmp_path / "nothing")
    early = tmp_path / "early"
    early.mkdir()
    (early / "config.toml").write_text(dump_config(config), encoding="utf-8")
    other = load_config(recipe, ["training.learning_rate=0.02", "model.hidden_size=16"])
    with pytest.raises(ConfigError, match=r"the config differs from the run's .*model.hidden_size: run 32, now 16; "
                                          r"training.learning_rate: run 0.01, now 0.02"):
        train(other, resume=early)
    with pytest.raises(ConfigError, match="leave out --output"):
        train(config, tmp_path / "elsewhere", resume=early)


def test_resuming_a_run_stopped_before_its_first_checkpoint_trains_it_again(
        recipe: Path, unbroken: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = load_config(recipe)
    early = tmp_path / "early"
    early.mkdir()
    (early / "config.toml").write_text(dump_config(config), encoding="utf-8")  # what Ctrl-C in epoch 1 leaves
    (early / "history.jsonl").write_text("", encoding="utf-8")
    result = train(config, resume=early, progress=False)
    assert "stopped before its first checkpoint" in capsys.readouterr().out
    assert result.run_dir == early
    assert json.loads((early / "metrics.json").read_text())["dev"] == \
        json.loads((unbroken / "metrics.json").read_text())["dev"]


def test_a_truncated_or_foreign_checkpoint_is_named_and_nothing_is_trained(recipe: Path, unbroken: Path,
                                                                           tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text((unbroken / "config.toml").read_text())
    (run / "checkpoints").mkdir()
    data = (unbroken / "checkpoints" / "last.safetensors").read_bytes()
    (run / "checkpoints" / "last.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(TrainingError, match=r"last.safetensors: not a readable nlp-lstm checkpoint .*truncated"):
        quiet(train, load_config(recipe), resume=run)
    (run / "checkpoints" / "last.safetensors").write_bytes((unbroken / "checkpoints" / "best.safetensors").read_bytes())
    with pytest.raises(TrainingError, match=r"last.safetensors: not a readable nlp-lstm checkpoint"):
        quiet(train, load_config(recipe), resume=run)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoints", "config.toml"]


def sigint_config(sst2_600: Path, epochs: int) -> Config:
    """A tiny SST-2 run of 10 steps an epoch."""
    return Config(
        data=DataConfig(train=f"tsv:{sst2_600 / 'train.tsv'}", dev=f"tsv:{sst2_600 / 'dev.tsv'}",
                        text_column="sentence"),
        tokenizer=TokenizerConfig(vocab_size=2000), model=ModelConfig(embedding_dim=8, hidden_size=8, dropout=0.3),
        training=TrainingConfig(plots=False, epochs=epochs, batch_size=60, seed=0, device="cpu"))


def ctrl_c_at_step(monkeypatch: pytest.MonkeyPatch, step: int) -> list[int]:
    """Send this process SIGINT during training step `step`; the returned list grows by one each step."""
    loss, calls = ClassificationTask.loss, []

    def loss_then_ctrl_c(self: ClassificationTask, *args: Any) -> torch.Tensor:
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signal.SIGINT)
        return loss(self, *args)

    monkeypatch.setattr(ClassificationTask, "loss", loss_then_ctrl_c)
    return calls


def test_sigint_in_process_stops_at_the_next_step_with_a_checkpoint(sst2_600: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while training from Python: TrainingInterrupted (not KeyboardInterrupt) after a checkpoint, and
    resuming ends like the unbroken run; the previous SIGINT handler is back afterwards."""
    config = sigint_config(sst2_600, epochs=2)
    quiet(train, config, tmp_path / "unbroken", progress=False)
    loss = ClassificationTask.loss
    ctrl_c_at_step(monkeypatch, 14)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted, match=r"stopped by SIGINT after step 14 \(epoch 2, batch 4 of 10\)") as err:
        quiet(train, config, tmp_path / "stopped", progress=False)
    assert err.value.signal_number == signal.SIGINT and signal.getsignal(signal.SIGINT) is handler
    monkeypatch.setattr(ClassificationTask, "loss", loss)
    quiet(train, config, resume=tmp_path / "stopped", progress=False)
    assert_same_run(tmp_path / "stopped", tmp_path / "unbroken")


def test_sigint_after_the_last_step_is_delivered_as_usual_not_lost(sst2_600: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during the last step has no next step to stop at: it raises KeyboardInterrupt once training ends."""
    calls = ctrl_c_at_step(monkeypatch, 10)
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        quiet(train, sigint_config(sst2_600, epochs=1), tmp_path / "run", progress=False)
    assert len(calls) == 10 and signal.getsignal(signal.SIGINT) is handler
