"""Embedding -> BiLSTM -> pooling -> linear: one label per text."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from .dropout import Dropout, EmbeddingDropout
from .encoder import BiLSTMEncoder


class BiLSTMClassifier(nn.Module):
    """Text classifier whose logits do not depend on the padding a text is batched with."""

    def __init__(self, vocab_size: int, num_classes: int, spec: ModelConfig | None = None,
                 padding_idx: int = 0) -> None:
        super().__init__()
        spec = spec or ModelConfig()
        self.pooling = spec.pooling
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=padding_idx)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)  # Keras's default; N(0, 1) swamps the LSTM
        with torch.no_grad():
            self.embedding.weight[padding_idx].zero_()
        self.embedding_dropout = EmbeddingDropout(spec.embedding_dropout)
        self.encoder = BiLSTMEncoder(spec.embedding_dim, spec.hidden_size, spec.num_layers, spec.bidirectional,
                                     spec.dropout, spec.recurrent_dropout, spec.lstm)
        self.attention = nn.Linear(self.encoder.output_size, 1) if self.pooling == "attention" else None
        self.dropout = Dropout(spec.dropout)
        pooled_size = self.encoder.output_size * (2 if self.pooling == "max_mean" else 1)
        self.output = nn.Linear(pooled_size, num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) ids, (batch,) lengths -> (batch, num_classes) logits."""
        embedded = self.embed(ids)
        if self.pooling in ("max", "mean", "max_mean"):  # order-free: pool each direction in its own reading order
            pooled = torch.cat([self.pool(h, lengths) for h in self.encoder.directions(embedded, lengths)], dim=-1)
        else:
            pooled = self.pool(self.encoder(embedded, lengths), lengths)  # (batch, directions * hidden)
        return self.output(self.dropout(pooled))

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) ids -> (batch, seq_len, embedding_dim): the encoder's input."""
        return self.dropout(self.embedding_dropout(self.embedding(ids)))

    def pool(self, hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, features) -> (batch, features), or (batch, 2 * features) for max_mean (the max and the
        mean side by side), looking at real tokens only."""
        mask = torch.arange(hidden.size(1), device=hidden.device)[None, :] < lengths[:, None]  # (batch, seq_len)
        if self.pooling == "last":
            size = self.encoder.hidden_size
            last = hidden.gather(1, (lengths - 1)[:, None, None].expand(-1, 1, hidden.size(2))).squeeze(1)
            if not self.encoder.bidirectional:
                return last
            # forward direction ends at the last token, backward direction at the first
            return torch.cat([last[:, :size], hidden[:, 0, size:]], dim=-1)
        if self.pooling == "attention":
            scores = self.attention(hidden).squeeze(-1).masked_fill(~mask, float("-inf"))  # (batch, seq_len)
            return torch.bmm(torch.softmax(scores, dim=1)[:, None, :], hidden).squeeze(1)
        pooled = []
        if self.pooling in ("max", "max_mean"):
            pooled.append(hidden.masked_fill(~mask[:, :, None], float("-inf")).amax(dim=1))
        if self.pooling in ("mean", "max_mean"):
            pooled.append(hidden.sum(dim=1) / lengths[:, None].to(hidden.dtype))  # padded steps are already 0
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1)
