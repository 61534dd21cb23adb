"""A word's characters -> one vector: embedding, convolution, max over the characters (Ma & Hovy 2016)."""

from __future__ import annotations

import torch
from torch import nn


class CharCNN(nn.Module):
    """Character-level word features, for casing, prefixes, suffixes and unknown words."""

    def __init__(self, num_chars: int, embedding_dim: int = 30, num_filters: int = 50, kernel_size: int = 3,
                 padding_idx: int = 0) -> None:
        super().__init__()
        self.padding_idx = padding_idx
        self.embedding = nn.Embedding(num_chars, embedding_dim, padding_idx=padding_idx)
        self.conv = nn.Conv1d(embedding_dim, num_filters, kernel_size, padding=kernel_size // 2)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, word_len) char ids -> (batch, seq_len, num_filters)."""
        batch, seq_len, word_len = chars.shape
        flat = chars.reshape(batch * seq_len, word_len)
        inverse = None
        if not torch.onnx.is_in_onnx_export():  # the exported graph keeps to ops every ONNX runtime has
            # each distinct word (and the padding) once: a batch of CoNLL sentences holds about half as many
            # distinct words as positions, and the convolution's backward is the tagger's second-largest cost
            flat, inverse = torch.unique(flat, dim=0, return_inverse=True)
        features = self.conv(self.embedding(flat).transpose(1, 2))  # (words, num_filters, word_len)
        mask = (flat != self.padding_idx)[:, None, :]
        # in place: the largest tensor of a tagger's step, and the convolution's backward does not need it
        features = features.masked_fill_(~mask, float("-inf")).amax(dim=2)
        # padded words have no characters at all: give them zeros instead of -inf
        features = features.masked_fill(~mask.any(dim=2), 0.0)
        if inverse is not None:
            features = features[inverse]
        return features.reshape(batch, seq_len, -1)
