"""What every task provides, and what a prepared run hands the trainer.

A task is one class in one module (tasks/classification.py, tasks/tagging.py). Its instance is what the
Trainer calls per batch (`lengths`, `collate`, `loss`, `evaluate`, `summary_metrics`); its class methods are the
rest of what differs between tasks: reading data, preparing a run, scoring a saved model, predicting, writing
predictions, report sections and export inputs. tasks/__init__.py registers each task under its config name.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..config import Config, DataConfig, TrainingConfig
from ..data.ragged import row_lengths
from ..io import atomic_write_text
from ..model_dir import SavedModel
from ..training.unk_replacement import UnkReplacement


@dataclass
class Prepared:
    """A run's data, model and task, ready for the shared training loop."""

    model: torch.nn.Module
    task: Task  # what the trainer calls per batch
    encoded: dict[str, Any]  # split -> the task's encoded split
    splits: dict[str, Any]  # split -> the dataset it was encoded from
    saved: SavedModel
    summary: str  # one line for the run's "data:" line: labels or tags
    training: TrainingConfig  # config.training with the early-stopping metric resolved
    data_notes: dict[str, Any] = field(default_factory=dict)  # merged into metrics.json's "data"

    @property
    def sizes(self) -> dict[str, int]:
        """Examples per split."""
        return {split: len(data) for split, data in self.splits.items()}


class Task:
    """The interface every task implements; see the module docstring."""

    name: ClassVar[str]
    export_outputs: ClassVar[dict[str, dict[int, str]]]  # the ONNX graph's outputs in order: name -> dynamic axes
    summary_metrics: tuple[str, ...]

    # ---- what the trainer calls per batch
    def lengths(self, split: Any) -> Sequence[int]:
        """Each example's length, for length bucketing."""
        raise NotImplementedError

    def collate(self, split: Any, indices: Sequence[int]) -> Any:
        """The padded training batch of these examples."""
        raise NotImplementedError

    def loss(self, model: torch.nn.Module, batch: Any) -> torch.Tensor:
        """The training loss of a batch."""
        raise NotImplementedError

    def evaluate(self, model: torch.nn.Module, split: Any, device: torch.device) -> tuple[dict[str, Any], Any]:
        """Metrics and predictions on an encoded split."""
        raise NotImplementedError

    def write_predictions(self, path: Path, dataset: Any, predicted: Any) -> None:
        """predictions.jsonl: one JSON object per example, gold beside predicted."""
        raise NotImplementedError

    def baselines(self, train: Any, dataset: Any) -> dict[str, dict[str, Any]]:
        """What a trivial model learned from `train` scores on `dataset`, by baseline name: the bar the
        LSTM must clear."""
        raise NotImplementedError

    # ---- the rest of a run
    @classmethod
    def read(cls, spec: str, columns: dict[str, Any], role: str = "train") -> Any:
        """The labelled dataset a data spec names, with the given column settings (DataConfig's names)."""
        raise NotImplementedError

    @classmethod
    def read_splits(cls, data: DataConfig) -> dict[str, Any]:
        """"train" and, where there are, "dev" and "test" datasets: each read from its spec or carved out of
        train."""
        raise NotImplementedError

    @classmethod
    def carve_dev(cls, train: Any, fraction: float, seed: int) -> dict[str, Any]:
        """"train" and "dev": `fraction` of the training examples held out as dev, seeded."""
        raise NotImplementedError

    @classmethod
    def prepare(cls, config: Config, splits: dict[str, Any], labels: Sequence[str] | None,
                cache_vectors: bool) -> Prepared:
        """Tokenizer, vocabulary, encoded splits, model and task instance for `config` and these splits."""
        raise NotImplementedError

    @classmethod
    def check_data(cls, splits: dict[str, Any], config: Config, max_rows: int | None = None) -> dict[str, Any]:
        """Statistics and findings of labelled splits (evaluation/data_checks.py), the first `max_rows` of each
        when given."""
        raise NotImplementedError

    @classmethod
    def format_metrics(cls, metrics: dict[str, Any], split: str) -> str:
        """The metrics of one split as the lines the terminal shows."""
        raise NotImplementedError

    @classmethod
    def score_saved(cls, saved: SavedModel, device: torch.device, dataset: Any) -> tuple[dict[str, Any], Task, Any]:
        """A saved model's metrics on a dataset, the task instance that writes its predictions, and them."""
        raise NotImplementedError

    @classmethod
    def predictor(cls, saved: SavedModel, device: torch.device) -> Any:
        """The object that predicts raw inputs with a saved model (`predict(inputs)`)."""
        raise NotImplementedError

    @classmethod
    def predicted_units(cls, model_dir: str | Path, dataset: Any) -> tuple[list[str], list[str], str]:
        """Gold and predicted labels per unit (text or token) of a saved model on a dataset, and the unit's name."""
        raise NotImplementedError

    @classmethod
    def report_sections(cls, run: Any, font: str | None) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        """The report's sections (all but provenance), its report.json summary and the plots to draw."""
        raise NotImplementedError

    @classmethod
    def export_graph(cls, model: torch.nn.Module) -> torch.nn.Module:
        """The module that ONNX export traces: its forward takes exactly the inputs of `export_inputs`."""
        raise NotImplementedError

    @classmethod
    def export_inputs(cls, model: torch.nn.Module, lengths: list[int], seed: int) -> dict[str, torch.Tensor]:
        """A right-padded random batch of the model's inputs, by input name in the graph's order."""
        raise NotImplementedError


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """One JSON object a line (UTF-8, not escaped), written atomically."""
    lines = [json.dumps(row, ensure_ascii=False) for row in rows]
    atomic_write_text(path, "\n".join(lines) + ("\n" if lines else ""))


def resolved_training(config: Config, entity: bool = False) -> TrainingConfig:
    """training with metric = "auto" made concrete: f1 for entity tags, else accuracy."""
    if config.training.metric != "auto":
        return config.training
    return dataclasses.replace(config.training, metric="f1" if entity else "accuracy")


def truncation_note(ids: dict[str, Sequence[Sequence[int]]], max_length: int | None) -> dict[str, Any]:
    """How many texts of each split are longer than `max_length` tokens (they keep their first `max_length`);
    printed as a note when there are any, and recorded in metrics.json."""
    if not max_length:
        return {}
    counts = {split: int((row_lengths(rows) > max_length).sum()) for split, rows in ids.items()}
    if any(counts.values()):
        found = ", ".join(f"{n:,} of {len(ids[split]):,} {split}" for split, n in counts.items() if n)
        print(f"note: {found} texts are longer than data.max_length = {max_length} tokens; they keep their first "
              f"{max_length}")
    return {"max_length": max_length, **counts}


def unk_note(replacement: UnkReplacement | None) -> dict[str, Any]:
    """metrics.json's record of the <unk> replacement, when there is one."""
    if replacement is None:
        return {}
    return {"unk_replace": {"probability": replacement.probability, "rare_words": replacement.num_rare}}


def random_ids(model: torch.nn.Module, lengths: list[int], generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch, max length) random word ids, right-padded with 0, and the mask of real positions."""
    real = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    vocab = model.embedding.num_embeddings
    ids = torch.randint(2, max(vocab, 3), (len(lengths), max(lengths)), generator=generator).masked_fill(~real, 0)
    return ids, real


def replace_unk(task: Any, batch: Any) -> Any:
    """The batch with rare words replaced by <unk> at random, when the task asks for it."""
    if task.unk_replacement is not None:
        batch.ids = task.unk_replacement(batch.ids)
    return batch


def weights_on_device(task: Any, device: torch.device) -> torch.Tensor | None:
    """The task's class weights on `device`, moved there once rather than on every step."""
    if task.class_weights is not None and task.class_weights.device != device:
        task.class_weights = task.class_weights.to(device)
    return task.class_weights
