"""SequenceTagger: the BiLSTM(-CNN)(-CRF) tagger with scikit-learn's estimator API."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ..attributions import DEFAULT_STEPS, Explanation
from ..data.conll import TaggedDataset
from ..evaluation.metrics import tagging_metrics
from ..evaluation.model_card import write_model_card
from ..model_dir import save_model_dir
from ..predictor import TagPredictor
from .base import ConfigEstimator, check_loadable, estimator_params


class SequenceTagger(ConfigEstimator):
    """BiLSTM(-CRF) tagger with the scikit-learn estimator API: lists of tokens in, lists of tags out.

    Its parameters are the config keys a tagger reads, with a tagger's defaults (character CNN and CRF on).
    `score` is the entity F1 (exact spans) for entity tags such as B-PER/I-PER, else token accuracy.
    """

    task = "tagging"

    def fit(self, X: Sequence[Sequence[str]] | None = None, y: Sequence[Sequence[str]] | None = None,
            eval_set: tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]] | None = None) -> SequenceTagger:
        """Learn the vocabulary, features and model; with `eval_set` early-stop on it and keep the best epoch.
        Without X, train on the config's own data (data.train, data.dev)."""
        splits = None
        if X is not None:
            splits = {"train": _tagged(X, y, "X", "y")}
            if eval_set is not None:
                splits["dev"] = _tagged(*eval_set, "eval_set[0]", "eval_set[1]")
        elif y is not None or eval_set is not None:
            raise ValueError("y and eval_set go with X; fit() without X reads the config's data")
        prepared = self._fit(splits)
        self.predictor_ = TagPredictor(prepared.saved, self.device_)
        self.tags_ = list(prepared.saved.labels)
        return self

    def predict(self, X: Sequence[Sequence[str]]) -> list[list[str]]:
        """One tag per token, in the tag scheme of the training data."""
        check_is_fitted(self, "predictor_")
        return self.predictor_.predict_tags(_check_sequences(X, "X"))

    def explain(self, X: Sequence[Sequence[str]], token: int | None = None, entity: int | None = None,
                label: str | None = None, method: str | None = None, steps: int = DEFAULT_STEPS) -> list[Explanation]:
        """A score per token of each sentence for the tag of token `token` or for predicted entity `entity`, as
        `TagPredictor.explain`."""
        check_is_fitted(self, "predictor_")
        return self.predictor_.explain(_check_sequences(X, "X"), token, entity, label, method, steps)

    def score(self, X: Sequence[Sequence[str]], y: Sequence[Sequence[str]]) -> float:
        """Entity F1 for entity tags, else token accuracy."""
        predicted = self.predict(X)
        gold = _check_sequences(y, "y")
        metrics = tagging_metrics(gold, predicted, self.predictor_.data_scheme)
        return float(metrics["f1"] if self.predictor_.data_scheme else metrics["accuracy"])

    def save(self, path: str | Path) -> None:
        """Write a model directory (the one format the CLI reads and writes)."""
        check_is_fitted(self, "predictor_")
        save_model_dir(path, self.predictor_.saved)
        write_model_card(path, history=self.history_)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> SequenceTagger:
        """A fitted tagger from a model directory written by `save` or by `nlp-lstm train`."""
        check_loadable(path, device)
        predictor = TagPredictor.load(path, device)
        if predictor.saved.task != "tagging":
            raise ValueError(f"{path} holds a {predictor.saved.task} model, not a tagger")
        estimator = cls(**{**estimator_params(predictor.saved.config, cls.task), "device": device})
        estimator.predictor_ = predictor
        estimator.tags_ = list(predictor.saved.labels)
        estimator.vocab_ = predictor.saved.tokenizer.vocab
        estimator.config_ = estimator.get_config()
        estimator.device_ = predictor.device
        estimator.history_ = []
        return estimator


def _check_sequences(X: Any, name: str) -> list[list[str]]:
    """A list of token (or tag) lists, or a ValueError naming the first bad entry."""
    if isinstance(X, (str, bytes)):
        raise ValueError(f"{name} must be a list of token lists, got a single {type(X).__name__}")
    sequences = []
    for i, sequence in enumerate(X):
        if isinstance(sequence, str) or not all(isinstance(token, str) for token in sequence):
            raise ValueError(f"{name}[{i}] must be a list of strings, got {sequence!r}")
        sequences.append(list(sequence))
    return sequences


def _tagged(X: Any, y: Any, x_name: str, y_name: str) -> TaggedDataset:
    if y is None:
        raise ValueError(f"{y_name} is required with {x_name}: one tag list per sentence")
    sentences, tags = _check_sequences(X, x_name), _check_sequences(y, y_name)
    check_consistent_length(sentences, tags)
    for i, (tokens, sentence_tags) in enumerate(zip(sentences, tags)):
        if len(tokens) != len(sentence_tags):
            raise ValueError(f"{x_name}[{i}] has {len(tokens)} tokens but {y_name}[{i}] has {len(sentence_tags)} tags")
    return TaggedDataset(sentences, tags, x_name)
