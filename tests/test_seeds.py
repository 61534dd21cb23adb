"""Multi-seed runs: the aggregation math on hand-made metrics, `nlp-lstm train --seeds 2` end to end on a
tiny SST-2 slice, and bad --seeds values as exit status 1 with one line naming the option."""

from __future__ import annotations

import contextlib
import io
import json
import statistics
from pathlib import Path

import pytest
from conftest import assert_error, write_slice

from nlp_lstm.cli import main
from nlp_lstm.errors import ConfigError
from nlp_lstm.seeds import aggregate, format_summary

# ---------------------------------------------------------------- aggregate


def test_mean_std_min_max_of_each_numeric_leaf() -> None:
    runs = [{"dev": {"accuracy": 0.5, "n_samples": 100}}, {"dev": {"accuracy": 0.75, "n_samples": 100}},
            {"dev": {"accuracy": 1.0, "n_samples": 100}}]
    result = aggregate(runs)
    assert result["dev"]["accuracy"] == {"mean": 0.75, "std": 0.25, "min": 0.5, "max": 1.0, "n": 3,
                                         "values": [0.5, 0.75, 1.0]}
    assert result["dev"]["n_samples"] == {"mean": 100.0, "std": 0.0, "min": 100, "max": 100, "n": 3,
                                          "values": [100, 100, 100]}


def test_std_is_the_sample_std() -> None:
    values = [0.81, 0.83, 0.8, 0.84]
    stats = aggregate([{"accuracy": v} for v in values])["accuracy"]
    assert stats["std"] == pytest.approx(statistics.stdev(values))
    assert stats["std"] != pytest.approx(statistics.pstdev(values))  # ddof=1, not the population std
    assert stats["mean"] == pytest.approx(0.82)


def test_a_single_run_has_std_zero() -> None:
    assert aggregate([{"test": {"accuracy": 0.8}}])["test"]["accuracy"] == {
        "mean": 0.8, "std": 0.0, "min": 0.8, "max": 0.8, "n": 1, "values": [0.8]}


def test_non_numeric_leaves_are_kept_when_equal_and_dropped_when_not() -> None:
    runs = [{"task": "classification", "device": "cpu", "data": {"labels": ["负面", "positive"], "test": None}},
            {"task": "classification", "device": "cuda:0", "data": {"labels": ["负面", "positive"], "test": None}}]
    result = aggregate(runs)
    assert result == {"task": "classification", "data": {"labels": ["负面", "positive"], "test": None}}


def test_bools_are_not_averaged() -> None:
    assert aggregate([{"crf": True, "x": 1}, {"crf": True, "x": 2}])["crf"] is True
    assert "crf" not in aggregate([{"crf": True}, {"crf": False}])


def test_keys_missing_from_a_run_are_dropped() -> None:
    result = aggregate([{"dev": {"accuracy": 0.5, "f1": 0.4}}, {"dev": {"accuracy": 0.7}}])
    assert list(result["dev"]) == ["accuracy"]


def test_confusion_matrices_are_aggregated_element_wise() -> None:
    runs = [{"matrix": [[48, 0], [2, 50]]}, {"matrix": [[46, 2], [4, 48]]}]
    stats = aggregate(runs)["matrix"]
    assert stats["mean"] == [[47.0, 1.0], [3.0, 49.0]]
    assert [row == pytest.approx([2 ** 0.5] * 2) for row in stats["std"]] == [True, True]
    assert (stats["min"], stats["max"], stats["n"]) == ([[46, 0], [2, 48]], [[48, 2], [4, 50]], 2)
    assert "ragged" not in aggregate([{"ragged": [[1, 2], [3]]}, {"ragged": [[1, 2], [4]]}])


def test_seed_becomes_the_list_of_seeds() -> None:
    assert aggregate([{"seed": 3}, {"seed": 4}, {"seed": 5}])["seed"] == [3, 4, 5]


def test_no_runs() -> None:
    with pytest.raises(ValueError, match="at least one run"):
        aggregate([])


def test_format_summary_lines() -> None:
    summary = {"metrics": aggregate([{"test": {"accuracy": 0.81, "macro_f1": 0.8}, "wall_seconds": 80.0},
                                     {"test": {"accuracy": 0.82, "macro_f1": 0.8}, "wall_seconds": 82.0}])}
    assert format_summary(summary).split("\n") == [
        "test accuracy 0.8150 ± 0.0071 (n=2)", "test macro F1 0.8000 ± 0.0000 (n=2)",
        "wall seconds 81.0 ± 1.4 (n=2)"]


def test_train_seeds_rejects_a_bad_count() -> None:
    from nlp_lstm.config import Config
    from nlp_lstm.seeds import train_seeds

    with pytest.raises(ConfigError, match=r"'seeds' parameter must be an int >= 1\. Got 0 instead"):
        train_seeds(Config(), 0)


# ---------------------------------------------------------------- nlp-lstm train --seeds


@pytest.fixture(scope="module")
def tiny_config(sst2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny SST-2 config of conftest's classifier_run (400 train, 100 dev, 100 test rows) as TOML."""
    folder = tmp_path_factory.mktemp("sst2")
    write_slice(sst2_dir / "train.tsv", folder / "train.tsv", 0, 400)
    write_slice(sst2_dir / "dev.tsv", folder / "dev.tsv", 0, 100)
    write_slice(sst2_dir / "dev.tsv", folder / "test.tsv", 100, 200)
    specs = {split: json.dumps(f"tsv:{folder / f'{split}.tsv'}") for split in ("train", "dev", "test")}
    (folder / "tiny.toml").write_text(f"""[data]
train = {specs["train"]}
dev = {specs["dev"]}
test = {specs["test"]}
text_column = "sentence"
max_length = 32

[tokenizer]
kind = "word"
vocab_size = 2000

[model]
embedding_dim = 8
hidden_size = 8

[training]
epochs = 2
batch_size = 32
max_steps = 20
seed = 0
device = "cpu"
plots = false
""", encoding="utf-8")
    return folder / "tiny.toml"


@pytest.fixture(scope="module")
def seeds_run(tiny_config: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`nlp-lstm train tiny.toml --seeds 2`: its run directory and what it printed."""
    run = tmp_path_factory.mktemp("seeds") / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", str(tiny_config), "--seeds", "2", "--output", str(run), "--no-progress"]) == 0
    return run, out.getvalue()


def test_each_seed_is_a_complete_run(seeds_run: tuple[Path, str]) -> None:
    run, _ = seeds_run
    assert sorted(p.name for p in run.iterdir()) == ["seed-0", "seed-1", "seeds.json", "seeds.md"]
    for seed in (0, 1):
        assert json.loads((run / f"seed-{seed}" / "metrics.json").read_text())["seed"] == seed
        assert (run / f"seed-{seed}" / "model" / "model.safetensors").is_file()
        assert "seed = " + str(seed) in (run / f"seed-{seed}" / "config.toml").read_text()


def test_seeds_json_holds_the_mean_of_the_runs(seeds_run: tuple[Path, str]) -> None:
    run, _ = seeds_run
    per_seed = [json.loads((run / f"seed-{seed}" / "metrics.json").read_text()) for seed in (0, 1)]
    summary = json.loads((run / "seeds.json").read_text())
    assert (summary["seeds"], summary["runs"]) == ([0, 1], ["seed-0", "seed-1"])
    dev = summary["metrics"]["dev"]["accuracy"]
    assert dev["values"] == [m["dev"]["accuracy"] for m in per_seed]
    assert dev["mean"] == pytest.approx(statistics.fmean(dev["values"]))
    assert summary["metrics"]["seed"] == [0, 1]
    assert summary["metrics"]["task"] == "classification"


def test_seeds_md_and_the_printed_summary(seeds_run: tuple[Path, str]) -> None:
    run, out = seeds_run
    test = json.loads((run / "seeds.json").read_text())["metrics"]["test"]["accuracy"]
    row = f"| test accuracy | {test['mean']:.4f} ± {test['std']:.4f} | {test['min']:.4f} | {test['max']:.4f} |"
    assert row in (run / "seeds.md").read_text().splitlines()
    assert f"test accuracy {test['mean']:.4f} ± {test['std']:.4f} (n=2)" in out
    assert out.count("run directory: ") == 2 and f"seed 1 (2 of 2): {run / 'seed-1'}" in out
    assert f"seeds: {run / 'seeds.md'}" in out


@pytest.mark.parametrize("value", ["0", "-1", "x", "2.5"])
def test_bad_seeds(capsys, tiny_config: Path, tmp_path: Path, value: str) -> None:
    assert_error(capsys, ["train", tiny_config, "--seeds", value, "--output", tmp_path / "run"],
                 "'--seeds' option must be an int >= 1", repr(value))
    assert not (tmp_path / "run").exists()


def test_report_on_a_seeds_run_regenerates_every_seeds_report(seeds_run: tuple[Path, str], tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    run, _ = seeds_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for seed in (0, 1):
        (copy / f"seed-{seed}" / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    out = capsys.readouterr().out
    for seed in (0, 1):
        assert f"seed-{seed}: {copy / f'seed-{seed}' / 'report.html'}" in out
        assert (copy / f"seed-{seed}" / "report.html").is_file()
        assert (copy / f"seed-{seed}" / "plots" / "training_curves.png").is_file()  # trained without plots


def test_jobs_train_the_seeds_in_parallel_with_the_same_results(seeds_run: tuple[Path, str], tiny_config: Path,
                                                                 tmp_path: Path) -> None:
    sequential, _ = seeds_run
    run = tmp_path / "run"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["train", str(tiny_config), "--seeds", "2", "--jobs", "2", "--output", str(run)]) == 0
    assert "2 seeds, 2 at a time with 1 thread(s) each" in out.getvalue()
    for seed in (0, 1):
        log = (run / f"seed-{seed}.log").read_text()
        assert "run directory: " in log and "epoch 1:" in log  # the worker's output, not the terminal's
        parallel = json.loads((run / f"seed-{seed}" / "metrics.json").read_text())
        alone = json.loads((sequential / f"seed-{seed}" / "metrics.json").read_text())
        assert parallel["seed"] == seed
        assert (parallel["dev"], parallel["test"]) == (alone["dev"], alone["test"])  # one thread each way
    assert json.loads((run / "seeds.json").read_text())["runs"] == ["seed-0", "seed-1"]


@pytest.mark.parametrize("value", ["0", "x"])
def test_bad_jobs(capsys, tiny_config: Path, tmp_path: Path, value: str) -> None:
    assert_error(capsys, ["train", tiny_config, "--seeds", "2", "--jobs", value, "--output", tmp_path / "run"],
                 "'--jobs' option must be an int >= 1", repr(value))
    assert not (tmp_path / "run").exists()


def test_a_failing_seed_in_a_worker_is_reported_by_name(capsys, tiny_config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.tsv"
    assert_error(capsys, ["train", tiny_config, "--seeds", "2", "--jobs", "2", "--output", tmp_path / "run",
                          "--set", f'data.train="tsv:{missing}"'], str(missing))
    assert not (tmp_path / "run" / "seeds.json").exists()


def test_a_jobs_log_gets_each_line_as_it_is_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tail -f DIR/seed-K.log` follows a worker: a line is in the file as soon as it is printed."""
    import torch

    from nlp_lstm import runs

    seen = []

    def fake_train(config: object, run_dir: Path, name: str, progress: bool) -> None:
        print("epoch 1: train loss 0.5")
        seen.append(run_dir.with_suffix(".log").read_text(encoding="utf-8"))

    monkeypatch.setattr(runs, "train", fake_train)
    threads = torch.get_num_threads()
    try:
        runs._train_logged(None, tmp_path / "seed-0", "run", 1)
    finally:
        torch.set_num_threads(threads)
    assert seen == ["epoch 1: train loss 0.5\n"]


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_workers_stop_when_their_parent_is_killed(tiny_config: Path, tmp_path: Path) -> None:
    """`train --jobs` killed with SIGKILL cannot stop its workers itself: they notice and stop with a checkpoint."""
    import subprocess
    import sys
    import time

    run = tmp_path / "run"
    argv = ["train", str(tiny_config), "--seeds", "2", "--jobs", "2", "--no-progress", "--output", str(run),
            "--set", "training.epochs=500", "--set", "training.max_steps=0", "--set", "training.patience=0"]
    process = subprocess.Popen([sys.executable, "-m", "nlp_lstm", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    logs = [run / f"seed-{k}.log" for k in (0, 1)]
    deadline = time.monotonic() + 120
    while not all(log.is_file() and "epoch 2:" in log.read_text(encoding="utf-8") for log in logs):
        assert process.poll() is None and time.monotonic() < deadline, "the workers did not start training"
        time.sleep(0.2)
    workers = _children(process.pid)
    assert len(workers) >= 2
    process.kill()
    process.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "workers went on after their parent was killed"
        time.sleep(0.2)
    for k in (0, 1):  # each stopped at a step, the way SIGTERM stops a run: with a checkpoint to resume from
        assert (run / f"seed-{k}" / "checkpoints" / "last.safetensors").is_file()
