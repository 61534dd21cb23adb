"""Exceptions raised for user errors: each message names the file, line or field and what was expected."""


class NlpLstmError(Exception):
    """Base class of every error this package raises for bad input."""


class ConfigError(NlpLstmError, ValueError):
    """A configuration file, key or value is invalid."""


class DataError(NlpLstmError, ValueError):
    """A data file or data spec is missing, unreadable or malformed."""


class ModelDirError(NlpLstmError, FileNotFoundError):
    """A model directory is missing files or holds unreadable ones."""


class ExportError(NlpLstmError, RuntimeError):
    """An exported model does not reproduce the model it was exported from, or cannot be written."""


class TrainingError(NlpLstmError, RuntimeError):
    """Training cannot go on, e.g. the loss became NaN; the message names the step and what to try."""


class TrainingInterrupted(TrainingError):
    """SIGINT or SIGTERM stopped training; a checkpoint to resume from was written first."""

    def __init__(self, message: str, signal_number: int, checkpoint_dir: object = None) -> None:
        super().__init__(message)
        self.signal_number = signal_number
        self.checkpoint_dir = checkpoint_dir  # the run's checkpoints folder (a Path)
