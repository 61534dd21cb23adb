"""Training throughput of nlp-lstm's trainer vs a plain PyTorch loop, side by side, and as a share of the
machine's GEMM limit.

Both train the same model size on the same tokenized data (`--rounds` epochs each, the plain loop first
in a process of its own, the best epoch counts):
  plain PyTorch: random batches padded to their longest sequence, nn.LSTM(bidirectional=True) over the
                 whole padded batch, PyTorch's defaults (initialisation, AdamW, dropout-free, glibc's
                 malloc settings; one more epoch with nlp-lstm's is printed on the last line);
  nlp-lstm:      length-bucketed batches and the Trainer: the exact padded BiLSTM encoder, fused AdamW,
                 the recipe's dropout, training.keep_freed_memory = true as in the zh-reviews recipe;
                 the classifier max-pools, the tagger has no CRF and no character
                 features (so both sides do the same LSTM work).
Throughput counts real tokens only (padding excluded). The GEMM limit is float32 matmul GFLOP/s measured
here (square 512 and 1024 products, the same threads, the best reading before or after training). The
LSTM's work per real token in training is 3 x 8 * hidden * (input + hidden) FLOPs per direction and layer:
4 gates of hidden outputs, each weight a multiply and an add (2 FLOPs), forward plus twice that backward.

    python scripts/bench_training.py                          # classifier, zh-reviews (8,000 reviews)
    python scripts/bench_training.py --data tsv:../shared/data/sst2/train.tsv --text-column sentence \\
        --examples 20000                                      # classifier, SST-2 phrases
    python scripts/bench_training.py --task tagging           # tagger, CoNLL-2003 eng.train
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nlp_lstm.config import DataConfig, ModelConfig, TrainingConfig
from nlp_lstm.data.batching import BucketBatchSampler, collate, collate_tagged
from nlp_lstm.data.conll import load_tagged
from nlp_lstm.data.sources import load_splits
from nlp_lstm.models.classifier import BiLSTMClassifier
from nlp_lstm.models.tagger import BiLSTMTagger
from nlp_lstm.predictor import predict_proba_ids, predict_tag_ids
from nlp_lstm.tasks.classification import ClassificationTask, EncodedSplit
from nlp_lstm.tasks.tagging import EncodedTagged, TaggingTask
from nlp_lstm.text.tokenizers import TextTokenizer
from nlp_lstm.training.memory import keep_freed_memory
from nlp_lstm.training.trainer import Trainer, TrainResult

CONLL = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"


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


def kernel_tokens_per_second(batch: int, length: int, embedding_dim: int, hidden_size: int) -> float:
    """Real tokens/s of the two LSTM directions alone, forward and backward, on a full (batch, length) batch:
    the ceiling any trainer of this model size can reach here."""
    lstms = [nn.LSTM(embedding_dim, hidden_size, batch_first=True) for _ in range(2)]
    x = torch.randn(batch, length, embedding_dim, requires_grad=True)
    for _ in range(3):
        sum(lstm(x)[0].sum() for lstm in lstms).backward()
    start, steps = time.perf_counter(), 20
    for _ in range(steps):
        sum(lstm(x)[0].sum() for lstm in lstms).backward()
    return batch * length * steps / (time.perf_counter() - start)


def plain_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list[list[int]],
                make_batch: Callable[[list[int]], tuple[torch.Tensor, torch.Tensor, int]]) -> tuple[int, float]:
    """One epoch of the plain loop; returns real tokens and seconds."""
    model.train()
    tokens = 0
    start = time.perf_counter()
    for indices in batches:
        ids, target, real = make_batch(indices)
        tokens += real
        logits = model(ids)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return tokens, time.perf_counter() - start


def random_batches(n: int, batch_size: int, seed: int) -> list[list[int]]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def classification_setup(args: argparse.Namespace) -> dict:
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

    def make_batch(indices: list[int]) -> tuple[torch.Tensor, torch.Tensor, int]:
        batch = collate([train_data.ids[k] for k in indices], indices, [train_data.labels[k] for k in indices], 0,
                        args.max_length)
        return batch.ids, batch.labels, int(batch.lengths.sum())

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
            "accuracy": (plain_accuracy, our_accuracy), "note": note, "metric": "held-out accuracy"}


def tagging_setup(args: argparse.Namespace) -> dict:
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

    def make_batch(indices: list[int]) -> tuple[torch.Tensor, torch.Tensor, int]:
        batch = collate_tagged([train_data.ids[k] for k in indices], indices, [train_data.tags[k] for k in indices])
        target = batch.labels.masked_fill(~batch.mask, -100)
        return batch.ids, target, int(batch.lengths.sum())

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
            "accuracy": (plain_accuracy, our_accuracy), "note": note, "metric": "held-out token accuracy"}


def plain_rounds(args: argparse.Namespace) -> tuple[list[float], float]:
    """The plain loop's tokens/s in each of `args.rounds` epochs and its held-out accuracy, in a fresh process."""
    torch.manual_seed(args.seed)
    setup = (tagging_setup if args.task == "tagging" else classification_setup)(args)
    plain = setup["plain"]
    optimizer = torch.optim.AdamW(plain.parameters(), lr=2e-3, weight_decay=0.01)
    speeds = []
    for epoch in range(1, args.rounds + 1):
        tokens, seconds = plain_epoch(plain, optimizer, random_batches(len(setup["train"]), args.batch_size, epoch),
                                      setup["make_batch"])
        speeds.append(tokens / seconds)
        print(f"round {epoch}: plain {speeds[-1]:,.0f} tokens/s", flush=True)
    return speeds, setup["accuracy"][0]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=["classification", "tagging"], default="classification")
    parser.add_argument("--data", help="default: embedded:zh-reviews (classification), "
                                       "conll:../shared/data/conll2003/eng.train (tagging)")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--examples", type=int, default=8000, help="training texts or sentences per epoch")
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2, help="epochs each side trains")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gemm-seconds", type=float, default=0.5, help="length of each GEMM timing window")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="nlp-lstm's training precision (the plain loop stays fp32); bf16 also prints the share "
                             "of the bf16 GEMM limit")
    args = parser.parse_args()
    tagging = args.task == "tagging"
    args.data = args.data or (f"conll:{CONLL / 'eng.train'}" if tagging else "embedded:zh-reviews")

    torch.manual_seed(args.seed)
    setup = (tagging_setup if tagging else classification_setup)(args)
    gemm = gemm_gflops(seconds=args.gemm_seconds)
    flops = 3 * 2 * 8 * args.hidden_size * (args.embedding_dim + args.hidden_size)  # per real token, 1 BiLSTM layer
    print(f"{setup['note']}; torch {torch.__version__}, {torch.get_num_threads()} threads; embedding "
          f"{args.embedding_dim}, hidden {args.hidden_size}, batch {args.batch_size}")
    print(f"LSTM training work {flops / 1e6:.2f} MFLOP per real token")

    # the plain loop runs first, in a process of its own: with training.keep_freed_memory (as the zh-reviews
    # recipe sets it) the Trainer changes glibc's malloc thresholds for the rest of its process; a plain script
    # has glibc's defaults
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        plain_speeds, plain_accuracy = pool.submit(plain_rounds, args).result()
    speeds: dict[str, list[float]] = {"plain PyTorch": plain_speeds, "nlp-lstm": []}
    ours, train = setup["ours"], setup["train"]
    trainer = Trainer(ours, TrainingConfig(epochs=args.rounds, batch_size=args.batch_size, seed=args.seed,
                                           precision=args.precision, keep_freed_memory=True), torch.device("cpu"),
                      setup["task"], progress=False)
    malloc = "set" if keep_freed_memory() else "left as they were"
    sampler = BucketBatchSampler(setup["task"].lengths(train), args.batch_size, seed=args.seed)
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
    tokens, seconds = plain_epoch(plain, torch.optim.AdamW(plain.parameters(), lr=2e-3, weight_decay=0.01),
                                  random_batches(len(train), args.batch_size, 1), setup["make_batch"])
    plain_tuned = tokens / seconds
    gemm = max(gemm, gemm_gflops(seconds=args.gemm_seconds))  # again after training: the higher reading counts
    mean_length = round(sum(setup["task"].lengths(train)) / len(train))
    kernel = kernel_tokens_per_second(args.batch_size, mean_length, args.embedding_dim, args.hidden_size)
    print(f"{'':14} {'train tokens/s':>15} {'LSTM GFLOP/s':>13} {'% of GEMM':>10} {setup['metric']:>25}")
    for (name, values), accuracy in zip(speeds.items(), accuracies):
        best = max(values)
        name = f"{name} bf16" if name == "nlp-lstm" and args.precision == "bf16" else name
        print(f"{name:14} {best:15,.0f} {best * flops / 1e9:13.1f} {100 * best * flops / 1e9 / gemm:9.1f}% "
              f"{accuracy:25.3f}")
    print(f"{'LSTM kernel':14} {kernel:15,.0f} {kernel * flops / 1e9:13.1f} {100 * kernel * flops / 1e9 / gemm:9.1f}%"
          f"   (nn.LSTM forward + backward alone, both directions, batch {args.batch_size} x {mean_length} "
          f"tokens, no padding)")
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
