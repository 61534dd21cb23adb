"""The benchmark scripts run end to end on small real slices and print the lines docs/performance.md quotes (their
numbers are measured by running them, never asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, SHARED_DATA

from nlp_lstm.device import onednn_bf16

ENV = {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}


def script(*argv: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("task, model, data", [
    ("classification", "recipe", f"tsv:{SHARED_DATA / 'sst2' / 'dev.tsv'}"),
    ("tagging", "small", f"conll:{SHARED_DATA / 'conll2003' / 'eng.testa'}"),
    ("tagging", "recipe", f"conll:{SHARED_DATA / 'conll2003' / 'eng.testa'}"),  # the BiLSTM-CNN-CRF, 16 wide
])
def test_bench_training_prints_both_loops_and_the_share_of_the_gemm_limit(task: str, model: str, data: str) -> None:
    done = script("scripts/bench_training.py", "--task", task, "--model", model, "--data", data,
                  "--text-column", "sentence", "--examples", "300", "--rounds", "1", "--embedding-dim", "16",
                  "--hidden-size", "16", "--gemm-seconds", "0.05")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for name in ("plain PyTorch", "nlp-lstm", "LSTM kernel"):
        assert re.search(rf"^{name} +[\d,]+ +[\d.]+ +[\d.]+%", out, re.M), out
    assert re.search(r"^GEMM limit: [\d,.]+ GFLOP/s", out, re.M)
    assert re.search(r"^training speedup vs plain PyTorch: [\d.]+x$", out, re.M)
    if task == "tagging" and model == "recipe":  # the LSTM's work counts the characters' 50 and casing's 8 inputs
        assert "= LSTM input 74, hidden 16, CRF" in out and "input 74, hidden 16, batch 64" in out, out


def test_gpu_check_runs_its_checks_on_the_cpu() -> None:
    done = script("scripts/gpu_check.py", "--device", "cpu", "--data", f"tsv:{SHARED_DATA / 'sst2' / 'dev.tsv'}",
                  "--text-column", "sentence", "--steps", "4", "--cpu-steps", "3", "--min-accuracy", "1.01")
    lines = done.stdout.splitlines()
    precisions = ["fp32", "bf16"] if onednn_bf16() else ["fp32"]  # bf16 where the CPU's LSTM computes it
    rows = [["cpu", "fp32"]] + [["cpu", p] for p in precisions]
    assert [line.split()[:2] for line in lines[: len(rows)]] == rows, done.stderr
    assert "same label on cpu and cpu for 100.00%" in done.stdout
    # no model reaches accuracy 1.01: each precision fails that check, and the exit status says so
    assert all(f"FAILED {p}: dev accuracy" in done.stdout for p in precisions)
    assert lines[-1].startswith("gpu_check: FAILED in ") and done.returncode == 1


def test_ensemble_study_scores_members_and_both_ways_of_combining_taggers(tmp_path) -> None:
    from conftest import sentence_blocks, write_conll

    from nlp_lstm.cli import main

    data = write_conll(tmp_path / "small.conll", sentence_blocks(SHARED_DATA / "conll2003" / "eng.testa")[:200])
    assert main(["train", "--data", f"conll:{data}", "--task", "tag", "--set", "data.tag_column=3",
                 "--set", "training.max_steps=4", "--set", "model.hidden_size=8", "--set", "model.embedding_dim=8",
                 "--set", "training.baselines=false", "--set", "training.plots=false", "--seeds", "2", "--no-progress",
                 "--output", str(tmp_path / "seeds")]) == 0
    done = script("scripts/ensemble_study.py", str(tmp_path / "seeds"))
    assert done.returncode == 0, done.stderr
    for line in (r"^2 members from .*; metric f1$", r"^dev: members [\d.]+, [\d.]+  mean [\d.]+ ± [\d.]+$",
                 r"^dev: ensemble \(mean scores\) [\d.]+$", r"^test: ensemble \(mean marginals\) [\d.]+$"):
        assert re.search(line, done.stdout, re.M), done.stdout


def test_selection_study_scores_every_way_of_choosing_the_weights(tmp_path) -> None:
    from conftest import write_slice

    train = write_slice(SHARED_DATA / "sst2" / "train.tsv", tmp_path / "train.tsv", 0, 400)
    settings = ["data.text_column=sentence", "training.epochs=4", "training.patience=0", "model.hidden_size=8",
                "model.embedding_dim=8", 'model.pretrained_vectors=""']
    done = script("scripts/selection_study.py", "--data", f"tsv:{train}", *(f"--set={s}" for s in settings),
                  "--seeds", "0", "1")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^seed 1: 4 epochs in \d+ s; dev accuracy by epoch( [\d.]+){4}$", done.stdout, re.M), done.stdout
    for name in ("best", "smoothed", "average-2", "last-3", "following-3"):
        assert re.search(rf"^\| {name} \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \|$", done.stdout, re.M), done.stdout


def test_bench_serve_drives_a_real_server_and_prints_each_level(classifier_run) -> None:
    pytest.importorskip("fastapi")
    done = script("scripts/bench_serve.py", "--model", str(classifier_run / "model"), "--clients", "1", "4",
                  "--seconds", "0.5")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^one at a time, in process .*: [\d,]+ texts/s \([\d.]+ ms a text\)$", out, re.M), out
    for clients in (1, 4):
        assert re.search(rf"^ +{clients} +[\d,]+ +[\d.]+x +[\d.]+ +[\d.]+ +0 +[\d.]+$", out, re.M), out
    assert re.search(r"^server peak RSS: [\d,]+ MB$", out, re.M)
    assert out.splitlines()[-1] == "server stopped by SIGTERM: exit status 0"


def test_bench_tagger_inference_times_pytorch_and_onnx_and_counts_differing_tags(tagger_dir, tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    from conftest import sentence_blocks, write_conll

    data = write_conll(tmp_path / "dev.txt", sentence_blocks(SHARED_DATA / "conll2003" / "eng.testa")[:120])
    done = script("scripts/bench_tagger_inference.py", "--model-dir", str(tagger_dir), "--data", f"conll:{data}",
                  "--batch-size", "32", "--repeats", "1", "--threads", "1")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^120 sentences \([\d,]+ tokens\) of conll:.*; batch 32, best of 1; decoding: Viterbi \(CRF\); "
                     r"torch .*, 1 threads; model ", out, re.M), out
    for name in ("PyTorch", "ONNX"):
        assert re.search(rf"^{name} +[\d,]+ +[\d,]+ +[\d.]+$", out, re.M), out
    assert re.search(r"^ONNX vs PyTorch: [\d.]+x the tokens/s$", out, re.M), out
    assert re.search(r"^sentences whose tags differ between PyTorch and ONNX: 0 of 120$", out, re.M), out
    assert re.search(r"^Viterbi alone on the same \d+ batches' emission scores: PyTorch \(CRF.decode\) [\d.]+ s, "
                     r"ONNX \(its Loops\) [\d.]+ s$", out, re.M), out


def test_faithfulness_prints_aopc_for_both_methods_and_random(classifier_dir, tmp_path) -> None:
    from conftest import write_slice

    dev = write_slice(SHARED_DATA / "sst2" / "dev.tsv", tmp_path / "dev.tsv", 0, 12)
    done = script("scripts/faithfulness.py", str(classifier_dir), "--data", f"tsv:{dev}", "--text-column", "sentence",
                  "--k", "3", "--draws", "2", "--steps", "8")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r": \d+ texts with more than 3 tokens \(of 12\)$", out, re.M), out
    assert re.search(r"^IG completeness \(8 steps\): \|delta\| median [\d.e+-]+, max [\d.e+-]+; ", out, re.M), out
    assert re.search(r"^\| method \| AOPC@1 \| AOPC@2 \| AOPC@3 \|$", out, re.M), out
    for name in ("ig", "occlusion", r"random \(2 draws\)"):
        assert re.search(rf"^\| {name} \| -?[\d.]+ \| -?[\d.]+ \| -?[\d.]+ \|$", out, re.M), out


def test_bench_epochs_trains_at_both_commits_in_turn_and_prints_the_ratio(tmp_path) -> None:
    from conftest import sentence_blocks, write_conll

    def worktrees() -> str:
        return subprocess.run(["git", "worktree", "list"], cwd=REPO_ROOT, capture_output=True, text=True).stdout

    data = write_conll(tmp_path / "train.txt", sentence_blocks(SHARED_DATA / "conll2003" / "eng.testa")[:64])
    before = worktrees()
    done = script("scripts/bench_epochs.py", "--against", "HEAD", "--rounds", "1", "--epochs", "1",
                  "--set", f"data.train=conll:{data}", "--set", f"data.dev=conll:{data}",
                  "--set", "training.batch_size=16", "--set", "model.hidden_size=16", "--set", "training.plots=false")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert re.findall(r"^round (\d) (\S+): [\d.]+ s/epoch; [\d.]+ s the run$", out, re.M) == [("1", "HEAD"),
                                                                                             ("1", "here")], out
    medians = re.search(r"^median s/epoch: HEAD ([\d.]+), here ([\d.]+) \(fastest [\d.]+ and [\d.]+\)$", out, re.M)
    assert medians and min(float(value) for value in medians.groups()) > 0, out  # unrounded, even for short epochs
    assert re.search(r"^here is [\d.]+x as fast per epoch$", out, re.M), out
    assert re.search(r"^median s a run: HEAD [\d.]+, here [\d.]+; here is [\d.]+x as fast a run$", out, re.M), out
    assert worktrees() == before  # the temporary checkout is removed again


def test_bench_embedding_rows_times_both_ways_in_turn_and_checks_they_train_the_same(tmp_path) -> None:
    from conftest import sentence_blocks, write_conll

    data = write_conll(tmp_path / "train.txt", sentence_blocks(SHARED_DATA / "conll2003" / "eng.testa")[:100])
    done = script("scripts/bench_embedding_rows.py", "--data", f"conll:{data}", "--steps", "3", "--rounds", "2",
                  "--set", "model.hidden_size=8", "--set", "model.extend_vocab=5000")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for round_ in (1, 2):
        rows = re.search(rf"^round {round_} rows : +[\d.]+ ms a step \(the optimizer holds ([\d,]+) of ([\d,]+) "
                         rf"embedding rows\)$", out, re.M)
        assert rows and int(rows[2].replace(",", "")) - int(rows[1].replace(",", "")) == 5000, out
        assert re.search(rf"^round {round_} whole: +[\d.]+ ms a step \(the optimizer holds ([\d,]+) of \1 ", out, re.M)
    assert re.search(r"; same weights both ways: yes$", out, re.M), out
    assert re.search(r"^rows training reaches: [\d.]+x as fast per step$", out, re.M), out
