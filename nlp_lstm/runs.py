"""The three things a user does: train a run, evaluate a saved model, predict with it.

The CLI subcommands of the same names call these functions and nothing else.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import Config, dump_config
from .data.sources import TextDataset, load_splits, load_texts
from .errors import ConfigError, DataError
from .evaluation.metrics import classification_metrics, format_metrics
from .io import atomic_write_text, write_json
from .model_dir import SavedModel, load_model_dir, save_model_dir
from .models.classifier import BiLSTMClassifier
from .predictor import Prediction, Predictor, predict_proba_ids
from .text.tokenizers import TextTokenizer
from .training.device import resolve_device
from .training.tasks import ClassificationTask, EncodedSplit
from .training.trainer import Trainer


@dataclass
class RunResult:
    """Where a training run wrote its files and its final metrics."""

    run_dir: Path
    metrics: dict[str, Any]

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"


def choose_run_dir(output: str | Path | None, name: str, runs_root: str | Path = "runs") -> Path:
    """`output` if given (it must not hold a run already), else the first free runs/NAME[-N]."""
    if output is not None:
        path = Path(output)
        if path.exists() and any(path.iterdir()):
            raise ConfigError(f"output directory {path} is not empty; choose another --output "
                              f"(nothing there was changed)")
        return path
    path = Path(runs_root) / name
    suffix = 1
    while path.exists() and any(path.iterdir()):
        suffix += 1
        path = Path(runs_root) / f"{name}-{suffix}"
    return path


def _label_ids(dataset: TextDataset, label_to_id: dict[str, int], split: str) -> list[int]:
    unknown = sorted(set(dataset.labels) - set(label_to_id))
    if unknown:
        raise DataError(f"{dataset.source}: {split} label {unknown[0]!r} never occurs in the training data "
                        f"(training labels: {', '.join(label_to_id)})")
    return [label_to_id[label] for label in dataset.labels]


def _write_predictions(path: Path, texts: Sequence[str], gold: Sequence[str], labels: Sequence[str],
                       probabilities: Any) -> None:
    lines = []
    for text, gold_label, probs in zip(texts, gold, probabilities):
        k = int(probs.argmax())
        lines.append(json.dumps({"text": text, "gold": gold_label, "predicted": labels[k],
                                 "confidence": round(float(probs[k]), 6)}, ensure_ascii=False))
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def train(
    config: Config,
    output: str | Path | None = None,
    name: str = "run",
    progress: bool = True,
) -> RunResult:
    """Train a classifier as `config` says, evaluate it on dev and test, and write a run directory."""
    started = time.perf_counter()
    device = resolve_device(config.training.device)
    run_dir = choose_run_dir(output, name)
    splits = load_splits(config.data)
    train_set = splits["train"]
    labels = sorted(set(train_set.labels))
    if len(labels) < 2:
        raise DataError(f"{train_set.source}: the training data has a single label {labels[0]!r}; "
                        f"a classifier needs at least 2")
    label_to_id = {label: k for k, label in enumerate(labels)}
    label_ids = {split: _label_ids(data, label_to_id, split) for split, data in splits.items()}

    torch.manual_seed(config.training.seed)
    tok = config.tokenizer
    tokenizer = TextTokenizer.train(train_set.texts, tok.kind, tok.lowercase, tok.vocab_size, tok.min_freq)
    encoded = {split: EncodedSplit(tokenizer.encode_batch(data.texts), label_ids[split])
               for split, data in splits.items()}
    m = config.model
    model = BiLSTMClassifier(len(tokenizer), len(labels), m.embedding_dim, m.hidden_size, m.num_layers,
                             m.bidirectional, m.dropout, m.pooling, tokenizer.pad_id)

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", dump_config(config))
    history_path = run_dir / "history.jsonl"
    history_path.write_text("", encoding="utf-8")

    def log_epoch(row: dict[str, Any]) -> None:
        with history_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    sizes = {split: len(data) for split, data in splits.items()}
    print(f"data: {', '.join(f'{k} {v:,}' for k, v in sizes.items())} | labels: {', '.join(labels)} | "
          f"vocab {len(tokenizer):,} | device {device}")
    task = ClassificationTask(labels, tokenizer.pad_id, config.data.max_length)
    trainer = Trainer(model, config.training, device, task, run_dir / "checkpoints", progress)
    result = trainer.fit(encoded["train"], encoded["dev"], on_epoch_end=log_epoch)

    saved = SavedModel(model.eval(), tokenizer, labels, config.data.max_length,
                       {"data": {"text_column": config.data.text_column, "label_column": config.data.label_column},
                        "tokenizer": {"kind": tok.kind, "lowercase": tok.lowercase}})
    save_model_dir(run_dir / "model", saved)

    metrics: dict[str, Any] = {
        "best_epoch": result.best_epoch,
        "epochs_trained": len(result.history),
        "steps": result.steps,
        "early_stopping_metric": config.training.metric,
        "data": {"sizes": sizes, "labels": labels, "vocab_size": len(tokenizer),
                 "train": config.data.train, "dev": config.data.dev or f"{config.data.train} (held out)",
                 "test": config.data.test or (f"{config.data.train} (held out)" if "test" in splits else None)},
        "train_tokens_per_second": sum(r["train_tokens_per_second"] for r in result.history) / len(result.history),
        "train_seconds_per_epoch": sum(r["train_seconds"] for r in result.history) / len(result.history),
        "device": str(device),
        "seed": config.training.seed,
    }
    final_split = "test" if "test" in splits else "dev"
    for split in ("dev", "test"):
        if split not in splits:
            continue
        split_metrics, probabilities = trainer.evaluate(encoded[split])
        metrics[split] = split_metrics
        print(format_metrics(split_metrics, split))
        if split == final_split:
            _write_predictions(run_dir / "predictions.jsonl", splits[split].texts, splits[split].labels, labels,
                               probabilities)
    metrics["wall_seconds"] = time.perf_counter() - started
    write_json(run_dir / "metrics.json", metrics)
    print(f"run directory: {run_dir}  (model: {run_dir / 'model'}, metrics: {run_dir / 'metrics.json'})")
    return RunResult(run_dir, metrics)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "data"


def evaluate(
    model_dir: str | Path,
    data: str,
    output: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Score a saved model on labelled data; writes metrics.json (and predictions.jsonl) to `output`."""
    resolved = resolve_device(device)
    saved = load_model_dir(model_dir, resolved)
    columns = saved.config.get("data", {})
    dataset = load_texts(data, text_column or columns.get("text_column", "text"),
                         label_column or columns.get("label_column", "label"), default_split="test")
    if len(dataset) == 0:
        raise DataError(f"{data}: no examples to evaluate")
    unknown = sorted(set(dataset.labels) - set(saved.labels))
    if unknown:
        raise DataError(f"{dataset.source}: label {unknown[0]!r} is not one the model knows "
                        f"(model labels: {', '.join(saved.labels)})")
    probabilities = predict_proba_ids(saved.model, saved.tokenizer.encode_batch(dataset.texts), resolved,
                                      max_length=saved.max_length, pad_id=saved.tokenizer.pad_id)
    predicted = [saved.labels[k] for k in probabilities.argmax(axis=1)]
    metrics = classification_metrics(dataset.labels, predicted, saved.labels)
    metrics["data"] = data
    out = Path(output) if output is not None else Path(model_dir).resolve().parent / f"eval-{_slug(data)}"
    if (out / "config.toml").exists() or (out / "model").exists():
        raise ConfigError(f"--output {out} holds a training run; evaluate writes metrics.json and "
                          f"predictions.jsonl there, so choose another folder (nothing was changed)")
    write_json(out / "metrics.json", metrics)
    _write_predictions(out / "predictions.jsonl", dataset.texts, dataset.labels, saved.labels, probabilities)
    print(format_metrics(metrics, data))
    print(f"metrics: {out / 'metrics.json'}")
    return metrics


def predict(model_dir: str | Path, texts: Sequence[str], device: str = "auto") -> list[Prediction]:
    """Label texts with a saved model."""
    return Predictor.load(model_dir, device).predict(texts)
