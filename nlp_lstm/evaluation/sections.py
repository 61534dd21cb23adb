"""Report sections that classifiers and taggers share: training curves, data statistics, provenance."""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

from .._version import __version__
from . import plots
from .data_checks import example_line
from .data_stats import length_summary
from .render import Block

MAX_TEXT_CHARS = 200
MAX_LABEL_ROWS = 40
LENGTH_EDGES = (10, 25, 50, 100, 200)  # upper bounds (tokens) of the length buckets; the last is open
Builders = dict[str, Callable[[], Any]]  # plot name -> a function that draws its figure


def f4(value: float) -> str:
    """A metric as the report writes it: four decimals."""
    return f"{value:.4f}"


def truncate(text: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def length_bucket(n: int, edges: tuple[int, ...] = LENGTH_EDGES) -> str:
    """The bucket name ("1-10", "11-25", ..., "201+") of a length `n`."""
    low = 1
    for high in edges:
        if n <= high:
            return f"{low}-{high}"
        low = high + 1
    return f"{low}+"


def length_buckets(edges: tuple[int, ...] = LENGTH_EDGES) -> list[str]:
    """Every bucket name, in order."""
    return [length_bucket(high, edges) for high in edges] + [length_bucket(edges[-1] + 1, edges)]


def accuracy_by(keys: list[str], correct: list[bool], order: list[str]) -> list[list[str]]:
    """Rows (bucket, count, accuracy) of the items whose key is each name in `order`."""
    rows = []
    for name in order:
        hits = [ok for key, ok in zip(keys, correct) if key == name]
        rows.append([name, f"{len(hits):,}", f4(sum(hits) / len(hits)) if hits else ""])
    return rows


def font_note(font: str | None, texts: list[str]) -> list[Block]:
    """A note when the plots hold Chinese text and no font here can draw it."""
    if font is None and any(plots.has_cjk(text) for text in texts):
        return [("p", plots.NO_CJK_FONT)]
    return []


def training_section(history: list[dict[str, Any]], best_epoch: int | None,
                     ensemble: dict[str, Any] | None = None) -> tuple[list[Block], Builders]:
    """A table of the epochs (train loss, dev metrics) and their curves; for a seed ensemble, its members."""
    if ensemble:
        scores = sorted({key for member in ensemble["member_runs"] for key in member} - {"seed", "run", "best_epoch"})
        rows = [[str(m["seed"]), m["run"], str(m["best_epoch"]), *(f4(m[k]) if k in m else "" for k in scores)]
                for m in ensemble["member_runs"]]
        rows.append(["ensemble", "", "", *(f4(ensemble[k]) if k in ensemble else "" for k in scores)])
        return [("p", f"A seed ensemble of {ensemble['members']} members ({ensemble['combine']}); each member is "
                      f"a run of its own, with its training curves in its report."),
                ("table", ["seed", "run", "best epoch", *(k.replace("_", " ") for k in scores)], rows)], {}
    if not history:
        return [("p", "No training history: this report scores a saved model on other data.")], {}
    keys = [key for key in ("dev_accuracy", "dev_macro_f1", "dev_f1") if any(key in row for row in history)]
    rows = [[str(row["epoch"]) + (" (best)" if row["epoch"] == best_epoch else ""), f4(row["train_loss"]),
             *(f4(row[key]) if key in row else "" for key in keys)] for row in history]
    return ([("table", ["epoch", "train loss", *(key.replace("_", " ") for key in keys)], rows),
             ("img", "training_curves", "Training curves")],
            {"training_curves": lambda: plots.training_curves(history, keys, best_epoch)})


def data_section(data: dict[str, Any], intro: str, unit: str) -> tuple[list[Block], Builders]:
    """Split sizes and sources, then (when the run recorded them) per-split statistics: lengths,
    vocabulary coverage, the label distribution and their plots."""
    sizes = [[name, f"{size:,}", str(data.get(name) or "")] for name, size in data.get("sizes", {}).items()]
    blocks: list[Block] = [("p", intro), ("table", ["split", "examples", "source"], sizes)]
    pretrained = data.get("pretrained")
    if pretrained:
        from ..models.pretrained import format_coverage

        line = format_coverage(pretrained)
        blocks.append(("p", line[0].upper() + line[1:] + "."))
    stats = {name: value for name, value in (data.get("stats") or {}).items() if value}
    if not stats:
        return blocks + checks_blocks(data.get("checks")), {}
    rows = []
    for name, split in stats.items():
        summary = length_summary(split["length_counts"])
        coverage = 1 - split["unknown_tokens"] / split["tokens"] if split["tokens"] else 1.0
        rows.append([name, f"{split['examples']:,}", f"{split['tokens']:,}", f"{summary['mean']:.1f}",
                     f"{summary['median']:.0f}", f"{summary['p95']:.0f}", f"{summary['max']:.0f}", f"{coverage:.2%}"])
    blocks += [("p", f"Lengths count {unit} as the model reads them (before any truncation); vocabulary coverage "
                     f"is the share of {unit} that are in the model's vocabulary."),
               ("table", ["split", "examples", unit, "mean length", "median", "95th percentile", "max",
                          "vocabulary coverage"], rows),
               ("img", "length_histogram", "Length histogram")]
    kind = next(iter(stats.values())).get("label_kind", "label")
    totals: dict[str, int] = {}
    for split in stats.values():
        for label, count in split["label_counts"].items():
            totals[label] = totals.get(label, 0) + count
    order = sorted(totals, key=lambda label: (-totals[label], label))
    label_rows = []
    for label in order[:MAX_LABEL_ROWS]:
        cells = []
        for split in stats.values():
            count, total = split["label_counts"].get(label, 0), sum(split["label_counts"].values())
            cells.append(f"{count:,} ({count / total:.1%})" if total else "0")
        label_rows.append([label, *cells])
    shown = f" (the {MAX_LABEL_ROWS} most frequent of {len(order)})" if len(order) > MAX_LABEL_ROWS else ""
    blocks += [("p", f"{kind.capitalize()} distribution{shown}: count and share of each split."),
               ("table", [kind, *stats], label_rows),
               ("img", "label_distribution", f"{kind.capitalize()} distribution")]
    blocks += checks_blocks(data.get("checks"))
    return blocks, {"length_histogram": lambda: plots.length_histogram(stats, unit),
                    "label_distribution": lambda: plots.label_distribution(stats, kind)}


def checks_blocks(checks: dict[str, Any] | None) -> list[Block]:
    """The data checks of the run's splits: each finding with its count and an example or two."""
    if not checks:
        return []
    intro = ("Data checks of these splits (nlp-lstm check-data prints the same, with examples; "
             "docs/data-checks.md says what each kind means)")
    if "checked_first" in checks:
        intro += ", on the first " + ", ".join(f"{n:,} {name} examples" for name, n in checks["checked_first"].items())
    if not checks["findings"]:
        return [("p", intro + ": no problems found.")]
    rows = [[f["kind"], f["split"], f"{f['count']:,}", f["message"],
             "; ".join(example_line(e) for e in f["examples"][:2])] for f in checks["findings"]]
    return [("p", intro + ":"), ("table", ["check", "split", "count", "finding", "examples"], rows)]


def split_warnings(metrics: dict[str, Any], split: str) -> list[Block]:
    """What a reader must know before trusting the headline: it is on the split that chose the epoch, or a
    class is never predicted."""
    blocks: list[Block] = []
    if metrics.get("final_split_chose_the_epoch"):
        blocks.append(("p", f"There is no test split: these scores are on {split}, the split that chose the best "
                            f"epoch, so they are optimistic."))
    never = metrics.get(split, {}).get("never_predicted", [])
    if metrics.get("task") == "classification" and never:
        blocks.append(("p", f"The model never predicts {', '.join(str(label) for label in never)} on {split}: "
                            f"compare it with the majority-class baseline."))
    return blocks


def provenance(metrics: dict[str, Any], config_text: str) -> list[Block]:
    """Seed, device, wall time, package versions of the run, and its config."""
    rows = [["seed", str(metrics.get("seed", ""))], ["device", str(metrics.get("device", ""))],
            ["wall time (s)", f"{metrics['wall_seconds']:.1f}" if "wall_seconds" in metrics else ""],
            ["best epoch / epochs / steps", f"{metrics.get('best_epoch')} / {metrics.get('epochs_trained')} / "
                                            f"{metrics.get('steps')}"]]
    if metrics.get("averaged_epochs"):
        averaged = metrics["averaged_epochs"]
        rows.append(["weights kept", f"the mean of epochs {averaged[0]}-{averaged[-1]} (training.average_last)"])
    recorded = metrics.get("environment")
    versions = recorded or environment()
    where = "the run" if recorded else "the environment that wrote this report (the run recorded none)"
    return [("table", ["run", "value"], rows),
            ("p", f"Versions of {where}:"), ("table", ["package", "version"], [[k, v] for k, v in versions.items()]),
            ("p", "config.toml:"), ("pre", config_text)]


def environment() -> dict[str, str]:
    """Versions of Python and the packages a run depends on, and the platform."""
    from importlib import metadata

    versions = {"python": platform.python_version(), "platform": platform.platform(), "nlp-lstm": __version__}
    for package in ("torch", "numpy", "scikit-learn", "tokenizers", "seqeval", "matplotlib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
