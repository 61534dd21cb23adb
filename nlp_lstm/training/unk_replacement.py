"""Rare training words -> <unk> at random, so <unk> (and a tagger's character features) learn to stand
for the unknown words of dev and test.

Without it every training word has its own vector, the <unk> row is never trained, and an unknown
word at test time gets a vector the model has never seen. Lample et al. (2016) replace words seen
once with <unk> at p = 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..data.ragged import token_counts


class UnkReplacement:
    """Replaces each occurrence of a word seen at most `max_count` times in training by `unk_id`
    with probability `probability`, drawing from its own seeded generator."""

    def __init__(self, train_ids: Sequence[Sequence[int]], vocab_size: int, unk_id: int, probability: float,
                 seed: int = 0, max_count: int = 1) -> None:
        counts = torch.from_numpy(token_counts(train_ids, vocab_size))
        self.rare = (counts > 0) & (counts <= max_count)
        self.rare[unk_id] = False
        self.unk_id = unk_id
        self.probability = probability
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_rare(self) -> int:
        """How many vocabulary entries can be replaced."""
        return int(self.rare.sum())

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) CPU ids -> the same ids with some rare words replaced by <unk>."""
        drop = self.rare[ids] & (torch.rand(ids.shape, generator=self.generator) < self.probability)
        return ids.masked_fill(drop, self.unk_id)


def unk_replacement(tokenizer: Any, train_ids: Sequence[Sequence[int]], probability: float,
                    seed: int = 0) -> UnkReplacement | None:
    """The replacement for `training.unk_replace = probability` over this tokenizer's vocabulary, or
    None when it is off."""
    if probability <= 0:
        return None
    return UnkReplacement(train_ids, len(tokenizer), tokenizer.unk_id, probability, seed)
