"""A run directory -> report.md, report.html (self-contained), report.json and plots/*.png.

Everything is read from files in the run directory (a training run, or the folder `nlp-lstm evaluate`
writes), so `nlp-lstm report RUN_DIR` regenerates the report at any time. Per-label numbers and the
confusion matrix come from metrics.json as written; intervals, calibration, slices and examples come
from predictions.jsonl (the final split). Classifier sections are here; tagger sections in
tagging_report.py; the rest in sections.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, ModelDirError
from ..io import atomic_write_text, write_json
from . import plots
from .gates import gate_section
from .render import Block, Section, render_html, render_markdown
from .sections import (
    Builders,
    accuracy_by,
    data_section,
    f4,
    font_note,
    length_bucket,
    length_buckets,
    provenance,
    training_section,
    truncate,
)
from .uncertainty import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CALIBRATION_BINS,
    bootstrap_intervals,
    calibration_bins,
    expected_calibration_error,
)

N_MISTAKES = 10
CLASSIFICATION_PLOTS = ("per_class_f1", "confusion_matrix", "training_curves", "reliability", "length_histogram",
                        "label_distribution", "gates_1", "gates_2")


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
    def split(self) -> str:
        """The final split: the one predictions.jsonl holds."""
        return "test" if "test" in self.metrics else "dev"


def write_report(run_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html, report.json and plots/*.png into `run_dir`; returns their paths
    by name ("md", "html", "json", and one per plot)."""
    from .tagging_report import tagging_sections

    run = read_run(run_dir)
    font = plots.cjk_font()
    if run.metrics.get("task") == "tagging":
        sections, summary, builders = tagging_sections(run, font)
    else:
        sections, summary, builders = classification_sections(run, font)
    images = plots.render_plots(run.folder / "plots", builders, font)
    sections.append(("Provenance", provenance(run.metrics, run.config_text)))
    summary.update({"cjk_font": font, "plots": [f"plots/{name}.png" for name in images]})
    title = f"Run report: {run.folder.resolve().name}"
    paths = {"md": run.folder / "report.md", "html": run.folder / "report.html", "json": run.folder / "report.json"}
    atomic_write_text(paths["md"], render_markdown(title, sections, images))
    atomic_write_text(paths["html"], render_html(title, sections, images))
    write_json(paths["json"], summary)
    paths.update({name: run.folder / "plots" / f"{name}.png" for name in images})
    return paths


# ---------------------------------------------------------------- reading the run directory

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
        raise DataError(f"{folder / 'metrics.json'}: no 'test' or 'dev' section")
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


# ---------------------------------------------------------------- classification

def classification_sections(run: Run, font: str | None) -> tuple[list[Section], dict[str, Any], Builders]:
    """Headline with bootstrap intervals, per-class table, confusion matrix, curves, calibration,
    slices by length and unknown tokens, the most confident mistakes, and the data."""
    metrics, predictions, split = run.metrics, run.predictions, run.split
    final = metrics[split]
    labels = [str(label) for label in final["confusion_matrix"]["labels"]]
    gold = [str(row["gold"]) for row in predictions]
    predicted = [str(row["predicted"]) for row in predictions]
    confidence = [float(row["confidence"]) for row in predictions]
    correct = [g == p for g, p in zip(gold, predicted)]
    intervals = bootstrap_intervals(gold, predicted, labels)
    bins = calibration_bins(confidence, correct)
    ece = expected_calibration_error(confidence, correct)

    headline = [[name, f4(final[key]), f4(intervals[key]["low"]), f4(intervals[key]["high"])]
                for name, key in (("accuracy", "accuracy"), ("macro F1", "macro_f1"))]
    headline.append(["weighted F1", f4(final["weighted_f1"]), "", ""])
    report = final["classification_report"]
    per_class = [[name, f4(report[name]["precision"]), f4(report[name]["recall"]), f4(report[name]["f1-score"]),
                  str(int(report[name]["support"]))] for name in [*labels, "macro avg", "weighted avg"]]
    matrix = final["confusion_matrix"]["matrix"]
    confusion = [[label, *(str(c) for c in row)] for label, row in zip(labels, matrix)]
    mistakes = sorted((row for row, ok in zip(predictions, correct) if not ok),
                      key=lambda row: -float(row["confidence"]))[:N_MISTAKES]
    mistake_rows = [[f4(float(row["confidence"])), str(row["gold"]), str(row["predicted"]), truncate(row["text"])]
                    for row in mistakes]
    data = metrics.get("data", {})
    training_blocks, training_plots = training_section(run.history, metrics.get("best_epoch"))
    gate_blocks, gate_plots = gate_section(run.tokenizer.parent, [str(row["text"]) for row in predictions])
    data_blocks, data_plots = data_section(
        data, f"Labels: {', '.join(str(label) for label in data.get('labels', labels))}; "
              f"vocabulary size: {data.get('vocab_size', 'unknown')}", "tokens")
    sections: list[Section] = [
        ("Headline metrics", [
            ("p", f"Final split: {split} (n={final['n_samples']:,}); 95% intervals: percentile bootstrap, "
                  f"{BOOTSTRAP_RESAMPLES:,} resamples of predictions.jsonl, seed {BOOTSTRAP_SEED}."),
            ("table", ["metric", "value", "95% CI low", "95% CI high"], headline)]),
        ("Per-class metrics", [("table", ["label", "precision", "recall", "F1", "support"], per_class),
                               ("img", "per_class_f1", "Per-class F1"), *font_note(font, labels)]),
        ("Confusion matrix", [("p", "Rows: gold label; columns: predicted label (counts)."),
                              ("table", ["gold \\ predicted", *labels], confusion),
                              ("img", "confusion_matrix", "Confusion matrix")]),
        ("Training curves", training_blocks),
        ("Calibration", [
            ("p", f"Expected calibration error (ECE, {CALIBRATION_BINS} equal-width confidence bins): {ece:.4f}"),
            ("img", "reliability", "Reliability diagram")]),
        ("Accuracy by length and unknown words", _slices(run.tokenizer, predictions, correct)),
        ("Most confident mistakes", [("table", ["confidence", "gold", "predicted", "text"], mistake_rows)
                                     if mistake_rows else ("p", "No mistakes.")]),
        ("Inside the LSTM", gate_blocks),
        ("Data", data_blocks),
    ]
    builders: Builders = {
        "per_class_f1": lambda: plots.bar_chart(labels, [report[label]["f1-score"] for label in labels],
                                                "Per-class F1", "F1"),
        "confusion_matrix": lambda: plots.confusion_heatmaps(labels, matrix),
        **training_plots,
        "reliability": lambda: plots.reliability_diagram(bins),
        **data_plots,
        **gate_plots,
    }
    summary = {"task": "classification", "split": split, "n_samples": final["n_samples"],
               "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": 0.95,
                             "accuracy": {"estimate": final["accuracy"], **intervals["accuracy"]},
                             "macro_f1": {"estimate": final["macro_f1"], **intervals["macro_f1"]}},
               "calibration": {"bins": CALIBRATION_BINS, "ece": ece}}
    return sections, summary, builders


def _unknown_bucket(share: float) -> str:
    return "none" if share == 0 else "up to 10%" if share <= 0.1 else "over 10%"


def _slices(path: Path, predictions: list[dict[str, Any]], correct: list[bool]) -> list[Block]:
    """Accuracy by text length and by share of unknown tokens, and the vocabulary coverage of the split,
    using the model's own tokenizer.json."""
    from ..text.tokenizers import TextTokenizer

    if not path.is_file():
        return [("p", f"{path} not found: no breakdown by length or unknown tokens.")]
    tokenizer = TextTokenizer.load(path)
    ids = tokenizer.encode_batch([str(row["text"]) for row in predictions])
    unknown = [row.count(tokenizer.unk_id) for row in ids]
    total = sum(len(row) for row in ids)
    coverage = 1 - sum(unknown) / total if total else 1.0
    length_order = length_buckets()
    return [
        ("p", f"Vocabulary coverage of this split: {coverage:.2%} of its {total:,} tokens are in the model's "
              f"vocabulary ({len(tokenizer):,} entries: training tokens, plus any pretrained words it added). "
              f"Lengths count tokens (an empty text counts as 1)."),
        ("table", ["length (tokens)", "texts", "accuracy"],
         accuracy_by([length_bucket(max(len(row), 1)) for row in ids], correct, length_order)),
        ("table", ["unknown tokens", "texts", "accuracy"],
         accuracy_by([_unknown_bucket(u / len(row) if row else 0.0) for u, row in zip(unknown, ids)], correct,
                      ["none", "up to 10%", "over 10%"])),
    ]
