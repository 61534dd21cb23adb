"""Classification: one label per text. Cross-entropy on the logits, scikit-learn metrics, predictions with the
probability of the predicted label."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import Config, DataConfig, ModelConfig
from ..data.batching import Batch, collate
from ..data.encode_cache import CACHE_MIN_TEXTS, cached_encode, cached_tokenizer, texts_digest
from ..data.ragged import row_lengths
from ..data.sources import TextDataset, carve_dev, load_splits, load_texts
from ..errors import ConfigError, DataError
from ..evaluation.classification_report import classification_sections
from ..evaluation.data_checks import check_texts
from ..evaluation.data_stats import split_statistics
from ..evaluation.metrics import classification_metrics, format_metrics
from ..evaluation.uncertainty import bootstrap_intervals
from ..model_dir import SavedModel
from ..models.build import ModelSizes, build_model
from ..models.pretrained import choose_vectors, init_pretrained, pretrained_vocabulary
from ..predictor import Predictor, predict_proba_ids
from ..text.tokenizers import TextTokenizer
from ..training.class_weights import class_weights
from ..training.unk_replacement import UnkReplacement, unk_replacement
from .base import (
    Prepared,
    Task,
    random_ids,
    replace_unk,
    resolved_training,
    truncation_note,
    unk_note,
    weights_on_device,
    write_jsonl,
)

TFIDF_MAX_TEXTS = 100_000  # the TF-IDF baseline trains on at most this many texts (a seeded sample)


@dataclass
class EncodedSplit:
    """Token ids and label indices of one split (one label per text)."""

    ids: Sequence[Sequence[int]]
    labels: Sequence[int]

    def __len__(self) -> int:
        return len(self.ids)


class ClassificationTask(Task):
    """One label per text: cross-entropy on the logits, scikit-learn metrics."""

    name = "classification"
    export_outputs = {"logits": {0: "batch"}}
    summary_metrics = ("accuracy", "macro_f1")

    def __init__(self, label_names: Sequence[str], pad_id: int = 0, max_length: int | None = None,
                 class_weights: Sequence[float] | None = None, unk_replacement: UnkReplacement | None = None) -> None:
        self.label_names = list(label_names)
        self.unk_replacement = unk_replacement  # applied to training batches only
        self.pad_id = pad_id
        self.max_length = max_length
        self.class_weights = None if class_weights is None else torch.tensor(class_weights, dtype=torch.float)
        self._tfidf: tuple[TextDataset, Any, int] | None = None  # the baseline fitted on a training set, reused

    def lengths(self, split: EncodedSplit) -> np.ndarray:
        """Each example's length after truncation, for length bucketing."""
        lengths = row_lengths(split.ids)
        return lengths if self.max_length is None else np.minimum(lengths, self.max_length)

    def collate(self, split: EncodedSplit, indices: Sequence[int]) -> Batch:
        """The padded training batch of these examples."""
        batch = collate([split.ids[i] for i in indices], indices, [split.labels[i] for i in indices], self.pad_id,
                        self.max_length)
        return replace_unk(self, batch)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """Mean cross-entropy of the batch (weighted by the labels' class weights when there are any)."""
        logits = model(batch.ids, batch.lengths)
        return nn.functional.cross_entropy(logits, batch.labels, weight=weights_on_device(self, logits.device))

    def evaluate(self, model: nn.Module, split: EncodedSplit, device: torch.device
                 ) -> tuple[dict[str, Any], np.ndarray]:
        """Metrics and (n_samples, n_labels) class probabilities on a split."""
        probabilities = predict_proba_ids(model, split.ids, device, max_length=self.max_length, pad_id=self.pad_id)
        gold = [self.label_names[k] for k in split.labels]
        predicted = [self.label_names[k] for k in probabilities.argmax(axis=1)]
        return classification_metrics(gold, predicted, self.label_names), probabilities

    def write_predictions(self, path: Path, dataset: TextDataset, predicted: np.ndarray) -> None:
        """{"text", "gold", "predicted", "confidence"} per text, from (n_texts, n_labels) probabilities."""
        rows = []
        for text, gold, probs in zip(dataset.texts, dataset.labels, predicted):
            k = int(probs.argmax())
            rows.append({"text": text, "gold": gold, "predicted": self.label_names[k],
                         "confidence": round(float(probs[k]), 6)})
        write_jsonl(path, rows)

    def baselines(self, train: TextDataset, dataset: TextDataset) -> dict[str, dict[str, Any]]:
        """The majority class of the training labels (a tie: the first in label order), predicted for every text;
        and TF-IDF word and character n-grams + logistic regression, trained on the same training texts, with
        bootstrap intervals as the model's own."""
        majority = max(self.label_names, key=Counter(train.labels).__getitem__)
        metrics = classification_metrics(dataset.labels, [majority] * len(dataset), self.label_names)
        return {"majority": {"label": majority, "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]},
                "tfidf_logistic_regression": self._tfidf_baseline(train, dataset)}

    def _tfidf_baseline(self, train: TextDataset, dataset: TextDataset) -> dict[str, Any]:
        """The TF-IDF baseline's scores on `dataset`; fitted once per training set (past TFIDF_MAX_TEXTS training
        texts, on a seeded sample of that many)."""
        if self._tfidf is None or self._tfidf[0] is not train:
            rows = np.arange(len(train))
            if len(rows) > TFIDF_MAX_TEXTS:
                rows = np.sort(np.random.default_rng(0).choice(rows, TFIDF_MAX_TEXTS, replace=False))
            model = tfidf_logistic_regression().fit([train.texts[i] for i in rows], [train.labels[i] for i in rows])
            self._tfidf = (train, model, len(rows))
        _, model, n_train = self._tfidf
        predicted = model.predict(list(dataset.texts)).tolist()
        metrics = classification_metrics(dataset.labels, predicted, self.label_names)
        intervals = bootstrap_intervals(list(dataset.labels), predicted, self.label_names)
        return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"], "trained_on": n_train,
                "intervals": intervals}

    @classmethod
    def read(cls, spec: str, columns: dict[str, Any], role: str = "train") -> TextDataset:
        """Labelled texts from a data spec, with the text_column and label_column given (or "text", "label")."""
        return load_texts(spec, columns.get("text_column", "text"), columns.get("label_column", "label"), role=role)

    @classmethod
    def read_splits(cls, data: DataConfig) -> dict[str, TextDataset]:
        """Train, dev and optional test texts: from their specs, or carved out of train (stratified)."""
        return load_splits(data)

    @classmethod
    def carve_dev(cls, train: TextDataset, fraction: float, seed: int) -> dict[str, TextDataset]:
        """Dev held out of the training texts, stratified by label."""
        return carve_dev(train, fraction, seed)

    @classmethod
    def prepare(cls, config: Config, splits: dict[str, TextDataset], labels: Sequence[str] | None,
                cache_vectors: bool) -> Prepared:
        """Labels (sorted unless given), tokenizer, encoded splits, model and task for a classification run."""
        if config.training.metric == "f1":
            raise ConfigError("training.metric = 'f1' is the entity F1 of taggers; a classifier uses accuracy or "
                              "macro_f1")
        train_set = splits["train"]
        labels = list(labels) if labels is not None else sorted(set(train_set.labels))
        if len(labels) < 2:
            raise DataError(f"{train_set.source}: the training data has a single label {labels[0]!r}; "
                            f"a classifier needs at least 2")
        label_to_id = {label: k for k, label in enumerate(labels)}
        tokenizer, digest = _tokenizer(config, train_set)
        m, choice, chosen = choose_vectors(tokenizer, config.model, config.tokenizer.kind == "word", cache_vectors,
                                           default_dim=ModelConfig().embedding_dim)
        tokenizer, vectors, added = pretrained_vocabulary(tokenizer, m, cache_vectors, chosen)
        encoded = {split: EncodedSplit(cached_encode(tokenizer, data.texts, digest if split == "train" else None,
                                                     config.data.num_proc), _label_ids(data, label_to_id, split))
                   for split, data in splits.items()}
        model = build_model(cls.name, m, ModelSizes(len(tokenizer), len(labels), tokenizer.pad_id))
        saved = SavedModel(model, tokenizer, labels, config.data.max_length,
                           {"data": {"text_column": config.data.text_column,
                                     "label_column": config.data.label_column},
                            "tokenizer": {"kind": config.tokenizer.kind, "lowercase": config.tokenizer.lowercase}}, m)
        stats = {split: split_statistics(data.labels, encoded[split].ids, tokenizer.unk_id)
                 for split, data in splits.items()}
        weights = class_weights(config.training.class_weights, labels, train_set.labels)
        replacement = unk_replacement(tokenizer, encoded["train"].ids, config.training.unk_replace,
                                      config.training.seed)
        task = cls(labels, tokenizer.pad_id, config.data.max_length, weights, replacement)
        notes = {"stats": stats, **({"class_weights": dict(zip(labels, weights))} if weights else {}),
                 **unk_note(replacement),
                 "truncated": truncation_note({split: encoded[split].ids for split in splits}, config.data.max_length),
                 **({"vectors_choice": choice} if choice else {})}
        if vectors is not None:
            notes["pretrained"] = init_pretrained(model.embedding, tokenizer, vectors, m, encoded["train"].ids,
                                                  config.training.seed, added)
        return Prepared(model, task, encoded, splits, saved, f"labels: {', '.join(labels)}",
                        resolved_training(config), notes)

    @classmethod
    def check_data(cls, splits: dict[str, TextDataset], config: Config, max_rows: int | None = None
                   ) -> dict[str, Any]:
        """Duplicates, leaks, conflicting labels, balance, lengths against data.max_length, unknown words, scripts."""
        return check_texts(splits, config.data.max_length, max_rows)

    @classmethod
    def format_metrics(cls, metrics: dict[str, Any], split: str) -> str:
        """Accuracy, macro F1 and the per-class table."""
        return format_metrics(metrics, split)

    @classmethod
    def score_saved(cls, saved: SavedModel, device: torch.device, dataset: TextDataset
                    ) -> tuple[dict[str, Any], ClassificationTask, np.ndarray]:
        """Metrics of a saved classifier on labelled texts, with length and vocabulary statistics."""
        unknown = sorted(set(dataset.labels) - set(saved.labels))
        if unknown:
            raise DataError(f"{dataset.source}: label {unknown[0]!r} is not one the model knows "
                            f"(model labels: {', '.join(saved.labels)})")
        ids = saved.tokenizer.encode_batch(dataset.texts)
        probabilities = predict_proba_ids(saved.model, ids, device, max_length=saved.max_length,
                                          pad_id=saved.tokenizer.pad_id)
        predicted = [saved.labels[k] for k in probabilities.argmax(axis=1)]
        metrics = classification_metrics(dataset.labels, predicted, saved.labels)
        metrics["stats"] = split_statistics(dataset.labels, ids, saved.tokenizer.unk_id)
        metrics["truncated"] = truncation_note({"data": ids}, saved.max_length)
        return metrics, cls(saved.labels, saved.tokenizer.pad_id, saved.max_length), probabilities

    @classmethod
    def predictor(cls, saved: SavedModel, device: torch.device) -> Predictor:
        """Labels texts, with the probability of each label."""
        return Predictor(saved, device)

    @classmethod
    def predicted_units(cls, model_dir: str | Path, dataset: TextDataset) -> tuple[list[str], list[str], str]:
        """Gold and predicted label of each text."""
        predicted = [p.label for p in Predictor.load(model_dir, "cpu").predict(dataset.texts)]
        return list(dataset.labels), predicted, "texts"

    @classmethod
    def report_sections(cls, run: Any, font: str | None) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        """The classifier's report sections."""
        return classification_sections(run, font)

    @classmethod
    def export_graph(cls, model: nn.Module) -> nn.Module:
        """The classifier itself: (ids, lengths) -> logits."""
        return model

    @classmethod
    def export_inputs(cls, model: nn.Module, lengths: list[int], seed: int) -> dict[str, torch.Tensor]:
        """Random ids and their lengths."""
        ids, _ = random_ids(model, lengths, torch.Generator().manual_seed(seed))
        return {"ids": ids, "lengths": torch.tensor(lengths, dtype=torch.long)}


def tfidf_logistic_regression() -> Any:
    """The baseline's scikit-learn pipeline: TF-IDF of word 1-2-grams and character 1-3-grams (within word
    boundaries, so Chinese text gets its characters, pairs and triples), sublinear term frequencies, then logistic
    regression. Character 1-3-grams fit in half the time of 2-4-grams on zh-reviews, and scored as well on dev."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True),
                          TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True))
    return make_pipeline(features, LogisticRegression(max_iter=1000))


def _tokenizer(config: Config, train_set: TextDataset) -> tuple[TextTokenizer, str | None]:
    """The tokenizer trained on the training texts (taken from the cache for large data: later runs on the same
    texts load the tokenizer and ids), and the texts' digest for the cache."""
    tok = config.tokenizer
    digest = texts_digest(train_set.texts) if len(train_set) >= CACHE_MIN_TEXTS else None
    tokenizer = cached_tokenizer(train_set.texts, dataclasses.asdict(tok), lambda: TextTokenizer.train(
        train_set.texts, tok.kind, tok.lowercase, tok.vocab_size, tok.min_freq, tok.split_cjk), TextTokenizer.load,
        digest)
    return tokenizer, digest


def _label_ids(dataset: TextDataset, label_to_id: dict[str, int], split: str) -> np.ndarray:
    unknown = sorted(set(dataset.labels) - set(label_to_id))
    if unknown:
        raise DataError(f"{dataset.source}: {split} label {unknown[0]!r} never occurs in the training data "
                        f"(training labels: {', '.join(label_to_id)})")
    # 4 bytes a text instead of a list's 8-byte pointers: millions of texts keep these for the whole run
    return np.fromiter(map(label_to_id.__getitem__, dataset.labels), dtype=np.int32, count=len(dataset.labels))
