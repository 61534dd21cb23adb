"""Model -> predictions: batched, length-sorted inference with results in input order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .attributions import (
    DEFAULT_STEPS,
    Explanation,
    check_steps,
    choose_method,
    class_score,
    integrated_gradients,
    occlusion,
    tag_score,
)
from .data.batching import Batch, collate, collate_numeric, collate_tagged, sorted_batches
from .errors import ConfigError, DataError
from .model_dir import SavedModel, inference_device, load_model_dir
from .models.ensemble import ClassifierEnsemble
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

    def explain(self, texts: Sequence[str], label: str | None = None, method: str | None = None,
                steps: int = DEFAULT_STEPS) -> list[Explanation]:
        """A score per token of each text for `label` (default: the text's predicted label): Integrated Gradients
        on its logit (`method="ig"`, the default where the model has gradients) or the drop in its probability
        when the token becomes `<unk>` (`"occlusion"`, the default for int8 and ONNX models); `steps` IG steps."""
        saved = self.saved
        method, steps = choose_method(saved.model, method), check_steps(steps)
        if label is not None and label not in self.labels:
            raise ConfigError(f"label {label!r} is not one of this model's labels: {', '.join(self.labels)}")
        texts = list(texts)
        encoded = [saved.tokenizer.encode_with_offsets(text) for text in texts]
        ids = [row[: saved.max_length or None] for row, _ in encoded]
        for number, row in enumerate(ids, start=1):
            if not row:
                raise DataError(f"text {number} has no tokens to explain (it is empty, or only characters the "
                                f"tokenizer drops)")
        probabilities = predict_proba_ids(saved.model, ids, self.device, self.batch_size, None, saved.tokenizer.pad_id)
        targets = [self.labels.index(label)] * len(ids) if label is not None else probabilities.argmax(1).tolist()
        if method == "ig":
            results = [integrated_gradients(class_score, saved.model, torch.tensor([row], device=self.device),
                                            (torch.tensor([len(row)], device=self.device), k),
                                            saved.tokenizer.pad_id, steps) for row, k in zip(ids, targets)]
            target = "log mean probability" if isinstance(saved.model, ClassifierEnsemble) else "logit"
        else:
            def score(variants: list[list[int]], rows: list[int]) -> np.ndarray:
                p = predict_proba_ids(saved.model, variants, self.device, self.batch_size, None,
                                      saved.tokenizer.pad_id)
                return p[np.arange(len(variants)), [targets[r] for r in rows]]

            results = [(scores, None, None) for scores in occlusion(score, ids, saved.tokenizer.unk_id)]
            target = "probability"
        explanations = []
        for i, (text, (_, offsets), (scores, delta, used)) in enumerate(zip(texts, encoded, results)):
            spans = offsets[: len(ids[i])]
            tokens = [text[start:end] or saved.tokenizer.tokenizer.id_to_token(token)
                      for (start, end), token in zip(spans, ids[i])]
            best = int(probabilities[i].argmax())
            explanations.append(Explanation(
                text, tokens, [float(v) for v in scores], label=self.labels[targets[i]], predicted=self.labels[best],
                probability=float(probabilities[i, targets[i]]), method=method, target=target, delta=delta, steps=used,
                spans=spans))
        return explanations


def _tagged_emissions(
    model: nn.Module,
    ids: Sequence[Sequence[int]],
    chars: Sequence[Sequence[Sequence[int]]] | None,
    casing: Sequence[Sequence[int]] | None,
    device: torch.device,
    batch_size: int,
    pad_id: int,
) -> Iterator[tuple[list[int], Batch, torch.Tensor]]:
    """Length-sorted batches of sentences in eval mode: each batch's indices, the padded batch and its float
    emission scores."""
    was_training = model.training
    model.eval()
    try:
        for indices in sorted_batches([len(sentence) for sentence in ids], batch_size):
            batch = collate_tagged(
                [ids[i] for i in indices], indices, None,
                None if chars is None else [chars[i] for i in indices],
                None if casing is None else [casing[i] for i in indices], pad_id,
            ).to(device)
            yield indices, batch, model(batch.ids, batch.lengths, batch.chars, batch.casing).float()
    finally:
        model.train(was_training)


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
    results: list[list[int]] = [[] for _ in ids]
    for indices, batch, emissions in _tagged_emissions(model, ids, chars, casing, device, batch_size, pad_id):
        for i, tags in zip(indices, model.decode(emissions, batch.mask)):
            results[i] = tags[: len(ids[i])]  # an empty sentence was one padding step: no tags
    return results


@torch.inference_mode()
def predict_emissions(
    model: nn.Module,
    ids: Sequence[Sequence[int]],
    chars: Sequence[Sequence[Sequence[int]]] | None,
    casing: Sequence[Sequence[int]] | None,
    device: torch.device,
    batch_size: int = 128,
    pad_id: int = 0,
) -> list[np.ndarray]:
    """Each sentence's (n_tokens, num_tags) emission scores (before any CRF), in input order."""
    results: list[np.ndarray] = [np.empty((0, 0), dtype=np.float32) for _ in ids]
    for indices, _, emissions in _tagged_emissions(model, ids, chars, casing, device, batch_size, pad_id):
        scores = emissions.cpu().numpy()
        for row, i in enumerate(indices):
            results[i] = scores[row, : len(ids[i])]
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
        from .text.features import encode_words

        saved = self.saved
        ids, chars, casing = encode_words(saved.tokenizer, sentences, saved.char_vocab, saved.uses_casing)
        tag_ids = predict_tag_ids(saved.model, ids, chars, casing, self.device, self.batch_size,
                                  saved.tokenizer.pad_id)
        return self._data_tags(tag_ids)

    def _data_tags(self, tag_ids: list[list[int]]) -> list[list[str]]:
        """Tag names of the model's tag ids, in the scheme of the data the model was trained on."""
        from .data.tag_schemes import convert_sequences

        names = [[self.saved.labels[k] for k in sentence] for sentence in tag_ids]
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

    def explain(self, sentences: Sequence[Sequence[str] | str], token: int | None = None, entity: int | None = None,
                label: str | None = None, method: str | None = None, steps: int = DEFAULT_STEPS
                ) -> list[Explanation]:
        """A score per token of each sentence for the tag of token `token` (`label`, a tag of the model's, or its
        predicted tag), or for predicted entity number `entity` (the sum of its tokens' predicted tags); by default
        the first predicted entity, else the first token. The target is the emission score, before any CRF; only the
        word embeddings are attributed (character and casing features held fixed). `method` and `steps` as
        `Predictor.explain`; occlusion measures the drop in the same emission score."""
        from .text.features import encode_words

        saved = self.saved
        method, steps = choose_method(saved.model, method), check_steps(steps)
        if token is not None and entity is not None:
            raise ConfigError("give a token or an entity to explain, not both")
        if label is not None and token is None:
            raise ConfigError("a label is the tag to explain at one token: give the token too (an entity is "
                              "explained for the tags predicted for it)")
        if label is not None and label not in saved.labels:
            raise ConfigError(f"tag {label!r} is not one of this model's tags: {', '.join(saved.labels)}")
        tokens = [self.split(s) if isinstance(s, str) else list(s) for s in sentences]
        for number, sentence in enumerate(tokens, start=1):
            if not sentence:
                raise DataError(f"sentence {number} has no tokens to explain (it is empty)")
        ids, chars, casing = encode_words(saved.tokenizer, tokens, saved.char_vocab, saved.uses_casing)
        tag_ids = predict_tag_ids(saved.model, ids, chars, casing, self.device, self.batch_size,
                                  saved.tokenizer.pad_id)
        names = self._data_tags(tag_ids)
        focus = [self._focus(n, sentence, tags, token, entity) for n, (sentence, tags) in
                 enumerate(zip(tokens, names), start=1)]
        if label is not None:
            focus = [(start, end, label) for start, end, _ in focus]
        explained = [tuple(range(start, end)) for start, end, _ in focus]
        chosen = [tuple(saved.labels.index(label) if label is not None else tag_ids[i][p] for p in positions)
                  for i, positions in enumerate(explained)]
        if method == "ig":
            results = []
            for i in range(len(ids)):
                batch = collate_tagged([ids[i]], [0], None, None if chars is None else [chars[i]],
                                       None if casing is None else [casing[i]], saved.tokenizer.pad_id).to(self.device)
                results.append(integrated_gradients(tag_score, saved.model, batch.ids, (
                    batch.lengths, batch.chars, batch.casing, explained[i], chosen[i]), saved.tokenizer.pad_id, steps))
        else:
            def score(variants: list[list[int]], rows: list[int]) -> np.ndarray:
                emissions = predict_emissions(
                    saved.model, variants, None if chars is None else [chars[r] for r in rows],
                    None if casing is None else [casing[r] for r in rows], self.device, self.batch_size,
                    saved.tokenizer.pad_id)
                return np.array([e[list(explained[r]), list(chosen[r])].sum() for e, r in zip(emissions, rows)])

            results = [(scores, None, None) for scores in occlusion(score, ids, saved.tokenizer.unk_id)]
        joiner = "" if self.input == "characters" else " "
        return [Explanation(joiner.join(sentence), sentence, [float(v) for v in scores], label=shown,
                            predicted=" ".join(tags[start:end]), probability=None, method=method,
                            target="emission score", delta=delta, steps=used, focus=(start, end), joiner=joiner)
                for sentence, tags, (start, end, shown), (scores, delta, used) in zip(tokens, names, focus, results)]

    def _focus(self, number: int, sentence: list[str], tags: list[str], token: int | None, entity: int | None
               ) -> tuple[int, int, str]:
        """The tokens [start, end) of sentence `number` to explain and the name shown for them: token `token`'s tag,
        entity `entity`'s type, or by default the first entity's, else the first token's tag."""
        from .data.tag_schemes import spans

        entities = spans(tags, self.data_scheme) if self.data_scheme else []
        if token is not None:
            if not -len(sentence) <= token < len(sentence):
                raise ConfigError(f"token {token} is out of range: sentence {number} has {len(sentence)} tokens "
                                  f"(0 to {len(sentence) - 1})")
            token %= len(sentence)
            return token, token + 1, tags[token]
        if entity is not None:
            if not entities:
                raise ConfigError(f"entity {entity}: sentence {number} has no predicted entity; explain a token's "
                                  f"tag instead")
            if not -len(entities) <= entity < len(entities):
                raise ConfigError(f"entity {entity} is out of range: sentence {number} has {len(entities)} predicted "
                                  f"entities (0 to {len(entities) - 1})")
        elif not entities:
            return 0, 1, tags[0]
        kind, start, end = entities[entity or 0]
        return start, end, kind


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
