"""The three things a user does: train a run, evaluate a saved model, predict with it.

The CLI subcommands of the same names call these functions and nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import Config, dump_config, load_config
from .data.conll import load_tagged
from .data.sources import load_texts
from .data.tag_schemes import convert_sequences, detect_scheme
from .device import autocast_dtype, resolve_device
from .errors import ConfigError, DataError
from .evaluation.data_stats import split_statistics, tag_statistics
from .evaluation.metrics import (
    classification_metrics,
    format_metrics,
    format_tagging_metrics,
    tagging_metrics,
)
from .evaluation.report import write_report
from .evaluation.sections import environment
from .io import atomic_write_text, write_json
from .model_dir import inference_device, load_model_dir, save_model_dir
from .models.pretrained import format_coverage
from .predictor import Prediction, Predictor, TagPrediction, TagPredictor, predict_proba_ids
from .training import distributed
from .training.checkpoint import read_checkpoint
from .training.prepare import prepare, truncation_note, write_predictions, write_tag_predictions
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


def resumable_run(run_dir: str | Path, config: Config) -> Path:
    """`run_dir` if it holds an unfinished run of this same config with a checkpoint, else a ConfigError
    saying what differs or is missing."""
    run_dir = Path(run_dir)
    saved_path = run_dir / "config.toml"
    if not saved_path.is_file():
        raise ConfigError(f"--resume {run_dir}: no run there ({saved_path} not found)")
    if (run_dir / "metrics.json").is_file():
        raise ConfigError(f"--resume {run_dir}: that run finished (metrics.json is written); nothing to resume")
    saved = load_config(saved_path).to_dict()
    wanted = config.to_dict()
    saved["training"].pop("device"), wanted["training"].pop("device")  # another machine may go on with it
    differ = [f"{section}.{key}: run {saved[section].get(key)!r}, now {value!r}"
              for section, values in wanted.items() if isinstance(values, dict)
              for key, value in values.items() if saved[section].get(key) != value]
    if saved["task"] != wanted["task"]:
        differ.insert(0, f"task: run {saved['task']!r}, now {wanted['task']!r}")
    if differ:
        raise ConfigError(f"--resume {run_dir}: the config differs from the run's {saved_path} ("
                          + "; ".join(differ) + "); resume with the same config and --set options")
    if not (run_dir / "checkpoints" / "last.safetensors").is_file():
        raise ConfigError(f"--resume {run_dir}: no checkpoint yet ({run_dir / 'checkpoints' / 'last.safetensors'}"
                          f" is written at the end of the first epoch, every training.checkpoint_every steps, and "
                          f"on SIGINT or SIGTERM); start the run again instead")
    return run_dir


def train(
    config: Config,
    output: str | Path | None = None,
    name: str = "run",
    progress: bool = True,
    resume: str | Path | None = None,
) -> RunResult:
    """Train a classifier or tagger as `config` says, evaluate it on dev and test, write a run directory.
    `resume`: a run directory of the same config to go on with from its last checkpoint, exactly."""
    started = time.perf_counter()
    if distributed.launched_by_torchrun():
        return _train_distributed(config, output, name, progress, resume)
    device = resolve_device(config.training.device)
    autocast_dtype(config.training.precision, device)  # fp16 without CUDA: say so before loading any data
    if resume is not None and output is not None:
        raise ConfigError("--resume continues in the run's own directory; leave out --output")
    run_dir = resumable_run(resume, config) if resume is not None else choose_run_dir(output, name)
    return _train(config, run_dir, device, progress, resume is not None, started)


def _train_distributed(config: Config, output: str | Path | None, name: str, progress: bool,
                       resume: str | Path | None) -> RunResult:
    """One rank of a torchrun job: every rank trains on its share of each batch; rank 0 alone chooses the run
    directory, prints, and writes files."""
    if resume is not None:
        raise ConfigError("--resume under torchrun is not supported: resume the run in a single process, or start "
                          "it again")
    where, device = distributed.start(config.training.device)
    autocast_dtype(config.training.precision, device)
    try:
        run_dir = Path(distributed.share(str(choose_run_dir(output, name)) if where.is_main else None))
        if not where.is_main:
            with contextlib.redirect_stdout(io.StringIO()):
                _train(config, run_dir, device, False, False, time.perf_counter(), where)
            return RunResult(run_dir, {})
        return _train(config, run_dir, device, progress, False, time.perf_counter(), where)
    finally:
        distributed.finish()


def _train(config: Config, run_dir: Path, device: torch.device, progress: bool, resume: bool, started: float,
           where: distributed.Distributed | None = None) -> RunResult:
    """The training run itself, into `run_dir`; under torchrun (`where`) only rank 0 writes."""
    main = where is None or where.is_main
    prepared = prepare(config)
    encoded, sizes = prepared.encoded, prepared.sizes
    if where is not None and where.rank > 0:  # the same weights everywhere, but each rank its own dropout masks
        torch.manual_seed(config.training.seed + 1_000_003 * where.rank)
    if not main:
        trainer = Trainer(prepared.model, prepared.training, device, prepared.task, None, False, verbose=False)
        trainer.fit(encoded["train"], encoded["dev"])
        return RunResult(run_dir, {})

    run_dir.mkdir(parents=True, exist_ok=True)
    history_path = run_dir / "history.jsonl"
    if not resume:
        atomic_write_text(run_dir / "config.toml", dump_config(config))
        history_path.write_text("", encoding="utf-8")
    else:  # the epochs the checkpoint holds; any logged after it are trained again
        history = read_checkpoint(run_dir / "checkpoints" / "last.safetensors").progress["history"]
        atomic_write_text(history_path, "".join(json.dumps(row) + "\n" for row in history))

    def log_epoch(row: dict[str, Any]) -> None:
        with history_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    print(f"data: {', '.join(f'{k} {v:,}' for k, v in sizes.items())} | {prepared.summary} | "
          f"vocab {len(prepared.saved.tokenizer):,} | device {device}"
          + (f" | {where.world_size} processes" if where else ""))
    if "pretrained" in prepared.data_notes:
        print(format_coverage(prepared.data_notes["pretrained"]))
    trainer = Trainer(prepared.model, prepared.training, device, prepared.task, run_dir / "checkpoints", progress)
    result = trainer.fit(encoded["train"], encoded["dev"], on_epoch_end=log_epoch, resume=resume)
    save_model_dir(run_dir / "model", prepared.saved)

    metrics: dict[str, Any] = {
        "task": config.task,
        "best_epoch": result.best_epoch,
        "epochs_trained": len(result.history),
        "steps": result.steps,
        "early_stopping_metric": prepared.training.metric,
        "data": {"sizes": sizes, "labels": prepared.saved.labels, "vocab_size": len(prepared.saved.tokenizer),
                 "train": config.data.train, "dev": config.data.dev or f"{config.data.train} (held out)",
                 "test": config.data.test or (f"{config.data.train} (held out)" if "test" in sizes else None),
                 **prepared.data_notes},
        "train_tokens_per_second": sum(r["train_tokens_per_second"] for r in result.history) / len(result.history),
        "train_seconds_per_epoch": sum(r["train_seconds"] for r in result.history) / len(result.history),
        "device": str(device),
        "processes": where.world_size if where else 1,
        "precision": config.training.precision,
        "seed": config.training.seed,
        "environment": environment(),
    }
    final_split = "test" if "test" in sizes else "dev"
    for split in ("dev", "test"):
        if split not in sizes:
            continue
        split_metrics, predictions = trainer.evaluate(encoded[split])
        metrics[split] = split_metrics
        print(prepared.format(split_metrics, split))
        if split == final_split:
            prepared.write_predictions(run_dir / "predictions.jsonl", split, predictions)
    metrics["wall_seconds"] = time.perf_counter() - started
    write_json(run_dir / "metrics.json", metrics)
    print(f"run directory: {run_dir}  (model: {run_dir / 'model'}, metrics: {run_dir / 'metrics.json'})")
    print(f"report: {write_report(run_dir)['html']}")
    return RunResult(run_dir, metrics)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "data"


def _output_dir(model_dir: str | Path, data: str, output: str | Path | None) -> Path:
    out = Path(output) if output is not None else Path(model_dir).resolve().parent / f"eval-{_slug(data)}"
    if (out / "config.toml").exists() or (out / "model").exists():
        raise ConfigError(f"--output {out} holds a training run; evaluate writes metrics.json and "
                          f"predictions.jsonl there, so choose another folder (nothing was changed)")
    return out


def evaluate(
    model_dir: str | Path,
    data: str,
    output: str | Path | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    device: str = "auto",
) -> dict[str, Any]:
    """Score a saved model on labelled data; writes metrics.json (and predictions.jsonl) to `output`."""
    resolved = inference_device(model_dir, device)
    saved = load_model_dir(model_dir, resolved)
    if saved.task == "tagging":
        return _evaluate_tagger(model_dir, TagPredictor(saved, resolved), data, output)
    columns = saved.config.get("data", {})
    dataset = load_texts(data, text_column or columns.get("text_column", "text"),
                         label_column or columns.get("label_column", "label"), role="test")
    if len(dataset) == 0:
        raise DataError(f"{data}: no examples to evaluate")
    unknown = sorted(set(dataset.labels) - set(saved.labels))
    if unknown:
        raise DataError(f"{dataset.source}: label {unknown[0]!r} is not one the model knows "
                        f"(model labels: {', '.join(saved.labels)})")
    out = _output_dir(model_dir, data, output)
    ids = saved.tokenizer.encode_batch(dataset.texts)
    probabilities = predict_proba_ids(saved.model, ids, resolved,
                                      max_length=saved.max_length, pad_id=saved.tokenizer.pad_id)
    predicted = [saved.labels[k] for k in probabilities.argmax(axis=1)]
    metrics = classification_metrics(dataset.labels, predicted, saved.labels)
    metrics["data"] = data
    metrics["model_dir"] = str(Path(model_dir).resolve())
    metrics["stats"] = split_statistics(dataset.labels, ids, saved.tokenizer.unk_id)
    metrics["truncated"] = truncation_note({"data": ids}, saved.max_length)
    write_json(out / "metrics.json", metrics)
    write_predictions(out / "predictions.jsonl", dataset.texts, dataset.labels, saved.labels, probabilities)
    report = write_report(out)["html"]
    print(format_metrics(metrics, data))
    print(f"metrics: {out / 'metrics.json'}  report: {report}")
    return metrics


def _evaluate_tagger(model_dir: str | Path, predictor: TagPredictor, data: str,
                     output: str | Path | None) -> dict[str, Any]:
    """Score a tagger on tagged data, in that data's own tag scheme."""
    columns = predictor.saved.config.get("data", {})
    dataset = load_tagged(data, columns.get("token_column", 0), columns.get("tag_column", -1),
                          columns.get("tag_field", "upos"), role="test")
    if len(dataset) == 0:
        raise DataError(f"{data}: no sentences to evaluate")
    scheme = detect_scheme(dataset.tags) if predictor.data_scheme else None
    predicted = predictor.predict_tags(dataset.sentences)
    if scheme and scheme != predictor.data_scheme:
        predicted = convert_sequences(predicted, predictor.data_scheme, scheme)
    out = _output_dir(model_dir, data, output)
    metrics = tagging_metrics(dataset.tags, predicted, scheme)
    metrics.update(data=data, model_dir=str(Path(model_dir).resolve()), scheme=scheme,
                   stats=tag_statistics(dataset.tags, scheme, predictor.saved.tokenizer.encode_words_batch(
                       dataset.sentences), predictor.saved.tokenizer.unk_id))
    write_json(out / "metrics.json", metrics)
    write_tag_predictions(out / "predictions.jsonl", dataset.sentences, dataset.tags, predicted)
    report = write_report(out)["html"]
    print(format_tagging_metrics(metrics, data))
    print(f"metrics: {out / 'metrics.json'}  report: {report}")
    return metrics


def predict(
    model_dir: str | Path, texts: Sequence[str] | Sequence[Sequence[str]], device: str = "auto"
) -> list[Prediction] | list[TagPrediction]:
    """Label texts with a saved classifier, or tag sentences (strings or token lists) with a saved tagger."""
    resolved = inference_device(model_dir, device)
    saved = load_model_dir(model_dir, resolved)
    if saved.task == "tagging":
        return TagPredictor(saved, resolved).predict(texts)
    return Predictor(saved, resolved).predict(texts)


def report(run_dir: str | Path) -> dict[str, Path]:
    """(Re)write the report of a run directory; for a `--seeds` run, each seed's (by seed folder name)."""
    run_dir = Path(run_dir)
    seeds_file = run_dir / "seeds.json"
    if seeds_file.is_file() and not (run_dir / "metrics.json").exists():
        names = json.loads(seeds_file.read_text(encoding="utf-8")).get("runs", [])
        return {name: write_report(run_dir / name)["html"] for name in names}
    return write_report(run_dir)
