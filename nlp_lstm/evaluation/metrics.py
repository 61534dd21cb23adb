"""Predictions -> metrics, all from scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro/micro/weighted precision, recall and F1, the classification report and the
    confusion matrix (rows: gold, columns: predicted, in `labels` order)."""
    # imported here: scikit-learn takes seconds to import, and predicting, serving and exporting never score
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support

    labels = list(labels)
    # scikit-learn sorts and compares string labels as Python objects (seconds for a tagger's dev tokens);
    # integer codes, one per label (labels outside `labels` after them), give the same numbers at once
    order = {label: k for k, label in enumerate(labels)}
    extra = sorted((set(y_true) | set(y_pred)) - set(order), key=str)
    codes = {**order, **{label: len(order) + k for k, label in enumerate(extra)}}
    true = np.fromiter((codes[label] for label in y_true), dtype=np.int64, count=len(y_true))
    pred = np.fromiter((codes[label] for label in y_pred), dtype=np.int64, count=len(y_pred))
    ids = list(range(len(labels)))
    metrics: dict[str, Any] = {"n_samples": len(y_true), "accuracy": float(accuracy_score(true, pred))}
    for average in ("macro", "micro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            true, pred, labels=ids, average=average, zero_division=0
        )
        metrics[f"{average}_precision"] = float(precision)
        metrics[f"{average}_recall"] = float(recall)
        metrics[f"{average}_f1"] = float(f1)
    metrics["classification_report"] = classification_report(
        true, pred, labels=ids, target_names=[str(label) for label in labels], output_dict=True, zero_division=0
    )
    metrics["confusion_matrix"] = {
        "labels": labels,
        "matrix": confusion_matrix(true, pred, labels=ids).tolist(),
    }
    # labels the data has that the model never predicts: a sign it learned to ignore a class
    metrics["never_predicted"] = sorted(set(y_true) - set(y_pred), key=lambda label: order.get(label, len(order)))
    return metrics


def format_metrics(metrics: dict[str, Any], title: str) -> str:
    """A terminal summary: accuracy, macro F1 and scikit-learn's classification report table."""
    report = metrics["classification_report"]
    labels = metrics["confusion_matrix"]["labels"]
    width = max([len("weighted avg")] + [len(str(label)) for label in labels])
    lines = [
        f"{title}: accuracy {metrics['accuracy']:.4f}  macro F1 {metrics['macro_f1']:.4f}  "
        f"(n={metrics['n_samples']})",
        f"{'':>{width}}  precision    recall  f1-score   support",
    ]
    for name in [*labels, "macro avg", "weighted avg"]:
        row = report[name]
        lines.append(f"{name:>{width}}  {row['precision']:9.4f} {row['recall']:9.4f} {row['f1-score']:9.4f} "
                     f"{int(row['support']):9d}")
    return "\n".join(lines)


def is_entity_tagset(tag_names: Sequence[str]) -> bool:
    """True when every tag is O or PREFIX-TYPE with a B/I/E/S prefix (NER, chunking), not POS tags."""
    return all(tag == "O" or (len(tag) > 2 and tag[0] in "BIES" and tag[1] == "-") for tag in tag_names)


def tagging_metrics(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: str | None
) -> dict[str, Any]:
    """Token accuracy and per-tag precision/recall/F1 (scikit-learn); with an entity `scheme` also
    entity-level exact-span precision/recall/F1 per type (seqeval, strict mode, as conlleval scores)."""
    from ..data.tag_schemes import convert_sequences

    flat_gold = [tag for sentence in gold for tag in sentence]
    flat_pred = [tag for sentence in predicted for tag in sentence]
    tags = sorted(set(flat_gold) | set(flat_pred))
    metrics = classification_metrics(flat_gold, flat_pred, tags)
    metrics["n_sentences"] = len(gold)
    metrics["n_tokens"] = metrics.pop("n_samples")
    if scheme is not None:
        from seqeval.metrics import classification_report as entity_report
        from seqeval.scheme import IOB2

        # entities do not depend on the scheme: score canonical BIO in strict mode; one pass gives the
        # per-type rows and the micro average (the overall precision, recall and F1)
        gold_bio, pred_bio = convert_sequences(gold, scheme, "bio"), convert_sequences(predicted, scheme, "bio")
        report = entity_report(gold_bio, pred_bio, mode="strict", scheme=IOB2, zero_division=0, output_dict=True)
        # seqeval gives NaN macro averages when there are no entities at all; JSON has no NaN
        metrics["entity_report"] = {name: {k: float(v) if v == v else 0.0 for k, v in row.items()}
                                    for name, row in report.items()}
        overall = metrics["entity_report"].get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
        metrics["precision"], metrics["recall"], metrics["f1"] = (
            overall["precision"], overall["recall"], overall["f1-score"])
    return metrics


def format_tagging_metrics(metrics: dict[str, Any], title: str) -> str:
    """A terminal summary: token accuracy, and entity P/R/F1 per type when there are entities."""
    head = f"{title}: token accuracy {metrics['accuracy']:.4f}  macro F1 over tags {metrics['macro_f1']:.4f}"
    if "f1" not in metrics:
        return f"{head}  ({metrics['n_sentences']} sentences, {metrics['n_tokens']} tokens)"
    lines = [f"{head}  entity F1 {metrics['f1']:.4f}  ({metrics['n_sentences']} sentences)",
             f"{'entity':>12}  precision    recall  f1-score   support"]
    for name, row in metrics["entity_report"].items():
        lines.append(f"{name:>12}  {row['precision']:9.4f} {row['recall']:9.4f} {row['f1-score']:9.4f} "
                     f"{int(row['support']):9d}")
    return "\n".join(lines)
