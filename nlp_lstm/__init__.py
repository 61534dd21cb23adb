"""nlp-lstm: sequence classification with (Bi)LSTMs, from text to an evaluated model.

The names below are imported on first use, so `import nlp_lstm` (and `nlp-lstm --help`) does not load torch.
Importing the package changes nothing global.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_EXPORTS = {
    "BiLSTMClassifier": "nlp_lstm.models.classifier",
    "BucketBatchSampler": "nlp_lstm.data.batching",
    "Config": "nlp_lstm.config",
    "ConfigError": "nlp_lstm.errors",
    "DataError": "nlp_lstm.errors",
    "ModelDirError": "nlp_lstm.errors",
    "NlpLstmError": "nlp_lstm.errors",
    "Predictor": "nlp_lstm.predictor",
    "SequenceRegressor": "nlp_lstm.estimators",
    "SequenceTagger": "nlp_lstm.estimators",
    "TagPredictor": "nlp_lstm.predictor",
    "TextClassifier": "nlp_lstm.estimators",
    "TextTokenizer": "nlp_lstm.text.tokenizers",
    "Vocab": "nlp_lstm.text.vocab",
    "build_vocab_from_iterator": "nlp_lstm.text.vocab",
    "check_data": "nlp_lstm.checks",
    "collate": "nlp_lstm.data.batching",
    "evaluate": "nlp_lstm.runs",
    "load_config": "nlp_lstm.config",
    "pad_sequences": "nlp_lstm.data.padding",
    "predict": "nlp_lstm.runs",
    "train": "nlp_lstm.runs",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'nlp_lstm' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
