"""An LSTM with its gate equations written out, equal to torch.nn.LSTM and able to show its gates.

One time step of one layer and direction, in the words of the tutorial this toolkit grew from
(PyTorch keeps the four gates stacked in the order input, forget, cell candidate, output):

    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)    forget gate: how much of the old cell state to keep
    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)    input gate: how much of the new candidate to write
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)       candidate values that could be added to the state
    c_t = f_t * c_{t-1} + i_t * g_t                         cell-state update: forget some, add some
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)    output gate: which part of the state to show
    h_t = o_t * tanh(c_t)                                   the hidden state, this step's output

`ExplicitLSTM` computes exactly that, step by step, with nn.LSTM's parameters (same names and shapes, so a
state_dict moves both ways) and nn.LSTM's call (input, (h_0, c_0)) -> (output, (h_n, c_n)). Given
`lengths`, a padded step leaves h and c unchanged and outputs zeros, so the result equals nn.LSTM on a
`pack_padded_sequence`. With `return_gates=True` it also returns every step's gate activations and cell
states. It is slower than the fused kernel: use it to look inside, and nn.LSTM to train fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LSTMGates:
    """Per layer and direction, each (batch, seq_len, hidden_size) in input time order; 0 at padded steps."""

    forget: list[list[torch.Tensor]]
    input: list[list[torch.Tensor]]
    candidate: list[list[torch.Tensor]]
    output: list[list[torch.Tensor]]
    cell: list[list[torch.Tensor]]


class ExplicitLSTM(nn.Module):
    """torch.nn.LSTM with the gate equations written out (see the module docstring); same parameters, same call,
    same results (within float rounding), plus padding masks and the gates on request."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = dropout
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            size = input_size if layer == 0 else hidden_size * directions
            for suffix in ["", "_reverse"][:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}",
                                        nn.Parameter(torch.empty(4 * hidden_size, size)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}",
                                        nn.Parameter(torch.empty(4 * hidden_size, hidden_size)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", nn.Parameter(torch.empty(4 * hidden_size)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", nn.Parameter(torch.empty(4 * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.LSTM's initialisation: every parameter uniform in (-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def forward(
        self,
        input: torch.Tensor,
        hx: tuple[torch.Tensor, torch.Tensor] | None = None,
        lengths: torch.Tensor | None = None,
        return_gates: bool = False,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]] | tuple[
            torch.Tensor, tuple[torch.Tensor, torch.Tensor], LSTMGates]:
        """input (seq_len, batch, input_size), or (batch, seq_len, input_size) when batch_first; hx the
        (num_layers * directions, batch, hidden_size) initial h and c (zeros when None); lengths (batch,)
        the real steps of each sequence (all of them when None). Returns output (directions * hidden_size
        features, 0 at padded steps), (h_n, c_n), and the gates when `return_gates`."""
        x = input.transpose(0, 1) if self.batch_first else input  # (seq_len, batch, features)
        seq_len, batch = x.shape[:2]
        directions = 2 if self.bidirectional else 1
        if hx is None:
            zeros = x.new_zeros(self.num_layers * directions, batch, self.hidden_size)
            hx = (zeros, zeros)
        if lengths is None:
            mask = x.new_ones(seq_len, batch, 1, dtype=torch.bool)
        else:
            steps = torch.arange(seq_len, device=x.device)[:, None]
            mask = (steps < lengths.to(x.device)[None, :])[:, :, None]  # (seq_len, batch, 1)
        h_n, c_n = [], []
        traces: dict[str, list[list[torch.Tensor]]] = {k: [] for k in ("forget", "input", "candidate", "output",
                                                                         "cell")}
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = nn.functional.dropout(x, self.dropout, training=True)
            outputs = []
            for traces_row in traces.values():
                traces_row.append([])
            for direction in range(directions):
                k = layer * directions + direction
                out, (h, c), gates = self._run(x, mask, hx[0][k], hx[1][k], layer, direction == 1, return_gates)
                outputs.append(out)
                h_n.append(h)
                c_n.append(c)
                for name, values in gates.items():
                    traces[name][layer].append(values)
            x = torch.cat(outputs, dim=-1) if directions == 2 else outputs[0]
        output = x.transpose(0, 1) if self.batch_first else x
        state = (torch.stack(h_n), torch.stack(c_n))
        if not return_gates:
            return output, state
        if self.batch_first:
            traces = {name: [[t.transpose(0, 1) for t in row] for row in rows] for name, rows in traces.items()}
        return output, state, LSTMGates(**traces)

    def _run(self, x: torch.Tensor, mask: torch.Tensor, h: torch.Tensor, c: torch.Tensor, layer: int, reverse: bool,
             keep_gates: bool) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]:
        """One layer in one direction over (seq_len, batch, features); the outputs and (when `keep_gates`) the
        gates, in time order."""
        suffix = "_reverse" if reverse else ""
        w_ih, w_hh = getattr(self, f"weight_ih_l{layer}{suffix}"), getattr(self, f"weight_hh_l{layer}{suffix}")
        projected = x @ w_ih.t()  # the input part of all four gates, every step at once
        if self.bias:
            projected = projected + getattr(self, f"bias_ih_l{layer}{suffix}")
            projected = projected + getattr(self, f"bias_hh_l{layer}{suffix}")
        steps = range(x.size(0) - 1, -1, -1) if reverse else range(x.size(0))
        outputs: list[torch.Tensor] = [x.new_zeros(0)] * x.size(0)
        gates: dict[str, list[torch.Tensor]] = {k: [x.new_zeros(0)] * x.size(0)
                                                for k in ("forget", "input", "candidate", "output", "cell")}
        for t in steps:
            i, f, g, o = (projected[t] + h @ w_hh.t()).chunk(4, dim=-1)  # PyTorch's gate order
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c_next = f * c + i * g
            h_next = o * torch.tanh(c_next)
            real = mask[t]  # (batch, 1): a padded step keeps h and c as they were
            c = torch.where(real, c_next, c)
            h = torch.where(real, h_next, h)
            outputs[t] = h_next * real
            if keep_gates:
                for name, value in (("forget", f), ("input", i), ("candidate", g), ("output", o), ("cell", c_next)):
                    gates[name][t] = value * real
        stacked = {name: torch.stack(values) for name, values in gates.items()} if keep_gates else {}
        return torch.stack(outputs), (h, c), stacked
