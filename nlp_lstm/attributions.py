"""Token attributions: Integrated Gradients on the word embeddings (captum), and occlusion.

Integrated Gradients integrates the gradient of a target score (a classifier's logit, a tagger's emission score)
along the straight line from a baseline to the text's word embeddings. The baseline is the padding embedding (an
all-zero row) at every position, with the text's own length; each token's score is the sum over its embedding
dimensions, and the scores add up to target(text) - target(baseline) (completeness) up to the integral's error,
which `delta` reports. Occlusion replaces one token at a time with `<unk>` and measures how much the target drops;
it needs only forward passes, so it works for every model a model directory holds (int8, ONNX, ensembles).
docs/explain.md says what the scores mean and how faithful they are.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .errors import ConfigError
from .models.onnx_runtime import OnnxModel

METHODS = ("ig", "occlusion")
DEFAULT_STEPS = 50  # captum's default number of Gauss-Legendre points: enough for most texts (docs/explain.md)
MAX_STEPS = 800  # IG retries with 4x the steps while the completeness error is above TOLERANCE, up to this many
TOLERANCE = 1e-2  # completeness: |delta| <= TOLERANCE * max(1, |target(text) - target(baseline)|)


@dataclass
class Explanation:
    """Why a model gave one text (or one token of a sentence) a label: a signed score per token; a positive
    score means the token raised the label's score."""

    text: str
    tokens: list[str]  # the model's tokens, as they read in `text` where the tokenizer gives offsets
    scores: list[float]
    label: str  # the label, tag or entity type explained
    predicted: str  # the model's prediction (a tagger: the explained tokens' predicted tags)
    probability: float | None  # a classifier's probability of `label`; None for taggers
    method: str  # "ig" or "occlusion"
    target: str  # what the scores explain, e.g. "logit" or "probability"
    delta: float | None = None  # IG: sum(scores) - (target(text) - target(baseline)); None for occlusion
    steps: int | None = None  # IG: the number of steps that reached the tolerance (or MAX_STEPS); None for occlusion
    spans: list[tuple[int, int]] | None = None  # each token's (start, end) characters in `text`
    focus: tuple[int, int] | None = None  # taggers: the tokens [start, end) whose tag or entity is explained
    joiner: str = " "  # how tokens join back into text without spans: "" for character-level taggers


def gradients_supported(model: nn.Module) -> bool:
    """Whether Integrated Gradients can run: an ONNX graph and an int8 model (quantized LSTM and Linear layers)
    have no backward pass."""
    if isinstance(model, OnnxModel):
        return False
    return not any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())


def choose_method(model: nn.Module, method: str | None) -> str:
    """`method`, checked; None picks IG where the model has gradients, else occlusion."""
    if method is None:
        return "ig" if gradients_supported(model) else "occlusion"
    if method not in METHODS:
        raise ConfigError(f"The 'method' parameter must be one of {', '.join(METHODS)}. Got {method!r} instead.")
    if method == "ig" and not gradients_supported(model):
        kind = "an ONNX graph" if isinstance(model, OnnxModel) else "an int8 model"
        raise ConfigError(f"method 'ig' needs gradients, and this is {kind}; use method 'occlusion' (a forward-only "
                          f"cross-check), or the PyTorch model directory it was exported from")
    return method


def check_steps(steps: int) -> int:
    """The number of IG steps, an int >= 1."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"The 'steps' parameter must be an int >= 1. Got {steps!r} instead.")
    return steps


def embedding_layers(model: nn.Module) -> list[nn.Module]:
    """The word embedding layers whose outputs IG attributes to: one per ensemble member, or the model's own."""
    members = getattr(model, "members", None)
    return [m.embedding for m in members] if members is not None else [model.embedding]


@contextlib.contextmanager
def _backward_ready(device: torch.device) -> Iterator[None]:
    """Gradients on, and cuDNN off on CUDA: its LSTM has no backward pass in eval mode."""
    with torch.enable_grad():
        if device.type == "cuda":
            with torch.backends.cudnn.flags(enabled=False):
                yield
        else:
            yield


def class_score(model: nn.Module, ids: torch.Tensor, lengths: torch.Tensor, label: int) -> torch.Tensor:
    """(batch,) a classifier's output for `label`: its logit, or an ensemble's log mean probability."""
    return model(ids, lengths)[:, label]


def tag_score(model: nn.Module, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None,
              casing: torch.Tensor | None, positions: tuple[int, ...], tags: tuple[int, ...]) -> torch.Tensor:
    """(batch,) a tagger's emission scores (before any CRF) of tag `tags[j]` at token `positions[j]`, summed."""
    emissions = model(ids, lengths, chars, casing)  # (batch, seq_len, num_tags)
    return emissions[:, list(positions), list(tags)].sum(dim=-1)


def integrated_gradients(target: Callable[..., torch.Tensor], model: nn.Module, ids: torch.Tensor,
                         extra: tuple[object, ...], pad_id: int, steps: int = DEFAULT_STEPS
                         ) -> tuple[np.ndarray, float, int]:
    """Per-token IG scores of `target(model, ids, *extra)` (a (batch,) score: `class_score` or `tag_score`) for one
    (1, seq_len) text from the padding baseline, captum's completeness delta, and the steps used: `steps`, times 4
    while |delta| is above the tolerance, up to MAX_STEPS. Tensors in `extra` have the batch axis first (captum
    repeats them per step); the embeddings of every ensemble member move together."""
    from captum.attr import LayerIntegratedGradients

    layers = embedding_layers(model)
    with warnings.catch_warnings():  # captum warns that several layers must not feed each other: members do not
        warnings.simplefilter("ignore", UserWarning)
        ig = LayerIntegratedGradients(functools.partial(target, model), layers if len(layers) > 1 else layers[0])
    while True:
        with _backward_ready(ids.device):
            attributions, delta = ig.attribute(ids, baselines=torch.full_like(ids, pad_id),
                                               additional_forward_args=extra, n_steps=steps,
                                               internal_batch_size=min(steps, DEFAULT_STEPS),
                                               return_convergence_delta=True)
        if not isinstance(attributions, list):
            attributions = [attributions]
        scores = sum(a.detach().float().sum(dim=-1)[0] for a in attributions)  # (seq_len,): over embedding dims
        error = float(delta.reshape(-1)[0])
        difference = float(scores.sum()) - error  # target(text) - target(baseline)
        # a max-pooled model's score is only piecewise smooth along the path, and long texts cross many kinks
        if abs(error) <= TOLERANCE * max(1.0, abs(difference)) or steps >= MAX_STEPS:
            return scores.cpu().numpy(), error, steps
        steps = min(4 * steps, MAX_STEPS)


def occlusion(score: Callable[[list[list[int]], list[int]], np.ndarray], sequences: Sequence[Sequence[int]],
              unk_id: int) -> list[np.ndarray]:
    """Per-token occlusion scores of several texts: how much the target drops when that token alone becomes `<unk>`.
    `score(variants, rows)` gives the target of each variant (one forward pass over all of them), `rows[j]` being
    the text variant j comes from."""
    variants: list[list[int]] = []
    rows: list[int] = []
    for row, ids in enumerate(sequences):
        ids = list(ids)
        variants += [ids, *(ids[:i] + [unk_id] + ids[i + 1:] for i in range(len(ids)))]
        rows += [row] * (len(ids) + 1)
    values = score(variants, rows)
    results, start = [], 0
    for ids in sequences:
        results.append(values[start] - values[start + 1:start + 1 + len(ids)])
        start += len(ids) + 1
    return results
