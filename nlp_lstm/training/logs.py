"""Training logs other tools can plot: steps.csv in the run directory (every logging interval: step, epoch,
training loss, learning rate, tokens/s), and TensorBoard event files in RUN/tensorboard when the
`tensorboard` package is installed (pip install 'nlp-lstm[tensorboard]')."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Any

STEP_COLUMNS = ("step", "epoch", "loss", "learning_rate", "tokens_per_second")


class TrainingLog:
    """Appends step rows to steps.csv and, with tensorboard installed, writes the same scalars and each epoch's
    dev metrics as TensorBoard events."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        self.path = run_dir / "steps.csv"
        kept = []
        if resume_step is not None and self.path.is_file():  # the steps the checkpoint holds; later ones rerun
            with self.path.open(newline="", encoding="utf-8") as handle:
                kept = [row for row in csv.DictReader(handle) if int(row["step"]) <= resume_step]
        with self.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, STEP_COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self.writer = None
        if importlib.util.find_spec("tensorboard") is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_step)

    def step(self, row: dict[str, Any]) -> None:
        """One logging interval's row (STEP_COLUMNS)."""
        with self.path.open("a", newline="", encoding="utf-8") as handle:
            csv.DictWriter(handle, STEP_COLUMNS).writerow({key: row[key] for key in STEP_COLUMNS})
        if self.writer is not None:
            for key in ("loss", "learning_rate", "tokens_per_second"):
                self.writer.add_scalar(f"train/{key}", row[key], row["step"])

    def epoch(self, row: dict[str, Any]) -> None:
        """An epoch's history row: its dev metrics go to TensorBoard (history.jsonl keeps them all)."""
        if self.writer is not None:
            for key, value in row.items():
                if key.startswith("dev_") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"dev/{key[4:]}", value, row["steps"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
