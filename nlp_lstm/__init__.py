"""nlp-lstm: sequence classification with (Bi)LSTMs, from text to an evaluated model."""

from .api import SequenceRegressor, SequenceTagger, TextClassifier
from .config import Config, load_config
from .data.batching import BucketBatchSampler, collate
from .data.padding import pad_sequences
from .errors import ConfigError, DataError, ModelDirError, NlpLstmError
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
