"""Training and inference throughput of nlp-lstm's pipeline vs a plain PyTorch loop, side by side.

Both train the same model size on the same tokenized data in this process, one after the other:
  plain PyTorch: random batches padded to their longest text, nn.LSTM(bidirectional) over the whole
                 padded batch, PyTorch's default initialisation, classify from the final states;
  nlp-lstm:      length-bucketed batches, the exact padded BiLSTM encoder, Keras-style
                 initialisation, max pooling (the sentiment recipe's model).
Throughput counts real tokens only (padding excluded). The last line is the training ratio.

    python scripts/bench_throughput.py                     # zh-reviews, embedding 128 / hidden 128 / batch 64
    python scripts/bench_throughput.py --data tsv:../shared/data/sst2/train.tsv --text-column sentence
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from nlp_lstm.config import DataConfig, TrainingConfig
from nlp_lstm.data.batching import BucketBatchSampler, collate
from nlp_lstm.data.sources import load_splits
from nlp_lstm.models.classifier import BiLSTMClassifier
from nlp_lstm.predictor import predict_proba_ids
from nlp_lstm.text.tokenizers import TextTokenizer
from nlp_lstm.training.tasks import ClassificationTask, EncodedSplit
from nlp_lstm.training.trainer import Trainer, TrainResult


class PlainLSTMClassifier(nn.Module):
    """What a first PyTorch text classifier looks like: no packing, default init, final states."""

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int, hidden_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True, bidirectional=True)
        self.output = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.lstm(self.embedding(ids))  # h_n: (2, batch, hidden_size)
        return self.output(torch.cat([h_n[0], h_n[1]], dim=-1))


def plain_train_epoch(
    model: nn.Module, data: EncodedSplit, batch_size: int, max_length: int, seed: int
) -> tuple[int, float]:
    """One epoch of random batches padded to their max; returns real tokens and seconds."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed)).tolist()
    model.train()
    tokens = 0
    start = time.perf_counter()
    for i in range(0, len(order), batch_size):
        indices = order[i : i + batch_size]
        batch = collate([data.ids[k] for k in indices], indices, [data.labels[k] for k in indices], 0, max_length)
        tokens += int(batch.lengths.sum())
        loss = nn.functional.cross_entropy(model(batch.ids, batch.lengths), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return tokens, time.perf_counter() - start


@torch.inference_mode()
def plain_predict(model: nn.Module, data: EncodedSplit, batch_size: int, max_length: int) -> tuple[np.ndarray, float]:
    """Predictions in input order, batches padded to their max; returns predictions and seconds."""
    model.eval()
    start = time.perf_counter()
    predictions = []
    for i in range(0, len(data), batch_size):
        indices = list(range(i, min(i + batch_size, len(data))))
        batch = collate([data.ids[k] for k in indices], indices, None, 0, max_length)
        predictions.append(model(batch.ids, batch.lengths).argmax(-1).numpy())
    return np.concatenate(predictions), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="embedded:zh-reviews")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--examples", type=int, default=8000, help="training examples per epoch")
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    splits = load_splits(DataConfig(train=args.data, text_column=args.text_column, label_column=args.label_column,
                                    dev_fraction=0.1, max_length=args.max_length))
    train, dev = splits["train"], splits["dev"]
    texts, gold = train.texts[: args.examples], train.labels[: args.examples]
    tokenizer = TextTokenizer.train(texts, "word", True, 20000, 2)
    labels = sorted(set(train.labels))
    encode = lambda t, y: EncodedSplit(tokenizer.encode_batch(t), [labels.index(v) for v in y])  # noqa: E731
    train_data, dev_data = encode(texts, gold), encode(dev.texts, dev.labels)
    real = sum(min(len(ids), args.max_length) for ids in train_data.ids)
    print(f"data {args.data}: {len(train_data):,} training texts, {real:,} real tokens "
          f"(mean {real / len(train_data):.1f}), {len(dev_data):,} held-out texts; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; embedding {args.embedding_dim}, hidden {args.hidden_size}, "
          f"batch {args.batch_size}")

    torch.manual_seed(args.seed)
    plain = PlainLSTMClassifier(len(tokenizer), len(labels), args.embedding_dim, args.hidden_size)
    plain_tokens, plain_seconds = plain_train_epoch(plain, train_data, args.batch_size, args.max_length, args.seed)
    plain_pred, plain_infer_seconds = plain_predict(plain, dev_data, 256, args.max_length)
    plain_acc = float(np.mean(plain_pred == np.array(dev_data.labels)))

    torch.manual_seed(args.seed)
    ours = BiLSTMClassifier(len(tokenizer), len(labels), args.embedding_dim, args.hidden_size, pooling="max")
    config = TrainingConfig(epochs=1, batch_size=args.batch_size, seed=args.seed)
    task = ClassificationTask(labels, tokenizer.pad_id, args.max_length)
    trainer = Trainer(ours, config, torch.device("cpu"), task, progress=False)
    lengths = [min(len(ids), args.max_length) for ids in train_data.ids]
    sampler = BucketBatchSampler(lengths, args.batch_size, seed=args.seed)
    _, our_tokens, our_seconds = trainer.train_epoch(train_data, sampler, 1, TrainResult())
    start = time.perf_counter()
    our_pred = predict_proba_ids(ours, dev_data.ids, torch.device("cpu"), 256, args.max_length).argmax(1)
    our_infer_seconds = time.perf_counter() - start
    our_acc = float(np.mean(our_pred == np.array(dev_data.labels)))

    dev_tokens = sum(min(len(ids), args.max_length) for ids in dev_data.ids)
    print(f"{'':14} {'train tokens/s':>15} {'infer tokens/s':>15} {'held-out accuracy, 1 epoch':>27}")
    print(f"{'plain PyTorch':14} {plain_tokens / plain_seconds:15,.0f} {dev_tokens / plain_infer_seconds:15,.0f} "
          f"{plain_acc:27.3f}")
    print(f"{'nlp-lstm':14} {our_tokens / our_seconds:15,.0f} {dev_tokens / our_infer_seconds:15,.0f} "
          f"{our_acc:27.3f}")
    print(f"inference speedup vs plain PyTorch: {plain_infer_seconds / our_infer_seconds:.2f}x")
    print(f"training speedup vs plain PyTorch: {(our_tokens / our_seconds) / (plain_tokens / plain_seconds):.2f}x")


if __name__ == "__main__":
    main()
