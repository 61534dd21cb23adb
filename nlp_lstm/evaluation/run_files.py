"""What a report reads from a run directory (a training run, or the folder `nlp-lstm evaluate` writes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, ModelDirError


@dataclass
class Run:
    """What a report reads from a run directory; `metrics` is laid out as a training run's metrics.json."""

    folder: Path
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    config_text: str
    tokenizer: Path  # the model's tokenizer.json

    @property
    def task(self) -> str:
        """The task the run trained or evaluated (metrics.json's "task")."""
        return self.metrics.get("task", "classification")

    @property
    def split(self) -> str:
        """The final split: the one predictions.jsonl holds."""
        return "test" if "test" in self.metrics else "dev"


def read_run(run_dir: str | Path) -> Run:
    """The files of a training run or of an `evaluate` output folder (whose metrics.json is one split's)."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise ModelDirError(f"run directory not found: {folder}")
    metrics = _read_json(folder / "metrics.json")
    if "n_samples" in metrics or "n_sentences" in metrics:  # written by `nlp-lstm evaluate`: no training
        model_dir = Path(str(metrics.get("model_dir", folder / "model")))
        task = "tagging" if "n_sentences" in metrics else "classification"
        size = metrics["n_sentences" if task == "tagging" else "n_samples"]
        data = {"sizes": {"test": size}, "test": metrics.get("data"), "stats": {"test": metrics.get("stats")},
                "scheme": metrics.get("scheme")}
        return Run(folder, {"task": task, "test": metrics, "data": data}, [], _read_jsonl(folder / "predictions.jsonl"),
                   f"(evaluation of the model in {model_dir})", model_dir / "tokenizer.json")
    for split in ("test", "dev"):
        if split in metrics and not isinstance(metrics[split], dict):
            raise DataError(f"{folder / 'metrics.json'}: '{split}' is not an object")
    if "test" not in metrics and "dev" not in metrics:
        raise DataError(f"{folder / 'metrics.json'}: no 'test' or 'dev' section: the run held nothing out "
                        f"(data.validation_fraction = 0), so there are no scores to report; score its model with "
                        f"nlp-lstm evaluate {folder / 'model'} DATA and report that folder")
    return Run(folder, metrics, _read_jsonl(folder / "history.jsonl"), _read_jsonl(folder / "predictions.jsonl"),
               _read_file(folder / "config.toml"), folder / "model" / "tokenizer.json")


def _read_file(path: Path) -> str:
    if not path.is_file():
        raise ModelDirError(f"{path.parent}: missing {path.name}; is this a complete training run directory?")
    return path.read_text(encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(_read_file(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(_read_file(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {number}: not valid JSON ({err.msg})") from None
    return rows
