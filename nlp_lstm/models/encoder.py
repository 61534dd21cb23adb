"""A multi-layer (Bi)LSTM over right-padded batches that is exact for every length, without packing."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from .dropout import Dropout
from .lstm import ExplicitLSTM

LSTM_KINDS = ("fused", "explicit")  # torch.nn.LSTM's fused kernel, or the gate equations written out
GATE_NAMES = ("forget", "input", "candidate", "output", "cell")


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first `length` steps and leave its padding in place; its own inverse."""
    steps = torch.arange(x.size(1), device=x.device)[None, :]  # (1, seq_len)
    last = (lengths - 1)[:, None]  # (batch, 1)
    index = torch.where(steps <= last, last - steps, steps)  # (batch, seq_len)
    # whole rows of the flattened (batch * seq_len, features) input: index_select copies each step's vector,
    # where gather over (batch, seq_len, features) looks up every element, forward and backward
    rows = index + torch.arange(x.size(0), device=x.device)[:, None] * x.size(1)
    return x.reshape(-1, x.size(2)).index_select(0, rows.flatten()).view_as(x)


def init_lstm_(lstm: nn.LSTM | ExplicitLSTM) -> None:
    """Keras's LSTM initialisation: Glorot-uniform input weights, orthogonal recurrent weights,
    zero biases but forget gate bias 1. It learns much faster per epoch than PyTorch's default."""
    hidden_size = lstm.hidden_size
    for name, param in lstm.named_parameters():
        if name.startswith("weight_ih"):
            for gate in param.data.chunk(4, 0):
                nn.init.xavier_uniform_(gate)
        elif name.startswith("weight_hh"):
            for gate in param.data.chunk(4, 0):
                nn.init.orthogonal_(gate)
        elif name.startswith("bias"):
            nn.init.zeros_(param)
            if name.startswith("bias_ih"):
                param.data[hidden_size : 2 * hidden_size] = 1.0  # PyTorch gate order: input, forget, cell, output


class BiLSTMEncoder(nn.Module):
    """Stacked LSTM layers over a padded batch, the backward direction reading each sequence reversed
    within its own length.

    On a right-padded batch the forward direction never sees padding before a real token, so the
    fused `nn.LSTM` kernel runs on the whole padded tensor; the backward direction does the same on
    each sequence reversed within its length. The result equals `pack_padded_sequence` exactly, with the
    fused kernel running on one dense tensor instead of packed sequences.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = True, dropout: float = 0.0,
        recurrent_dropout: float = 0.0, lstm: str = "fused",
    ) -> None:
        super().__init__()
        if lstm not in LSTM_KINDS:
            raise ValueError(f"lstm must be one of {', '.join(LSTM_KINDS)}; got {lstm!r}")
        self.lstm = lstm
        self.hidden_size = hidden_size
        self.recurrent_dropout = recurrent_dropout
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        num_directions = 2 if bidirectional else 1
        sizes = [input_size] + [num_directions * hidden_size] * (num_layers - 1)
        # the explicit LSTM has nn.LSTM's parameter names, so either kind loads the other's weights
        kind = nn.LSTM if lstm == "fused" else ExplicitLSTM
        self.forward_layers = nn.ModuleList(kind(size, hidden_size, batch_first=True) for size in sizes)
        self.backward_layers = nn.ModuleList(
            kind(size, hidden_size, batch_first=True) for size in (sizes if bidirectional else [])
        )
        self.dropout = Dropout(dropout)
        for lstm in [*self.forward_layers, *self.backward_layers]:
            init_lstm_(lstm)

    @property
    def output_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len, input_size), (batch,) -> (batch, seq_len, output_size); padded steps are 0."""
        outputs = self.directions(x, lengths)
        if not self.bidirectional:
            return outputs[0]
        return torch.cat([outputs[0], reverse_within_length(outputs[1], lengths)], dim=-1)

    def directions(self, x: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """The last layer's (batch, seq_len, hidden_size) output of each direction in its own reading order:
        the backward direction's stays reversed within each length. Padded steps are 0. Max and mean
        pooling read these as they are, which saves re-aligning and concatenating the whole sequence."""
        for layer in range(self.num_layers):
            if layer > 0:
                x = self.dropout(x)
            outputs = [self._run(self.forward_layers[layer], x)]
            if self.bidirectional:
                outputs.append(self._run(self.backward_layers[layer], reverse_within_length(x, lengths)))
            if layer + 1 < self.num_layers:
                x = outputs[0] if not self.bidirectional else torch.cat(
                    [outputs[0], reverse_within_length(outputs[1], lengths)], dim=-1)
        # reversal within length leaves padding in place, so one mask fits both directions
        mask = (torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None])[:, :, None]
        return [out * mask for out in outputs]

    def trace(self, x: torch.Tensor, lengths: torch.Tensor) -> list[list[dict[str, torch.Tensor]]]:
        """Every layer's gates: per layer, per direction (forward, backward), the forget, input, candidate and
        output gate activations and the cell state, each (batch, seq_len, hidden_size) aligned with the input
        tokens, 0 at padded steps. Needs the explicit LSTM (load the model with lstm="explicit")."""
        if self.lstm != "explicit":
            raise ValueError('the fused nn.LSTM does not expose its gates; build the model with lstm="explicit"')
        layers = []
        for layer in range(self.num_layers):
            out, _, gates = self.forward_layers[layer](x, lengths=lengths, return_gates=True)
            traces = [{name: getattr(gates, name)[0][0] for name in GATE_NAMES}]
            outputs = [out]
            if self.bidirectional:
                reversed_x = reverse_within_length(x, lengths)
                out, _, gates = self.backward_layers[layer](reversed_x, lengths=lengths, return_gates=True)
                traces.append({name: reverse_within_length(getattr(gates, name)[0][0], lengths)
                               for name in GATE_NAMES})
                outputs.append(reverse_within_length(out, lengths))
            layers.append(traces)
            x = torch.cat(outputs, dim=-1)
        return layers

    def _run(self, lstm: nn.LSTM, x: torch.Tensor) -> torch.Tensor:
        """One LSTM layer; in training with recurrent dropout, on a DropConnect mask of its hidden-to-hidden
        weights (one mask per batch, as in AWD-LSTM), which keeps the fused kernel."""
        if not (self.training and self.recurrent_dropout > 0):
            return lstm(x)[0]
        dropped = nn.functional.dropout(lstm.weight_hh_l0, self.recurrent_dropout, training=True)
        return functional_call(lstm, {"weight_hh_l0": dropped}, (x,))[0]
