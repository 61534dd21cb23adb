"""Multi-seed runs: train one config under N seeds and report every metric as mean ± std.

Single-seed BiLSTM results move by tenths of a point from seed to seed, so a comparison between two
settings needs several seeds. `train_seeds` trains seeds S, S+1, ..., S+N-1 (S = `training.seed`),
each into its own ordinary run directory, then writes the aggregate beside them:

    RUN_DIR/seed-S/     a complete run (model/, metrics.json, report.html, ...), as `train` writes it
    RUN_DIR/seed-S+1/   ...
    RUN_DIR/seeds.json  {"seeds": [...], "runs": ["seed-S", ...], "metrics": aggregate(...)}
    RUN_DIR/seeds.md    the headline metrics as a markdown table: mean ± std, min, max

With `jobs` > 1 the seeds train in that many worker processes at once, each with its share of the
CPU threads and its output in RUN_DIR/seed-K.log. On a few CPU cores this is faster than one process
with all the threads: a small LSTM does not keep many threads busy.
"""

from __future__ import annotations

import dataclasses
import numbers
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .errors import ConfigError
from .io import atomic_write_text, write_json
from .runs import RunResult, choose_run_dir, train_many

_DROPPED = object()  # a leaf that differs between runs and cannot be averaged

# (path in metrics.json, label, format of the numbers): the rows of seeds.md and of format_summary
_HEADLINE: list[tuple[tuple[str, ...], str, str]] = [
    *(((split, key), f"{split} {label}", ".4f")
      for split in ("dev", "test")
      for key, label in (("accuracy", "accuracy"), ("macro_f1", "macro F1"), ("f1", "entity F1"),
                         ("precision", "entity precision"), ("recall", "entity recall"))),
    (("train_tokens_per_second",), "train tokens/s", ",.0f"),
    (("wall_seconds",), "wall seconds", ".1f"),
]


@dataclass
class SeedsResult:
    """Where a multi-seed run wrote its files, each seed's run, and the aggregate written to seeds.json."""

    run_dir: Path
    runs: list[RunResult]
    summary: dict[str, Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _scalar_stats(values: list[float]) -> dict[str, Any]:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values), "values": list(values)}


def _array_stats(values: list[list[Any]]) -> dict[str, Any] | None:
    """Element-wise stats of equal-shape nested lists of numbers (confusion matrices), else None."""
    try:
        array = np.array(values)
    except ValueError:  # ragged: the runs' lists differ in length
        return None
    if array.ndim < 2 or array.size == 0 or array.dtype.kind not in "iuf":  # bools are kind "b"
        return None
    std = array.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(array.shape[1:])
    return {"mean": array.mean(axis=0).tolist(), "std": std.tolist(), "min": array.min(axis=0).tolist(),
            "max": array.max(axis=0).tolist(), "n": len(values), "values": [list(v) for v in values]}


def _merge(values: list[Any]) -> Any:
    """The aggregate of one key's values across runs, or _DROPPED."""
    if all(_is_number(v) for v in values):
        return _scalar_stats(values)
    if all(isinstance(v, dict) for v in values):
        merged = {}
        for key in values[0]:
            if all(key in v for v in values):
                result = _merge([v[key] for v in values])
                if result is not _DROPPED:
                    merged[key] = result
        return merged
    if all(isinstance(v, list) for v in values):
        stats = _array_stats(values)
        if stats is not None:
            return stats
    return values[0] if all(v == values[0] for v in values) else _DROPPED


def aggregate(metrics_list: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean, sample std (ddof=1), min, max, n and values of every numeric leaf shared by all the metrics dicts.

    Nested dicts are walked key by key; a key missing from any run is dropped. An int or float leaf
    (not a bool) becomes {"mean", "std", "min", "max", "n", "values"}, with std 0.0 for a single run.
    Lists of lists of numbers of the same shape in every run (confusion matrices) are aggregated
    element-wise: "mean", "std", "min" and "max" are then nested lists of that shape. Any other leaf
    (strings, bools, None, label lists, ragged lists) is kept when every run has the same value and
    dropped otherwise. The top-level "seed" becomes the list of the runs' seeds.
    """
    if not metrics_list:
        raise ValueError("aggregate needs the metrics of at least one run; got an empty list")
    merged = _merge(metrics_list)
    if all("seed" in m for m in metrics_list):
        merged["seed"] = [m["seed"] for m in metrics_list]
    return merged


def _headline(metrics: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, number format, stats) of each headline metric the aggregate holds."""
    rows = []
    for path, label, spec in _HEADLINE:
        node: Any = metrics
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and _is_number(node.get("mean")):
            rows.append((label, spec, node))
    return rows


def format_summary(summary: dict[str, Any]) -> str:
    """One terminal line per headline metric of a seeds.json dict: `test accuracy 0.8123 ± 0.0041 (n=5)`."""
    return "\n".join(f"{label} {stats['mean']:{spec}} ± {stats['std']:{spec}} (n={stats['n']})"
                     for label, spec, stats in _headline(summary["metrics"]))


def _markdown(summary: dict[str, Any], title: str) -> str:
    seeds = summary["seeds"]
    lines = [f"# {title}: {len(seeds)} seeds", "",
             f"Seeds {', '.join(map(str, seeds))} of one config, each a complete run in "
             f"{', '.join(f'`{name}/`' for name in summary['runs'])}. std is the sample standard deviation "
             f"(n - 1); `seeds.json` holds every metric.", "",
             "| metric | mean ± std | min | max |", "|---|---|---|---|"]
    for label, spec, stats in _headline(summary["metrics"]):
        lines.append(f"| {label} | {stats['mean']:{spec}} ± {stats['std']:{spec}} | {stats['min']:{spec}} | "
                     f"{stats['max']:{spec}} |")
    return "\n".join(lines) + "\n"


def _check_count(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"The '{name}' parameter must be an int >= 1. Got {value!r} instead.")


def train_seeds(
    config: Config,
    seeds: int,
    output: str | Path | None = None,
    name: str = "run",
    progress: bool = True,
    jobs: int = 1,
) -> SeedsResult:
    """Train `config` under `seeds` consecutive seeds from training.seed, `jobs` at a time; write each
    run and seeds.json/.md."""
    _check_count("seeds", seeds)
    _check_count("jobs", jobs)
    run_dir = choose_run_dir(output, name)
    first = config.training.seed
    plan = [(seed, run_dir / f"seed-{seed}",
             dataclasses.replace(config, training=dataclasses.replace(config.training, seed=seed)))
            for seed in range(first, first + seeds)]
    # A failing seed raises here; the seeds already trained keep their complete run directories.
    runs = train_many([(seed_config, seed_dir) for _, seed_dir, seed_config in plan], name, progress, jobs)
    summary = {"seeds": [r.metrics["seed"] for r in runs], "runs": [r.run_dir.name for r in runs],
               "metrics": aggregate([r.metrics for r in runs])}
    write_json(run_dir / "seeds.json", summary)
    atomic_write_text(run_dir / "seeds.md", _markdown(summary, run_dir.name))
    return SeedsResult(run_dir, runs, summary)
