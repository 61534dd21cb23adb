"""Training throughput of nlp-lstm's trainer vs a plain PyTorch loop, side by side, and as a share of the
machine's GEMM limit.

Both train the same model on the same tokenized data (`--rounds` epochs each, the plain loop first in a
process of its own, the best epoch counts):
  plain PyTorch: random batches padded to their longest sequence (and, with characters, longest word),
                 nn.LSTM(bidirectional=True) over the whole padded batch, PyTorch's defaults (initialisation,
                 non-fused AdamW, glibc's malloc settings; one more epoch with nlp-lstm's is printed on the
                 last line), the same learning rate, weight decay and gradient clipping as nlp-lstm;
  nlp-lstm:      length-bucketed batches and the Trainer: the exact padded BiLSTM encoder, fused AdamW,
                 training.keep_freed_memory = true as in the zh-reviews recipe.
The models (`--model` picks the tagger):
  classification: embedding, BiLSTM, max-pooled (nlp-lstm) or final states (plain), dropout-free plain side;
  tagging, recipe (the default): recipes/tagging/conll2003_ner.toml's BiLSTM-CNN-CRF, built by nlp-lstm's
                 own preparation (tokenizer, character and casing features, BIOES tags, the CRF's BIOES
                 constraints) with the recipe's sizes, dropout, batch, learning rate, weight decay and clipping;
                 the plain side is PlainBiLSTMCNNCRF on the same encoded ids, characters, casing and tags: a
                 character CNN over every padded word position, dropout 0.5, the same CRF class and
                 constraints; the first `--examples` sentences of the recipe's training file, its dev file
                 held out;
  tagging, small: embedding, BiLSTM, linear, no CRF and no character features (the numbers measured before
                 --model existed; plain side dropout-free), `--embedding-dim` / `--hidden-size` sizes.
Throughput counts real tokens only (padding excluded). The GEMM limit is float32 matmul GFLOP/s measured
here (square 512 and 1024 products, the same threads, the best reading before or after training). The
LSTM's work per real token in training is 3 x 8 * hidden * (input + hidden) FLOPs per direction and layer:
4 gates of hidden outputs, each weight a multiply and an add (2 FLOPs), forward plus twice that backward;
input and hidden are the measured model's (the recipe tagger: 100 + 50 + 8 = 158 and 200). Only the LSTM's
work is counted: the character CNN, output layer and CRF of the recipe tagger are extra work on both sides.

    python scripts/bench_training.py                          # classifier, zh-reviews (8,000 reviews)
    python scripts/bench_training.py --data tsv:../shared/data/sst2/train.tsv --text-column sentence \\
        --examples 20000                                      # classifier, SST-2 phrases
    python scripts/bench_training.py --task tagging           # the CoNLL-2003 recipe's tagger, eng.train
    python scripts/bench_training.py --task tagging --model small  # the small tagger, CoNLL-2003 eng.train
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nlp_lstm.config import Config, DataConfig, ModelConfig, TrainingConfig, load_config
from nlp_lstm.data.batching import BucketBatchSampler, collate, collate_tagged
from nlp_lstm.data.conll import load_tagged
from nlp_lstm.data.sources import load_splits
from nlp_lstm.models.classifier import BiLSTMClassifier
from nlp_lstm.models.crf import CRF
from nlp_lstm.models.tagger import BiLSTMTagger
from nlp_lstm.predictor import predict_proba_ids, predict_tag_ids
from nlp_lstm.tasks import get_task, prepare
from nlp_lstm.tasks.classification import ClassificationTask, EncodedSplit
from nlp_lstm.tasks.tagging import EncodedTagged, TaggingTask
from nlp_lstm.text.tokenizers import TextTokenizer
from nlp_lstm.training.memory import keep_freed_memory
from nlp_lstm.training.trainer import Trainer, TrainResult

ROOT = Path(__file__).resolve().parents[1]
CONLL = ROOT.parent / "shared" / "data" / "conll2003"
RECIPE = ROOT / "recipes" / "tagging" / "conll2003_ner.toml"
FILE_KINDS = ("conll", "conllu", "wordtag")  # tagged data specs that name a file (relative: to the repository root)

Inputs = tuple[torch.Tensor, ...]
MakeBatch = Callable[[list[int]], tuple[Inputs, Any, int]]
Loss = Callable[[nn.Module, Inputs, Any], torch.Tensor]


class PlainLSTMClassifier(nn.Module):
    """What a first PyTorch text classifier looks like: no packing, default init, final states."""

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(self.embedding(ids))  # h_n: (2, batch, hidden_size)
        return self.output(torch.cat([h_n[0], h_n[1]], dim=-1))


class PlainLSTMTagger(nn.Module):
    """What a first PyTorch tagger looks like: the BiLSTM over the padded batch, a score per token."""

    def __init__(self, vocab_size: int, num_tags: int, embedding_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * hidden_size, num_tags)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.output(self.lstm(self.embedding(ids))[0])


class PlainBiLSTMCNNCRF(nn.Module):
    """What a tutorial's BiLSTM-CNN-CRF looks like: word, character-CNN and casing features of every padded
    position, dropout, the BiLSTM over the padded batch (no packing), a score per token and a CRF."""

    def __init__(self, sizes: tuple[int, int, int, int], spec: ModelConfig, crf: CRF, padding_idx: int = 0) -> None:
        super().__init__()
        vocab_size, num_chars, num_casings, num_tags = sizes
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=padding_idx)
        self.char_embedding = nn.Embedding(num_chars, spec.char_embedding_dim, padding_idx=0)
        self.char_conv = nn.Conv1d(spec.char_embedding_dim, spec.char_filters, kernel_size=3, padding=1)
        self.casing = nn.Embedding(num_casings, spec.casing_embedding_dim, padding_idx=0)
        input_size = spec.embedding_dim + spec.char_filters + spec.casing_embedding_dim
        self.dropout = nn.Dropout(spec.dropout)
        self.lstm = nn.LSTM(input_size, spec.hidden_size, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * spec.hidden_size, num_tags)
        self.crf = crf

    def char_features(self, chars: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, word_len) character ids -> (batch, seq_len, filters): max over each word's characters."""
        batch, seq_len, word_len = chars.shape
        flat = chars.reshape(batch * seq_len, word_len)
        padding = (flat == 0)[:, None, :]
        features = self.char_conv(self.char_embedding(flat).transpose(1, 2))  # (words, filters, word_len)
        features = features.masked_fill(padding, float("-inf")).amax(dim=2)
        return features.masked_fill(padding.all(dim=2), 0.0).reshape(batch, seq_len, -1)  # padded words: zeros

    def forward(self, ids: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) ids, (batch, seq_len, word_len) chars, (batch, seq_len) casing -> emission scores."""
        features = torch.cat([self.embedding(ids), self.char_features(chars), self.casing(casing)], dim=-1)
        hidden, _ = self.lstm(self.dropout(features))
        return self.output(self.dropout(hidden))


def gemm_gflops(sizes: tuple[int, ...] = (512, 1024), seconds: float = 0.5, repeats: int = 3,
                dtype: torch.dtype = torch.float32) -> float:
    """Best float32 matmul GFLOP/s of square products of these sizes, over `repeats` windows of `seconds` each:
    the machine's GEMM limit. (On this shared 2-core VM single readings range from 140 to 195 GFLOP/s.)"""
    best = 0.0
    for size in sizes:
        a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
        for _ in range(3):
            a @ b
        for _ in range(repeats):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                a @ b
                count += 1
            best = max(best, 2 * size**3 * count / (time.perf_counter() - start) / 1e9)
    return best


def kernel_tokens_per_second(batch: int, length: int, input_size: int, hidden_size: int) -> float:
    """Real tokens/s of the two LSTM directions alone, forward and backward, on a full (batch, length) batch:
    the ceiling any trainer of this model size can reach here."""
    lstms = [nn.LSTM(input_size, hidden_size, batch_first=True) for _ in range(2)]
    x = torch.randn(batch, length, input_size, requires_grad=True)
    for _ in range(3):
        sum(lstm(x)[0].sum() for lstm in lstms).backward()
    start, steps = time.perf_counter(), 20
    for _ in range(steps):
        sum(lstm(x)[0].sum() for lstm in lstms).backward()
    return batch * length * steps / (time.perf_counter() - start)


def token_cross_entropy(model: nn.Module, inputs: Inputs, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of a plain classifier's texts or tagger's tokens (padded targets are -100)."""
    logits = model(*inputs)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=-100)


def crf_loss(model: nn.Module, inputs: Inputs, target: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Mean negative log-likelihood per sentence of the plain BiLSTM-CNN-CRF; target is (tags, mask)."""
    tags, mask = target
    return -model.crf(model(*inputs), tags, mask).mean()


def plain_optimizer(model: nn.Module, training: TrainingConfig) -> torch.optim.Optimizer:
    """PyTorch's default (non-fused) AdamW with the run's learning rate and weight decay."""
    return torch.optim.AdamW(model.parameters(), lr=training.learning_rate, weight_decay=training.weight_decay)


def plain_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[list[int]], make_batch: MakeBatch,
                loss_fn: Loss = token_cross_entropy, clip: float = 1.0) -> tuple[int, float]:
    """One epoch of the plain loop; returns real tokens and seconds."""
    model.train()
    tokens = 0
    start = time.perf_counter()
    for indices in batches:
        inputs, target, real = make_batch(indices)
        tokens += real
        loss = loss_fn(model, inputs, target)
        optimizer.zero_grad()
        loss.backward()
        if clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return tokens, time.perf_counter() - start


def random_batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    """The `n` examples in a seeded random order, cut into batches."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def training_config(args: argparse.Namespace, base: TrainingConfig | None = None) -> TrainingConfig:
    """nlp-lstm's training settings (`base`'s, else the defaults) for `args.rounds` epochs of this benchmark."""
    base = base or TrainingConfig()
    batch_size = base.batch_size if args.batch_size is None else args.batch_size
    return dataclasses.replace(base, epochs=args.rounds, batch_size=batch_size, seed=args.seed,
                               precision=args.precision, keep_freed_memory=True)


def classification_setup(args: argparse.Namespace) -> dict:
    """The classifiers, data and scoring of `--task classification`."""
    splits = load_splits(DataConfig(train=args.data, text_column=args.text_column, label_column=args.label_column,
                                    validation_fraction=0.1, max_length=args.max_length))
    train, dev = splits["train"], splits["dev"]
    texts, gold = train.texts[: args.examples], train.labels[: args.examples]
    tokenizer = TextTokenizer.train(texts, "word", True, 20000, 2)
    labels = sorted(set(train.labels))
    encode = lambda t, y: EncodedSplit(tokenizer.encode_batch(t), [labels.index(v) for v in y])  # noqa: E731
    train_data, dev_data = encode(texts, gold), encode(dev.texts, dev.labels)
    plain = PlainLSTMClassifier(len(tokenizer), len(labels), args.embedding_dim, args.hidden_size)
    ours = BiLSTMClassifier(len(tokenizer), len(labels), ModelConfig(embedding_dim=args.embedding_dim,
                                                                hidden_size=args.hidden_size, pooling="max"))
    task = ClassificationTask(labels, tokenizer.pad_id, args.max_length)

    def make_batch(indices: list[int]) -> tuple[Inputs, torch.Tensor, int]:
        batch = collate([train_data.ids[k] for k in indices], indices, [train_data.labels[k] for k in indices], 0,
                        args.max_length)
        return (batch.ids,), batch.labels, int(batch.lengths.sum())

    def plain_accuracy() -> float:
        plain.eval()
        with torch.inference_mode():
            right = 0
            for i in range(0, len(dev_data), 256):
                indices = list(range(i, min(i + 256, len(dev_data))))
                batch = collate([dev_data.ids[k] for k in indices], indices, None, 0, args.max_length)
                right += int((plain(batch.ids).argmax(-1) == torch.tensor(dev_data.labels[i:i + 256])).sum())
        return right / len(dev_data)

    def our_accuracy() -> float:
        predicted = predict_proba_ids(ours, dev_data.ids, torch.device("cpu"), 256, args.max_length).argmax(1)
        return float(np.mean(predicted == np.array(dev_data.labels)))

    real = sum(min(len(ids), args.max_length) for ids in train_data.ids)
    note = (f"data {args.data}: {len(train_data):,} training texts, {real:,} real tokens (mean "
            f"{real / len(train_data):.1f}), {len(dev_data):,} held-out texts")
    return {"plain": plain, "ours": ours, "task": task, "train": train_data, "make_batch": make_batch,
            "loss": token_cross_entropy, "training": training_config(args),
            "sizes": (args.embedding_dim, args.hidden_size), "sizes_note": sizes_note(args),
            "accuracy": (plain_accuracy, our_accuracy), "note": note, "metric": "held-out accuracy"}


def sizes_note(args: argparse.Namespace) -> str:
    """The sizes of the classifier or small tagger, for the first line."""
    return f"embedding {args.embedding_dim}, hidden {args.hidden_size}, batch {args.batch_size}"


def small_tagging_setup(args: argparse.Namespace) -> dict:
    """The small taggers (no characters, no CRF), data and scoring of `--task tagging --model small`."""
    train = load_tagged(args.data, 0, 3)
    dev = load_tagged(f"conll:{CONLL / 'eng.testa'}", 0, 3) if args.data.endswith("eng.train") else None
    sentences, tags = train.sentences[: args.examples], train.tags[: args.examples]
    tokenizer = TextTokenizer.train_words(sentences, False, True, 30000, 1)
    names = sorted({t for row in train.tags for t in row})
    ids = tokenizer.encode_words_batch(sentences)
    train_data = EncodedTagged(ids, [[names.index(t) for t in row] for row in tags], tags)
    plain = PlainLSTMTagger(len(tokenizer), len(names), args.embedding_dim, args.hidden_size)
    spec = ModelConfig(embedding_dim=args.embedding_dim, hidden_size=args.hidden_size, dropout=0.5)
    ours = BiLSTMTagger(len(tokenizer), len(names), spec)
    task = TaggingTask(names, None, None, tokenizer.pad_id)

    def make_batch(indices: list[int]) -> tuple[Inputs, torch.Tensor, int]:
        batch = collate_tagged([train_data.ids[k] for k in indices], indices, [train_data.tags[k] for k in indices])
        target = batch.labels.masked_fill(~batch.mask, -100)
        return (batch.ids,), target, int(batch.lengths.sum())

    dev_ids = tokenizer.encode_words_batch(dev.sentences) if dev else []
    dev_gold = [names.index(t) if t in names else -1 for row in (dev.tags if dev else []) for t in row]

    def plain_accuracy() -> float:
        plain.eval()
        predicted = []
        with torch.inference_mode():
            for i in range(0, len(dev_ids), 256):
                rows = dev_ids[i : i + 256]
                batch = collate_tagged(rows, list(range(len(rows))))
                best = plain(batch.ids).argmax(-1)
                predicted += [t for row, n in zip(best.tolist(), batch.lengths.tolist()) for t in row[:n]]
        return float(np.mean(np.array(predicted) == np.array(dev_gold))) if dev_gold else float("nan")

    def our_accuracy() -> float:
        predicted = [t for row in predict_tag_ids(ours, dev_ids, None, None, torch.device("cpu"), 256) for t in row]
        return float(np.mean(np.array(predicted) == np.array(dev_gold))) if dev_gold else float("nan")

    real = sum(len(row) for row in ids)
    note = (f"data {args.data}: {len(ids):,} training sentences, {real:,} real tokens (mean {real / len(ids):.1f}), "
            f"{len(dev_ids):,} held-out sentences")
    return {"plain": plain, "ours": ours, "task": task, "train": train_data, "make_batch": make_batch,
            "loss": token_cross_entropy, "training": training_config(args),
            "sizes": (args.embedding_dim, args.hidden_size), "sizes_note": sizes_note(args),
            "accuracy": (plain_accuracy, our_accuracy), "note": note, "metric": "held-out token accuracy"}


def rooted(spec: str) -> str:
    """A file data spec of the recipe with its relative path made absolute from the repository root."""
    kind, _, location = spec.partition(":")
    if kind in FILE_KINDS and location and not Path(location).expanduser().is_absolute():
        return f"{kind}:{(ROOT / location).resolve()}"
    return spec


def recipe_config(args: argparse.Namespace) -> Config:
    """The CoNLL-2003 recipe with this run's seed and any sizes, batch or training data given on the command line;
    its dev file stays held out when the training data is an eng.train."""
    given = {"training.seed": args.seed, "training.batch_size": args.batch_size,
             "model.embedding_dim": args.embedding_dim, "model.hidden_size": args.hidden_size}
    config = load_config(RECIPE, [f"{key}={value}" for key, value in given.items() if value is not None])
    train = args.data or rooted(config.data.train)
    dev = rooted(config.data.dev) if train.endswith("eng.train") else ""
    return dataclasses.replace(config, data=dataclasses.replace(config.data, train=train, dev=dev))


def recipe_splits(config: Config, examples: int) -> dict[str, Any]:
    """The recipe's splits as its task reads them, train cut to its first `examples` sentences."""
    splits = get_task(config.task).read_splits(config.data)
    train = splits["train"]
    splits["train"] = train.subset(range(min(examples, len(train))), f"{train.source}[:{examples}]")
    return splits


def plain_recipe_model(model: BiLSTMTagger, spec: ModelConfig, pad_id: int) -> PlainBiLSTMCNNCRF:
    """PlainBiLSTMCNNCRF of the prepared tagger's sizes, its CRF constrained as the tagger's is."""
    num_tags = model.output.out_features
    constraints = (model.crf.start_allowed.clone(), model.crf.transitions_allowed.clone(),
                   model.crf.end_allowed.clone())
    sizes = (model.embedding.num_embeddings, model.char_cnn.embedding.num_embeddings, model.casing.num_embeddings,
             num_tags)
    return PlainBiLSTMCNNCRF(sizes, spec, CRF(num_tags, constraints), pad_id)


def tagged_batch(split: EncodedTagged, indices: Sequence[int], pad_id: int, tags: bool = True) -> Any:
    """The padded batch (ids, tags, characters, casing) of these sentences of an encoded split."""
    pick = lambda rows: [rows[k] for k in indices]  # noqa: E731
    return collate_tagged(pick(split.ids), list(indices), pick(split.tags) if tags else None, pick(split.chars),
                          pick(split.casing), pad_id)


def recipe_tagging_setup(args: argparse.Namespace) -> dict:
    """The recipe's BiLSTM-CNN-CRF as nlp-lstm prepares it and its plain twin, data and scoring of
    `--task tagging --model recipe`."""
    config = recipe_config(args)
    started = time.perf_counter()
    prepared = prepare(config, recipe_splits(config, args.examples))
    prepare_seconds = time.perf_counter() - started
    ours, task, train, dev = prepared.model, prepared.task, prepared.encoded["train"], prepared.encoded.get("dev")
    spec, training = config.model, training_config(args, prepared.training)
    plain = plain_recipe_model(ours, spec, task.pad_id)

    def make_batch(indices: list[int]) -> tuple[Inputs, tuple[torch.Tensor, torch.Tensor], int]:
        batch = tagged_batch(train, indices, task.pad_id)
        return (batch.ids, batch.chars, batch.casing), (batch.labels, batch.mask), int(batch.lengths.sum())

    def plain_accuracy() -> float:
        plain.eval()
        predicted: list[list[int]] = []
        with torch.inference_mode():
            for i in range(0, len(dev) if dev else 0, 256):
                batch = tagged_batch(dev, range(i, min(i + 256, len(dev))), task.pad_id, tags=False)
                predicted += plain.crf.decode(plain(batch.ids, batch.chars, batch.casing), batch.mask)
        return token_accuracy(task, dev, predicted) if dev else float("nan")

    def our_accuracy() -> float:
        return task.evaluate(ours, dev, torch.device("cpu"))[0]["accuracy"] if dev else float("nan")

    real = sum(task.lengths(train))
    note = (f"data {config.data.train}: {len(train):,} training sentences, {real:,} real tokens (mean "
            f"{real / len(train):.1f}), {len(dev) if dev else 0:,} held-out sentences, {prepared.summary}; "
            f"nlp-lstm's preparation {prepare_seconds:.1f} s")
    input_size = spec.embedding_dim + spec.char_filters + spec.casing_embedding_dim
    sizes = (f"{RECIPE.relative_to(ROOT)}: word {spec.embedding_dim} + characters {spec.char_filters} + casing "
             f"{spec.casing_embedding_dim} = LSTM input {input_size}, hidden {spec.hidden_size}, CRF; batch "
             f"{training.batch_size}, lr {training.learning_rate:g}, weight decay {training.weight_decay:g}, "
             f"clip {training.clip_grad_norm:g}")
    return {"plain": plain, "ours": ours, "task": task, "train": train, "make_batch": make_batch, "loss": crf_loss,
            "training": training, "sizes": (input_size, spec.hidden_size), "sizes_note": sizes,
            "accuracy": (plain_accuracy, our_accuracy), "note": note, "metric": "held-out token accuracy"}


def token_accuracy(task: TaggingTask, split: EncodedTagged, tag_ids: list[list[int]]) -> float:
    """Token accuracy of predicted tag ids (the model's scheme) against the split's gold tags (the data's), as
    nlp-lstm's tagging metrics compute it."""
    predicted = [tag for row in task.decode(tag_ids) for tag in row]
    gold = [tag for row in split.gold for tag in row]
    return float(np.mean(np.array(predicted) == np.array(gold)))


def make_setup(args: argparse.Namespace) -> dict:
    """The task's (and tagger's) two models, data, training settings and scoring."""
    if args.task == "classification":
        return classification_setup(args)
    return recipe_tagging_setup(args) if args.model == "recipe" else small_tagging_setup(args)


def fill_defaults(args: argparse.Namespace) -> None:
    """Defaults of the options left out; the recipe tagger takes its data, sizes and batch from the recipe."""
    if args.task == "tagging" and args.model == "recipe":
        return
    args.data = args.data or (f"conll:{CONLL / 'eng.train'}" if args.task == "tagging" else "embedded:zh-reviews")
    args.embedding_dim = 128 if args.embedding_dim is None else args.embedding_dim
    args.hidden_size = 128 if args.hidden_size is None else args.hidden_size
    args.batch_size = 64 if args.batch_size is None else args.batch_size


def plain_rounds(args: argparse.Namespace) -> tuple[list[float], float]:
    """The plain loop's tokens/s in each of `args.rounds` epochs and its held-out accuracy, in a fresh process."""
    torch.manual_seed(args.seed)
    setup = make_setup(args)
    plain, training = setup["plain"], setup["training"]
    optimizer = plain_optimizer(plain, training)
    speeds = []
    for epoch in range(1, args.rounds + 1):
        tokens, seconds = plain_epoch(plain, optimizer, random_batches(len(setup["train"]), training.batch_size, epoch),
                                      setup["make_batch"], setup["loss"], training.clip_grad_norm)
        speeds.append(tokens / seconds)
        print(f"round {epoch}: plain {speeds[-1]:,.0f} tokens/s", flush=True)
    return speeds, setup["accuracy"][0]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["classification", "tagging"], default="classification")
    parser.add_argument("--model", choices=["recipe", "small"], default="recipe",
                        help="the tagger (--task tagging): the CoNLL-2003 recipe's BiLSTM-CNN-CRF, or the small "
                             "BiLSTM without characters and CRF")
    parser.add_argument("--data", help="default: embedded:zh-reviews (classification), "
                                       "conll:../shared/data/conll2003/eng.train (tagging; the recipe's data.train)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--examples", type=int, default=8000, help="training texts or sentences per epoch")
    parser.add_argument("--embedding-dim", type=int, help="default 128; the recipe tagger: the recipe's (100)")
    parser.add_argument("--hidden-size", type=int, help="default 128; the recipe tagger: the recipe's (200)")
    parser.add_argument("--batch-size", type=int, help="default 64; the recipe tagger: the recipe's (64)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2, help="epochs each side trains")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gemm-seconds", type=float, default=0.5, help="length of each GEMM timing window")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="nlp-lstm's training precision (the plain loop stays fp32); bf16 also prints the share "
                             "of the bf16 GEMM limit")
    args = parser.parse_args()
    fill_defaults(args)

    torch.manual_seed(args.seed)
    setup = make_setup(args)
    training, (input_size, hidden_size) = setup["training"], setup["sizes"]
    gemm = gemm_gflops(seconds=args.gemm_seconds)
    flops = 3 * 2 * 8 * hidden_size * (input_size + hidden_size)  # per real token, 1 BiLSTM layer
    print(f"{setup['note']}; torch {torch.__version__}, {torch.get_num_threads()} threads; {setup['sizes_note']}")
    print(f"LSTM training work {flops / 1e6:.2f} MFLOP per real token")

    # the plain loop runs first, in a process of its own: with training.keep_freed_memory (as the zh-reviews
    # recipe sets it) the Trainer changes glibc's malloc thresholds for the rest of its process; a plain script
    # has glibc's defaults
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        plain_speeds, plain_accuracy = pool.submit(plain_rounds, args).result()
    speeds: dict[str, list[float]] = {"plain PyTorch": plain_speeds, "nlp-lstm": []}
    ours, train = setup["ours"], setup["train"]
    trainer = Trainer(ours, training, torch.device("cpu"), setup["task"], progress=False)
    malloc = "set" if keep_freed_memory() else "left as they were"
    sampler = BucketBatchSampler(setup["task"].lengths(train), training.batch_size, seed=args.seed)
    paired = []  # each round against the GEMM readings just before and after it: this VM's speed drifts
    for epoch in range(1, args.rounds + 1):
        sampler.set_epoch(epoch)
        before = gemm_gflops(seconds=args.gemm_seconds / 2, repeats=2)
        _, tokens, seconds = trainer.train_epoch(train, sampler, epoch, TrainResult())
        around = max(before, gemm_gflops(seconds=args.gemm_seconds / 2, repeats=2))
        speeds["nlp-lstm"].append(tokens / seconds)
        paired.append(tokens / seconds * flops / 1e9 / around)
        print(f"round {epoch}: nlp-lstm {speeds['nlp-lstm'][-1]:,.0f} tokens/s, {paired[-1]:.1%} of the GEMM limit "
              f"read around it ({around:,.1f} GFLOP/s)", flush=True)
        gemm = max(gemm, around)
    accuracies = [plain_accuracy, setup["accuracy"][1]()]
    plain = setup["plain"]  # the same initial weights as the plain process's: one epoch under nlp-lstm's malloc
    tokens, seconds = plain_epoch(plain, plain_optimizer(plain, training),
                                  random_batches(len(train), training.batch_size, 1), setup["make_batch"],
                                  setup["loss"], training.clip_grad_norm)
    plain_tuned = tokens / seconds
    gemm = max(gemm, gemm_gflops(seconds=args.gemm_seconds))  # again after training: the higher reading counts
    mean_length = round(sum(setup["task"].lengths(train)) / len(train))
    kernel = kernel_tokens_per_second(training.batch_size, mean_length, input_size, hidden_size)
    print(f"{'':14} {'train tokens/s':>15} {'LSTM GFLOP/s':>13} {'% of GEMM':>10} {setup['metric']:>25}")
    for (name, values), accuracy in zip(speeds.items(), accuracies):
        best = max(values)
        name = f"{name} bf16" if name == "nlp-lstm" and args.precision == "bf16" else name
        print(f"{name:14} {best:15,.0f} {best * flops / 1e9:13.1f} {100 * best * flops / 1e9 / gemm:9.1f}% "
              f"{accuracy:25.3f}")
    print(f"{'LSTM kernel':14} {kernel:15,.0f} {kernel * flops / 1e9:13.1f} {100 * kernel * flops / 1e9 / gemm:9.1f}%"
          f"   (nn.LSTM forward + backward alone, both directions, input {input_size}, hidden {hidden_size}, "
          f"batch {training.batch_size} x {mean_length} tokens, no padding)")
    print(f"GEMM limit: {gemm:,.1f} GFLOP/s (best float32 512 x 512 or 1024 x 1024 matmul, before, between and "
          f"after the rounds); nlp-lstm's best round against the readings around it: {max(paired):.1%}")
    if args.precision == "bf16":
        bf16 = gemm_gflops(seconds=args.gemm_seconds, dtype=torch.bfloat16)
        print(f"nlp-lstm trained in bf16 autocast: {max(speeds['nlp-lstm']) * flops / 1e9 / bf16:.1%} of the bf16 "
              f"GEMM limit ({bf16:,.1f} GFLOP/s)")
    print(f"training speedup vs plain PyTorch: {max(speeds['nlp-lstm']) / max(speeds['plain PyTorch']):.2f}x")
    print(f"plain PyTorch once more after nlp-lstm's glibc malloc thresholds were {malloc} "
          f"(nlp_lstm/training/memory.py): {plain_tuned:,.0f} tokens/s, nlp-lstm "
          f"{max(speeds['nlp-lstm']) / plain_tuned:.2f}x that")


if __name__ == "__main__":
    main()
