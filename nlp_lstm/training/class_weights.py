"""Per-class loss weights for imbalanced data: from training frequencies ("balanced") or given by the user."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import ConfigError


def class_weights(spec: Any, names: Sequence[str], training_labels: Iterable[str]) -> list[float] | None:
    """One weight per name in `names` (the model's classes or tags), or None for unweighted training.

    "balanced" gives n / (k * count) as scikit-learn's compute_class_weight does (n labels, k classes
    seen in training), so every class carries the same total weight; a class training never has gets
    1. A table {label: weight} sets the weights it names and leaves the rest at 1; for taggers a key
    may also be an entity type, weighting all its B-/I-/E-/S- tags.
    """
    if spec in ("", None):
        return None
    if spec == "balanced":
        counts = Counter(training_labels)
        total, seen = sum(counts.values()), len(counts)
        return [total / (seen * counts[name]) if counts[name] else 1.0 for name in names]
    weights = [1.0] * len(names)
    for key, weight in spec.items():
        matches = [k for k, name in enumerate(names) if name == key] or \
                  [k for k, name in enumerate(names) if name.split("-", 1)[-1] == key and name != "O"]
        if not matches:
            raise ConfigError(f"training.class_weights names {key!r}, which is not a label of this model "
                              f"(labels: {', '.join(names)})")
        for k in matches:
            weights[k] = float(weight)
    return weights
