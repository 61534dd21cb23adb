"""SequenceRegressor: numeric sequences in, one number out, with scikit-learn's estimator API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..config import ModelConfig, TrainingConfig
from ..data.batching import Batch, collate_numeric
from ..device import resolve_device
from ..models.regressor import LSTMRegressor
from ..predictor import predict_values
from ..training.trainer import Trainer


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


class SequenceRegressor(RegressorMixin, BaseEstimator):
    """Numeric sequences in, one number out, with scikit-learn's contract (`fit`, `predict`, `score` = R²):
    stacked LSTM layers, the state after each sequence's last real step, one linear output, trained on mean
    squared error by the toolkit's Trainer. The defaults are the Keras tutorial's model:
    LSTM(50, return_sequences=True) -> LSTM(50) -> Dense(1), Adam (learning rate 0.001), batch 32.

    X is a list of sequences, each a list of numbers or of equal-size vectors (or a 2-d / 3-d array);
    sequences may differ in length, and padding is never read.
    """

    def __init__(
        self,
        hidden_size: int = 50,
        num_layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.0,
        epochs: int = 100,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.0,
        clip_grad_norm: float = 0.0,
        patience: int = 0,
        lr_schedule: str = "constant",
        random_state: int = 0,
        device: str = "auto",
        verbose: int = 1,
    ) -> None:
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clip_grad_norm = clip_grad_norm
        self.patience = patience
        self.lr_schedule = lr_schedule
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> SequenceRegressor:
        """Train on sequences X and targets y; with `eval_set` early-stop on its mean squared error (patience)
        and keep the best epoch."""
        values = _check_series(X, "X")
        targets = _check_targets(y, len(values), "y")
        self.n_features_in_ = values[0].shape[1]
        ModelConfig(hidden_size=self.hidden_size, num_layers=self.num_layers, bidirectional=self.bidirectional,
                    dropout=self.dropout)  # validates the sizes
        training = TrainingConfig(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                                  weight_decay=self.weight_decay, clip_grad_norm=self.clip_grad_norm,
                                  patience=self.patience, seed=self.random_state, device=self.device,
                                  lr_schedule=self.lr_schedule, metric="neg_mse")
        dev = None
        if eval_set is not None:
            dev_values = _check_series(eval_set[0], "eval_set[0]", self.n_features_in_)
            dev = EncodedSeries(dev_values, _check_targets(eval_set[1], len(dev_values), "eval_set[1]"))
        device = resolve_device(self.device)
        torch.manual_seed(self.random_state)
        model = LSTMRegressor(self.n_features_in_, self.hidden_size, self.num_layers, self.bidirectional, self.dropout)
        trainer = Trainer(model, training, device, RegressionTask(), progress=bool(self.verbose),
                          verbose=bool(self.verbose))
        self.history_ = trainer.fit(EncodedSeries(values, targets), dev).history
        self.model_ = trainer.model
        self.device_ = device
        return self

    def predict(self, X: Any) -> np.ndarray:
        """(n_samples,) predictions, in input order."""
        check_is_fitted(self, "model_")
        values = _check_series(X, "X", self.n_features_in_)
        return predict_values(self.model_, values, self.device_).astype(np.float64)


def _check_series(X: Any, name: str, n_features: int | None = None) -> list[np.ndarray]:
    """Numeric sequences as (length, n_features) float32 arrays; a clear error for anything else."""
    if isinstance(X, (str, bytes)) or not hasattr(X, "__len__") or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty list of numeric sequences")
    values = []
    for i, seq in enumerate(X):
        try:
            array = np.asarray(seq, dtype=np.float32)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}[{i}] is not a sequence of numbers (or of equal-size vectors): {err}") from None
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or len(array) == 0:
            raise ValueError(f"{name}[{i}] must be a non-empty sequence of numbers or of vectors; got shape "
                             f"{array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"{name}[{i}] holds NaN or infinite values")
        expected = n_features if n_features is not None else (values[0].shape[1] if values else array.shape[1])
        if array.shape[1] != expected:
            raise ValueError(f"{name}[{i}] has {array.shape[1]} features per step; expected {expected}")
        values.append(array)
    return values


def _check_targets(y: Any, n: int, name: str) -> list[float]:
    targets = np.asarray(y, dtype=np.float64).reshape(-1) if not isinstance(y, str) else np.array([])
    if targets.shape != (n,):
        raise ValueError(f"{name} must hold one number per sequence: {n} sequences, {targets.size} targets")
    if not np.isfinite(targets).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return targets.astype(np.float32).tolist()
