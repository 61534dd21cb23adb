"""The three things a user does: train a run, evaluate a saved model, predict with it.

The CLI subcommands of the same names call these functions and nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .config import Config, dump_config, load_config
from .data.inputs import read_inputs
from .device import autocast_dtype, resolve_device
from .errors import ConfigError, DataError
from .evaluation.report import write_report
from .evaluation.run_files import read_run
from .evaluation.sections import environment
from .io import atomic_write_text, write_json
from .model_dir import inference_device, load_model_dir, read_json, save_model_dir
from .models.pretrained import format_coverage
from .predictor import Prediction, TagPrediction
from .tasks import Prepared, get_task, prepare
from .training import distributed
from .training.checkpoint import read_checkpoint
from .training.logs import TrainingLog
from .training.trainer import Trainer, TrainResult


@dataclass
class RunResult:
    """Where a training run wrote its files and its final metrics."""

    run_dir: Path
    metrics: dict[str, Any]

    @property
    def model_dir(self) -> Path:
        return self.run_dir / "model"


def choose_run_dir(output: str | Path | None, name: str, runs_root: str | Path = "runs",
                   overwrite: bool = False) -> Path:
    """`output` if given (it must not hold a run already, unless `overwrite` replaces it), else the first free
    runs/NAME[-N]."""
    if output is not None:
        path = Path(output)
        if path.exists() and any(path.iterdir()):
            if not overwrite:
                raise ConfigError(f"output directory {path} is not empty; choose another --output, or add "
                                  f"--overwrite to replace the run in it (nothing there was changed)")
            if not (path / "config.toml").is_file():
                raise ConfigError(f"--overwrite replaces a run directory, but {path} holds no run (no config.toml);"
                                  f" choose another --output (nothing there was changed)")
            shutil.rmtree(path)
        return path
    path = Path(runs_root) / name
    suffix = 1
    while path.exists() and any(path.iterdir()):
        suffix += 1
        path = Path(runs_root) / f"{name}-{suffix}"
    return path


def resumable_run(run_dir: str | Path, config: Config) -> Path:
    """`run_dir` if it holds an unfinished run of this same config, else a ConfigError saying what differs or is
    missing."""
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
    return run_dir


def train(
    config: Config,
    output: str | Path | None = None,
    name: str = "run",
    progress: bool = True,
    resume: str | Path | None = None,
    overwrite: bool = False,
) -> RunResult:
    """Train a classifier or tagger as `config` says, evaluate it on dev and test, write a run directory.
    `resume`: a run directory of the same config to go on with from its last checkpoint, exactly (a run stopped
    before its first checkpoint starts again). `overwrite`: replace the run in `output`."""
    started = time.perf_counter()
    if distributed.launched_by_torchrun():
        return _train_distributed(config, output, name, progress, resume, overwrite)
    device = resolve_device(config.training.device)
    autocast_dtype(config.training.precision, device)  # fp16 without CUDA: say so before loading any data
    if resume is not None and output is not None:
        raise ConfigError("--resume continues in the run's own directory; leave out --output")
    if resume is None:
        return _train(config, choose_run_dir(output, name, overwrite=overwrite), device, progress, False, started)
    run_dir = resumable_run(resume, config)
    checkpoint = run_dir / "checkpoints" / "last.safetensors"
    if not checkpoint.is_file():
        print(f"note: {run_dir} stopped before its first checkpoint ({checkpoint} is written at the end of the "
              f"first epoch, every training.checkpoint_every steps, and on SIGINT or SIGTERM); training it again "
              f"from the start")
    return _train(config, run_dir, device, progress, checkpoint.is_file(), started)


def _train_distributed(config: Config, output: str | Path | None, name: str, progress: bool,
                       resume: str | Path | None, overwrite: bool) -> RunResult:
    """One rank of a torchrun job: every rank trains on its share of each batch; rank 0 alone chooses the run
    directory, prints, and writes files."""
    if resume is not None:
        raise ConfigError("--resume under torchrun is not supported: resume the run in a single process, or start "
                          "it again")
    where, device = distributed.start(config.training.device)
    autocast_dtype(config.training.precision, device)
    try:
        run_dir = Path(distributed.share(str(choose_run_dir(output, name, overwrite=overwrite)) if where.is_main
                                         else None))
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
    encoded = prepared.encoded
    if where is not None and where.rank > 0:  # the same weights everywhere, but each rank its own dropout masks
        torch.manual_seed(config.training.seed + 1_000_003 * where.rank)
    if not main:
        trainer = Trainer(prepared.model, prepared.training, device, prepared.task, None, False, verbose=False)
        trainer.fit(encoded["train"], encoded["dev"])
        return RunResult(run_dir, {})

    log_history = _start_run_files(run_dir, config, resume)
    log = TrainingLog(run_dir, _checkpoint_steps(run_dir) if resume else None)

    def log_epoch(row: dict[str, Any]) -> None:
        log_history(row)
        log.epoch(row)

    print(f"data: {', '.join(f'{k} {v:,}' for k, v in prepared.sizes.items())} | {prepared.summary} | "
          f"vocab {len(prepared.saved.tokenizer):,} | device {device}"
          + (f" | {where.world_size} processes" if where else ""))
    for split, dataset in prepared.splits.items():
        print(f"  {split}: {dataset.source}")
    if "pretrained" in prepared.data_notes:
        print(format_coverage(prepared.data_notes["pretrained"]))
    trainer = Trainer(prepared.model, prepared.training, device, prepared.task, run_dir / "checkpoints", progress)
    try:
        result = trainer.fit(encoded["train"], encoded["dev"], on_epoch_end=log_epoch, resume=resume, on_log=log.step)
    finally:
        log.close()
    save_model_dir(run_dir / "model", prepared.saved)
    metrics = _run_metrics(config, prepared, result, device, where)
    final_split = metrics["final_split"]
    for split in ("dev", "test"):
        if split not in prepared.splits:
            continue
        split_metrics, predictions = trainer.evaluate(encoded[split])
        if config.training.baselines:
            split_metrics["baselines"] = prepared.task.baselines(prepared.splits["train"], prepared.splits[split])
        metrics[split] = split_metrics
        print(get_task(config.task).format_metrics(split_metrics, split))
        if config.training.baselines:
            print(_baseline_line(split_metrics["baselines"]))
        if split == final_split:
            prepared.task.write_predictions(run_dir / "predictions.jsonl", prepared.splits[split], predictions)
    _warn_about_the_final_split(metrics, final_split)
    metrics["wall_seconds"] = time.perf_counter() - started
    write_json(run_dir / "metrics.json", metrics)
    print(f"run directory: {run_dir}  (model: {run_dir / 'model'}, metrics: {run_dir / 'metrics.json'})")
    print(f"report: {report(run_dir)['html']}")
    return RunResult(run_dir, metrics)


def _checkpoint_steps(run_dir: Path) -> int:
    """The optimizer steps the run's last checkpoint holds."""
    return int(read_checkpoint(run_dir / "checkpoints" / "last.safetensors").progress["steps"])


def _start_run_files(run_dir: Path, config: Config, resume: bool) -> Any:
    """config.toml and an empty history.jsonl (on resume: the history the checkpoint holds; epochs logged after
    it are trained again); returns the function that appends an epoch's row."""
    run_dir.mkdir(parents=True, exist_ok=True)
    history_path = run_dir / "history.jsonl"
    if not resume:
        atomic_write_text(run_dir / "config.toml", dump_config(config))
        history_path.write_text("", encoding="utf-8")
    else:
        history = read_checkpoint(run_dir / "checkpoints" / "last.safetensors").progress["history"]
        atomic_write_text(history_path, "".join(json.dumps(row) + "\n" for row in history))

    def log_epoch(row: dict[str, Any]) -> None:
        with history_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    return log_epoch


def _baseline_line(baselines: dict[str, dict[str, Any]]) -> str:
    """One terminal line per baseline: its name and scores."""
    lines = []
    for name, scores in baselines.items():
        label = f" ({scores['label']!r})" if "label" in scores else ""
        values = "  ".join(f"{key.replace('_', ' ')} {scores[key]:.4f}" for key in ("accuracy", "macro_f1", "f1")
                           if key in scores)
        lines.append(f"  baseline, {name.replace('_', ' ')}{label}: {values}")
    return "\n".join(lines)


def _warn_about_the_final_split(metrics: dict[str, Any], final_split: str) -> None:
    """Say plainly when the headline scores are on the early-stopping split, and when a class is never predicted."""
    if final_split == "dev":
        print("note: there is no test split, so the final scores are on dev, the split that chose the best epoch: "
              "they are optimistic. Set data.test, or data.test_fraction to carve one out of train")
    never = metrics[final_split].get("never_predicted", [])
    if metrics["task"] == "classification" and never:
        print(f"warning: on {final_split} the model never predicts {', '.join(repr(label) for label in never)}; "
              f"compare it with the majority-class baseline above (class weights may help: "
              f"training.class_weights = \"balanced\")")


def _run_metrics(config: Config, prepared: Prepared, result: TrainResult, device: torch.device,
                 where: distributed.Distributed | None) -> dict[str, Any]:
    """metrics.json of a training run, before the dev and test scores are added."""
    sizes, history = prepared.sizes, result.history
    return {
        "task": config.task,
        "best_epoch": result.best_epoch,
        "epochs_trained": len(history),
        "steps": result.steps,
        "early_stopping_metric": prepared.training.metric,
        "final_split": "test" if "test" in sizes else "dev",  # the split of the headline scores and predictions
        "final_split_chose_the_epoch": "test" not in sizes,  # no test split: dev chose the best epoch
        "data": {"sizes": sizes, "labels": prepared.saved.labels, "vocab_size": len(prepared.saved.tokenizer),
                 "train": config.data.train, "dev": config.data.dev or f"{config.data.train} (held out)",
                 "test": config.data.test or (f"{config.data.train} (held out)" if "test" in sizes else None),
                 **prepared.data_notes},
        "train_tokens_per_second": sum(r["train_tokens_per_second"] for r in history) / len(history),
        "train_seconds_per_epoch": sum(r["train_seconds"] for r in history) / len(history),
        "device": str(device),
        "processes": where.world_size if where else 1,
        "precision": config.training.precision,
        "seed": config.training.seed,
        "environment": environment(),
    }


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
    """Score a saved model on labelled data; writes metrics.json, predictions.jsonl and a report to `output`.
    `text_column` and `label_column` (classifiers) default to the ones the model was trained with."""
    resolved = inference_device(model_dir, device)
    saved = load_model_dir(model_dir, resolved)
    task = get_task(saved.task)
    columns = dict(saved.config.get("data", {}))
    columns.update({k: v for k, v in (("text_column", text_column), ("label_column", label_column)) if v})
    dataset = task.read(data, columns, role="test")
    if len(dataset) == 0:
        raise DataError(f"{data}: nothing to evaluate")
    out = _output_dir(model_dir, data, output)
    metrics, scorer, predicted = task.score_saved(saved, resolved, dataset)
    metrics.update(data=data, model_dir=str(Path(model_dir).resolve()))
    write_json(out / "metrics.json", metrics)
    scorer.write_predictions(out / "predictions.jsonl", dataset, predicted)
    html = report(out)["html"]
    print(task.format_metrics(metrics, data))
    print(f"metrics: {out / 'metrics.json'}  report: {html}")
    return metrics


def predict(
    model_dir: str | Path, texts: Sequence[str] | Sequence[Sequence[str]], device: str = "auto",
    batch_size: int | None = None,
) -> list[Prediction] | list[TagPrediction]:
    """Label texts with a saved classifier, or tag sentences (strings or token lists) with a saved tagger;
    `batch_size` texts at a time (default: the predictor's)."""
    resolved = inference_device(model_dir, device)
    saved = load_model_dir(model_dir, resolved)
    predictor = get_task(saved.task).predictor(saved, resolved)
    if batch_size is not None:
        predictor.batch_size = batch_size
    return predictor.predict(texts)


def prediction_inputs(model_dir: str | Path, source: str, text_column: str | None = None
                      ) -> tuple[list[str] | list[list[str]], str]:
    """The texts of an --input file or spec (`data.inputs.read_inputs`), by default from the text column the model
    was trained with; and a line saying what was read."""
    column = text_column
    if column is None:
        config_path = Path(model_dir) / "config.json"
        config = read_json(config_path) if config_path.is_file() else {}
        column = (config.get("data") or {}).get("text_column", "text") if isinstance(config, dict) else "text"
    return read_inputs(source, column)


def report(run_dir: str | Path) -> dict[str, Path]:
    """(Re)write the report of a run directory (or of an `evaluate` output folder) and return its files by name;
    for a `--seeds` run, each seed's report.html by seed folder name."""
    run_dir = Path(run_dir)
    seeds_file = run_dir / "seeds.json"
    if seeds_file.is_file() and not (run_dir / "metrics.json").exists():
        names = json.loads(seeds_file.read_text(encoding="utf-8")).get("runs", [])
        return {name: report(run_dir / name)["html"] for name in names}
    run = read_run(run_dir)
    return write_report(run, get_task(run.task).report_sections)
