"""Classifier report sections: headline with bootstrap intervals, per-class table, confusion matrix, training
curves, calibration, slices by length and unknown tokens, the most confident mistakes, token attributions of a few
predictions, and the data. Reads
predictions.jsonl rows {"text", "gold", "predicted", "confidence"}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import plots
from .explanations import why_section
from .gates import gate_section
from .render import Block, Section
from .run_files import Run
from .sections import (
    Builders,
    accuracy_by,
    data_section,
    f4,
    font_note,
    length_bucket,
    length_buckets,
    split_warnings,
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
    for name, scores in final.get("baselines", {}).items():
        what = f"{name.replace('_', ' ')} baseline" + (f" ({scores['label']})" if "label" in scores else "")
        bounds = scores.get("intervals", {})
        headline += [[f"{what}: {title}", f4(scores[key]), *((f4(bounds[key]["low"]), f4(bounds[key]["high"]))
                                                              if key in bounds else ("", ""))]
                     for key, title in (("accuracy", "accuracy"), ("macro_f1", "macro F1"))]
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
    training_blocks, training_plots = training_section(run.history, metrics.get("best_epoch"), metrics.get("ensemble"))
    gate_blocks, gate_plots = gate_section(run.tokenizer.parent, [str(row["text"]) for row in predictions])
    data_blocks, data_plots = data_section(
        data, f"Labels: {', '.join(str(label) for label in data.get('labels', labels))}; "
              f"vocabulary size: {data.get('vocab_size', 'unknown')}", "tokens")
    sections: list[Section] = [
        ("Headline metrics", [
            ("p", f"Final split: {split} (n={final['n_samples']:,}); 95% intervals: percentile bootstrap, "
                  f"{BOOTSTRAP_RESAMPLES:,} resamples of predictions.jsonl, seed {BOOTSTRAP_SEED}."),
            *split_warnings(run.metrics, split),
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
        ("Why: token attributions", why_section(run.tokenizer.parent, predictions)),
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
               "final_split_chose_the_epoch": bool(metrics.get("final_split_chose_the_epoch")),
               "baselines": final.get("baselines", {}), "never_predicted": final.get("never_predicted", []),
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
