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

from ..data.batching import Batch, collate, collate_numeric, collate_tagged
from ..data.ragged import row_lengths
from ..data.tag_schemes import convert_sequences
from ..evaluation.metrics import classification_metrics, tagging_metrics
from ..predictor import predict_proba_ids, predict_tag_ids, predict_values
from .unk_replacement import UnkReplacement


@dataclass
class EncodedSplit:
    """Token ids and label indices of one split (one label per text)."""

    ids: Sequence[Sequence[int]]
    labels: Sequence[int]

    def __len__(self) -> int:
        return len(self.ids)


class ClassificationTask:
    """One label per text: cross-entropy on the logits, scikit-learn metrics."""

    summary_metrics = ("accuracy", "macro_f1")

    def __init__(self, label_names: Sequence[str], pad_id: int = 0, max_length: int | None = None,
                 class_weights: Sequence[float] | None = None, unk_replacement: UnkReplacement | None = None) -> None:
        self.label_names = list(label_names)
        self.unk_replacement = unk_replacement  # applied to training batches only
        self.pad_id = pad_id
        self.max_length = max_length
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)

    def lengths(self, split: EncodedSplit) -> np.ndarray:
        """Each example's length after truncation, for length bucketing."""
        lengths = row_lengths(split.ids)
        return lengths if self.max_length is None else np.minimum(lengths, self.max_length)

    def collate(self, split: EncodedSplit, indices: Sequence[int]) -> Batch:
        """The padded training batch of these examples."""
        batch = collate([split.ids[i] for i in indices], indices, [split.labels[i] for i in indices], self.pad_id,
                        self.max_length)
        return _replace_unk(self, batch)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy of the batch (weighted by the labels' class weights when there are any)."""
        logits = model(batch.ids, batch.lengths)
        weights = _on_device(self, logits.device)
        return nn.functional.cross_entropy(logits, batch.labels, weight=weights)

    def evaluate(
        self, model: nn.Module, split: EncodedSplit, device: torch.device
    ) -> tuple[dict[str, Any], np.ndarray]:
        """Metrics and (n_samples, n_labels) class probabilities on a split."""
        probabilities = predict_proba_ids(model, split.ids, device, max_length=self.max_length, pad_id=self.pad_id)
        gold = [self.label_names[k] for k in split.labels]
        predicted = [self.label_names[k] for k in probabilities.argmax(axis=1)]
        return classification_metrics(gold, predicted, self.label_names), probabilities


@dataclass
class EncodedTagged:
    """Word ids, tag ids (in the model's scheme) and per-word features of one split; `gold` keeps the
    tags as the data has them, for scoring."""

    ids: list[list[int]]
    tags: list[list[int]]
    gold: list[list[str]]
    chars: list[list[list[int]]] | None = None
    casing: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.ids)


class TaggingTask:
    """One tag per word: CRF or token cross-entropy loss; token accuracy, per-tag and entity metrics.

    The model predicts tags in `model_scheme` (BIO or BIOES, or plain tags such as POS when
    `data_scheme` is None); predictions are converted back to the data's scheme before scoring.
    """

    def __init__(self, tag_names: Sequence[str], data_scheme: str | None, model_scheme: str | None,
                 pad_id: int = 0, class_weights: Sequence[float] | None = None,
                 unk_replacement: UnkReplacement | None = None) -> None:
        self.tag_names = list(tag_names)
        self.unk_replacement = unk_replacement  # applied to training batches only
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        self.data_scheme = data_scheme
        self.model_scheme = model_scheme
        self.pad_id = pad_id
        self.summary_metrics = ("accuracy", "f1") if data_scheme else ("accuracy", "macro_f1")

    def lengths(self, split: EncodedTagged) -> list[int]:
        """Sentence lengths in words, for length bucketing."""
        return [len(ids) for ids in split.ids]

    def collate(self, split: EncodedTagged, indices: Sequence[int]) -> Batch:
        """The padded training batch of these sentences."""
        pick = lambda rows: None if rows is None else [rows[i] for i in indices]  # noqa: E731
        batch = collate_tagged(pick(split.ids), indices, pick(split.tags), pick(split.chars), pick(split.casing),
                               self.pad_id)
        return _replace_unk(self, batch)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """The tagger's loss on the batch."""
        emissions = model(batch.ids, batch.lengths, batch.chars, batch.casing).float()  # the CRF sums in fp32
        weights = _on_device(self, emissions.device)
        tagger = getattr(model, "module", model)  # DistributedDataParallel wraps the tagger; its loss is the tagger's
        return tagger.loss(emissions, batch.labels, batch.mask, weights)

    def decode(self, tag_ids: Sequence[Sequence[int]]) -> list[list[str]]:
        """Tag ids -> tag names in the data's scheme."""
        names = [[self.tag_names[k] for k in sentence] for sentence in tag_ids]
        if self.data_scheme and self.data_scheme != self.model_scheme:
            names = convert_sequences(names, self.model_scheme, self.data_scheme)
        return names

    def evaluate(
        self, model: nn.Module, split: EncodedTagged, device: torch.device
    ) -> tuple[dict[str, Any], list[list[str]]]:
        """Metrics and predicted tags (in the data's scheme) on a split."""
        predicted = self.decode(predict_tag_ids(model, split.ids, split.chars, split.casing, device,
                                                pad_id=self.pad_id))
        return tagging_metrics(split.gold, predicted, self.data_scheme), predicted


def _replace_unk(task: ClassificationTask | TaggingTask, batch: Batch) -> Batch:
    """The batch with rare words replaced by <unk> at random, when the task asks for it."""
    if task.unk_replacement is not None:
        batch.ids = task.unk_replacement(batch.ids)
    return batch


def _on_device(task: ClassificationTask | TaggingTask, device: torch.device) -> torch.Tensor | None:
    """The task's class weights on `device`, moved there once rather than on every step."""
    if task.class_weights is not None and task.class_weights.device != device:
        task.class_weights = task.class_weights.to(device)
    return task.class_weights


@dataclass
class EncodedSeries:
    """Numeric sequences, each (length, n_features) float32, and their float targets."""

    values: list[np.ndarray]
    targets: list[float]

    def __len__(self) -> int:
        return len(self.values)


class RegressionTask:
    """One number per sequence: mean squared error; dev metrics mse, mae and neg_mse (higher is better)."""

    summary_metrics = ("mse", "mae")

    def lengths(self, split: EncodedSeries) -> list[int]:
        """Each sequence's length, for length bucketing."""
        return [len(v) for v in split.values]

    def collate(self, split: EncodedSeries, indices: Sequence[int]) -> Batch:
        """The padded training batch of these sequences."""
        return collate_numeric([split.values[i] for i in indices], indices, [split.targets[i] for i in indices])

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean squared error of the batch."""
        return nn.functional.mse_loss(model(batch.ids, batch.lengths).float(), batch.labels)

    def evaluate(self, model: nn.Module, split: EncodedSeries, device: torch.device
                 ) -> tuple[dict[str, Any], np.ndarray]:
        """Metrics and predictions on a split."""
        predicted = predict_values(model, split.values, device)
        errors = predicted - np.asarray(split.targets, dtype=np.float32)
        mse = float(np.mean(errors**2))
        return {"mse": mse, "mae": float(np.mean(np.abs(errors))), "neg_mse": -mse, "n_samples": len(errors)}, predicted
