"""Numeric sequence -> LSTM layers -> the last step's state -> linear: one number per sequence."""

from __future__ import annotations

import torch
from torch import nn

from .encoder import BiLSTMEncoder


class LSTMRegressor(nn.Module):
    """Keras's LSTM(h, return_sequences=True) -> ... -> LSTM(h) -> Dense(1) in PyTorch: stacked LSTM layers
    (Keras's initialisation), the state after each sequence's last real step, one linear output."""

    def __init__(self, input_size: int = 1, hidden_size: int = 50, num_layers: int = 2, bidirectional: bool = False,
                 dropout: float = 0.0, lstm: str = "fused") -> None:
        super().__init__()
        self.encoder = BiLSTMEncoder(input_size, hidden_size, num_layers, bidirectional, dropout, lstm=lstm)
        self.output = nn.Linear(self.encoder.output_size, 1)
        nn.init.xavier_uniform_(self.output.weight)  # Keras's Dense: Glorot-uniform weights, zero bias
        nn.init.zeros_(self.output.bias)

    def forward(self, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, input_size) values, (batch,) lengths -> (batch,) predictions."""
        hidden = self.encoder(values, lengths)  # (batch, seq_len, directions * hidden_size)
        size = self.encoder.hidden_size
        last = hidden.gather(1, (lengths - 1)[:, None, None].expand(-1, 1, hidden.size(2))).squeeze(1)
        if self.encoder.bidirectional:  # the backward direction ends at the first step
            last = torch.cat([last[:, :size], hidden[:, 0, size:]], dim=-1)
        return self.output(last).squeeze(-1)
