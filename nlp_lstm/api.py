"""scikit-learn estimators over the same pipeline the CLI trains: `TextClassifier`, `SequenceTagger`.

The constructor only stores hyperparameters; `fit` learns the tokenizer and the model and returns
self; learned state ends in `_`. So `Pipeline`, `cross_val_score` and `GridSearchCV` work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
from .data.conll import TaggedDataset
from .data.sources import TextDataset
from .errors import ModelDirError
from .evaluation.metrics import is_entity_tagset, tagging_metrics
from .model_dir import SavedModel, load_model_dir, model_format, save_model_dir
from .models.regressor import LSTMRegressor
from .predictor import TagPredictor, predict_proba_ids, predict_values
from .training.device import resolve_device
from .training.prepare import prepare
from .training.tasks import EncodedSeries, RegressionTask
from .training.trainer import Trainer


def _check_texts(X: Any, name: str = "X") -> list[str]:
    """A list of strings, or a ValueError that says what is wrong and where."""
    if isinstance(X, (str, bytes)):
        raise ValueError(f"{name} must be a list of strings, got a single {type(X).__name__}; "
                         f"wrap one text in a list: [text]")
    try:
        texts = list(X)
    except TypeError:
        raise ValueError(f"{name} must be a list of strings, got {type(X).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            bad = "NaN" if isinstance(text, float) and math.isnan(text) else repr(text)
            raise ValueError(f"{name}[{i}] is {bad}; expected a string (an empty string is fine)")
    return texts


def _label_kind(classes: np.ndarray) -> str:
    return "int" if np.issubdtype(classes.dtype, np.integer) else "str"


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Embedding + BiLSTM text classifier with the scikit-learn estimator API.

    >>> clf = TextClassifier(hidden_size=64, epochs=3).fit(texts, labels)  # doctest: +SKIP
    >>> clf.predict(["great phone"]), clf.predict_proba(["great phone"])  # doctest: +SKIP
    """

    def __init__(
        self,
        embedding_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.3,
        pooling: str = "max",
        embedding_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        pretrained_vectors: str = "",
        freeze_embeddings: bool = False,
        extend_vocab: int = 0,
        tokenizer: str = "word",
        lowercase: bool = True,
        vocab_size: int = 50000,
        min_freq: int = 1,
        split_cjk: bool = True,
        max_length: int = 256,
        epochs: int = 5,
        batch_size: int = 64,
        learning_rate: float = 2e-3,
        weight_decay: float = 0.01,
        clip_grad_norm: float = 1.0,
        patience: int = 2,
        lr_schedule: str = "constant",
        class_weight: str | dict | None = None,
        unk_replace: float = 0.0,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.embedding_dropout = embedding_dropout
        self.recurrent_dropout = recurrent_dropout
        self.pretrained_vectors = pretrained_vectors
        self.freeze_embeddings = freeze_embeddings
        self.extend_vocab = extend_vocab
        self.lr_schedule = lr_schedule
        self.class_weight = class_weight
        self.unk_replace = unk_replace
        self.tokenizer = tokenizer
        self.lowercase = lowercase
        self.vocab_size = vocab_size
        self.min_freq = min_freq
        self.split_cjk = split_cjk
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clip_grad_norm = clip_grad_norm
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _config(self) -> Config:
        """The hyperparameters as the pipeline's validated config."""
        if not isinstance(self.max_length, int) or isinstance(self.max_length, bool) or self.max_length < 1:
            raise ValueError(f"The 'max_length' parameter must be a positive int. Got {self.max_length!r} instead.")
        return Config(
            task="classification",
            data=DataConfig(max_length=self.max_length),
            tokenizer=TokenizerConfig(self.tokenizer, self.lowercase, self.vocab_size, self.min_freq,
                                      split_cjk=self.split_cjk),
            model=ModelConfig(self.embedding_dim, self.hidden_size, self.num_layers, self.bidirectional, self.dropout,
                              self.pooling, embedding_dropout=self.embedding_dropout,
                              recurrent_dropout=self.recurrent_dropout, pretrained_vectors=self.pretrained_vectors,
                              freeze_embeddings=self.freeze_embeddings, extend_vocab=self.extend_vocab),
            training=TrainingConfig(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                                    weight_decay=self.weight_decay, clip_grad_norm=self.clip_grad_norm,
                                    patience=self.patience, seed=self.random_state, device=self.device,
                                    lr_schedule=self.lr_schedule, class_weights=_class_weight(self.class_weight),
                                    unk_replace=self.unk_replace),
        )

    def fit(
        self, X: Sequence[str], y: Sequence[Any], eval_set: tuple[Sequence[str], Sequence[Any]] | None = None
    ) -> TextClassifier:
        """Learn the tokenizer and the model; with `eval_set` early-stop on its accuracy and keep the best epoch."""
        texts = _check_texts(X)
        check_consistent_length(texts, y)
        labels = np.asarray(y)
        if labels.ndim != 1 or any(label is None for label in labels.tolist()):
            raise ValueError("y must be a 1-d list of labels without None")
        config = self._config()
        self.classes_ = np.unique(labels)
        if len(self.classes_) < 2:
            raise ValueError(f"The number of classes has to be greater than one; got {len(self.classes_)} class")
        splits = {"train": TextDataset(texts, [str(label) for label in labels.tolist()], "X")}
        if eval_set is not None:
            dev_texts = _check_texts(eval_set[0], "eval_set[0]")
            check_consistent_length(dev_texts, eval_set[1])
            unknown = sorted(set(np.asarray(eval_set[1]).tolist()) - set(self.classes_.tolist()), key=str)
            if unknown:
                raise ValueError(f"eval_set[1] has label {unknown[0]!r}, which is not among the training labels "
                                 f"{self.classes_.tolist()}")
            splits["dev"] = TextDataset(dev_texts, [str(label) for label in np.asarray(eval_set[1]).tolist()],
                                        "eval_set")
        device = resolve_device(self.device)
        prepared = prepare(config, splits, labels=[str(c) for c in self.classes_], cache_vectors=True)
        trainer = Trainer(prepared.model, config.training, device, prepared.task, progress=self.verbose,
                          verbose=self.verbose)
        self.history_ = trainer.fit(prepared.encoded["train"], prepared.encoded.get("dev")).history
        self.tokenizer_ = prepared.saved.tokenizer
        self.vocab_ = self.tokenizer_.vocab
        self.pretrained_ = prepared.data_notes.get("pretrained")
        self.model_ = prepared.model.eval()
        self.spec_ = config.model
        self.device_ = device
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """(n_samples, n_classes) probabilities, columns in `classes_` order."""
        check_is_fitted(self, "model_")
        texts = _check_texts(X)
        return predict_proba_ids(self.model_, self.tokenizer_.encode_batch(texts), self.device_,
                                 max_length=self.max_length, pad_id=self.tokenizer_.pad_id)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable label of each text, as given to `fit` (strings stay strings, ints ints)."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]

    def save(self, path: str | Path) -> None:
        """Write a model directory (the one format the CLI reads and writes)."""
        check_is_fitted(self, "model_")
        api = {"params": {k: v for k, v in self.get_params().items() if k != "device"},
               "label_kind": _label_kind(self.classes_)}
        save_model_dir(path, SavedModel(self.model_, self.tokenizer_, [str(c) for c in self.classes_],
                                        self.max_length, {"api": api}, self.spec_))

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> TextClassifier:
        """A fitted classifier from a model directory written by `save` or by `nlp-lstm train`."""
        _pytorch_only(path)
        resolved = resolve_device(device)
        saved = load_model_dir(path, resolved)
        if saved.task != "classification":
            raise ValueError(f"{path} holds a {saved.task} model, not a text classifier")
        api = saved.config.get("api", {})
        tokenizer = saved.config.get("tokenizer", {})  # what `nlp-lstm train` records
        params = api.get("params") or {
            "embedding_dim": saved.spec.embedding_dim, "hidden_size": saved.spec.hidden_size,
            "num_layers": saved.spec.num_layers, "bidirectional": saved.spec.bidirectional,
            "dropout": saved.spec.dropout, "pooling": saved.spec.pooling, "max_length": saved.max_length,
            "tokenizer": tokenizer.get("kind", "word"), "lowercase": tokenizer.get("lowercase", True),
        }
        estimator = cls(**params, device=device)
        labels = saved.labels
        estimator.classes_ = np.array([int(c) for c in labels] if api.get("label_kind") == "int" else labels)
        estimator.tokenizer_ = saved.tokenizer
        estimator.vocab_ = saved.tokenizer.vocab
        estimator.model_ = saved.model
        estimator.spec_ = saved.spec
        estimator.device_ = resolved
        estimator.history_ = []
        return estimator


def _pytorch_only(path: str | Path) -> None:
    """Estimators train and save PyTorch models; exported int8 and ONNX directories are for predicting."""
    found = model_format(path)
    if found != "pytorch":
        raise ModelDirError(f"{path} holds an {found} export, which estimators do not load; predict with "
                            f"nlp_lstm.Predictor.load / TagPredictor.load or nlp-lstm predict")


def _class_weight(value: str | dict | None) -> str | dict:
    """scikit-learn's `class_weight` (None, "balanced" or {label: weight}) as training.class_weights."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {str(label): weight for label, weight in value.items()}
    return value


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


class SequenceTagger(BaseEstimator):
    """BiLSTM(-CRF) tagger with the scikit-learn estimator API: lists of tokens in, lists of tags out.

    `score` is the entity F1 (exact spans) for entity tags such as B-PER/I-PER, else token accuracy.
    """

    def __init__(
        self,
        embedding_dim: int = 100,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.5,
        char_embedding_dim: int = 30,
        char_filters: int = 50,
        casing_embedding_dim: int = 0,
        crf: bool = True,
        tag_scheme: str = "bioes",
        embedding_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        pretrained_vectors: str = "",
        freeze_embeddings: bool = False,
        extend_vocab: int = 0,
        lowercase: bool = False,
        digits_to_zero: bool = False,
        vocab_size: int = 50000,
        min_freq: int = 1,
        epochs: int = 10,
        batch_size: int = 32,
        learning_rate: float = 2e-3,
        weight_decay: float = 0.0,
        clip_grad_norm: float = 5.0,
        patience: int = 3,
        lr_schedule: str = "constant",
        class_weight: str | dict | None = None,
        unk_replace: float = 0.0,
        random_state: int = 0,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.embedding_dropout = embedding_dropout
        self.recurrent_dropout = recurrent_dropout
        self.pretrained_vectors = pretrained_vectors
        self.freeze_embeddings = freeze_embeddings
        self.extend_vocab = extend_vocab
        self.lr_schedule = lr_schedule
        self.class_weight = class_weight
        self.unk_replace = unk_replace
        self.char_embedding_dim = char_embedding_dim
        self.char_filters = char_filters
        self.casing_embedding_dim = casing_embedding_dim
        self.crf = crf
        self.tag_scheme = tag_scheme
        self.lowercase = lowercase
        self.digits_to_zero = digits_to_zero
        self.vocab_size = vocab_size
        self.min_freq = min_freq
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clip_grad_norm = clip_grad_norm
        self.patience = patience
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def fit(
        self, X: Sequence[Sequence[str]], y: Sequence[Sequence[str]],
        eval_set: tuple[Sequence[Sequence[str]], Sequence[Sequence[str]]] | None = None,
    ) -> SequenceTagger:
        """Learn the vocabulary, features and model; with `eval_set` early-stop on it and keep the best epoch."""
        splits = {"train": _tagged(X, y, "X", "y")}
        if eval_set is not None:
            splits["dev"] = _tagged(*eval_set, "eval_set[0]", "eval_set[1]")
        entity = is_entity_tagset({tag for tags in splits["train"].tags for tag in tags})
        config = Config(
            task="tagging",
            tokenizer=TokenizerConfig(lowercase=self.lowercase, vocab_size=self.vocab_size, min_freq=self.min_freq,
                                      digits_to_zero=self.digits_to_zero),
            model=ModelConfig(self.embedding_dim, self.hidden_size, self.num_layers, True, self.dropout,
                              char_embedding_dim=self.char_embedding_dim, char_filters=self.char_filters,
                              casing_embedding_dim=self.casing_embedding_dim, crf=self.crf,
                              tag_scheme=self.tag_scheme, embedding_dropout=self.embedding_dropout,
                              recurrent_dropout=self.recurrent_dropout, pretrained_vectors=self.pretrained_vectors,
                              freeze_embeddings=self.freeze_embeddings, extend_vocab=self.extend_vocab),
            training=TrainingConfig(epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
                                    weight_decay=self.weight_decay, clip_grad_norm=self.clip_grad_norm,
                                    patience=self.patience, metric="f1" if entity else "accuracy",
                                    seed=self.random_state, device=self.device, lr_schedule=self.lr_schedule,
                                    class_weights=_class_weight(self.class_weight),
                                    unk_replace=self.unk_replace),
        )
        device = resolve_device(self.device)
        prepared = prepare(config, splits, cache_vectors=True)
        trainer = Trainer(prepared.model, config.training, device, prepared.task, progress=self.verbose,
                          verbose=self.verbose)
        self.history_ = trainer.fit(prepared.encoded["train"], prepared.encoded.get("dev")).history
        self.predictor_ = TagPredictor(prepared.saved, device)
        prepared.model.eval()
        self.tags_ = list(prepared.saved.labels)
        self.vocab_ = prepared.saved.tokenizer.vocab
        self.pretrained_ = prepared.data_notes.get("pretrained")
        return self

    def predict(self, X: Sequence[Sequence[str]]) -> list[list[str]]:
        """One tag per token, in the tag scheme of the training data."""
        check_is_fitted(self, "predictor_")
        return self.predictor_.predict_tags(_check_sequences(X, "X"))

    def score(self, X: Sequence[Sequence[str]], y: Sequence[Sequence[str]]) -> float:
        """Entity F1 for entity tags, else token accuracy."""
        predicted = self.predict(X)
        gold = _check_sequences(y, "y")
        metrics = tagging_metrics(gold, predicted, self.predictor_.data_scheme)
        return float(metrics["f1"] if self.predictor_.data_scheme else metrics["accuracy"])

    def save(self, path: str | Path) -> None:
        """Write a model directory (the one format the CLI reads and writes)."""
        check_is_fitted(self, "predictor_")
        saved = self.predictor_.saved
        saved.config["api"] = {"params": {k: v for k, v in self.get_params().items() if k != "device"}}
        save_model_dir(path, saved)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> SequenceTagger:
        """A fitted tagger from a model directory written by `save` or by `nlp-lstm train`."""
        _pytorch_only(path)
        predictor = TagPredictor.load(path, device)
        if predictor.saved.task != "tagging":
            raise ValueError(f"{path} holds a {predictor.saved.task} model, not a tagger")
        estimator = cls(**predictor.saved.config.get("api", {}).get("params", {}), device=device)
        estimator.predictor_ = predictor
        estimator.tags_ = list(predictor.saved.labels)
        estimator.vocab_ = predictor.saved.tokenizer.vocab
        estimator.history_ = []
        return estimator


def _tagged(X: Any, y: Any, x_name: str, y_name: str) -> TaggedDataset:
    sentences, tags = _check_sequences(X, x_name), _check_sequences(y, y_name)
    check_consistent_length(sentences, tags)
    for i, (tokens, sentence_tags) in enumerate(zip(sentences, tags)):
        if len(tokens) != len(sentence_tags):
            raise ValueError(f"{x_name}[{i}] has {len(tokens)} tokens but {y_name}[{i}] has {len(sentence_tags)} tags")
    return TaggedDataset(sentences, tags, x_name)


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
        verbose: bool = False,
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
        trainer = Trainer(model, training, device, RegressionTask(), progress=self.verbose, verbose=self.verbose)
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
