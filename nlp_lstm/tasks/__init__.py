"""What differs between tasks, behind one interface (`tasks.base.Task`), one module per task.

A new task is a module here with its Task subclass, one entry in TASKS, and its model in models/build.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch

from ..config import Config
from ..errors import ConfigError, DataError
from .base import Prepared, Task
from .classification import ClassificationTask
from .tagging import TaggingTask

RUN_CHECK_ROWS = 1_000_000  # a run checks at most this many examples of each split (check-data checks all)

TASKS: dict[str, type[Task]] = {task.name: task for task in (ClassificationTask, TaggingTask)}


def get_task(name: str) -> type[Task]:
    """The task class registered under a config's `task` name."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def prepare(config: Config, splits: dict[str, Any] | None = None, labels: Sequence[str] | None = None,
            cache_vectors: bool = False) -> Prepared:
    """Everything a run needs from `config`: the one preparation path of `nlp-lstm train`, `--seeds`, `--resume`,
    torchrun and the estimators. Splits are read from config.data unless given ("train", optional "dev" and
    "test", as the task reads them; without "dev", data.validation_fraction of "train" is held out as dev);
    `labels` fixes a classifier's label order (default: sorted); word vectors stay loaded for the next call only
    with `cache_vectors`. Seeds torch with training.seed first, so the same config gives
    the same model."""
    if config.training.metric == "neg_mse":
        raise ConfigError("training.metric = 'neg_mse' scores SequenceRegressor's numeric predictions; a classifier "
                          "or tagger uses accuracy, macro_f1 or f1")
    task = get_task(config.task)
    if splits is None and not config.data.train:
        raise ConfigError('data.train is empty: name the training data, e.g. [data] train = "csv:reviews.csv" '
                          '(docs/data.md lists the kinds of data spec)')
    if splits is None:
        splits = task.read_splits(config.data)
    validation: dict[str, Any] = {}
    if splits is not None and "dev" not in splits and config.data.validation_fraction > 0:
        validation = {"fraction": config.data.validation_fraction, "split_seed": config.data.split_seed}
        try:
            splits = {**splits, **task.carve_dev(splits["train"], validation["fraction"], validation["split_seed"])}
        except DataError as err:  # too few examples to hold any out: train on all of them, and say why
            validation["not_carved"] = str(err)
    torch.manual_seed(config.training.seed)
    prepared = task.prepare(config, splits, labels, cache_vectors)
    if validation:
        prepared.data_notes["validation"] = validation
    prepared.data_notes["checks"] = task.check_data(splits, config, RUN_CHECK_ROWS)
    prepared.saved.config["run_config"] = config.to_dict()  # what the estimators' `load` restores
    return prepared


def prepare_refit(config: Config, prepared: Prepared, epochs: int, average: int = 1,
                  cache_vectors: bool = False) -> Prepared:
    """The preparation of training.refit: a new tokenizer and model for train + dev, to train for `epochs` epochs
    (as many as the dev-chosen weights took) without early stopping and keep the mean of the last `average`
    epochs' weights (1: the last epoch's), as the dev run did; a test split comes along, the label order stays."""
    data = dataclasses.replace(config.data, validation_fraction=0.0)
    training = dataclasses.replace(config.training, epochs=epochs, patience=0, refit=False, average_last=average)
    splits = {"train": prepared.splits["train"].plus(prepared.splits["dev"]),
              **({"test": prepared.splits["test"]} if "test" in prepared.splits else {})}
    refit = prepare(dataclasses.replace(config, data=data, training=training), splits, prepared.saved.labels,
                    cache_vectors)
    refit.saved.config["run_config"] = config.to_dict()
    refit.saved.config["refit"] = {"epochs": epochs, "averaged_epochs": average, "examples": len(splits["train"])}
    return refit


__all__ = ["TASKS", "ClassificationTask", "Prepared", "TaggingTask", "Task", "get_task", "prepare", "prepare_refit"]
