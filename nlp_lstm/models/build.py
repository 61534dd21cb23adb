"""One function builds every model from its spec (`ModelConfig`) and the sizes the data gives it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..config import ModelConfig
from .classifier import BiLSTMClassifier
from .ensemble import ensemble
from .tagger import BiLSTMTagger


@dataclass
class ModelSizes:
    """What the data decides about a model: vocabulary size, number of labels (or tags), padding id, characters."""

    vocab_size: int
    num_outputs: int
    padding_idx: int = 0
    char_vocab_size: int = 0  # taggers with character features


def build_model(task: str, spec: ModelConfig, sizes: ModelSizes,
                crf_constraints: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
                members: int = 1) -> nn.Module:
    """The classifier or tagger that `spec` describes, sized by `sizes`; a CRF tagger may take BIO/BIOES
    constraints (they are buffers, so a saved model brings its own). `members` > 1: a seed ensemble of that many
    (to load a saved one's weights into)."""
    if members > 1:
        return ensemble([build_model(task, spec, sizes, crf_constraints) for _ in range(members)])
    if task == "classification":
        return BiLSTMClassifier(sizes.vocab_size, sizes.num_outputs, spec, sizes.padding_idx)
    if task == "tagging":
        return BiLSTMTagger(sizes.vocab_size, sizes.num_outputs, spec, sizes.padding_idx, sizes.char_vocab_size,
                            crf_constraints)
    raise ValueError(f"expected task classification or tagging, got {task!r}")


def spec_from_dict(raw: dict[str, Any]) -> ModelConfig:
    """A ModelConfig from its saved dict; keys this version does not know are an error, missing ones default."""
    valid = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(raw) - valid)
    if unknown:
        raise ValueError(f"unknown model setting {unknown[0]!r}; valid settings: {', '.join(sorted(valid))}")
    return ModelConfig(**raw)
