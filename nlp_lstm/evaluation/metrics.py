"""Predictions -> metrics, all from scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, precision_recall_fscore_support


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro/micro/weighted precision, recall and F1, the classification report and the
    confusion matrix (rows: gold, columns: predicted, in `labels` order)."""
    labels = list(labels)
    metrics: dict[str, Any] = {"n_samples": len(y_true), "accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "micro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        metrics[f"{average}_precision"] = float(precision)
        metrics[f"{average}_recall"] = float(recall)
        metrics[f"{average}_f1"] = float(f1)
    metrics["classification_report"] = classification_report(
        y_true, y_pred, labels=labels, output_dict=True, zero_division=0
    )
    metrics["confusion_matrix"] = {
        "labels": labels,
        "matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
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
