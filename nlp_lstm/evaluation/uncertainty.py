"""Uncertainty of the headline numbers: bootstrap confidence intervals and calibration (ECE)."""

from __future__ import annotations

import numpy as np

from ..errors import DataError

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CALIBRATION_BINS = 15

def bootstrap_intervals(gold: list[str], predicted: list[str], labels: list[str],
                        resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                        confidence: float = 0.95) -> dict[str, dict[str, float]]:
    """Percentile bootstrap intervals of accuracy and macro F1 (over `labels`, zero_division 0, as
    metrics.json computes it): `resamples` resamplings of the rows, numpy Generator seeded `seed`."""
    index = {label: k for k, label in enumerate(labels)}
    n_labels = len(labels)
    gold_ids = np.array([index.get(g, n_labels) for g in gold])  # n_labels: a label outside `labels`
    pred_ids = np.array([index.get(p, n_labels) for p in predicted])
    n = len(gold_ids)
    if n == 0:
        raise DataError("no predictions to bootstrap")
    rng = np.random.default_rng(seed)
    accuracy, macro_f1 = [], []
    width = n_labels + 1
    chunk = max(1, 2_000_000 // n)  # resamples drawn at a time, bounding memory on large splits
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        rows = rng.integers(0, n, size=(size, n))
        g, p = gold_ids[rows], pred_ids[rows]  # (size, n)
        correct = g == p
        offset = np.arange(size)[:, None] * width
        gold_counts = np.bincount((offset + g).ravel(), minlength=size * width).reshape(size, width)
        pred_counts = np.bincount((offset + p).ravel(), minlength=size * width).reshape(size, width)
        true_pos = np.bincount((offset + g).ravel(), weights=correct.ravel(),
                               minlength=size * width).reshape(size, width)
        denominator = (gold_counts + pred_counts)[:, :n_labels]
        f1 = np.divide(2 * true_pos[:, :n_labels], denominator, out=np.zeros(denominator.shape),
                       where=denominator > 0)
        accuracy.append(correct.mean(axis=1))
        macro_f1.append(f1.mean(axis=1))
    tail = (1 - confidence) / 2 * 100
    result = {}
    for name, values in (("accuracy", np.concatenate(accuracy)), ("macro_f1", np.concatenate(macro_f1))):
        low, high = np.percentile(values, [tail, 100 - tail])
        result[name] = {"low": float(low), "high": float(high)}
    return result


def calibration_bins(confidence: list[float], correct: list[bool],
                     n_bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Equal-width confidence bins (k/n_bins, (k+1)/n_bins] (0 goes in the first): count, mean
    confidence and accuracy of each."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=float)
    which = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins = []
    for k in range(n_bins):
        mask = which == k
        count = int(mask.sum())
        bins.append({"low": k / n_bins, "high": (k + 1) / n_bins, "count": count,
                     "confidence": float(conf[mask].mean()) if count else 0.0,
                     "accuracy": float(hits[mask].mean()) if count else 0.0})
    return bins


def expected_calibration_error(confidence: list[float], correct: list[bool], n_bins: int = CALIBRATION_BINS) -> float:
    """sum over bins of |accuracy - mean confidence| weighted by the bin's share of the rows."""
    total = len(confidence)
    if total == 0:
        return 0.0
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in calibration_bins(confidence, correct, n_bins)))


def sentence_bootstrap_intervals(counts: dict[str, list[int]], resamples: int = BOOTSTRAP_RESAMPLES,
                                 seed: int = BOOTSTRAP_SEED, confidence: float = 0.95) -> dict[str, dict[str, float]]:
    """Percentile bootstrap intervals of a tagger's token accuracy, and with span counts of entity
    precision, recall and F1, resampling whole sentences (tokens of a sentence are not independent).

    `counts` holds per-sentence lists: "correct" and "tokens", and optionally "true_pos", "gold" and
    "predicted" (entity spans). Each statistic is a ratio of sums over the resampled sentences, the
    way the metric itself is computed, so the intervals surround the reported micro-averaged numbers.
    """
    arrays = {name: np.asarray(values, dtype=float) for name, values in counts.items()}
    n = len(arrays["tokens"])
    if n == 0:
        raise DataError("no sentences to bootstrap")
    rng = np.random.default_rng(seed)
    totals: dict[str, list[np.ndarray]] = {name: [] for name in arrays}
    chunk = max(1, 2_000_000 // n)
    for start in range(0, resamples, chunk):
        rows = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        for name, values in arrays.items():
            totals[name].append(values[rows].sum(axis=1))
    sums = {name: np.concatenate(parts) for name, parts in totals.items()}

    def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    statistics = {"accuracy": ratio(sums["correct"], sums["tokens"])}
    if "true_pos" in sums:
        statistics["precision"] = ratio(sums["true_pos"], sums["predicted"])
        statistics["recall"] = ratio(sums["true_pos"], sums["gold"])
        statistics["f1"] = ratio(2 * sums["true_pos"], sums["gold"] + sums["predicted"])
    tail = (1 - confidence) / 2 * 100
    result = {}
    for name, values in statistics.items():
        low, high = np.percentile(values, [tail, 100 - tail])
        result[name] = {"low": float(low), "high": float(high)}
    return result
