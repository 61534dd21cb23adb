"""`nlp-lstm check-data`: the data checks of a config's splits, and likely label errors from out-of-fold predictions.

The checks read each split a config names (data.train, and data.dev and data.test where they are given), as a
run reads them, but carve nothing: a split the run would carve out of train is checked as part of train, where
its duplicates show (they become leaks once carved). `label_errors` adds confident learning (cleanlab) over the
out-of-fold probabilities of `folds` small classifiers trained on train.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .errors import ConfigError
from .evaluation.data_checks import (
    EXAMPLES,
    KINDS,
    format_checks,
    new_finding,
    ordered_findings,
    problem_kinds,
    shown_text,
)
from .io import write_json
from .tasks import get_task

LABEL_ERROR_EPOCHS = 3  # each fold's small classifier trains this many epochs at most, on all its examples
LABEL_ERROR_HIDDEN = 128  # and has at most this many hidden units in one layer


def read_given_splits(config: Config) -> dict[str, Any]:
    """"train" and, where config.data names them, "dev" and "test", read as a run reads them."""
    if not config.data.train:
        raise ConfigError('data.train is empty: name the data to check, e.g. nlp-lstm check-data --data '
                          'csv:reviews.csv, or a config with [data] train = "..."')
    task = get_task(config.task)
    columns = dataclasses.asdict(config.data)
    return {role: task.read(spec, columns, role=role)
            for role, spec in (("train", config.data.train), ("dev", config.data.dev), ("test", config.data.test))
            if spec}


def check_data(config: Config, label_errors: bool = False, folds: int = 5) -> dict[str, Any]:
    """The checks of `config`'s splits (evaluation/data_checks.py), with likely label errors in train when asked."""
    splits = read_given_splits(config)
    result = get_task(config.task).check_data(splits, config)
    if label_errors:
        if config.task != "classification":
            raise ConfigError("--label-errors finds mislabelled texts of a classifier's data; tagged data has "
                              "the other checks")
        found = find_label_errors(splits["train"], config, folds)
        result["label_errors"] = {"folds": folds, "epochs": LABEL_ERROR_EPOCHS, "checked": len(splits["train"])}
        result["findings"] = ordered_findings(result["findings"] + ([found] if found else []))
    return result


def find_label_errors(train: Any, config: Config, folds: int = 5) -> dict[str, Any] | None:
    """The label_errors finding of a TextDataset: cleanlab's confident learning over out-of-fold probabilities of
    `folds` small classifiers with `config`'s tokenizer and vectors; None when it finds none."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        raise ConfigError("--label-errors needs cleanlab: pip install 'nlp-lstm[check]'") from None
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from .estimators import TextClassifier

    labels = np.array([str(label) for label in train.labels])
    classes, counts = np.unique(labels, return_counts=True)
    if folds < 2 or counts.min() < folds:
        raise ConfigError(f"--folds {folds}: each of {folds} folds needs every label; the rarest label "
                          f"{classes[counts.argmin()]!r} has {counts.min()} examples (use --folds 2 or more, at most "
                          f"{counts.min()})")
    small = TextClassifier.from_config(config).set_params(
        epochs=min(config.training.epochs, LABEL_ERROR_EPOCHS), validation_fraction=0.0, average_last=1, refit=False,
        n_ensemble=1, num_layers=1, hidden_size=min(config.model.hidden_size, LABEL_ERROR_HIDDEN), verbose=0,
        train="", dev="", test="")
    texts = list(train.texts)
    cv = StratifiedKFold(folds, shuffle=True, random_state=config.training.seed)
    probabilities = cross_val_predict(small, texts, labels, cv=cv, method="predict_proba")
    given = np.searchsorted(classes, labels)
    ranked = find_label_issues(labels=given, pred_probs=probabilities, return_indices_ranked_by="self_confidence")
    if len(ranked) == 0:
        return None
    examples = [{"example": int(i) + 1, "given": str(labels[i]), "predicted": str(classes[probabilities[i].argmax()]),
                 "probability_given": round(float(probabilities[i, given[i]]), 4), "text": shown_text(texts[i])}
                for i in ranked]
    finding = new_finding("label_errors", "train", len(ranked),
                       f"{len(ranked):,} of {len(texts):,} labels look wrong to {folds} classifiers that did not "
                       f"train on them (cleanlab, most doubtful first)", examples)
    finding["examples"] = examples[: max(EXAMPLES, 20)]
    return finding


def run_check_data(config: Config, output: str | Path | None = None, label_errors: bool = False, folds: int = 5,
                   strict: str | None = None) -> int:
    """Print the checks, write them as JSON to `output`, and return the exit status: 1 when `strict` ("all", or a
    comma-separated list of kinds) names a kind that was found, else 0."""
    kinds = None
    if strict not in (None, "all"):
        kinds = [kind.strip() for kind in strict.split(",") if kind.strip()]
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown or not kinds:
            raise ConfigError(f"--strict {strict!r}: unknown kind {', '.join(unknown) or '(none given)'}; expected "
                              f"all or a comma-separated list of {', '.join(KINDS)}")
    result = check_data(config, label_errors, folds)
    print(format_checks(result))
    if output is not None:
        write_json(Path(output), result)
        print(f"data checks: {output}")
    if strict is None:
        return 0
    found = problem_kinds(result, kinds)
    if found:
        print(f"--strict: found {', '.join(found)}")
        return 1
    return 0
