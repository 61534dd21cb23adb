"""Dataset statistics of one split: label counts, token-length counts and vocabulary coverage.

Computed when a run encodes its data and stored in metrics.json, so the report can show the label
distribution and length histogram of every split without reading the data again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..data.ragged import row_lengths, token_counts
from ..data.tag_schemes import sequence_spans


def split_statistics(labels: Iterable[str], ids: Sequence[Sequence[int]], unk_id: int) -> dict[str, Any]:
    """Counts of `labels` (one per example, or one per entity span), of token lengths, and of unknown tokens."""
    label_counts = Counter(str(label) for label in labels)
    lengths = row_lengths(ids)
    values, counts = np.unique(lengths, return_counts=True)
    return {
        "examples": len(ids),
        "label_counts": {label: label_counts[label] for label in sorted(label_counts)},
        "length_counts": {str(length): int(count) for length, count in zip(values.tolist(), counts.tolist())},
        "tokens": int(lengths.sum()),
        "unknown_tokens": int(token_counts(ids, unk_id + 1)[unk_id]),
    }


def tag_statistics(tags: Sequence[Sequence[str]], scheme: str | None, ids: Sequence[Sequence[int]],
                   unk_id: int) -> dict[str, Any]:
    """split_statistics of tagged data: entity spans counted by type when there is an entity `scheme`, else tags."""
    labels = ([span[0] for found in sequence_spans(tags, scheme) for span in found] if scheme
              else [tag for sequence in tags for tag in sequence])
    return {**split_statistics(labels, ids, unk_id), "label_kind": "entity type" if scheme else "tag"}


def length_summary(length_counts: dict[str, int], q: float = 0.5) -> dict[str, float]:
    """Mean, median, 95th percentile, maximum and the `q` quantile of the lengths `length_counts` counts."""
    lengths = np.array([int(length) for length in length_counts], dtype=float)
    counts = np.array(list(length_counts.values()), dtype=float)
    if counts.sum() == 0:
        return {"mean": 0.0, "median": 0.0, "p95": 0.0, "max": 0.0, "quantile": 0.0}
    order = np.argsort(lengths)
    lengths, counts = lengths[order], counts[order]
    cumulative = np.cumsum(counts) / counts.sum()

    def quantile(share: float) -> float:  # the smallest length with at least `share` of the examples at or below it
        return float(lengths[np.searchsorted(cumulative, share - 1e-12)])

    return {"mean": float((lengths * counts).sum() / counts.sum()), "median": quantile(0.5),
            "p95": quantile(0.95), "max": float(lengths[-1]), "quantile": quantile(q)}
