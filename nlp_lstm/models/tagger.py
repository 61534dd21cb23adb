"""Word embedding [+ character CNN] [+ casing] -> BiLSTM -> per-token scores [-> CRF]: one tag per token."""

from __future__ import annotations

import torch
from torch import nn

from ..config import ModelConfig
from ..text.features import CASINGS
from .char_cnn import CharCNN
from .crf import CRF
from .dropout import Dropout, EmbeddingDropout
from .encoder import BiLSTMEncoder


class BiLSTMTagger(nn.Module):
    """Sequence tagger; `forward` gives emission scores, `loss` and `decode` read them (with a CRF
    when `crf=True`, else token by token). Results do not depend on the padding."""

    def __init__(
        self,
        vocab_size: int,
        num_tags: int,
        spec: ModelConfig | None = None,
        padding_idx: int = 0,
        char_vocab_size: int = 0,
        crf_constraints: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        spec = spec or ModelConfig()
        self.embedding = nn.Embedding(vocab_size, spec.embedding_dim, padding_idx=padding_idx)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        with torch.no_grad():
            self.embedding.weight[padding_idx].zero_()
        use_chars = spec.char_embedding_dim > 0 and char_vocab_size > 0
        self.char_cnn = CharCNN(char_vocab_size, spec.char_embedding_dim, spec.char_filters) if use_chars else None
        self.casing = (nn.Embedding(len(CASINGS), spec.casing_embedding_dim, padding_idx=0)
                       if spec.casing_embedding_dim else None)
        input_size = spec.embedding_dim + (spec.char_filters if use_chars else 0) + spec.casing_embedding_dim
        self.embedding_dropout = EmbeddingDropout(spec.embedding_dropout)
        self.encoder = BiLSTMEncoder(input_size, spec.hidden_size, spec.num_layers, spec.bidirectional, spec.dropout,
                                     spec.recurrent_dropout, spec.lstm)
        self.dropout = Dropout(spec.dropout)
        self.output = nn.Linear(self.encoder.output_size, num_tags)
        self.crf = CRF(num_tags, crf_constraints) if spec.crf else None  # constraints are buffers: saved

    def forward(
        self,
        ids: torch.Tensor,
        lengths: torch.Tensor,
        chars: torch.Tensor | None = None,
        casing: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(batch, seq_len) ids, (batch,) lengths [, (batch, seq_len, word_len) chars, (batch, seq_len)
        casing] -> (batch, seq_len, num_tags) emission scores."""
        hidden = self.encoder(self.features(ids, chars, casing), lengths)  # (batch, seq_len, 2 * hidden)
        return self.output(self.dropout(hidden))

    def features(self, ids: torch.Tensor, chars: torch.Tensor | None = None,
                 casing: torch.Tensor | None = None) -> torch.Tensor:
        """Each word's embedding [+ character CNN features + casing embedding]: the encoder's input."""
        features = [self.embedding_dropout(self.embedding(ids))]
        if self.char_cnn is not None:
            features.append(self.char_cnn(chars))
        if self.casing is not None:
            features.append(self.casing(casing))
        return self.dropout(torch.cat(features, dim=-1))

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
             class_weights: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood per sentence (CRF) or mean cross-entropy per real token, with
        `class_weights` (one per tag) the weighted mean; a CRF scores whole sentences, so it takes none."""
        if self.crf is not None:
            if class_weights is not None:
                raise ValueError("class weights need a per-token loss; this tagger has a CRF")
            return -self.crf(emissions, tags, mask).mean()
        return nn.functional.cross_entropy(emissions[mask], tags[mask], weight=class_weights)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag ids of each sentence, as long as the sentence."""
        return decode_emissions(emissions, mask, self.crf)


def decode_emissions(emissions: torch.Tensor, mask: torch.Tensor, crf: CRF | None) -> list[list[int]]:
    """Best tag ids of each sentence from (batch, seq_len, num_tags) emissions: Viterbi with a CRF,
    else the best tag of each token."""
    if crf is not None:
        return crf.decode(emissions, mask)
    best = emissions.argmax(dim=-1).tolist()
    return [row[:length] for row, length in zip(best, mask.sum(dim=1).tolist())]
