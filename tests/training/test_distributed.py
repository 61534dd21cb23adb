"""Distributed training with torchrun: two CPU processes (gloo) train one run, rank 0 alone writes it, and it
scores like a single-process run of the same config."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_sst2_recipe

from nlp_lstm.config import load_config
from nlp_lstm.data.batching import BucketBatchSampler
from nlp_lstm.runs import train

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}



def test_each_rank_takes_a_distinct_near_equal_share_of_every_batch() -> None:
    lengths = [(7 * i) % 50 + 1 for i in range(1001)]
    single = BucketBatchSampler(lengths, 32, seed=3)
    ranks = [BucketBatchSampler(lengths, 32, seed=3, rank=r, world_size=3) for r in range(3)]
    for sampler in (single, *ranks):
        sampler.set_epoch(2)
    pieces = [list(sampler) for sampler in ranks]
    assert len(pieces[0]) == len(pieces[1]) == len(pieces[2]) == len(ranks[0]) == 32  # 31 full + 1 of 9
    for whole, *shares in zip(single, *pieces):
        assert sorted(i for share in shares for i in share) == sorted(whole)
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
        assert all(abs(lengths[a[0]] - lengths[b[0]]) <= 1 or len(whole) < 32 for a in shares for b in shares)
    # a last batch of 1 cannot be shared by 2 ranks: both leave it out and take the same number of steps
    two = [BucketBatchSampler(list(range(1, 66)), 32, rank=r, world_size=2) for r in range(2)]
    assert len(two[0]) == len(list(two[1])) == 2
    with pytest.raises(ValueError, match="need 0 <= rank < world_size <= batch_size"):
        BucketBatchSampler(lengths, 2, rank=0, world_size=3)


@pytest.fixture(scope="module")
def recipe(sst2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sst2_recipe(sst2_dir, tmp_path_factory.mktemp("ddp"))


def test_torchrun_with_two_gloo_processes_writes_one_run_that_scores_like_one_process(recipe: Path) -> None:
    runs = recipe.parent / "runs"
    with contextlib.redirect_stdout(io.StringIO()):  # in this process, also on one thread (conftest.py)
        train(load_config(recipe), runs / "single", progress=False)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "nlp_lstm", "train", recipe, "--output", runs / "two", "--no-progress"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"\| device cpu \| (fp32|bf16)[^|]*\| 2 processes", out), out
    for epoch in (1, 2, 3):  # rank 0 alone prints
        assert out.count(f"epoch {epoch}: train loss") == 1, out
    assert out.count("run directory:") == 1
    assert sorted(p.name for p in runs.iterdir()) == ["single", "two"]
    two = json.loads((runs / "two" / "metrics.json").read_text())
    one = json.loads((runs / "single" / "metrics.json").read_text())
    assert two["processes"] == 2 and one["processes"] == 1
    assert two["steps"] == one["steps"] == 3 * 63  # each step is one batch of 32, shared by the two ranks
    history = [json.loads(line) for line in (runs / "two" / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    # different dropout masks, the same data and batches: measured 0.7025 vs 0.7175 (dev), 0.6925 vs 0.675 (test)
    assert abs(two["dev"]["accuracy"] - one["dev"]["accuracy"]) <= 0.04
    assert abs(two["test"]["accuracy"] - one["test"]["accuracy"]) <= 0.04
    assert two["dev"]["accuracy"] > 0.65  # it learned: the majority class is 0.51
    assert (runs / "two" / "model" / "model.safetensors").is_file()
    assert [p.name for p in (runs / "two" / "checkpoints").iterdir()] != []


def test_resume_under_torchrun_is_refused(recipe: Path, tmp_path: Path) -> None:
    env = {**ENV, "WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}
    done = subprocess.run([sys.executable, "-m", "nlp_lstm", "train", recipe, "--resume", tmp_path], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "--resume under torchrun is not supported" in done.stderr
