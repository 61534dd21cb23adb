"""The things a user does: train a run, evaluate a saved model, predict with it, explain its predictions.

The CLI subcommands of the same names call these functions and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import multiprocessing
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .attributions import DEFAULT_STEPS, Explanation
from .config import Config, dump_config, load_config
from .data.inputs import read_inputs
from .device import autocast_dtype, precision_note, resolve_device, resolve_precision
from .errors import ConfigError, DataError
from .evaluation.data_checks import findings_line
from .evaluation.model_card import write_model_card
from .evaluation.report import write_report
from .evaluation.run_files import read_run
from .evaluation.sections import environment
from .io import atomic_write_text, write_json
from .model_dir import inference_device, load_model_dir, local_model_dir, read_json, save_model_dir
from .models.ensemble import ensemble
from .models.pretrained import format_coverage
from .predictor import Prediction, TagPrediction, TagPredictor
from .tasks import Prepared, get_task, prepare, prepare_refit
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
    jobs: int = 1,
) -> RunResult:
    """Train a classifier or tagger as `config` says, evaluate it on dev and test, write a run directory.
    `resume`: a run directory of the same config to go on with from its last checkpoint, exactly (a run stopped
    before its first checkpoint starts again). `overwrite`: replace the run in `output`. With
    training.n_ensemble > 1 the members train as runs of their own under members/, `jobs` at a time."""
    started = time.perf_counter()
    if config.training.n_ensemble > 1:
        if resume is not None or distributed.launched_by_torchrun():
            raise ConfigError("an ensemble (training.n_ensemble > 1) trains neither under torchrun nor with "
                              "--resume; resume a member's run under members/ on its own, or train it again")
        device = resolve_device(config.training.device)
        return _train_ensemble(config, choose_run_dir(output, name, overwrite=overwrite), device, progress, jobs,
                               started)
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
    if config.training.refit:
        raise ConfigError("training.refit under torchrun is not supported: refit in a single process")
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
        trainer.fit(encoded["train"], encoded.get("dev"))
        return RunResult(run_dir, {})

    log_history = _start_run_files(run_dir, config, resume)
    log = TrainingLog(run_dir, _checkpoint_steps(run_dir) if resume else None)

    def log_epoch(row: dict[str, Any]) -> None:
        log_history(row)
        log.epoch(row)

    print(f"data: {', '.join(f'{k} {v:,}' for k, v in prepared.sizes.items())} | {prepared.summary} | "
          f"vocab {len(prepared.saved.tokenizer):,} | device {device} | "
          f"{precision_note(config.training.precision, device)}"
          + (f" | {where.world_size} processes" if where else ""))
    for split, dataset in prepared.splits.items():
        print(f"  {split}: {dataset.source}")
    print(findings_line(prepared.data_notes["checks"]))
    if "vectors_choice" in prepared.data_notes:
        print(prepared.data_notes["vectors_choice"])
    if "pretrained" in prepared.data_notes:
        print(format_coverage(prepared.data_notes["pretrained"]))
    trainer = Trainer(prepared.model, prepared.training, device, prepared.task, run_dir / "checkpoints", progress)
    try:
        result = trainer.fit(encoded["train"], encoded.get("dev"), on_epoch_end=log_epoch, resume=resume,
                             on_log=log.step)
    finally:
        log.close()
    metrics = _run_metrics(config, prepared, result, device, where)
    final_split = metrics["final_split"]
    scored = {split: (trainer.evaluate(encoded[split]), prepared.task) for split in ("dev", "test")
              if split in encoded}
    if config.training.refit and "dev" in encoded:
        refit = prepare_refit(config, prepared, result.kept_epochs, len(result.averaged_epochs) or 1)
        print(result.refit_note(len(refit.splits["train"])))
        refit_trainer = Trainer(refit.model, refit.training, device, refit.task, None, progress)
        refit_trainer.fit(refit.encoded["train"], None)
        metrics["refit"] = {**refit.saved.config["refit"], "vocab_size": len(refit.saved.tokenizer)}
        if "test" in scored:  # the dev-chosen model's test scores stay beside the refit model's
            metrics["refit"]["dev_chosen_model_test"] = {
                k: v for k, v in scored["test"][0][0].items() if isinstance(v, (int, float))}
            scored["test"] = (refit_trainer.evaluate(refit.encoded["test"]), refit.task)
        prepared = refit
    save_model_dir(run_dir / "model", prepared.saved)
    for split, ((split_metrics, predictions), task) in scored.items():
        if config.training.baselines:
            split_metrics["baselines"] = prepared.task.baselines(prepared.splits["train"], prepared.splits[split])
        metrics[split] = split_metrics
        print(get_task(config.task).format_metrics(split_metrics, split))
        if config.training.baselines:
            print(_baseline_line(split_metrics["baselines"]))
        if split == final_split:
            task.write_predictions(run_dir / "predictions.jsonl", prepared.splits[split], predictions)
    _warn_about_the_final_split(metrics, final_split)
    if "refit" in metrics and final_split == "dev":
        print("note: the saved model is the refit one, trained on dev too; the dev scores above are the dev-chosen "
              "model's, and no held-out split scores the refit model")
    return _finish_run(run_dir, metrics, final_split, started, config.training.plots)


def _finish_run(run_dir: Path, metrics: dict[str, Any], final_split: str | None, started: float,
                plots: bool) -> RunResult:
    """Write metrics.json (with the wall time) and the report (with its plots if `plots`), and say where they are."""
    metrics["wall_seconds"] = time.perf_counter() - started
    write_json(run_dir / "metrics.json", metrics)
    print(f"run directory: {run_dir}  (model: {run_dir / 'model'}, metrics: {run_dir / 'metrics.json'})")
    if final_split is not None:
        print(f"report: {report(run_dir, plots)['html']}")
    else:
        write_model_card(run_dir / "model")  # report() writes it after report.json, whose intervals it shows
    return RunResult(run_dir, metrics)


def _stop_with_parent(parent: int) -> None:
    """SIGTERM this worker once the process that started it is gone: a parent killed with SIGKILL cannot stop its
    workers, which would go on training unseen. SIGTERM stops a run at its next step with a checkpoint."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="nlp-lstm-parent-watch", daemon=True).start()


def _train_logged(config: Config, run_dir: Path, name: str, threads: int, parent: int | None = None) -> RunResult:
    """One run in a worker process: `threads` torch threads, everything it prints in RUN_DIR.log (beside its run
    directory, which `train` wants empty), a line at a time so that `tail -f` follows it; it stops when the
    process `parent` is gone."""
    if parent is not None:
        _stop_with_parent(parent)
    torch.set_num_threads(threads)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with run_dir.with_suffix(".log").open("w", encoding="utf-8", buffering=1) as log, \
                contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            return train(config, run_dir, name, progress=False)
    finally:
        if parent is not None and os.getppid() != parent:
            os._exit(1)  # no one collects the result, and the pool's queue, whose ends this process holds, never closes


def train_many(plan: list[tuple[Config, Path]], name: str = "run", progress: bool = True,
               jobs: int = 1) -> list[RunResult]:
    """Train each (config, run directory) of `plan`, `jobs` at a time in worker processes (each with its share
    of the CPU threads, its output in RUN_DIR.log); a failing run raises, and the runs already trained keep
    their complete directories."""
    jobs = min(jobs, len(plan))
    runs = []
    if jobs == 1:
        for k, (config, run_dir) in enumerate(plan, start=1):
            print(f"seed {config.training.seed} ({k} of {len(plan)}): {run_dir}")
            runs.append(train(config, run_dir, name, progress))
        return runs
    threads = max(1, torch.get_num_threads() // jobs)
    print(f"{len(plan)} seeds, {jobs} at a time with {threads} thread(s) each; each seed's output goes to "
          f"{plan[0][1].parent / 'seed-K.log'}")
    # spawn, not fork: a forked child inherits torch's thread pools and can deadlock in them
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = [pool.submit(_train_logged, config, run_dir, name, threads, os.getpid())
                   for config, run_dir in plan]
        try:
            for (config, run_dir), future in zip(plan, futures):
                runs.append(future.result())
                print(f"seed {config.training.seed} done: {run_dir}  (log: {run_dir.with_suffix('.log')})")
        except BaseException:
            for future in futures:  # runs not started yet never start; running ones finish
                future.cancel()
            raise
    return runs


def member_configs(config: Config) -> list[Config]:
    """The configs of an ensemble's members: one model each, seeds training.seed, +1, ..."""
    first = config.training.seed
    return [dataclasses.replace(config, training=dataclasses.replace(config.training, seed=first + k, n_ensemble=1))
            for k in range(config.training.n_ensemble)]


def ensemble_record(config: Config) -> dict[str, Any]:
    """What an ensemble's config.json says of it: members, their seeds, how their outputs are combined."""
    seeds = [c.training.seed for c in member_configs(config)]
    combine = "mean probabilities" if config.task == "classification" else "mean emission and transition scores"
    return {"members": len(seeds), "seeds": seeds, "combine": combine}


def _train_ensemble(config: Config, run_dir: Path, device: torch.device, progress: bool, jobs: int,
                    started: float) -> RunResult:
    """Members trained as runs of their own in RUN_DIR/members/seed-K, then one model directory of them all,
    scored on dev and test like any run's model."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.toml", dump_config(config))
    (run_dir / "history.jsonl").write_text("", encoding="utf-8")  # the members' histories are in their runs
    configs = member_configs(config)
    print(f"ensemble of {len(configs)} members (seeds {configs[0].training.seed}-{configs[-1].training.seed}), "
          f"each a run in {run_dir / 'members'}")
    members = train_many([(c, run_dir / "members" / f"seed-{c.training.seed}") for c in configs], "member",
                         progress, jobs)
    prepared = prepare(configs[0])  # the splits, encoded as every member saw them, and the task that scores them
    models = []
    for member in members:
        saved = load_model_dir(member.model_dir, device)
        if saved.tokenizer.vocab != prepared.saved.tokenizer.vocab:
            raise DataError(f"{member.model_dir}: its vocabulary differs from the other members' (the tokenizer "
                            f"must not depend on training.seed); these members cannot form one model")
        models.append(saved.model)
    prepared.saved.model = ensemble(models).to(device).eval()
    prepared.saved.config["ensemble"] = ensemble_record(config)
    prepared.saved.config["run_config"] = config.to_dict()
    save_model_dir(run_dir / "model", prepared.saved)
    final_split = "test" if "test" in prepared.splits else "dev" if "dev" in prepared.splits else None
    metric = prepared.training.metric
    metrics: dict[str, Any] = {
        "task": config.task, "best_epoch": None, "epochs_trained": None, "early_stopping_metric": metric,
        "final_split": final_split, "final_split_chose_the_epoch": final_split == "dev",
        "data": {**members[0].metrics["data"], **prepared.data_notes}, "device": str(device),
        **{key: members[0].metrics[key] for key in ("precision", "precision_choice") if key in members[0].metrics},
        "seed": config.training.seed,
        "ensemble": {**prepared.saved.config["ensemble"], "member_runs": [
            {"seed": c.training.seed, "run": str(m.run_dir.relative_to(run_dir)), "best_epoch": m.metrics["best_epoch"],
             **{f"{split}_{metric}": m.metrics[split].get(metric) for split in ("dev", "test") if split in m.metrics}}
            for c, m in zip(configs, members)]},
        "environment": environment(),
    }
    task = get_task(config.task)
    for split in ("dev", "test"):
        if split not in prepared.splits:
            continue
        split_metrics, predictions = prepared.task.evaluate(prepared.saved.model, prepared.encoded[split], device)
        metrics[split] = split_metrics
        metrics["ensemble"][f"{split}_{metric}"] = split_metrics[metric]
        member_scores = [m.metrics[split][metric] for m in members]
        print(f"{split} {metric}: ensemble {split_metrics[metric]:.4f}; members "
              + ", ".join(f"{score:.4f}" for score in member_scores)
              + f" (mean {sum(member_scores) / len(member_scores):.4f})")
        print(task.format_metrics(split_metrics, split))
        if split == final_split:
            prepared.task.write_predictions(run_dir / "predictions.jsonl", prepared.splits[split], predictions)
    if final_split is not None:
        _warn_about_the_final_split(metrics, final_split)
    return _finish_run(run_dir, metrics, final_split, started, config.training.plots)


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
    if final_split is None:
        print("note: no dev or test split (data.validation_fraction = 0 and no data.dev or data.test), so the model "
              "trained on all the data for training.epochs epochs and nothing scored it; score it with "
              "nlp-lstm evaluate MODEL_DIR DATA")
        return
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
    precision, why = resolve_precision(config.training.precision, device)
    return {
        "task": config.task,
        "best_epoch": result.best_epoch,
        "epochs_trained": len(history),
        "averaged_epochs": result.averaged_epochs,  # the model is the mean of these epochs' weights ([]: best's)
        "steps": result.steps,
        "early_stopping_metric": prepared.training.metric,
        # the split of the headline scores and predictions; None: trained on everything, nothing held out
        "final_split": "test" if "test" in sizes else "dev" if "dev" in sizes else None,
        "final_split_chose_the_epoch": "test" not in sizes and "dev" in sizes,  # dev chose the best epoch
        "data": {"sizes": sizes, "labels": prepared.saved.labels, "vocab_size": len(prepared.saved.tokenizer),
                 "train": config.data.train,
                 "dev": config.data.dev or (f"{config.data.train} (held out)" if "dev" in sizes else None),
                 "test": config.data.test or (f"{config.data.train} (held out)" if "test" in sizes else None),
                 **prepared.data_notes},
        "train_tokens_per_second": sum(r["train_tokens_per_second"] for r in history) / len(history),
        "train_seconds_per_epoch": sum(r["train_seconds"] for r in history) / len(history),
        "device": str(device),
        "processes": where.world_size if where else 1,
        "precision": precision,
        **({"precision_choice": why} if why else {}),
        "seed": config.training.seed,
        "environment": environment(),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "data"


def _output_dir(model_dir: str | Path, data: str, output: str | Path | None) -> Path:
    """--output, or eval-DATA beside the model directory (in the working directory for a hub model)."""
    local = local_model_dir(model_dir)
    beside = local.resolve().parent if local == Path(model_dir) else Path(f"eval-{_slug(str(model_dir))}")
    out = Path(output) if output is not None else beside / f"eval-{_slug(data)}"
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
    metrics.update(data=data, model_dir=str(local_model_dir(model_dir).resolve()))
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


def explain(
    model_dir: str | Path, texts: Sequence[str] | Sequence[Sequence[str]], device: str = "auto",
    label: str | None = None, method: str | None = None, steps: int = DEFAULT_STEPS, token: int | None = None,
    entity: int | None = None,
) -> list[Explanation]:
    """A score per token of each text with a saved model: `Predictor.explain` for a classifier (`label`),
    `TagPredictor.explain` for a tagger (`token` and `label`, or `entity`)."""
    resolved = inference_device(model_dir, device)
    saved = load_model_dir(model_dir, resolved)
    predictor = get_task(saved.task).predictor(saved, resolved)
    if isinstance(predictor, TagPredictor):
        return predictor.explain(texts, token, entity, label, method, steps)
    if token is not None or entity is not None:
        raise ConfigError("--token and --entity choose what a tagger explains; this model is a classifier")
    return predictor.explain(texts, label, method, steps)


def prediction_inputs(model_dir: str | Path, source: str, text_column: str | None = None
                      ) -> tuple[list[str] | list[list[str]], str]:
    """The texts of an --input file or spec (`data.inputs.read_inputs`), by default from the text column the model
    was trained with; and a line saying what was read."""
    column = text_column
    if column is None:
        config_path = local_model_dir(model_dir) / "config.json"
        config = read_json(config_path) if config_path.is_file() else {}
        column = (config.get("data") or {}).get("text_column", "text") if isinstance(config, dict) else "text"
    return read_inputs(source, column)


def report(run_dir: str | Path, plots: bool = True) -> dict[str, Path]:
    """(Re)write the report of a run directory (or of an `evaluate` output folder), with its plots unless `plots`
    is false, and return its files by name; for a `--seeds` run, each seed's report.html by seed folder name."""
    run_dir = Path(run_dir)
    seeds_file = run_dir / "seeds.json"
    if seeds_file.is_file() and not (run_dir / "metrics.json").exists():
        names = json.loads(seeds_file.read_text(encoding="utf-8")).get("runs", [])
        return {name: report(run_dir / name, plots)["html"] for name in names}
    run = read_run(run_dir)
    paths = write_report(run, get_task(run.task).report_sections, plots)
    if (run_dir / "model" / "config.json").is_file():
        paths["model_card"] = write_model_card(run_dir / "model")
    return paths
