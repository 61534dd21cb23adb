"""Dropout that removes whole word vectors, as embedding dropout in Gal & Ghahramani (2016)."""

from __future__ import annotations

import torch
from torch import nn


class EmbeddingDropout(nn.Module):
    """Zero the whole vector at a share `p` of token positions in training (the rest scaled by 1/(1-p)), so
    the model cannot lean on any single word; the identity in eval mode."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, embedded: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, dim) -> the same shape."""
        if not self.training or self.p == 0:
            return embedded
        keep = torch.empty(embedded.shape[:-1] + (1,), device=embedded.device).bernoulli_(1 - self.p)
        return embedded * keep / (1 - self.p)
