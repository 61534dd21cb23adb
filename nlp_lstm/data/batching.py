"""Ids -> padded batches: collate, length-bucketed training batches, length-sorted inference batches."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Batch:
    """Right-padded token ids with their lengths; `index` maps rows back to dataset positions."""

    ids: torch.Tensor  # (batch, seq_len) long, padding after each sequence; numeric sequences: their float values
    lengths: torch.Tensor  # (batch,) long, at least 1 (an empty text is one padding token)
    index: torch.Tensor  # (batch,) long, position of each row in the dataset
    labels: torch.Tensor | None = None  # (batch,) long, or (batch, seq_len) tag ids for tagging (0 on padding)
    chars: torch.Tensor | None = None  # (batch, seq_len, word_len) character ids of each word, for taggers
    casing: torch.Tensor | None = None  # (batch, seq_len) casing class of each word, for taggers

    @property
    def mask(self) -> torch.Tensor:
        """(batch, seq_len) bool, True on real tokens."""
        return torch.arange(self.ids.size(1), device=self.ids.device)[None, :] < self.lengths[:, None]

    def to(self, device: torch.device) -> Batch:
        """The same batch on `device` (`index` stays on the CPU)."""
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.ids), move(self.lengths), self.index, move(self.labels), move(self.chars),
                     move(self.casing))


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
    return Batch(
        ids=pad_2d(sequences, max(max(lengths, default=1), 1), pad_id),
        lengths=torch.tensor(lengths, dtype=torch.long).clamp_(min=1),
        index=torch.as_tensor(index, dtype=torch.long),
        labels=None if labels is None else torch.as_tensor(labels, dtype=torch.long),
    )


def pad_2d(rows: Sequence[Sequence[int]], length: int, pad: int = 0) -> torch.Tensor:
    """(len(rows), length) long tensor, each row right-padded; rows are at most `length` long."""
    sizes = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
    out = np.full((len(rows), length), pad, dtype=np.int64)
    # one vectorized fill in row-major order instead of a tensor copy per row (30 us each, measured)
    if rows and isinstance(rows[0], np.ndarray):  # rows of a RaggedIds
        values = np.concatenate(rows) if len(rows) else np.zeros(0, np.int64)
    else:
        values = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=int(sizes.sum()))
    out[np.arange(length)[None, :] < sizes[:, None]] = values
    return torch.from_numpy(out)


def collate_tagged(
    sequences: Sequence[Sequence[int]],
    index: Sequence[int],
    tags: Sequence[Sequence[int]] | None = None,
    chars: Sequence[Sequence[Sequence[int]]] | None = None,
    casing: Sequence[Sequence[int]] | None = None,
    pad_id: int = 0,
) -> Batch:
    """Pad word ids, tags, casing and per-word character ids; sentences are never truncated."""
    batch = collate(sequences, index, pad_id=pad_id)
    seq_len = batch.ids.size(1)
    if tags is not None:
        batch.labels = pad_2d(tags, seq_len)
    if casing is not None:
        batch.casing = pad_2d(casing, seq_len)
    if chars is not None:
        batch.chars = pad_3d(chars, seq_len)
    return batch


def pad_3d(chars: Sequence[Sequence[Sequence[int]]], seq_len: int) -> torch.Tensor:
    """(batch, seq_len, longest word) character ids, zero-padded; filled with two numpy scatters rather than
    a tensor copy per word (a CoNLL batch has about 900 words)."""
    words = [word for sentence in chars for word in sentence]
    word_lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    word_len = int(word_lengths.max()) if len(words) else 1
    by_word = np.zeros((len(words), word_len), dtype=np.int64)
    by_word[np.arange(word_len)[None, :] < word_lengths[:, None]] = np.fromiter(
        itertools.chain.from_iterable(words), dtype=np.int64, count=int(word_lengths.sum()))
    sentence_lengths = np.fromiter(map(len, chars), dtype=np.int64, count=len(chars))
    out = np.zeros((len(chars), seq_len, word_len), dtype=np.int64)
    out[np.arange(seq_len)[None, :] < sentence_lengths[:, None]] = by_word
    return torch.from_numpy(out)


def collate_numeric(
    sequences: Sequence[np.ndarray], index: Sequence[int], targets: Sequence[float] | None = None
) -> Batch:
    """Right-pad numeric sequences, each (length, n_features) float32, with zeros: `ids` holds the values,
    (batch, seq_len, n_features) float32, and `labels` the float targets."""
    lengths = [len(seq) for seq in sequences]
    features = sequences[0].shape[1] if sequences else 1
    values = np.zeros((len(sequences), max(max(lengths, default=1), 1), features), dtype=np.float32)
    for row, seq in enumerate(sequences):
        values[row, : len(seq)] = seq
    return Batch(
        ids=torch.from_numpy(values),
        lengths=torch.tensor(lengths, dtype=torch.long).clamp_(min=1),
        index=torch.as_tensor(index, dtype=torch.long),
        labels=None if targets is None else torch.as_tensor(targets, dtype=torch.float32),
    )


class BucketBatchSampler:
    """Yields batches of dataset indices whose lengths are close, in shuffled order.

    Each epoch shuffles all indices, cuts them into pools of about `pool_batches` batches, sorts each pool by
    length and cuts it into batches, then shuffles the batches: padding stays small while every batch still
    mixes examples from across the data. Deterministic for a given seed and epoch.

    A batch holds `batch_size` examples, or with `batch_tokens` > 0 as many as fit in that many padded tokens
    (rows times the longest row; at least one row, or `world_size`): a batch of short sentences then carries as
    many tokens as one of long texts, and the number of batches changes a little from epoch to epoch.

    In distributed training every rank builds the same batches and takes its share of each: rows
    `rank`, `rank + world_size`, ... of the length-sorted batch, so the ranks' pieces are distinct, of
    near-equal lengths, and together one batch. A last batch smaller than `world_size` is left out, so that
    every rank takes the same number of steps.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int = 0, pool_batches: int = 50,
                 rank: int = 0, world_size: int = 1, batch_tokens: int = 0) -> None:
        if batch_size < 1 or pool_batches < 1 or batch_tokens < 0:
            raise ValueError(f"batch_size and pool_batches must be positive ints and batch_tokens an int >= 0, got "
                             f"{batch_size}, {pool_batches} and {batch_tokens}")
        if not 0 <= rank < world_size or batch_size < world_size:
            raise ValueError(f"rank {rank} of world_size {world_size} with batch_size {batch_size}: need "
                             f"0 <= rank < world_size <= batch_size")
        lengths = np.asarray(lengths, dtype=np.int64)
        # 4 bytes a text where they fit, as for the order below: a sampler over millions of texts holds both
        self.lengths = torch.as_tensor(lengths.astype(np.int32) if lengths.size and lengths.max() < 2**31 else lengths)
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.seed = seed
        self.pool_batches = pool_batches
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order `__iter__` yields."""
        self.epoch = epoch

    def __len__(self) -> int:
        if self.batch_tokens:
            sizes = self._planned()[2].diff()
            return int((sizes >= max(self.world_size, 1)).sum())
        full, rest = divmod(len(self.lengths), self.batch_size)
        return full + (rest >= self.world_size and rest > 0)

    def __iter__(self) -> Iterator[list[int]]:
        generator, order, starts = self._planned()
        # batch b is order[starts[b] : starts[b + 1]]; cut when yielded: no per-batch objects are kept
        for b in torch.randperm(len(starts) - 1, generator=generator).tolist():
            batch = order[starts[b] : starts[b + 1]]
            if len(batch) >= self.world_size:
                yield batch[self.rank :: self.world_size].tolist()

    def _planned(self) -> tuple[torch.Generator, torch.Tensor, torch.Tensor]:
        """This epoch's generator (after drawing the order), the order of indices with each pool sorted by
        length, and where each batch starts in it (with the end last)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator, dtype=torch.int32)
        rows = self.batch_size
        if self.batch_tokens:
            mean = float(self.lengths.double().mean()) if len(self.lengths) else 1.0
            rows = max(self.world_size, int(self.batch_tokens // max(mean, 1.0)))
        pool_size = rows * self.pool_batches
        # each pool sorted by length in place, stably (equal lengths keep their shuffled order): besides
        # `order` nothing larger than a pool is allocated, so an epoch's start costs 4 bytes a text
        starts = [0]
        for start in range(0, len(order), pool_size):
            pool = order[start : start + pool_size]
            pool.copy_(pool[torch.sort(self.lengths[pool], stable=True).indices])
            if self.batch_tokens:
                starts += _token_cuts(self.lengths[pool].tolist(), self.batch_tokens, self.world_size, start)
        if not self.batch_tokens:  # a pool holds whole batches: batch b starts at b * batch_size
            starts = list(range(0, len(order), self.batch_size)) + [len(order)]
        return generator, order, torch.tensor(starts if len(starts) > 1 else [0, 0], dtype=torch.int64)


def _token_cuts(sorted_lengths: list[int], budget: int, min_rows: int, offset: int) -> list[int]:
    """Where each batch after the first ends in a pool sorted by length (the pool's end last), each batch as many
    rows as fit in `budget` padded tokens, at least `min_rows`."""
    cuts, start = [], 0
    for i, length in enumerate(sorted_lengths):
        rows = i - start
        if rows >= min_rows and (rows + 1) * max(length, 1) > budget:
            cuts.append(offset + i)
            start = i
    return cuts + [offset + len(sorted_lengths)]


# A padded batch runs every time step of its longest row, and a time step costs about as much as this many more rows
# besides the rows it carries (a single-layer BiLSTM of 128 on the CPU; docs/performance.md#serving)
STEP_ROWS = 8


def sorted_batches(lengths: Sequence[int], batch_size: int, step_rows: int = STEP_ROWS) -> list[list[int]]:
    """Index batches for inference, longest first; callers restore order by index. The batches are runs of the
    length-sorted order of at most `batch_size` rows, cut where that costs least: a batch costs its longest length
    times (its rows + `step_rows`), so a few long texts do not pad many short ones to their length."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    n = len(order)
    if n <= 1:
        return [order] if order else []
    longest = np.array([max(lengths[i], 1) for i in order], dtype=np.float64)
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):  # best[end]: the cheapest cut of order[:end]; its last batch begins at start[end]
        first = max(0, end - batch_size)
        rows = np.arange(end - first, 0, -1)
        costs = best[first:end] + longest[first:end] * (rows + step_rows)
        k = int(np.argmin(costs))
        best[end], start[end] = costs[k], first + k
    batches, end = [], n
    while end > 0:
        batches.append(order[start[end]:end])
        end = int(start[end])
    return batches[::-1]
