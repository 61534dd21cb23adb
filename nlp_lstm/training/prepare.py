"""Config + data -> tokenizer, vocabulary, encoded splits, model and task: the one preparation path that
`nlp-lstm train`, `--seeds`, `--resume`, torchrun and the estimators all take."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import Config, TrainingConfig
from ..data.conll import TaggedDataset
from ..data.encode_cache import CACHE_MIN_TEXTS, cached_encode, cached_tokenizer, texts_digest
from ..data.ragged import row_lengths
from ..data.sources import TextDataset, load_splits
from ..data.tag_schemes import convert_sequences, detect_scheme
from ..data.tagged import load_tagged_splits
from ..errors import ConfigError, DataError
from ..evaluation.data_stats import split_statistics, tag_statistics
from ..evaluation.metrics import format_metrics, format_tagging_metrics, is_entity_tagset
from ..io import atomic_write_text
from ..model_dir import SavedModel
from ..models.build import ModelSizes, build_model
from ..models.crf import scheme_constraints
from ..models.pretrained import init_pretrained, pretrained_vocabulary
from ..text.features import build_char_vocab, encode_words
from ..text.tokenizers import TextTokenizer
from .class_weights import class_weights
from .tasks import ClassificationTask, EncodedSplit, EncodedTagged, TaggingTask
from .unk_replacement import UnkReplacement, unk_replacement


@dataclass
class Prepared:
    """A task's data, model and scoring, ready for the shared training loop."""

    model: torch.nn.Module
    task: ClassificationTask | TaggingTask
    encoded: dict[str, Any]
    saved: SavedModel
    sizes: dict[str, int]
    summary: str
    write_predictions: Callable[[Path, str, Any], None]
    format: Callable[[dict[str, Any], str], str]
    training: TrainingConfig  # config.training with the early-stopping metric resolved
    data_notes: dict[str, Any] = field(default_factory=dict)  # merged into metrics.json's "data"


def prepare(config: Config, splits: dict[str, Any] | None = None, labels: Sequence[str] | None = None,
            cache_vectors: bool = False) -> Prepared:
    """Everything a run needs from `config`: its splits are read from config.data unless given ("train", "dev",
    optional "test"; TextDatasets for classification, TaggedDatasets for tagging); `labels` fixes a classifier's
    label order (default: sorted); word vectors stay loaded for the next call only with `cache_vectors`.
    Seeds torch with training.seed first, so the same config gives the same model."""
    if config.training.metric == "neg_mse":
        raise ConfigError("training.metric = 'neg_mse' scores SequenceRegressor's numeric predictions; a classifier "
                          "or tagger uses accuracy, macro_f1 or f1")
    if config.task == "classification" and config.training.metric == "f1":
        raise ConfigError("training.metric = 'f1' is the entity F1 of taggers; a classifier uses accuracy or "
                          "macro_f1")
    torch.manual_seed(config.training.seed)
    if config.task == "tagging":
        prepared = _prepare_tagging(config, splits or load_tagged_splits(config.data), cache_vectors)
    else:
        prepared = _prepare_classification(config, splits or load_splits(config.data), labels, cache_vectors)
    prepared.saved.config["run_config"] = config.to_dict()  # what the estimators' `load` restores
    return prepared


def _resolved_training(config: Config, entity: bool = False) -> TrainingConfig:
    """training with metric = "auto" made concrete: f1 for entity tags, else accuracy."""
    if config.training.metric != "auto":
        return config.training
    return dataclasses.replace(config.training, metric="f1" if entity else "accuracy")


def _prepare_classification(config: Config, splits: dict[str, TextDataset], labels: Sequence[str] | None,
                            cache_vectors: bool) -> Prepared:
    train_set = splits["train"]
    labels = list(labels) if labels is not None else sorted(set(train_set.labels))
    if len(labels) < 2:
        raise DataError(f"{train_set.source}: the training data has a single label {labels[0]!r}; "
                        f"a classifier needs at least 2")
    label_to_id = {label: k for k, label in enumerate(labels)}
    label_ids = {split: _label_ids(data, label_to_id, split) for split, data in splits.items()}
    tok = config.tokenizer
    # large training data is tokenized once: later runs on the same texts load the tokenizer and ids
    digest = texts_digest(train_set.texts) if len(train_set) >= CACHE_MIN_TEXTS else None
    tokenizer = cached_tokenizer(train_set.texts, dataclasses.asdict(tok), lambda: TextTokenizer.train(
        train_set.texts, tok.kind, tok.lowercase, tok.vocab_size, tok.min_freq, tok.split_cjk), TextTokenizer.load,
        digest)
    tokenizer, vectors, added = pretrained_vocabulary(tokenizer, config.model, cache=cache_vectors)
    encoded = {split: EncodedSplit(cached_encode(tokenizer, data.texts, digest if split == "train" else None,
                                                 config.data.num_proc), label_ids[split])
               for split, data in splits.items()}
    m = config.model
    model = build_model("classification", m, ModelSizes(len(tokenizer), len(labels), tokenizer.pad_id))
    saved = SavedModel(model, tokenizer, labels, config.data.max_length,
                       {"data": {"text_column": config.data.text_column, "label_column": config.data.label_column},
                        "tokenizer": {"kind": tok.kind, "lowercase": tok.lowercase}}, m)

    def write(path: Path, split: str, probabilities: Any) -> None:
        write_predictions(path, splits[split].texts, splits[split].labels, labels, probabilities)

    stats = {split: split_statistics(data.labels, encoded[split].ids, tokenizer.unk_id)
             for split, data in splits.items()}
    weights = class_weights(config.training.class_weights, labels, train_set.labels)
    replacement = unk_replacement(tokenizer, encoded["train"].ids, config.training.unk_replace,
                                  config.training.seed)
    task = ClassificationTask(labels, tokenizer.pad_id, config.data.max_length, weights, replacement)
    notes = {"stats": stats, **({"class_weights": dict(zip(labels, weights))} if weights else {}),
             **_unk_note(replacement),
             "truncated": truncation_note({split: encoded[split].ids for split in splits}, config.data.max_length)}
    if vectors is not None:
        notes["pretrained"] = init_pretrained(model.embedding, tokenizer, vectors, m, encoded["train"].ids,
                                              config.training.seed, added)
    return Prepared(model, task, encoded, saved, {split: len(data) for split, data in splits.items()},
                     f"labels: {', '.join(labels)}", write, format_metrics, _resolved_training(config), notes)


def _prepare_tagging(config: Config, splits: dict[str, TaggedDataset], cache_vectors: bool) -> Prepared:
    """Tag set, tokenizer, features and model for tagged splits ("train", "dev", optional "test")."""
    data_columns = {"token_column": config.data.token_column, "tag_column": config.data.tag_column,
                    "tag_field": config.data.tag_field}
    train_set = splits["train"]
    train_tags = sorted({tag for tags in train_set.tags for tag in tags})
    entity = is_entity_tagset(train_tags)
    if config.training.metric == "f1" and not entity:
        raise ConfigError(f"training.metric = 'f1' scores entities, but {train_set.source} has no B-/I- entity "
                          f"tags (tags: {', '.join(train_tags[:10])}...); use accuracy or macro_f1")
    data_scheme = detect_scheme(train_set.tags) if entity else None
    model_scheme = config.model.tag_scheme if entity else None
    model_tags = {name: convert_sequences(data.tags, data_scheme, model_scheme) if entity else data.tags
                  for name, data in splits.items()}
    if entity:  # every prefix of every type seen, so a dev entity of a new length is still predictable
        types = sorted({tag.split("-", 1)[1] for tag in train_tags if tag != "O"})
        prefixes = "BIES" if model_scheme == "bioes" else "BI"
        tag_names = sorted(["O", *(f"{prefix}-{kind}" for kind in types for prefix in prefixes)])
    else:
        tag_names = train_tags
    unseen = {name: _unseen_tags(splits[name].tags, train_tags, entity) for name in ("dev", "test") if name in splits}
    for name, tags in unseen.items():
        if tags:
            print(f"note: {splits[name].source}: {name} tags never seen in training: {', '.join(tags)}; "
                  f"the model cannot predict them, so they count as errors")
    tag_to_id = {tag: k for k, tag in enumerate(tag_names)}
    tok, m = config.tokenizer, config.model
    tokenizer = TextTokenizer.train_words(train_set.sentences, tok.lowercase, tok.digits_to_zero, tok.vocab_size,
                                          tok.min_freq)
    tokenizer, vectors, added = pretrained_vocabulary(tokenizer, m, cache_vectors)
    char_vocab = build_char_vocab(train_set.sentences) if m.char_embedding_dim else None
    encoded = {}
    for name, data in splits.items():
        ids, chars, casing = encode_words(tokenizer, data.sentences, char_vocab, m.casing_embedding_dim > 0)
        tag_ids = [[tag_to_id.get(tag, 0) for tag in tags] for tags in model_tags[name]]  # dev/test: unused
        encoded[name] = EncodedTagged(ids, tag_ids, data.tags, chars, casing)
    constraints = scheme_constraints(tag_names, model_scheme.upper()) if (m.crf and entity) else None
    sizes = ModelSizes(len(tokenizer), len(tag_names), tokenizer.pad_id, len(char_vocab) if char_vocab else 0)
    model = build_model("tagging", m, sizes, constraints)
    single_characters = all(len(word) == 1 for sentence in train_set.sentences[:2000] for word in sentence)
    saved = SavedModel(model, tokenizer, tag_names, 0, {
        "data": data_columns,
        "tagging": {"data_scheme": data_scheme, "model_scheme": model_scheme,
                    "input": "characters" if single_characters else "whitespace"},
        "tokenizer": {"lowercase": tok.lowercase, "digits_to_zero": tok.digits_to_zero},
    }, m, char_vocab)

    def write(path: Path, split: str, predicted: Any) -> None:
        write_tag_predictions(path, splits[split].sentences, splits[split].tags, predicted)

    scheme = f"{data_scheme} data, {model_scheme} model" if entity else "no entity scheme"
    summary = f"{len(tag_names)} tags ({scheme}) | chars {len(char_vocab) if char_vocab else 'off'}"
    weights = class_weights(config.training.class_weights, tag_names, (t for tags in model_tags["train"] for t in tags))
    if weights and m.crf:
        raise ConfigError("training.class_weights weight the per-token loss, but a CRF scores whole sentences; "
                          "set model.crf = false to use them")
    replacement = unk_replacement(tokenizer, encoded["train"].ids, config.training.unk_replace,
                                  config.training.seed)
    notes = {"unseen_tags": unseen, "scheme": data_scheme,
             "stats": {name: tag_statistics(data.tags, data_scheme, encoded[name].ids, tokenizer.unk_id)
                       for name, data in splits.items()},
             **({"class_weights": dict(zip(tag_names, weights))} if weights else {}),
             **_unk_note(replacement)}
    if vectors is not None:
        notes["pretrained"] = init_pretrained(model.embedding, tokenizer, vectors, m, encoded["train"].ids,
                                              config.training.seed, added)
    task = TaggingTask(tag_names, data_scheme, model_scheme, tokenizer.pad_id, weights, replacement)
    return Prepared(model, task, encoded, saved, {split: len(data) for split, data in splits.items()}, summary,
                     write, format_tagging_metrics, _resolved_training(config, entity), notes)


def _label_ids(dataset: TextDataset, label_to_id: dict[str, int], split: str) -> np.ndarray:
    unknown = sorted(set(dataset.labels) - set(label_to_id))
    if unknown:
        raise DataError(f"{dataset.source}: {split} label {unknown[0]!r} never occurs in the training data "
                        f"(training labels: {', '.join(label_to_id)})")
    # 4 bytes a text instead of a list's 8-byte pointers: millions of texts keep these for the whole run
    return np.fromiter(map(label_to_id.__getitem__, dataset.labels), dtype=np.int32, count=len(dataset.labels))


def write_predictions(path: Path, texts: Sequence[str], gold: Sequence[str], labels: Sequence[str],
                       probabilities: Any) -> None:
    lines = []
    for text, gold_label, probs in zip(texts, gold, probabilities):
        k = int(probs.argmax())
        lines.append(json.dumps({"text": text, "gold": gold_label, "predicted": labels[k],
                                 "confidence": round(float(probs[k]), 6)}, ensure_ascii=False))
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def truncation_note(ids: dict[str, Sequence[Sequence[int]]], max_length: int | None) -> dict[str, Any]:
    """How many texts of each split are longer than `max_length` tokens (they keep their first `max_length`);
    printed as a note when there are any, and recorded in metrics.json."""
    if not max_length:
        return {}
    counts = {}
    for split, rows in ids.items():
        lengths = row_lengths(rows)
        counts[split] = int((lengths > max_length).sum())
    if any(counts.values()):
        found = ", ".join(f"{n:,} of {len(ids[split]):,} {split}" for split, n in counts.items() if n)
        print(f"note: {found} texts are longer than data.max_length = {max_length} tokens; they keep their first "
              f"{max_length}")
    return {"max_length": max_length, **counts}


def _unk_note(replacement: UnkReplacement | None) -> dict[str, Any]:
    """metrics.json's record of the <unk> replacement, when there is one."""
    if replacement is None:
        return {}
    return {"unk_replace": {"probability": replacement.probability, "rare_words": replacement.num_rare}}


def _unseen_tags(sequences: Sequence[Sequence[str]], train_tags: Sequence[str], entity: bool) -> list[str]:
    """Tags (as the data writes them) whose tag, or entity type, never occurs in training."""
    if entity:
        types = {tag.split("-", 1)[1] for tag in train_tags if tag != "O"}
        return sorted({tag for tags in sequences for tag in tags if tag != "O" and tag.split("-", 1)[1] not in types})
    known = set(train_tags)
    return sorted({tag for tags in sequences for tag in tags if tag not in known})


def write_tag_predictions(path: Path, sentences: Sequence[Sequence[str]], gold: Sequence[Sequence[str]],
                           predicted: Sequence[Sequence[str]]) -> None:
    lines = [json.dumps({"tokens": list(tokens), "gold": list(g), "predicted": list(p)}, ensure_ascii=False)
             for tokens, g, p in zip(sentences, gold, predicted)]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


