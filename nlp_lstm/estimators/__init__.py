"""scikit-learn estimators over the same pipeline the CLI trains.

The constructor only stores hyperparameters; `fit` learns the tokenizer and the model and returns self;
learned state ends in `_`. So `Pipeline`, `cross_val_score` and `GridSearchCV` work.
"""

from .classifier import TextClassifier
from .regressor import SequenceRegressor
from .tagger import SequenceTagger

__all__ = ["SequenceRegressor", "SequenceTagger", "TextClassifier"]
