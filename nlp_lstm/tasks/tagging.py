"""Tagging: one tag per word. CRF or token cross-entropy loss; token accuracy, per-tag and entity metrics.

The model predicts tags in `model_scheme` (BIO or BIOES, or plain tags such as POS when `data_scheme` is
None); predictions are converted back to the data's scheme before scoring and writing.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import TAGGING_DEFAULTS, Config, DataConfig
from ..data.batching import Batch, collate_tagged
from ..data.conll import TaggedDataset, load_tagged
from ..data.tag_schemes import convert_sequences, detect_scheme
from ..data.tagged import carve_tagged_dev, load_tagged_splits
from ..errors import ConfigError
from ..evaluation.data_checks import check_tagged
from ..evaluation.data_stats import tag_statistics
from ..evaluation.metrics import format_tagging_metrics, is_entity_tagset, tagging_metrics
from ..evaluation.tagging_report import tagging_sections
from ..model_dir import SavedModel
from ..models.build import ModelSizes, build_model
from ..models.crf import scheme_constraints
from ..models.pretrained import choose_vectors, init_pretrained, pretrained_vocabulary
from ..predictor import TagPredictor, predict_tag_ids
from ..text.features import build_char_vocab, encode_words
from ..text.tokenizers import TextTokenizer
from ..training.class_weights import class_weights
from ..training.unk_replacement import UnkReplacement, unk_replacement
from .base import Prepared, Task, random_ids, replace_unk, resolved_training, unk_note, weights_on_device, write_jsonl


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


@dataclass
class TagSet:
    """The tags a tagger predicts and the schemes it reads and predicts them in."""

    names: list[str]  # in the model's scheme
    data_scheme: str | None  # bio / bioes / iob1 for entity tags; None for plain tags such as POS
    model_scheme: str | None


class TaggingTask(Task):
    """One tag per word: CRF or token cross-entropy loss; token accuracy, per-tag and entity metrics."""

    name = "tagging"
    export_outputs = {"emissions": {0: "batch", 1: "sequence"}, "tags": {0: "batch", 1: "sequence"}}

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
        return replace_unk(self, batch)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        """The tagger's loss on the batch."""
        emissions = model(batch.ids, batch.lengths, batch.chars, batch.casing).float()  # the CRF sums in fp32
        tagger = getattr(model, "module", model)  # DistributedDataParallel wraps the tagger; its loss is the tagger's
        return tagger.loss(emissions, batch.labels, batch.mask, weights_on_device(self, emissions.device))

    def decode(self, tag_ids: Sequence[Sequence[int]]) -> list[list[str]]:
        """Tag ids -> tag names in the data's scheme."""
        names = [[self.tag_names[k] for k in sentence] for sentence in tag_ids]
        if self.data_scheme and self.data_scheme != self.model_scheme:
            names = convert_sequences(names, self.model_scheme, self.data_scheme)
        return names

    def evaluate(self, model: nn.Module, split: EncodedTagged, device: torch.device
                 ) -> tuple[dict[str, Any], list[list[str]]]:
        """Metrics and predicted tags (in the data's scheme) on a split."""
        predicted = self.decode(predict_tag_ids(model, split.ids, split.chars, split.casing, device,
                                                pad_id=self.pad_id))
        return tagging_metrics(split.gold, predicted, self.data_scheme), predicted

    def write_predictions(self, path: Path, dataset: TaggedDataset, predicted: Sequence[Sequence[str]]) -> None:
        """{"tokens", "gold", "predicted"} per sentence, tags in the data's scheme."""
        write_jsonl(path, [{"tokens": list(tokens), "gold": list(gold), "predicted": list(tags)}
                           for tokens, gold, tags in zip(dataset.sentences, dataset.tags, predicted)])

    def baselines(self, train: TaggedDataset, dataset: TaggedDataset) -> dict[str, dict[str, Any]]:
        """Each word's most frequent training tag (unseen words: the most frequent tag of all; a tie: the first
        tag in sorted order)."""
        counts: dict[str, Counter] = defaultdict(Counter)
        pairs = Counter(itertools.chain.from_iterable(map(zip, train.sentences, train.tags)))  # (word, tag): count
        for (word, tag), count in pairs.items():
            counts[word][tag] = count
        most = lambda counter: min(counter, key=lambda tag: (-counter[tag], tag))  # noqa: E731
        best = {word: most(tags) for word, tags in counts.items()}
        overall = most(Counter(itertools.chain.from_iterable(train.tags)))
        predicted = [[best.get(word, overall) for word in words] for words in dataset.sentences]
        metrics = tagging_metrics(dataset.tags, predicted, self.data_scheme)
        return {"most_frequent_tag": {key: metrics[key] for key in ("accuracy", "macro_f1", "f1") if key in metrics}}

    @classmethod
    def read(cls, spec: str, columns: dict[str, Any], role: str = "train") -> TaggedDataset:
        """Tagged sentences from a data spec, with token_column, tag_column and tag_field given (or defaults)."""
        return load_tagged(spec, columns.get("token_column", 0), columns.get("tag_column", -1),
                           columns.get("tag_field", "upos"), role)

    @classmethod
    def read_splits(cls, data: DataConfig) -> dict[str, TaggedDataset]:
        """Train, dev and optional test sentences: from their specs, or held out of train by sentence."""
        return load_tagged_splits(data)

    @classmethod
    def carve_dev(cls, train: TaggedDataset, fraction: float, seed: int) -> dict[str, TaggedDataset]:
        """Dev held out of the training sentences."""
        return carve_tagged_dev(train, fraction, seed)

    @classmethod
    def prepare(cls, config: Config, splits: dict[str, TaggedDataset], labels: Sequence[str] | None,
                cache_vectors: bool) -> Prepared:
        """Tag set, tokenizer, character and casing features, model and task for a tagging run."""
        train_set, tok, m = splits["train"], config.tokenizer, config.model
        tag_set = _tag_set(train_set, config)
        unseen = _report_unseen(splits, train_set, tag_set)
        tokenizer = TextTokenizer.train_words(train_set.sentences, tok.lowercase, tok.digits_to_zero,
                                              tok.vocab_size, tok.min_freq)
        m, choice, chosen = choose_vectors(tokenizer, m, True, cache_vectors,
                                           default_dim=TAGGING_DEFAULTS["model"]["embedding_dim"])
        tokenizer, vectors, added = pretrained_vocabulary(tokenizer, m, cache_vectors, chosen)
        char_vocab = build_char_vocab(train_set.sentences) if m.char_embedding_dim else None
        model_tags = {name: convert_sequences(data.tags, tag_set.data_scheme, tag_set.model_scheme)
                      if tag_set.data_scheme else data.tags for name, data in splits.items()}
        tag_to_id = {tag: k for k, tag in enumerate(tag_set.names)}
        encoded = {}
        for name, data in splits.items():
            ids, chars, casing = encode_words(tokenizer, data.sentences, char_vocab, m.casing_embedding_dim > 0)
            tag_ids = [[tag_to_id.get(tag, 0) for tag in tags] for tags in model_tags[name]]  # dev/test: unused
            encoded[name] = EncodedTagged(ids, tag_ids, data.tags, chars, casing)
        constraints = (scheme_constraints(tag_set.names, tag_set.model_scheme.upper())
                       if m.crf and tag_set.data_scheme else None)
        sizes = ModelSizes(len(tokenizer), len(tag_set.names), tokenizer.pad_id, len(char_vocab) if char_vocab else 0)
        model = build_model(cls.name, m, sizes, constraints)
        saved = SavedModel(model, tokenizer, tag_set.names, 0, _saved_config(config, train_set, tag_set), m,
                           char_vocab)
        weights = class_weights(config.training.class_weights, tag_set.names,
                                (t for tags in model_tags["train"] for t in tags))
        if weights and m.crf:
            raise ConfigError("training.class_weights weight the per-token loss, but a CRF scores whole sentences; "
                              "set model.crf = false to use them")
        replacement = unk_replacement(tokenizer, encoded["train"].ids, config.training.unk_replace,
                                      config.training.seed)
        notes = {"unseen_tags": unseen, "scheme": tag_set.data_scheme,
                 "stats": {name: tag_statistics(data.tags, tag_set.data_scheme, encoded[name].ids, tokenizer.unk_id)
                           for name, data in splits.items()},
                 **({"class_weights": dict(zip(tag_set.names, weights))} if weights else {}), **unk_note(replacement),
                 **({"vectors_choice": choice} if choice else {})}
        if vectors is not None:
            notes["pretrained"] = init_pretrained(model.embedding, tokenizer, vectors, m, encoded["train"].ids,
                                                  config.training.seed, added)
        task = cls(tag_set.names, tag_set.data_scheme, tag_set.model_scheme, tokenizer.pad_id, weights, replacement)
        scheme = (f"{tag_set.data_scheme} data, {tag_set.model_scheme} model" if tag_set.data_scheme
                  else "no entity scheme")
        summary = f"{len(tag_set.names)} tags ({scheme}) | chars {len(char_vocab) if char_vocab else 'off'}"
        return Prepared(model, task, encoded, splits, saved, summary,
                        resolved_training(config, tag_set.data_scheme is not None), notes)

    @classmethod
    def check_data(cls, splits: dict[str, TaggedDataset], config: Config, max_rows: int | None = None
                   ) -> dict[str, Any]:
        """Duplicates, leaks, entity-tag transitions, ambiguous words, length outliers, unseen tags, unknown words."""
        return check_tagged(splits, max_rows=max_rows)

    @classmethod
    def format_metrics(cls, metrics: dict[str, Any], split: str) -> str:
        """Token accuracy, and entity or per-tag F1."""
        return format_tagging_metrics(metrics, split)

    @classmethod
    def score_saved(cls, saved: SavedModel, device: torch.device, dataset: TaggedDataset
                    ) -> tuple[dict[str, Any], TaggingTask, list[list[str]]]:
        """Metrics of a saved tagger on tagged sentences, in that data's own tag scheme."""
        predictor = TagPredictor(saved, device)
        scheme = detect_scheme(dataset.tags) if predictor.data_scheme else None
        predicted = predictor.predict_tags(dataset.sentences)
        if scheme and scheme != predictor.data_scheme:
            predicted = convert_sequences(predicted, predictor.data_scheme, scheme)
        metrics = tagging_metrics(dataset.tags, predicted, scheme)
        metrics["scheme"] = scheme
        metrics["stats"] = tag_statistics(dataset.tags, scheme, saved.tokenizer.encode_words_batch(dataset.sentences),
                                          saved.tokenizer.unk_id)
        return metrics, cls(saved.labels, scheme, predictor.model_scheme, saved.tokenizer.pad_id), predicted

    @classmethod
    def predictor(cls, saved: SavedModel, device: torch.device) -> TagPredictor:
        """Tags sentences (token lists, or raw text it splits itself) and finds their entities."""
        return TagPredictor(saved, device)

    @classmethod
    def predicted_units(cls, model_dir: str | Path, dataset: TaggedDataset) -> tuple[list[str], list[str], str]:
        """Gold and predicted tag of each token."""
        predicted = TagPredictor.load(model_dir, "cpu").predict_tags(dataset.sentences)
        return ([tag for tags in dataset.tags for tag in tags], [tag for tags in predicted for tag in tags],
                "tokens")

    @classmethod
    def report_sections(cls, run: Any, font: str | None) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        """The tagger's report sections."""
        return tagging_sections(run, font)

    @classmethod
    def export_graph(cls, model: nn.Module) -> nn.Module:
        """The tagger's forward with exactly the inputs it uses (an ONNX graph takes no None inputs), and its
        decoding: -> emissions, tags."""
        return _TaggerGraph(model)

    @classmethod
    def export_inputs(cls, model: nn.Module, lengths: list[int], seed: int) -> dict[str, torch.Tensor]:
        """Random ids, lengths, and character and casing ids when the tagger reads them."""
        generator = torch.Generator().manual_seed(seed)
        ids, real = random_ids(model, lengths, generator)
        inputs = {"ids": ids, "lengths": torch.tensor(lengths, dtype=torch.long)}
        if model.char_cnn is not None:
            chars = torch.randint(1, max(model.char_cnn.embedding.num_embeddings, 2), (*ids.shape, 7),
                                  generator=generator)
            chars[:, :, 4:] = 0  # words of 4 characters, padded to 7
            inputs["chars"] = chars.masked_fill(~real[:, :, None], 0)
        if model.casing is not None:
            casing = torch.randint(1, model.casing.num_embeddings, ids.shape, generator=generator)
            inputs["casing"] = casing.masked_fill(~real, 0)
        return inputs


class _TaggerGraph(nn.Module):
    """The tagger's forward with exactly the inputs it uses, since the ONNX graph takes no None inputs, then its
    decoding in the graph, so that onnxruntime alone gives tags: (batch, seq_len, num_tags) emission scores and
    (batch, seq_len) int64 tags, Viterbi with a CRF (CRF.paths: a padded step repeats its sentence's last tag),
    else each token's best tag."""

    def __init__(self, tagger: nn.Module) -> None:
        super().__init__()
        self.tagger = tagger

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, *features: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        chars = features[0] if self.tagger.char_cnn is not None else None
        casing = features[-1] if self.tagger.casing is not None else None
        emissions = self.tagger(ids, lengths, chars, casing)  # (batch, seq_len, num_tags)
        if self.tagger.crf is None:
            return emissions, emissions.argmax(dim=-1)
        mask = torch.arange(emissions.size(1), device=ids.device)[None, :] < lengths[:, None]  # (batch, seq_len)
        return emissions, self.tagger.crf.paths(emissions, mask)


def _tag_set(train_set: TaggedDataset, config: Config) -> TagSet:
    """The tags to predict: for entity tags every prefix of every type seen in training (so a dev entity of a new
    length is still predictable) in model.tag_scheme; otherwise the training tags as they are."""
    train_tags = sorted({tag for tags in train_set.tags for tag in tags})
    if not is_entity_tagset(train_tags):
        if config.training.metric == "f1":
            raise ConfigError(f"training.metric = 'f1' scores entities, but {train_set.source} has no B-/I- entity "
                              f"tags (tags: {', '.join(train_tags[:10])}...); use accuracy or macro_f1")
        return TagSet(train_tags, None, None)
    model_scheme = config.model.tag_scheme
    types = sorted({tag.split("-", 1)[1] for tag in train_tags if tag != "O"})
    prefixes = "BIES" if model_scheme == "bioes" else "BI"
    names = sorted(["O", *(f"{prefix}-{kind}" for kind in types for prefix in prefixes)])
    return TagSet(names, detect_scheme(train_set.tags), model_scheme)


def _report_unseen(splits: dict[str, TaggedDataset], train_set: TaggedDataset, tag_set: TagSet
                   ) -> dict[str, list[str]]:
    """Per dev/test split, the tags (or entity types) that training never shows; printed as a note."""
    train_tags = {tag for tags in train_set.tags for tag in tags}
    types = {tag.split("-", 1)[1] for tag in train_tags if tag != "O"} if tag_set.data_scheme else set()
    unseen = {}
    for name in ("dev", "test"):
        if name not in splits:
            continue
        tags = {tag for sentence in splits[name].tags for tag in sentence}
        if tag_set.data_scheme:
            unseen[name] = sorted(tag for tag in tags if tag != "O" and tag.split("-", 1)[1] not in types)
        else:
            unseen[name] = sorted(tags - train_tags)
        if unseen[name]:
            print(f"note: {splits[name].source}: {name} tags never seen in training: {', '.join(unseen[name])}; "
                  f"the model cannot predict them, so they count as errors")
    return unseen


def _saved_config(config: Config, train_set: TaggedDataset, tag_set: TagSet) -> dict[str, Any]:
    """What a tagger's model directory records beside its spec: columns, schemes, how raw text is split."""
    single_characters = all(len(word) == 1 for sentence in train_set.sentences[:2000] for word in sentence)
    return {
        "data": {"token_column": config.data.token_column, "tag_column": config.data.tag_column,
                 "tag_field": config.data.tag_field},
        "tagging": {"data_scheme": tag_set.data_scheme, "model_scheme": tag_set.model_scheme,
                    "input": "characters" if single_characters else "whitespace"},
        "tokenizer": {"lowercase": config.tokenizer.lowercase, "digits_to_zero": config.tokenizer.digits_to_zero},
    }
