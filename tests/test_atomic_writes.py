"""Atomic writes: a crash while saving leaves the previous file or model directory whole, and a truncated
or corrupted model file is refused with an error naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nlp_lstm import io as nlp_io
from nlp_lstm.errors import ModelDirError
from nlp_lstm.model_dir import load_model_dir, save_model_dir
from nlp_lstm.text.tokenizers import TextTokenizer


@pytest.fixture()
def model_dir(classifier_run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(classifier_run / "model", tmp_path / "model"))


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "labels.json", "tokenizer.json"])
def test_a_truncated_model_file_is_refused_naming_it(model_dir: Path, name: str) -> None:
    data = (model_dir / name).read_bytes()
    (model_dir / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelDirError, match=rf"{model_dir / name}"):
        load_model_dir(model_dir)


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_a_corrupted_model_file_is_refused_naming_it(model_dir: Path, name: str) -> None:
    data = bytearray((model_dir / name).read_bytes())
    data[:16] = b"\xff" * 16
    (model_dir / name).write_bytes(bytes(data))
    with pytest.raises(ModelDirError, match=rf"{model_dir / name}"):
        load_model_dir(model_dir)


def test_a_crash_while_saving_leaves_no_model_directory(model_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    saved = load_model_dir(model_dir)

    def crash(self: TextTokenizer, path: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(TextTokenizer, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model_dir(tmp_path / "new", saved)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no partial folder, no leftovers
    # over an existing model directory: it stays as it was, loadable
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    with pytest.raises(OSError, match="disk full"):
        save_model_dir(model_dir, saved)
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    load_model_dir(model_dir)


def test_saving_replaces_a_model_directory_whole_and_refuses_a_folder_of_other_files(model_dir: Path,
                                                                                   tmp_path: Path) -> None:
    saved = load_model_dir(model_dir)
    (model_dir / "crf.safetensors").write_bytes(b"left from another model")
    save_model_dir(model_dir, saved)
    assert not (model_dir / "crf.safetensors").exists()
    load_model_dir(model_dir)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("mine")
    with pytest.raises(ModelDirError, match=r"holds files that are not a model directory.*nothing was written"):
        save_model_dir(other, saved)
    assert [p.name for p in other.iterdir()] == ["todo.txt"]


def test_a_crash_during_an_atomic_write_keeps_the_old_file_and_leaves_no_temporary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "metrics.json"
    nlp_io.write_json(target, {"accuracy": 0.5})

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(nlp_io.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        nlp_io.write_json(target, {"accuracy": 0.9})
    assert target.read_text() == '{\n  "accuracy": 0.5\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
