"""A model directory stores the model's spec (ModelConfig) and sizes, and rebuilds the model from them alone;
directories of format 1 (the model's constructor arguments) still load."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from nlp_lstm.config import ModelConfig
from nlp_lstm.errors import ModelDirError
from nlp_lstm.model_dir import SavedModel, load_model_dir, save_model_dir
from nlp_lstm.models.build import ModelSizes, build_model
from nlp_lstm.text.features import build_char_vocab
from nlp_lstm.text.tokenizers import TextTokenizer

TEXTS = ["a good phone", "bad battery", "", "très bien 很好"]


def _saved(task: str, spec: ModelConfig) -> SavedModel:
    torch.manual_seed(0)
    if task == "classification":
        tokenizer = TextTokenizer.train(TEXTS, "word", True, 100, 1)
        labels, chars = ["neg", "pos"], None
    else:
        sentences = [text.split() for text in TEXTS]
        tokenizer = TextTokenizer.train_words(sentences, False, False, 100, 1)
        labels, chars = ["B-X", "I-X", "O"], build_char_vocab(sentences) if spec.char_embedding_dim else None
    sizes = ModelSizes(len(tokenizer), len(labels), tokenizer.pad_id, len(chars) if chars else 0)
    return SavedModel(build_model(task, spec, sizes), tokenizer, labels, 16, {}, spec, chars)


def _outputs(saved: SavedModel) -> torch.Tensor:
    ids = torch.tensor([[2, 3, 4], [3, 0, 0]])
    lengths = torch.tensor([3, 1])
    with torch.no_grad():
        if saved.task == "classification":
            return saved.model.eval()(ids, lengths)
        chars = torch.ones(2, 3, 2, dtype=torch.long) if saved.model.char_cnn is not None else None
        casing = torch.ones(2, 3, dtype=torch.long) if saved.model.casing is not None else None
        return saved.model.eval()(ids, lengths, chars, casing)


SPECS = [("classification", ModelConfig(embedding_dim=8, hidden_size=6, pooling="attention", num_layers=2)),
         ("classification", ModelConfig(embedding_dim=8, hidden_size=6, bidirectional=False, pooling="last")),
         ("tagging", ModelConfig(embedding_dim=8, hidden_size=6, char_embedding_dim=4, char_filters=5,
                                 casing_embedding_dim=3, crf=True)),
         ("tagging", ModelConfig(embedding_dim=8, hidden_size=6))]


@pytest.mark.parametrize(("task", "spec"), SPECS)
def test_the_saved_spec_rebuilds_the_same_model(tmp_path: Path, task: str, spec: ModelConfig) -> None:
    saved = _saved(task, spec)
    save_model_dir(tmp_path / "model", saved)
    config = json.loads((tmp_path / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["format_version"] == 2
    assert config["model"] == dataclasses.asdict(spec)
    assert config["sizes"]["vocab_size"] == len(saved.tokenizer)
    loaded = load_model_dir(tmp_path / "model")
    assert loaded.spec == spec
    torch.testing.assert_close(_outputs(loaded), _outputs(saved), atol=0, rtol=0)


def _v1_arguments(task: str, saved: SavedModel) -> dict:
    """config.json's model section as format 1 wrote it: the constructor arguments of the time."""
    spec, model = saved.spec, saved.model
    common = {"vocab_size": len(saved.tokenizer), "embedding_dim": spec.embedding_dim,
              "hidden_size": spec.hidden_size, "num_layers": spec.num_layers, "dropout": spec.dropout,
              "padding_idx": saved.tokenizer.pad_id, "embedding_dropout": spec.embedding_dropout,
              "recurrent_dropout": spec.recurrent_dropout, "lstm": spec.lstm}
    if task == "classification":
        return {**common, "num_classes": len(saved.labels), "bidirectional": spec.bidirectional,
                "pooling": spec.pooling}
    return {**common, "num_tags": len(saved.labels),
            "char_vocab_size": 0 if model.char_cnn is None else len(saved.char_vocab),
            "char_embedding_dim": spec.char_embedding_dim or 30, "char_filters": spec.char_filters,
            "casing_embedding_dim": spec.casing_embedding_dim, "num_casings": 8, "crf": spec.crf}


@pytest.mark.parametrize(("task", "spec"), SPECS[::2] + SPECS[3:])
def test_a_format_1_directory_still_loads(tmp_path: Path, task: str, spec: ModelConfig) -> None:
    saved = _saved(task, spec)
    save_model_dir(tmp_path / "model", saved)
    path = tmp_path / "model" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(format_version=1, model=_v1_arguments(task, saved))
    del config["sizes"]
    path.write_text(json.dumps(config), encoding="utf-8")
    loaded = load_model_dir(tmp_path / "model")
    torch.testing.assert_close(_outputs(loaded), _outputs(saved), atol=0, rtol=0)


def test_an_unknown_model_setting_names_the_file(tmp_path: Path) -> None:
    save_model_dir(tmp_path / "model", _saved(*SPECS[0]))
    path = tmp_path / "model" / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["model"]["hidden_sise"] = 4
    path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelDirError, match=r"config.json: invalid model section \(unknown model setting "
                                            r"'hidden_sise'"):
        load_model_dir(tmp_path / "model")
