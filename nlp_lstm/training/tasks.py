"""What differs between training a classifier and a tagger: batching, loss, evaluation.

The Trainer holds the loop; a task tells it how to batch a split, what the loss is and how the
model is scored on dev. Each task's `evaluate` returns (metrics, predictions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.batching import Batch, collate
from ..evaluation.metrics import classification_metrics
from ..predictor import predict_proba_ids


@dataclass
class EncodedSplit:
    """Token ids and label indices of one split (one label per text)."""

    ids: list[list[int]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.ids)


class ClassificationTask:
    """One label per text: cross-entropy on the logits, scikit-learn metrics."""

    summary_metrics = ("accuracy", "macro_f1")

    def __init__(self, label_names: Sequence[str], pad_id: int = 0, max_length: int | None = None) -> None:
        self.label_names = list(label_names)
        self.pad_id = pad_id
        self.max_length = max_length

    def lengths(self, split: EncodedSplit) -> list[int]:
        """Each example's length after truncation, for length bucketing."""
        return [len(ids) if self.max_length is None else min(len(ids), self.max_length) for ids in split.ids]

    def collate(self, split: EncodedSplit, indices: Sequence[int]) -> Batch:
        """The padded batch of these examples."""
        return collate([split.ids[i] for i in indices], indices, [split.labels[i] for i in indices], self.pad_id,
                       self.max_length)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy of the batch."""
        return nn.functional.cross_entropy(model(batch.ids, batch.lengths), batch.labels)

    def evaluate(
        self, model: nn.Module, split: EncodedSplit, device: torch.device
    ) -> tuple[dict[str, Any], np.ndarray]:
        """Metrics and (n_samples, n_labels) class probabilities on a split."""
        probabilities = predict_proba_ids(model, split.ids, device, max_length=self.max_length, pad_id=self.pad_id)
        gold = [self.label_names[k] for k in split.labels]
        predicted = [self.label_names[k] for k in probabilities.argmax(axis=1)]
        return classification_metrics(gold, predicted, self.label_names), probabilities
