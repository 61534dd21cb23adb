"""Ids -> padded batches: collate, length-bucketed training batches, length-sorted inference batches."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch


@dataclass
class Batch:
    """Right-padded token ids with their lengths; `index` maps rows back to dataset positions."""

    ids: torch.Tensor  # (batch, seq_len) long, padding after each sequence
    lengths: torch.Tensor  # (batch,) long, at least 1 (an empty text is one padding token)
    index: torch.Tensor  # (batch,) long, position of each row in the dataset
    labels: torch.Tensor | None = None  # (batch,) long

    @property
    def mask(self) -> torch.Tensor:
        """(batch, seq_len) bool, True on real tokens."""
        return torch.arange(self.ids.size(1), device=self.ids.device)[None, :] < self.lengths[:, None]

    def to(self, device: torch.device) -> Batch:
        """The same batch on `device`."""
        labels = None if self.labels is None else self.labels.to(device, non_blocking=True)
        return Batch(self.ids.to(device, non_blocking=True), self.lengths.to(device, non_blocking=True),
                     self.index, labels)


def collate(
    sequences: Sequence[Sequence[int]],
    index: Sequence[int],
    labels: Sequence[int] | None = None,
    pad_id: int = 0,
    max_length: int | None = None,
) -> Batch:
    """Pad sequences to the longest one (after truncation to `max_length`)."""
    if max_length is not None:
        sequences = [seq[:max_length] for seq in sequences]
    lengths = [len(seq) for seq in sequences]
    ids = torch.full((len(sequences), max(max(lengths, default=1), 1)), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        if seq:
            ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return Batch(
        ids=ids,
        lengths=torch.tensor(lengths, dtype=torch.long).clamp_(min=1),
        index=torch.as_tensor(index, dtype=torch.long),
        labels=None if labels is None else torch.as_tensor(labels, dtype=torch.long),
    )


class BucketBatchSampler:
    """Yields batches of dataset indices whose lengths are close, in shuffled order.

    Each epoch shuffles all indices, cuts them into pools of `batch_size * pool_batches`, sorts each
    pool by length and cuts it into batches, then shuffles the batches: padding stays small while
    every batch still mixes examples from across the data. Deterministic for a given seed and epoch.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, pool_batches: int = 50) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size}")
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.long)
        self.batch_size = batch_size
        self.seed = seed
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order `__iter__` yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator)
        pool_size = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool_size):
            pool = order[start : start + pool_size]
            # stable sort keeps the shuffled order among equal lengths
            pool = pool[torch.sort(self.lengths[pool], stable=True).indices]
            batches.extend(pool[i : i + self.batch_size].tolist() for i in range(0, len(pool), self.batch_size))
        for b in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[b]


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Index batches for inference, longest first, so padding is minimal; callers restore order by index."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
