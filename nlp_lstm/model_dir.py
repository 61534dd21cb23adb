"""A trained model on disk: config.json, tokenizer.json, labels.json, model.safetensors. No pickle."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from .errors import ModelDirError
from .io import atomic_save_tensors, current_umask, write_json
from .models.classifier import BiLSTMClassifier
from .models.crf import CRF
from .models.onnx_runtime import OnnxModel
from .models.tagger import BiLSTMTagger
from .text.tokenizers import TextTokenizer
from .text.vocab import Vocab
from .training.device import resolve_device

FORMAT_VERSION = 1
FILES = ("config.json", "tokenizer.json", "labels.json", "model.safetensors")
FORMATS = ("pytorch", "int8", "onnx")
CRF_FILE = "crf.safetensors"  # an ONNX tagger's CRF transition scores


@dataclass
class SavedModel:
    """Everything needed to predict: the model, its tokenizer, label (or tag) names, truncation length;
    a tagger with character features also has its character vocabulary (saved as chars.json)."""

    model: BiLSTMClassifier | BiLSTMTagger | OnnxModel
    tokenizer: TextTokenizer
    labels: list[str]
    max_length: int
    config: dict[str, Any]
    char_vocab: Vocab | None = None

    @property
    def task(self) -> str:
        if isinstance(self.model, OnnxModel):
            return self.model.task
        return "tagging" if isinstance(self.model, BiLSTMTagger) else "classification"

    @property
    def uses_casing(self) -> bool:
        """A tagger that reads each word's casing class beside the word."""
        if isinstance(self.model, OnnxModel):
            return "casing" in self.model.input_names
        return getattr(self.model, "casing", None) is not None


def model_config(model: BiLSTMClassifier | BiLSTMTagger) -> dict[str, Any]:
    """The constructor arguments that rebuild `model` (a tagger's CRF constraints live in its weights)."""
    encoder = model.encoder
    if isinstance(model, BiLSTMTagger):
        return {
            "vocab_size": model.embedding.num_embeddings,
            "num_tags": model.output.out_features,
            "embedding_dim": model.embedding.embedding_dim,
            "hidden_size": encoder.hidden_size,
            "num_layers": encoder.num_layers,
            "dropout": model.dropout.p,
            "padding_idx": model.embedding.padding_idx,
            "char_vocab_size": 0 if model.char_cnn is None else model.char_cnn.embedding.num_embeddings,
            "char_embedding_dim": 30 if model.char_cnn is None else model.char_cnn.embedding.embedding_dim,
            "char_filters": 50 if model.char_cnn is None else model.char_cnn.conv.out_channels,
            "casing_embedding_dim": 0 if model.casing is None else model.casing.embedding_dim,
            "num_casings": 8 if model.casing is None else model.casing.num_embeddings,
            "crf": model.crf is not None,
            "embedding_dropout": model.embedding_dropout.p,
            "recurrent_dropout": encoder.recurrent_dropout,
            "lstm": encoder.lstm,
        }
    return {
        "vocab_size": model.embedding.num_embeddings,
        "num_classes": model.output.out_features,
        "embedding_dim": model.embedding.embedding_dim,
        "hidden_size": encoder.hidden_size,
        "num_layers": encoder.num_layers,
        "bidirectional": encoder.bidirectional,
        "dropout": model.dropout.p,
        "pooling": model.pooling,
        "padding_idx": model.embedding.padding_idx,
        "embedding_dropout": model.embedding_dropout.p,
        "recurrent_dropout": encoder.recurrent_dropout,
        "lstm": encoder.lstm,
    }


def save_model_dir(path: str | Path, saved: SavedModel) -> None:
    """Write a model directory that `load_model_dir` reads back alone. The files are written to a temporary
    folder beside `path` and renamed into place, so a crash never leaves a partial model directory; an
    existing model directory at `path` is replaced whole."""
    path = Path(path)
    if path.is_dir() and any(path.iterdir()) and not (path / "config.json").is_file():
        raise ModelDirError(f"{path} holds files that are not a model directory; save the model to a new or empty "
                            f"folder (nothing was written)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        _write_model_files(tmp, saved)
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp makes it 0700
        if path.is_dir() and any(path.iterdir()):
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if path.is_dir():
                path.rmdir()
            tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_model_files(path: Path, saved: SavedModel) -> None:
    config = {"format_version": FORMAT_VERSION, "task": saved.task, "max_length": saved.max_length,
              "model": model_config(saved.model), **saved.config}
    if saved.char_vocab is not None:
        write_json(path / "chars.json", saved.char_vocab.to_dict())
    atomic_save_tensors(path / "model.safetensors", saved.model.state_dict())
    saved.tokenizer.save(path / "tokenizer.json.tmp")
    (path / "tokenizer.json.tmp").replace(path / "tokenizer.json")
    write_json(path / "labels.json", saved.labels)
    write_json(path / "config.json", config)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelDirError(f"{path}: not valid JSON ({err})") from None


def model_format(path: str | Path) -> str:
    """How the directory holds its model: pytorch (model.safetensors), int8 (the same weights, quantized to
    int8 when loaded) or onnx (model.onnx, from `nlp-lstm export`)."""
    config_path = Path(path) / "config.json"
    config = _read_json(config_path) if config_path.is_file() else {}
    found = config.get("format", "pytorch") if isinstance(config, dict) else "pytorch"
    if found not in FORMATS:
        raise ModelDirError(f"{config_path}: unknown format {found!r}; expected one of {', '.join(FORMATS)}")
    return found


def inference_device(path: str | Path, name: str = "auto") -> torch.device:
    """The device to run the model in `path` on: `name` resolved, except that int8 and ONNX models run on
    the CPU only ("auto" picks the CPU for them; an explicit CUDA device is an error)."""
    found = model_format(path)
    if found == "pytorch":
        return resolve_device(name)
    if name != "auto" and resolve_device(name).type != "cpu":
        raise ModelDirError(f"{path} holds an {found} model, which runs on the CPU only; use --device cpu "
                            f"(or the PyTorch model directory it was exported from)")
    return torch.device("cpu")


def load_model_dir(path: str | Path, device: torch.device | str = "cpu", lstm: str | None = None) -> SavedModel:
    """Rebuild the model saved in `path`, in eval mode, on `device`; `lstm` ("fused" or "explicit") loads the
    same weights into the other LSTM implementation than the one it was trained with."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory not found: {path}")
    found = model_format(path)
    expected = FILES if found != "onnx" else ("config.json", "tokenizer.json", "labels.json", "model.onnx")
    missing = [name for name in expected if not (path / name).is_file()]
    if missing:
        raise ModelDirError(f"{path} is not a complete model directory: missing {', '.join(missing)} "
                            f"(expected {', '.join(expected)})")
    if found != "pytorch" and torch.device(device).type != "cpu":
        raise ModelDirError(f"{path} holds an {found} model, which runs on the CPU only; use --device cpu")
    config = _read_json(path / "config.json")
    labels = _read_json(path / "labels.json")
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ModelDirError(f"{path / 'config.json'}: expected an object with a 'model' section")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ModelDirError(f"{path / 'labels.json'}: expected a list of label strings")
    task = config.get("task", "classification")
    if task not in ("classification", "tagging"):
        raise ModelDirError(f"{path / 'config.json'}: unknown task {task!r}; expected classification or tagging")
    if lstm is not None:
        if found != "pytorch":
            raise ModelDirError(f"{path} holds an {found} export; only a PyTorch model directory can change its LSTM")
        config = {**config, "model": {**config["model"], "lstm": lstm}}
    model = _load_onnx(path, task, config) if found == "onnx" else _load_torch(path, task, config)
    outputs = model.num_outputs if isinstance(model, OnnxModel) else model.output.out_features
    if len(labels) != outputs:
        raise ModelDirError(f"{path / 'labels.json'}: {len(labels)} labels, but the model has {outputs} outputs")
    if found == "int8":
        model = quantize_int8(model)
    tokenizer = TextTokenizer.load(path / "tokenizer.json")
    embeddings = config["model"].get("vocab_size")
    if len(tokenizer) != embeddings:  # else ids past the embedding crash predict
        weights = "model.onnx" if found == "onnx" else "model.safetensors"
        raise ModelDirError(f"{path / 'tokenizer.json'}: {len(tokenizer)} tokens, but {weights} has "
                            f"{embeddings} embeddings (files from different runs?)")
    char_vocab = None
    if task == "tagging" and config["model"].get("char_vocab_size", 0):
        chars_path = path / "chars.json"
        if not chars_path.is_file():
            raise ModelDirError(f"{path} is not a complete model directory: missing chars.json "
                                f"(the tagger uses character features)")
        try:
            char_vocab = Vocab.from_dict(_read_json(chars_path))
        except (TypeError, ValueError) as err:
            raise ModelDirError(f"{chars_path}: not a character vocabulary ({err})") from None
    extra = {k: v for k, v in config.items()
             if k not in ("format_version", "task", "max_length", "model", "format", "export")}
    return SavedModel(model.to(device).eval(), tokenizer, labels, int(config.get("max_length", 256)), extra,
                      char_vocab)


def _load_torch(path: Path, task: str, config: dict[str, Any]) -> BiLSTMClassifier | BiLSTMTagger:
    """The PyTorch model of config.json's model section with the weights of model.safetensors."""
    try:
        model = (BiLSTMTagger if task == "tagging" else BiLSTMClassifier)(**config["model"])
    except (TypeError, ValueError) as err:
        raise ModelDirError(f"{path / 'config.json'}: invalid model section ({err})") from None
    _load_weights(model, path / "model.safetensors")
    return model


def _load_weights(module: torch.nn.Module, weights: Path) -> None:
    try:
        module.load_state_dict(load_safetensors(weights.read_bytes()))
    except (SafetensorError, RuntimeError) as err:
        raise ModelDirError(f"{weights}: unreadable or does not match config.json ({err})") from None


def _load_onnx(path: Path, task: str, config: dict[str, Any]) -> OnnxModel:
    """model.onnx on onnxruntime; a tagger's CRF (crf.safetensors) decodes its emission scores."""
    crf = None
    if task == "tagging" and config["model"].get("crf"):
        if not (path / CRF_FILE).is_file():
            raise ModelDirError(f"{path} is not a complete model directory: missing {CRF_FILE} "
                                f"(the tagger decodes with a CRF)")
        crf = CRF(int(config["model"]["num_tags"]))
        _load_weights(crf, path / CRF_FILE)
    return OnnxModel(path / "model.onnx", task, crf)


def quantize_int8(model: BiLSTMClassifier | BiLSTMTagger) -> BiLSTMClassifier | BiLSTMTagger:
    """A copy of `model` with its LSTM and Linear layers dynamically quantized to int8 (CPU only): weights
    are stored as int8, activations are quantized on the fly per batch."""
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model.cpu(), {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8).eval()
