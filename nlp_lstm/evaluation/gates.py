"""Look inside a trained model's LSTM: the gate activations and cell state at every token of one text,
computed by the explicit LSTM with the model's own weights, and drawn as one PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import DataError
from ..model_dir import SavedModel, load_model_dir
from . import plots

SHOWN = ("forget", "input", "output")  # the gates drawn; the candidate values are kept in the trace
REPORT_EXAMPLES = 2


@dataclass
class GateTrace:
    """One text through a trained model: its tokens, the model's prediction, and per layer and direction
    (forward, backward) each gate's (n_tokens, hidden_size) activations and the cell state."""

    text: str
    tokens: list[str]
    prediction: str
    layers: list[list[dict[str, np.ndarray]]]

    def summary(self, layer: int = -1) -> dict[str, list[list[float]]]:
        """Per direction: each gate's mean activation per token, and the cell state's norm per token."""
        out: dict[str, list[list[float]]] = {}
        for name in (*SHOWN, "cell"):
            values = [d[name] for d in self.layers[layer]]
            reduce = (lambda a: np.linalg.norm(a, axis=-1)) if name == "cell" else (lambda a: a.mean(axis=-1))
            out[name] = [reduce(v).round(6).tolist() for v in values]
        return out


@torch.no_grad()
def trace_gates(model_dir: str | Path | SavedModel, text: str) -> GateTrace:
    """Run `text` through the model in `model_dir` with the explicit LSTM (the model's weights, on the CPU)
    and record every gate."""
    saved = model_dir if isinstance(model_dir, SavedModel) else load_model_dir(model_dir, "cpu", lstm="explicit")
    model = saved.model
    model = model.members[0] if hasattr(model, "members") else model  # a seed ensemble: its first member's gates
    if saved.task == "tagging":
        from ..predictor import TagPredictor
        from ..text.features import encode_words

        predictor = TagPredictor(saved, torch.device("cpu"))
        tokens = predictor.split(text)
        if not tokens:
            raise DataError("nothing to look at: the text has no tokens")
        ids, chars, casing = encode_words(saved.tokenizer, [tokens], saved.char_vocab, saved.uses_casing)
        from ..data.batching import collate_tagged

        batch = collate_tagged(ids, [0], None, chars, casing, saved.tokenizer.pad_id)
        x = model.features(batch.ids, batch.chars, batch.casing)
        prediction = " ".join(predictor.predict_tags([tokens])[0])
    else:
        from ..predictor import Predictor

        ids = saved.tokenizer.encode(text)[: saved.max_length or None]
        if not ids:
            raise DataError("nothing to look at: the text has no tokens")
        tokens = [t.removesuffix("</w>") for t in saved.tokenizer.tokenize(text)[: len(ids)]]  # <unk> as written
        best = Predictor(saved, torch.device("cpu")).predict([text])[0]
        prediction = f"{best.label} ({best.probability:.2f})"
        x = model.embed(torch.tensor([ids]))
    lengths = torch.tensor([len(tokens)])
    layers = [[{name: values[0].numpy() for name, values in direction.items()} for direction in layer]
              for layer in model.encoder.trace(x, lengths)]
    return GateTrace(text, tokens, prediction, layers)


def gate_figure(trace: GateTrace, layer: int = -1) -> Any:
    """Per token (x axis): the mean forget, input and output gate activation and the cell-state norm, one
    line per direction."""
    summary = trace.summary(layer)
    n = len(trace.tokens)
    figure = plots._figure(max(6.0, 0.35 * n + 2), 7.5)
    axes = figure.subplots(4, 1, sharex=True)
    directions = ["forward", "backward"][: len(trace.layers[layer])]
    for ax, name in zip(axes, (*SHOWN, "cell")):
        for direction, values, style in zip(directions, summary[name], ("-o", "--s")):
            ax.plot(range(n), values, style, markersize=3, label=direction)
        if name == "cell":
            ax.set_ylabel("cell state\nnorm")
        else:
            ax.set_ylabel(f"{name} gate\nmean")
            ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize=8)
    axes[-1].set_xticks(range(n))
    vertical = n > 12 and max(len(t) for t in trace.tokens) > 1  # single Chinese characters fit upright
    labels = [t if len(t) <= 20 else t[:19] + "…" for t in trace.tokens]  # a very long token must not squash the axes
    axes[-1].set_xticklabels(labels, rotation=90 if vertical else 0, fontsize=8)
    number = layer % len(trace.layers) + 1
    prediction = trace.prediction if len(trace.prediction) <= 80 else trace.prediction[:79] + "…"
    figure.suptitle(f"LSTM layer {number} of {len(trace.layers)}; prediction: {prediction}", fontsize=10)
    return figure


def plot_gates(model_dir: str | Path, text: str, output: str | Path, layer: int = -1) -> GateTrace:
    """Write the gate plot of `text` through the model in `model_dir` to `output` (a .png path); returns the
    trace."""
    output = Path(output)
    if output.suffix.lower() != ".png":
        raise DataError(f"--output {output}: the gate plot is a PNG; give a path ending in .png")
    trace = trace_gates(model_dir, text)
    if not -len(trace.layers) <= layer < len(trace.layers):
        raise DataError(f"--layer {layer}: the model has {len(trace.layers)} LSTM layer(s); use 0 to "
                        f"{len(trace.layers) - 1} (or -1, the last)")
    chinese = any(plots.has_cjk(t) for t in trace.tokens + [trace.prediction])
    font = plots.cjk_font() if chinese else None
    if chinese and font is None:
        print(f"note: {plots.NO_CJK_FONT}")
    plots.render_plots(output.parent, {output.stem: lambda: gate_figure(trace, layer)}, font)
    return trace


def gate_section(model_dir: Path, texts: list[str], count: int = REPORT_EXAMPLES) -> tuple[list[Any], dict[str, Any]]:
    """The report's "Inside the LSTM" blocks and plots: the gates of the first `count` texts of 3 to 40 tokens
    (by whitespace, or characters for Chinese), or a note saying why there are none."""
    chosen = [t for t in texts if 3 <= len(t.split() if " " in t.strip() else t) <= 40][:count]
    try:
        saved = load_model_dir(model_dir, "cpu", lstm="explicit")
        traces = [trace_gates(saved, text) for text in chosen]
    except Exception as err:  # an exported (ONNX, int8) or missing model: the report goes on without gates
        return [("p", f"No gate plots: the model in {model_dir} could not run with the explicit LSTM "
                      f"({type(err).__name__}: {err}).")], {}
    if not traces:
        return [("p", "No gate plots: no example of 3 to 40 tokens.")], {}
    blocks: list[Any] = [("p", "The trained weights run through the explicit LSTM (the gate equations written "
                               "out; same results as the fused kernel), on the first examples of the final split. "
                               "Per token: each gate's mean activation over the hidden units, per direction, and "
                               "the norm of the cell state, for the last LSTM layer. A forget gate near 1 keeps "
                               "the cell state; an input gate near 1 writes the new candidate values into it.")]
    builders: dict[str, Any] = {}
    for k, trace in enumerate(traces, start=1):
        name = f"gates_{k}"
        builders[name] = lambda trace=trace: gate_figure(trace)
        blocks.append(("img", name, f"Gates of example {k}: {trace.text[:100]}"))
    return blocks, builders
