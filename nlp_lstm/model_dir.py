"""A trained model on disk: config.json, tokenizer.json, labels.json, model.safetensors. No pickle."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors

from .config import ModelConfig
from .device import resolve_device
from .errors import ModelDirError
from .io import atomic_save_tensors, current_umask, write_json
from .models.build import ModelSizes, build_model, spec_from_dict
from .models.classifier import BiLSTMClassifier
from .models.crf import CRF
from .models.ensemble import ClassifierEnsemble, TaggerEnsemble
from .models.onnx_runtime import OnnxModel
from .models.tagger import BiLSTMTagger
from .text.tokenizers import TextTokenizer
from .text.vocab import Vocab

FORMAT_VERSION = 2  # 2: config.json's model section is the ModelConfig, sizes beside it; 1: constructor arguments
FILES = ("config.json", "tokenizer.json", "labels.json", "model.safetensors")
FORMATS = ("pytorch", "int8", "onnx")
CRF_FILE = "crf.safetensors"  # an ONNX tagger's CRF scores, for emissions its graph did not decode
HUB_PREFIX = "hf://"
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")


@dataclass
class SavedModel:
    """Everything needed to predict: the model, its tokenizer, label (or tag) names, truncation length;
    a tagger with character features also has its character vocabulary (saved as chars.json)."""

    model: BiLSTMClassifier | BiLSTMTagger | ClassifierEnsemble | TaggerEnsemble | OnnxModel
    tokenizer: TextTokenizer
    labels: list[str]
    max_length: int
    config: dict[str, Any]
    spec: ModelConfig
    char_vocab: Vocab | None = None

    @property
    def task(self) -> str:
        if isinstance(self.model, OnnxModel):
            return self.model.task
        return "tagging" if isinstance(self.model, (BiLSTMTagger, TaggerEnsemble)) else "classification"

    @property
    def uses_casing(self) -> bool:
        """A tagger that reads each word's casing class beside the word."""
        if isinstance(self.model, OnnxModel):
            return "casing" in self.model.input_names
        return getattr(self.model, "casing", None) is not None


def model_sizes(saved: SavedModel) -> ModelSizes:
    """The sizes that, with the spec, rebuild the model: they follow from its tokenizer, labels and characters."""
    return ModelSizes(len(saved.tokenizer), len(saved.labels), saved.tokenizer.pad_id,
                      len(saved.char_vocab) if saved.char_vocab is not None else 0)


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
              "model": dataclasses.asdict(saved.spec), "sizes": dataclasses.asdict(model_sizes(saved)),
              **saved.config}
    if saved.char_vocab is not None:
        write_json(path / "chars.json", saved.char_vocab.to_dict())
    atomic_save_tensors(path / "model.safetensors", saved.model.state_dict())
    saved.tokenizer.save(path / "tokenizer.json.tmp")
    (path / "tokenizer.json.tmp").replace(path / "tokenizer.json")
    write_json(path / "labels.json", saved.labels)
    write_json(path / "config.json", config)


def read_json(path: Path) -> Any:
    """A JSON file of a model directory; an unreadable one is a ModelDirError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelDirError(f"{path}: not valid JSON ({err})") from None


def local_model_dir(name: str | Path) -> Path:
    """A model directory on disk: `name` itself, or a model on the Hugging Face hub (hf://OWNER/NAME[@REVISION], or
    OWNER/NAME where no such local path exists), downloaded to or found in the hub's local cache."""
    text = str(name)
    if not text.startswith(HUB_PREFIX):
        if Path(text).exists() or not REPO_ID.match(text):
            return Path(name)
    repo_id, _, revision = text.removeprefix(HUB_PREFIX).partition("@")
    try:
        return _download(repo_id, revision or None)
    except ModelDirError as err:
        if text.startswith(HUB_PREFIX):
            raise
        raise ModelDirError(f"{text}: no such model directory; as a Hugging Face hub model: {err}") from None


@functools.lru_cache(maxsize=16)
def _download(repo_id: str, revision: str | None) -> Path:
    """The local snapshot of a hub model repository (the cache's copy when the hub cannot be reached)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from ._version import __version__

    name = f"{HUB_PREFIX}{repo_id}" + (f"@{revision}" if revision else "")
    try:
        return Path(snapshot_download(repo_id, revision=revision, library_name="nlp-lstm",
                                      library_version=__version__))
    except LocalEntryNotFoundError:
        raise ModelDirError(f"{name}: not in the local Hugging Face cache, and the hub cannot be reached (offline, "
                            f"or HF_HUB_OFFLINE=1); download it once while online") from None
    except RepositoryNotFoundError:
        raise ModelDirError(f"{name}: no such model repository on the Hugging Face hub (a private one needs "
                            f"`hf auth login` or HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise ModelDirError(f"{name}: the repository has no revision {revision!r}") from None
    except HFValidationError as err:
        raise ModelDirError(f"{name}: not a hub repository id ({err})") from None
    except (HfHubHTTPError, OSError) as err:
        raise ModelDirError(f"{name}: download failed ({type(err).__name__}: {err})") from None


def model_format(path: str | Path) -> str:
    """How the directory holds its model: pytorch (model.safetensors), int8 (the same weights, quantized to
    int8 when loaded) or onnx (model.onnx, from `nlp-lstm export`)."""
    config_path = local_model_dir(path) / "config.json"
    config = read_json(config_path) if config_path.is_file() else {}
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
    same weights into the other LSTM implementation than the one it was trained with; `path` may name a hub model
    (`local_model_dir`)."""
    path = local_model_dir(path)
    if not path.is_dir():
        raise ModelDirError(f"model directory not found: {path}")
    found = model_format(path)
    expected = FILES if found != "onnx" else ("config.json", "tokenizer.json", "labels.json", "model.onnx")
    missing = [name for name in expected if not (path / name).is_file()]
    if missing:
        hint = f"; {path} is a run directory: its model is {path / 'model'}" if (path / "model" / "config.json"
                                                                                ).is_file() else ""
        raise ModelDirError(f"{path} is not a complete model directory: missing {', '.join(missing)} "
                            f"(expected {', '.join(expected)}){hint}")
    if found != "pytorch" and torch.device(device).type != "cpu":
        raise ModelDirError(f"{path} holds an {found} model, which runs on the CPU only; use --device cpu")
    config = read_json(path / "config.json")
    labels = read_json(path / "labels.json")
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ModelDirError(f"{path / 'config.json'}: expected an object with a 'model' section")
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ModelDirError(f"{path / 'labels.json'}: expected a list of label strings")
    task = config.get("task", "classification")
    if task not in ("classification", "tagging"):
        raise ModelDirError(f"{path / 'config.json'}: unknown task {task!r}; expected classification or tagging")
    spec, sizes = _read_spec(path / "config.json", task, config)
    if lstm is not None:
        if found != "pytorch":
            raise ModelDirError(f"{path} holds an {found} export; only a PyTorch model directory can change its LSTM")
        spec = dataclasses.replace(spec, lstm=lstm)
    members = _members(path / "config.json", config)
    model = _load_onnx(path, task, spec, sizes) if found == "onnx" else _load_torch(path, task, spec, sizes, members)
    outputs = model.num_outputs if isinstance(model, OnnxModel) else model.output.out_features
    if len(labels) != outputs:
        raise ModelDirError(f"{path / 'labels.json'}: {len(labels)} labels, but the model has {outputs} outputs")
    if found == "int8":
        model = quantize_int8(model)
    tokenizer = TextTokenizer.load(path / "tokenizer.json")
    if len(tokenizer) != sizes.vocab_size:  # else ids past the embedding crash predict
        weights = "model.onnx" if found == "onnx" else "model.safetensors"
        raise ModelDirError(f"{path / 'tokenizer.json'}: {len(tokenizer)} tokens, but {weights} has "
                            f"{sizes.vocab_size} embeddings (files from different runs?)")
    char_vocab = None
    if task == "tagging" and sizes.char_vocab_size:
        chars_path = path / "chars.json"
        if not chars_path.is_file():
            raise ModelDirError(f"{path} is not a complete model directory: missing chars.json "
                                f"(the tagger uses character features)")
        try:
            char_vocab = Vocab.from_dict(read_json(chars_path))
        except (TypeError, ValueError) as err:
            raise ModelDirError(f"{chars_path}: not a character vocabulary ({err})") from None
    extra = {k: v for k, v in config.items()
             if k not in ("format_version", "task", "max_length", "model", "sizes", "format", "export")}
    return SavedModel(model.to(device).eval(), tokenizer, labels, int(config.get("max_length", 256)), extra, spec,
                      char_vocab)


# config.json of format 1 stored the model's constructor arguments; these of them were sizes, not settings
_V1_SIZES = {"vocab_size": "vocab_size", "num_classes": "num_outputs", "num_tags": "num_outputs",
             "padding_idx": "padding_idx", "char_vocab_size": "char_vocab_size"}


def _read_spec(config_path: Path, task: str, config: dict[str, Any]) -> tuple[ModelConfig, ModelSizes]:
    """The model's spec and sizes from config.json (format 2, or the constructor arguments of format 1)."""
    raw = dict(config["model"])
    try:
        if config.get("format_version", 1) >= 2:
            sizes = ModelSizes(**config.get("sizes", {}))
        else:
            sizes = ModelSizes(**{_V1_SIZES[k]: raw.pop(k) for k in list(raw) if k in _V1_SIZES})
            raw.pop("num_casings", None)
            if not sizes.char_vocab_size and task == "tagging":
                raw["char_embedding_dim"] = 0
        return spec_from_dict(raw), sizes
    except (TypeError, ValueError) as err:
        raise ModelDirError(f"{config_path}: invalid model section ({err})") from None


def _members(config_path: Path, config: dict[str, Any]) -> int:
    """How many seed-ensemble members config.json says the model has (1: a single model)."""
    members = (config.get("ensemble") or {}).get("members", 1)
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise ModelDirError(f"{config_path}: ensemble.members must be an int >= 1, got {members!r}")
    return members


def _load_torch(path: Path, task: str, spec: ModelConfig, sizes: ModelSizes, members: int = 1) -> torch.nn.Module:
    """The PyTorch model of config.json's spec (a seed ensemble of `members`) with the weights of
    model.safetensors."""
    model = build_model(task, spec, sizes, members=members)
    _load_weights(model, path / "model.safetensors")
    return model


def _load_weights(module: torch.nn.Module, weights: Path) -> None:
    try:
        module.load_state_dict(load_safetensors(weights.read_bytes()))
    except (SafetensorError, RuntimeError) as err:
        raise ModelDirError(f"{weights}: unreadable or does not match config.json ({err})") from None


def _load_onnx(path: Path, task: str, spec: ModelConfig, sizes: ModelSizes) -> OnnxModel:
    """model.onnx on onnxruntime, with a CRF tagger's CRF (crf.safetensors) for emission scores that the graph's
    own tags do not cover (all of them for a graph without a `tags` output)."""
    crf = None
    if task == "tagging" and spec.crf:
        if not (path / CRF_FILE).is_file():
            raise ModelDirError(f"{path} is not a complete model directory: missing {CRF_FILE} "
                                f"(the tagger decodes with a CRF)")
        crf = CRF(sizes.num_outputs)
        _load_weights(crf, path / CRF_FILE)
    return OnnxModel(path / "model.onnx", task, crf)


def quantize_int8(model: BiLSTMClassifier | BiLSTMTagger) -> BiLSTMClassifier | BiLSTMTagger:
    """A copy of `model` with its LSTM and Linear layers dynamically quantized to int8 (CPU only): weights
    are stored as int8, activations are quantized on the fly per batch."""
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore")
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model.cpu(), {torch.nn.LSTM, torch.nn.Linear}, dtype=torch.qint8).eval()
