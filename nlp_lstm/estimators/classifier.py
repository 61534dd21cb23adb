"""TextClassifier: the embedding + BiLSTM classifier with scikit-learn's estimator API."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ..attributions import DEFAULT_STEPS, Explanation
from ..data.sources import TextDataset
from ..evaluation.model_card import write_model_card
from ..model_dir import load_model_dir, save_model_dir
from ..predictor import Predictor, predict_proba_ids
from .base import ConfigEstimator, check_loadable, check_texts, estimator_params


class TextClassifier(ClassifierMixin, ConfigEstimator):
    """Embedding + BiLSTM text classifier with the scikit-learn estimator API.

    Its parameters are the config keys a classifier reads (`hidden_size`, `pooling`, `epochs`, `seed`, ...,
    see `nlp-lstm` configs), with the same defaults. `fit(X, y)` trains on lists; `fit()` without data trains on
    the config's own data (data.train, data.dev), so `TextClassifier.from_config(recipe).fit()` runs a recipe.

    >>> clf = TextClassifier(hidden_size=64, epochs=3).fit(texts, labels)  # doctest: +SKIP
    >>> clf.predict(["great phone"]), clf.predict_proba(["great phone"])  # doctest: +SKIP
    """

    task = "classification"

    def fit(self, X: Sequence[str] | None = None, y: Sequence[Any] | None = None,
            eval_set: tuple[Sequence[str], Sequence[Any]] | None = None) -> TextClassifier:
        """Learn the tokenizer and the model; with `eval_set` early-stop on it and keep the best epoch."""
        if X is None:
            if y is not None or eval_set is not None:
                raise ValueError("y and eval_set go with X; fit() without X reads the config's data")
            prepared = self._fit(None)
            self.classes_ = np.array(prepared.saved.labels)
        else:
            splits, classes = _splits(X, y, eval_set)
            self.get_config()  # a bad parameter fails before the data is looked at further
            self.classes_ = classes
            prepared = self._fit(splits, [str(c) for c in classes])
        self.saved_ = prepared.saved
        self.tokenizer_ = prepared.saved.tokenizer
        self.model_ = prepared.model
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """(n_samples, n_classes) probabilities, columns in `classes_` order."""
        check_is_fitted(self, "model_")
        texts = check_texts(X)
        return predict_proba_ids(self.model_, self.tokenizer_.encode_batch(texts), self.device_,
                                 max_length=self.saved_.max_length, pad_id=self.tokenizer_.pad_id)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable label of each text, as given to `fit` (strings stay strings, ints ints)."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]

    def explain(self, X: Sequence[str], label: Any = None, method: str | None = None,
                steps: int = DEFAULT_STEPS) -> list[Explanation]:
        """A score per token of each text for `label` (a class as given to `fit`; default: the predicted one), as
        `Predictor.explain`: Integrated Gradients on the logit, or occlusion."""
        check_is_fitted(self, "model_")
        predictor = Predictor(self.saved_, self.device_)
        return predictor.explain(check_texts(X), None if label is None else str(label), method, steps)

    def save(self, path: str | Path) -> None:
        """Write a model directory (the one format the CLI reads and writes)."""
        check_is_fitted(self, "model_")
        self.saved_.config["api"] = {"label_kind": "int" if np.issubdtype(self.classes_.dtype, np.integer) else "str"}
        save_model_dir(path, self.saved_)
        write_model_card(path, history=self.history_)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> TextClassifier:
        """A fitted classifier from a model directory written by `save` or by `nlp-lstm train`."""
        resolved = check_loadable(path, device)
        saved = load_model_dir(path, resolved)
        if saved.task != "classification":
            raise ValueError(f"{path} holds a {saved.task} model, not a text classifier")
        params = estimator_params(saved.config, cls.task) or _older_params(saved)
        estimator = cls(**{**params, "device": device})
        labels = saved.labels
        kind = saved.config.get("api", {}).get("label_kind")
        int_labels = kind == "int" or (kind is None and all(_is_int_text(label) for label in labels))
        estimator.classes_ = np.array([int(c) for c in labels] if int_labels else labels)
        estimator.saved_ = saved
        estimator.tokenizer_ = saved.tokenizer
        estimator.vocab_ = saved.tokenizer.vocab
        estimator.model_ = saved.model
        estimator.config_ = estimator.get_config()
        estimator.device_ = resolved
        estimator.history_ = []
        return estimator


def _splits(X: Any, y: Any, eval_set: Any) -> tuple[dict[str, TextDataset], np.ndarray]:
    """Checked training (and eval_set) texts with string labels, and the classes in scikit-learn's order."""
    texts = check_texts(X)
    if y is None:
        raise ValueError("y is required with X: one label per text")
    check_consistent_length(texts, y)
    for i, label in enumerate(y):
        if isinstance(label, (list, tuple, set, frozenset, np.ndarray)):
            raise ValueError(f"y[{i}] is a collection of labels ({_short(label)}): multi-label classification is "
                             f"not supported yet; give one label per text")
    labels = np.asarray(y)
    if labels.ndim != 1 or any(label is None for label in labels.tolist()):
        raise ValueError("y must be a 1-d list of labels without None")
    check_classification_targets(labels)  # scikit-learn's refusal of continuous targets (0.5, 1.7, ...)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(f"The number of classes has to be greater than one; got {len(classes)} class")
    splits = {"train": TextDataset(texts, [str(label) for label in labels.tolist()], "X")}
    if eval_set is not None:
        dev_texts, dev_labels = check_texts(eval_set[0], "eval_set[0]"), np.asarray(eval_set[1])
        check_consistent_length(dev_texts, dev_labels)
        unknown = sorted(set(dev_labels.tolist()) - set(classes.tolist()), key=str)
        if unknown:
            raise ValueError(f"eval_set[1] has label {unknown[0]!r}, which is not among the training labels "
                             f"{classes.tolist()}")
        splits["dev"] = TextDataset(dev_texts, [str(label) for label in dev_labels.tolist()], "eval_set")
    return splits, classes


def _is_int_text(label: str) -> bool:
    """A label that a data file wrote as an int ("0", "-1"); a model trained from files keeps labels as text."""
    return label.lstrip("-").isdigit() and str(int(label)) == label


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _older_params(saved: Any) -> dict[str, Any]:
    """What a model directory from `nlp-lstm train` of format 1 tells about its settings."""
    tokenizer = saved.config.get("tokenizer", {})
    spec = saved.spec
    return {"embedding_dim": spec.embedding_dim, "hidden_size": spec.hidden_size, "num_layers": spec.num_layers,
            "bidirectional": spec.bidirectional, "dropout": spec.dropout, "pooling": spec.pooling,
            "max_length": saved.max_length, "kind": tokenizer.get("kind", "word"),
            "lowercase": tokenizer.get("lowercase", True)}
