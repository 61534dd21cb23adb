"""What differs between tasks, behind one interface (`tasks.base.Task`), one module per task.

A new task is a module here with its Task subclass, one entry in TASKS, and its model in models/build.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..config import Config
from ..errors import ConfigError
from .base import Prepared, Task
from .classification import ClassificationTask
from .tagging import TaggingTask

TASKS: dict[str, type[Task]] = {task.name: task for task in (ClassificationTask, TaggingTask)}


def get_task(name: str) -> type[Task]:
    """The task class registered under a config's `task` name."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def prepare(config: Config, splits: dict[str, Any] | None = None, labels: Sequence[str] | None = None,
            cache_vectors: bool = False) -> Prepared:
    """Everything a run needs from `config`: the one preparation path of `nlp-lstm train`, `--seeds`, `--resume`,
    torchrun and the estimators. Splits are read from config.data unless given ("train", "dev", optional "test",
    as the task reads them); `labels` fixes a classifier's label order (default: sorted); word vectors stay loaded
    for the next call only with `cache_vectors`. Seeds torch with training.seed first, so the same config gives
    the same model."""
    if config.training.metric == "neg_mse":
        raise ConfigError("training.metric = 'neg_mse' scores SequenceRegressor's numeric predictions; a classifier "
                          "or tagger uses accuracy, macro_f1 or f1")
    task = get_task(config.task)
    if splits is None and not config.data.train:
        raise ConfigError('data.train is empty: name the training data, e.g. [data] train = "csv:reviews.csv" '
                          '(docs/data.md lists the kinds of data spec)')
    torch.manual_seed(config.training.seed)
    prepared = task.prepare(config, splits or task.read_splits(config.data), labels, cache_vectors)
    prepared.saved.config["run_config"] = config.to_dict()  # what the estimators' `load` restores
    return prepared


__all__ = ["TASKS", "ClassificationTask", "Prepared", "TaggingTask", "Task", "get_task", "prepare"]
