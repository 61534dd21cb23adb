"""Model -> predictions: batched, length-sorted inference with results in input order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data.batching import collate, collate_numeric, collate_tagged, sorted_batches
from .model_dir import SavedModel, inference_device, load_model_dir
from .models.onnx_runtime import OnnxModel


@torch.inference_mode()
def predict_proba_ids(
    model: nn.Module,
    sequences: Sequence[Sequence[int]],
    device: torch.device,
    batch_size: int = 256,
    max_length: int | None = None,
    pad_id: int = 0,
) -> np.ndarray:
    """(n_samples, num_classes) class probabilities for token id sequences, in input order."""
    was_training = model.training
    model.eval()
    lengths = [len(seq) if max_length is None else min(len(seq), max_length) for seq in sequences]
    probabilities = None
    for indices in sorted_batches(lengths, batch_size):
        batch = collate([sequences[i] for i in indices], indices, pad_id=pad_id, max_length=max_length).to(device)
        probs = torch.softmax(model(batch.ids, batch.lengths).float(), dim=-1).cpu().numpy()
        if probabilities is None:
            probabilities = np.empty((len(sequences), probs.shape[1]), dtype=np.float32)
        probabilities[batch.index.numpy()] = probs
    model.train(was_training)
    if probabilities is None:
        outputs = model.num_outputs if isinstance(model, OnnxModel) else model.output.out_features
        return np.empty((0, outputs), dtype=np.float32)
    return probabilities


@torch.inference_mode()
def predict_values(model: nn.Module, sequences: Sequence[np.ndarray], device: torch.device,
                   batch_size: int = 256) -> np.ndarray:
    """A regressor's (n_samples,) predictions for numeric sequences, in input order."""
    was_training = model.training
    model.eval()
    predictions = np.empty(len(sequences), dtype=np.float32)
    for indices in sorted_batches([len(s) for s in sequences], batch_size):
        batch = collate_numeric([sequences[i] for i in indices], indices).to(device)
        predictions[batch.index.numpy()] = model(batch.ids, batch.lengths).float().cpu().numpy()
    model.train(was_training)
    return predictions


@dataclass
class Prediction:
    """One text's predicted label, the probability of that label, and every label's probability."""

    text: str
    label: str
    probability: float
    probabilities: dict[str, float] = field(default_factory=dict)

    def top(self, k: int) -> list[tuple[str, float]]:
        """The `k` most probable labels with their probabilities, most probable first."""
        return sorted(self.probabilities.items(), key=lambda item: -item[1])[:k]


class Predictor:
    """Loads a model directory and labels texts."""

    def __init__(self, saved: SavedModel, device: torch.device, batch_size: int = 256) -> None:
        self.saved = saved
        self.device = device
        self.batch_size = batch_size

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "auto", batch_size: int = 256) -> Predictor:
        """A predictor for the model saved in `model_dir`."""
        resolved = inference_device(model_dir, device)
        return cls(load_model_dir(model_dir, resolved), resolved, batch_size)

    @property
    def labels(self) -> list[str]:
        return self.saved.labels

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n_texts, n_labels) probabilities, columns in `labels` order."""
        ids = self.saved.tokenizer.encode_batch(texts)
        return predict_proba_ids(self.saved.model, ids, self.device, self.batch_size, self.saved.max_length,
                                 self.saved.tokenizer.pad_id)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """The most probable label of each text, with its probability."""
        probabilities = self.predict_proba(texts)
        best = probabilities.argmax(axis=1) if len(texts) else np.empty(0, dtype=int)
        return [Prediction(text, self.labels[k], float(probabilities[i, k]),
                           dict(zip(self.labels, probabilities[i].tolist()))) for i, (text, k) in
                enumerate(zip(texts, best))]


@torch.inference_mode()
def predict_tag_ids(
    model: nn.Module,
    ids: Sequence[Sequence[int]],
    chars: Sequence[Sequence[Sequence[int]]] | None,
    casing: Sequence[Sequence[int]] | None,
    device: torch.device,
    batch_size: int = 128,
    pad_id: int = 0,
) -> list[list[int]]:
    """Best tag ids for each sentence (one per word), in input order."""
    was_training = model.training
    model.eval()
    results: list[list[int]] = [[] for _ in ids]
    lengths = [len(sentence) for sentence in ids]
    for indices in sorted_batches(lengths, batch_size):
        batch = collate_tagged(
            [ids[i] for i in indices], indices, None,
            None if chars is None else [chars[i] for i in indices],
            None if casing is None else [casing[i] for i in indices], pad_id,
        ).to(device)
        emissions = model(batch.ids, batch.lengths, batch.chars, batch.casing).float()
        for i, tags in zip(indices, model.decode(emissions, batch.mask)):
            results[i] = tags[: lengths[i]]  # an empty sentence was one padding step: no tags
    model.train(was_training)
    return results


@dataclass
class TagPrediction:
    """One sentence's tokens, their predicted tags and the entity spans (type, start, end exclusive)."""

    tokens: list[str]
    tags: list[str]
    entities: list[tuple[str, int, int]]
    joiner: str = " "  # how tokens join back into text: "" for character-level models

    def entity_text(self, start: int, end: int) -> str:
        """The text of tokens[start:end]."""
        return self.joiner.join(self.tokens[start:end])


class TagPredictor:
    """Loads a tagger's model directory and tags sentences (token lists, or raw text it splits itself)."""

    def __init__(self, saved: SavedModel, device: torch.device, batch_size: int = 128) -> None:
        self.saved = saved
        self.device = device
        self.batch_size = batch_size
        tagging = saved.config.get("tagging", {})
        self.data_scheme = tagging.get("data_scheme")
        self.model_scheme = tagging.get("model_scheme")
        self.input = tagging.get("input", "whitespace")

    @classmethod
    def load(cls, model_dir: str | Path, device: str = "auto", batch_size: int = 128) -> TagPredictor:
        """A predictor for the tagger saved in `model_dir`."""
        resolved = inference_device(model_dir, device)
        return cls(load_model_dir(model_dir, resolved), resolved, batch_size)

    def split(self, text: str) -> list[str]:
        """Raw text -> the tokens this model tags: whitespace-separated words, or characters for
        character-level models (Chinese NER), spaces dropped."""
        if self.input == "characters":
            return [c for c in text if not c.isspace()]
        return text.split()

    def predict_tags(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """One tag per token, in the scheme of the data the model was trained on."""
        from .data.tag_schemes import convert_sequences
        from .text.features import encode_words

        saved = self.saved
        ids, chars, casing = encode_words(saved.tokenizer, sentences, saved.char_vocab, saved.uses_casing)
        tag_ids = predict_tag_ids(saved.model, ids, chars, casing, self.device, self.batch_size,
                                  saved.tokenizer.pad_id)
        names = [[saved.labels[k] for k in sentence] for sentence in tag_ids]
        if self.data_scheme and self.model_scheme and self.data_scheme != self.model_scheme:
            names = convert_sequences(names, self.model_scheme, self.data_scheme)
        return names

    def predict(self, sentences: Sequence[Sequence[str] | str]) -> list[TagPrediction]:
        """Tags and entities of each sentence; a string is split by `split` first."""
        from .data.tag_schemes import spans

        tokens = [self.split(s) if isinstance(s, str) else list(s) for s in sentences]
        tags = self.predict_tags(tokens)
        joiner = "" if self.input == "characters" else " "
        return [TagPrediction(t, g, spans(g, self.data_scheme) if self.data_scheme else [], joiner)
                for t, g in zip(tokens, tags)]


def prediction_row(prediction: Prediction | TagPrediction, top_k: int = 1, threshold: float = 0.0) -> dict[str, Any]:
    """A prediction as a JSON-ready dict (a line of `nlp-lstm predict --output`, an item of the server's /predict);
    a classifier's label is None (abstained) below `threshold`, and `top_k` lists its most probable labels."""
    if isinstance(prediction, Prediction):
        label = prediction.label if prediction.probability >= threshold else None
        return {"text": prediction.text, "label": label, "probability": round(prediction.probability, 6),
                "top_k": [[name, round(p, 6)] for name, p in prediction.top(top_k)],
                "probabilities": {name: round(p, 6) for name, p in prediction.probabilities.items()}}
    entities = [{"type": kind, "start": start, "end": end, "text": prediction.entity_text(start, end)}
                for kind, start, end in prediction.entities]
    return {"tokens": prediction.tokens, "tags": prediction.tags, "entities": entities}
