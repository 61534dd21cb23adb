"""A trained model on disk: config.json, tokenizer.json, labels.json, model.safetensors. No pickle."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from .errors import ModelDirError
from .io import atomic_write_bytes, write_json
from .models.classifier import BiLSTMClassifier
from .models.tagger import BiLSTMTagger
from .text.tokenizers import TextTokenizer
from .text.vocab import Vocab

FORMAT_VERSION = 1
FILES = ("config.json", "tokenizer.json", "labels.json", "model.safetensors")


@dataclass
class SavedModel:
    """Everything needed to predict: the model, its tokenizer, label (or tag) names, truncation length;
    a tagger with character features also has its character vocabulary (saved as chars.json)."""

    model: BiLSTMClassifier | BiLSTMTagger
    tokenizer: TextTokenizer
    labels: list[str]
    max_length: int
    config: dict[str, Any]
    char_vocab: Vocab | None = None

    @property
    def task(self) -> str:
        return "tagging" if isinstance(self.model, BiLSTMTagger) else "classification"


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
    }


def save_model_dir(path: str | Path, saved: SavedModel) -> None:
    """Write a model directory that `load_model_dir` reads back alone."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = {"format_version": FORMAT_VERSION, "task": saved.task, "max_length": saved.max_length,
              "model": model_config(saved.model), **saved.config}
    if saved.char_vocab is not None:
        write_json(path / "chars.json", saved.char_vocab.to_dict())
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in saved.model.state_dict().items()}
    atomic_write_bytes(path / "model.safetensors", save_safetensors(state))
    saved.tokenizer.save(path / "tokenizer.json.tmp")
    (path / "tokenizer.json.tmp").replace(path / "tokenizer.json")
    write_json(path / "labels.json", saved.labels)
    write_json(path / "config.json", config)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelDirError(f"{path}: not valid JSON ({err})") from None


def load_model_dir(path: str | Path, device: torch.device | str = "cpu") -> SavedModel:
    """Rebuild the model saved in `path`, in eval mode, on `device`."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory not found: {path}")
    missing = [name for name in FILES if not (path / name).is_file()]
    if missing:
        raise ModelDirError(f"{path} is not a complete model directory: missing {', '.join(missing)} "
                            f"(expected {', '.join(FILES)})")
    config = _read_json(path / "config.json")
    labels = _read_json(path / "labels.json")
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ModelDirError(f"{path / 'config.json'}: expected an object with a 'model' section")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ModelDirError(f"{path / 'labels.json'}: expected a list of label strings")
    task = config.get("task", "classification")
    if task not in ("classification", "tagging"):
        raise ModelDirError(f"{path / 'config.json'}: unknown task {task!r}; expected classification or tagging")
    try:
        model = (BiLSTMTagger if task == "tagging" else BiLSTMClassifier)(**config["model"])
    except (TypeError, ValueError) as err:
        raise ModelDirError(f"{path / 'config.json'}: invalid model section ({err})") from None
    weights = path / "model.safetensors"
    try:
        state = load_safetensors(weights.read_bytes())
        model.load_state_dict(state)
    except (SafetensorError, RuntimeError) as err:
        raise ModelDirError(f"{weights}: unreadable or does not match config.json ({err})") from None
    if len(labels) != model.output.out_features:
        raise ModelDirError(f"{path / 'labels.json'}: {len(labels)} labels, but the model has "
                            f"{model.output.out_features} outputs")
    tokenizer = TextTokenizer.load(path / "tokenizer.json")
    if len(tokenizer) != model.embedding.num_embeddings:  # else ids past the embedding crash predict
        raise ModelDirError(f"{path / 'tokenizer.json'}: {len(tokenizer)} tokens, but model.safetensors has "
                            f"{model.embedding.num_embeddings} embeddings (files from different runs?)")
    char_vocab = None
    if task == "tagging" and model.char_cnn is not None:
        chars_path = path / "chars.json"
        if not chars_path.is_file():
            raise ModelDirError(f"{path} is not a complete model directory: missing chars.json "
                                f"(the tagger uses character features)")
        try:
            char_vocab = Vocab.from_dict(_read_json(chars_path))
        except (TypeError, ValueError) as err:
            raise ModelDirError(f"{chars_path}: not a character vocabulary ({err})") from None
    extra = {k: v for k, v in config.items() if k not in ("format_version", "task", "max_length", "model")}
    return SavedModel(model.to(device).eval(), tokenizer, labels, int(config.get("max_length", 256)), extra,
                      char_vocab)
