"""nlp-lstm: sequence classification with (Bi)LSTMs, from text to an evaluated model."""

import os

# PyTorch's CPU threads on Linux are GNU OpenMP's, whose idle threads spin (300,000 turns by default) before
# they sleep. When another process shares the cores, spinning threads take them from it: two trainings at once
# on a 2-core machine ran at 390 ms a step each (and at 3,800 ms with a spin count of 100,000) instead of 190 ms.
# A short spin costs nothing to a process alone (84-95 ms a step either way). It only applies when nlp_lstm is
# imported before torch, as the nlp-lstm command does; a value the user set is kept.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

from .config import Config, load_config
from .data.batching import BucketBatchSampler, collate
from .data.padding import pad_sequences
from .errors import ConfigError, DataError, ModelDirError, NlpLstmError
from .estimators import SequenceRegressor, SequenceTagger, TextClassifier
from .models.classifier import BiLSTMClassifier
from .predictor import Predictor
from .runs import evaluate, predict, train
from .text.tokenizers import TextTokenizer
from .text.vocab import Vocab, build_vocab_from_iterator

__version__ = "0.1.0"

__all__ = [
    "BiLSTMClassifier",
    "BucketBatchSampler",
    "Config",
    "ConfigError",
    "DataError",
    "ModelDirError",
    "NlpLstmError",
    "Predictor",
    "SequenceRegressor",
    "SequenceTagger",
    "TextClassifier",
    "TextTokenizer",
    "Vocab",
    "build_vocab_from_iterator",
    "collate",
    "evaluate",
    "load_config",
    "pad_sequences",
    "predict",
    "train",
]
