"""A word's characters -> one vector: embedding, convolution, max over the characters (Ma & Hovy 2016)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CharCNN(nn.Module):
    """Character-level word features, for casing, prefixes, suffixes and unknown words."""

    def __init__(self, num_chars: int, embedding_dim: int = 30, num_filters: int = 50, kernel_size: int = 3,
                 padding_idx: int = 0) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a window centred on each character), got {kernel_size}")
        self.padding_idx = padding_idx
        self.embedding = nn.Embedding(num_chars, embedding_dim, padding_idx=padding_idx)
        self.conv = nn.Conv1d(embedding_dim, num_filters, kernel_size, padding=kernel_size // 2)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, word_len) char ids -> (batch, seq_len, num_filters)."""
        batch, seq_len, word_len = chars.shape
        flat = chars.reshape(batch * seq_len, word_len)
        if torch.onnx.is_in_onnx_export():  # the exported graph keeps to ops every ONNX runtime has
            return self.over_padded_words(flat).reshape(batch, seq_len, -1)
        # each distinct word (and the padding) once: a batch of CoNLL sentences holds about half as many
        # distinct words as positions
        words, inverse = unique_rows(flat, self.embedding.num_embeddings)
        # index_select, not features[inverse]: its gradient sums a word's positions in a fixed order, where
        # indexing's adds them in parallel on the CPU and training differed from run to run on 2 threads
        return self.over_characters(words).index_select(0, inverse).reshape(batch, seq_len, -1)

    def over_characters(self, words: torch.Tensor) -> torch.Tensor:
        """(words, word_len) char ids -> (words, num_filters), the convolution computed at real characters only:
        padded to a batch's longest word, most of a CoNLL batch's character slots are padding."""
        real = words != self.padding_idx
        half = self.conv.kernel_size[0] // 2
        # each real character's window of neighbours, the padding (a zero vector) past either end of its word
        windows = F.pad(words, (half, half), value=self.padding_idx).unfold(1, 2 * half + 1, 1)[real]
        weight = self.conv.weight.transpose(1, 2).flatten(1)  # (num_filters, window * embedding_dim)
        features = F.linear(self.embedding(windows).flatten(1), weight, self.conv.bias)  # (characters, num_filters)
        lengths = real.sum(dim=1)
        pooled = torch.segment_reduce(features, "max", lengths=lengths)  # a word's characters are one run
        # padded words have no characters at all: give them zeros instead of -inf
        return pooled.masked_fill((lengths == 0)[:, None], 0.0)

    def over_padded_words(self, words: torch.Tensor) -> torch.Tensor:
        """(words, word_len) char ids -> (words, num_filters), the convolution over every character slot."""
        features = self.conv(self.embedding(words).transpose(1, 2))  # (words, num_filters, word_len)
        mask = (words != self.padding_idx)[:, None, :]
        features = features.masked_fill(~mask, float("-inf")).amax(dim=2)
        return features.masked_fill(~mask.any(dim=2), 0.0)


def unique_rows(rows: torch.Tensor, num_values: int) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.unique(rows, dim=0, return_inverse=True) for a (n, width) tensor of ids in [0, num_values): the same
    rows in the same (lexicographic) order, from a few 1-D sorts. Several ids are packed into each int64 key, first
    id highest; on the CPU torch.unique(dim=0) compares rows one pair at a time, about 6x slower on a CoNLL batch."""
    if rows.numel() == 0 or int(rows.min()) < 0 or int(rows.max()) >= num_values:
        return torch.unique(rows, dim=0, return_inverse=True)  # ids the packing cannot hold exactly
    bits = max(1, (num_values - 1).bit_length())
    per_key = 62 // bits
    n = rows.size(0)
    inverse = torch.zeros(n, dtype=torch.long, device=rows.device)  # rank among the distinct prefixes so far
    for start in range(0, rows.size(1), per_key):
        chunk = rows[:, start:start + per_key]
        shifts = bits * torch.arange(per_key - 1, per_key - 1 - chunk.size(1), -1, device=rows.device)
        _, rank = torch.unique((chunk << shifts).sum(dim=1), return_inverse=True)
        # ranks are < n, so (prefix rank, chunk rank) packs into one int64 in lexicographic order
        inverse = torch.unique(inverse * n + rank, return_inverse=True)[1] if start else rank
    first = torch.empty(int(inverse.max()) + 1, dtype=torch.long, device=rows.device)
    first.scatter_(0, inverse, torch.arange(n, device=rows.device))  # any row of each group: they are equal
    return rows[first], inverse
