"""The Hugging Face hub, offline: `nlp-lstm push` uploads the model directory with a card that loads hf://REPO_ID
(huggingface_hub's upload is replaced by one that writes the hub cache's layout), hf://REPO_ID and a bare REPO_ID
load from that cache through huggingface_hub's own offline path, and every offline failure is one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub
import pytest
from conftest import assert_error, run_cli

from nlp_lstm.model_dir import _download
from nlp_lstm.predictor import Predictor

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Path]:
    """huggingface_hub offline, with its cache in tmp_path; HfApi's create_repo and upload_folder record the push
    and write the uploaded folder where a download would have put it. Returns the pushed folders by repo id."""
    cache = tmp_path / "hub-cache"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    _download.cache_clear()
    pushed: dict[str, Path] = {}

    def create_repo(self, repo_id: str, **kwargs) -> str:
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, *, repo_id: str, folder_path: str | Path, **kwargs) -> None:
        repo = cache / f"models--{repo_id.replace('/', '--')}"
        shutil.copytree(folder_path, repo / "snapshots" / COMMIT)
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(COMMIT, encoding="utf-8")
        pushed[repo_id] = repo / "snapshots" / COMMIT

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    yield pushed
    _download.cache_clear()


def test_push_then_load_by_hf_uri_and_by_repo_id(capsys, classifier_run: Path, offline_hub: dict[str, Path],
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = classifier_run / "model"
    before = sorted(p.name for p in model.iterdir())
    code, out, err = run_cli(capsys, "push", model, "alice/sst2-tiny")
    assert code == 0, err
    assert "pushed" in out and "https://huggingface.co/alice/sst2-tiny" in out
    assert sorted(p.name for p in model.iterdir()) == before  # the model directory itself is unchanged
    uploaded = offline_hub["alice/sst2-tiny"]
    assert sorted(p.name for p in uploaded.iterdir()) == sorted(before)
    card = (uploaded / "README.md").read_text(encoding="utf-8")
    assert 'nlp-lstm predict hf://alice/sst2-tiny "' in card
    assert "| test | accuracy |" in card  # the run's facts came along

    texts = ["a gorgeous , witty film", "a dull mess"]
    expected = [p.label for p in Predictor.load(model, "cpu").predict(texts)]
    assert [p.label for p in Predictor.load("hf://alice/sst2-tiny", "cpu").predict(texts)] == expected
    monkeypatch.chdir(tmp_path)  # no alice/ folder here, so the bare id is the hub's
    code, out, err = run_cli(capsys, "predict", "alice/sst2-tiny", *texts)
    assert code == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == expected


def test_a_model_not_in_the_cache_is_one_line_offline(capsys, offline_hub: dict[str, Path]) -> None:
    assert_error(capsys, ["predict", "hf://nobody/missing", "text"], "hf://nobody/missing",
                 "not in the local Hugging Face cache", "HF_HUB_OFFLINE")


def test_a_missing_path_that_looks_like_a_repo_id_names_both(capsys, offline_hub: dict[str, Path], tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert_error(capsys, ["predict", "runs/typo", "text"], "runs/typo: no such model directory",
                 "as a Hugging Face hub model")


def test_push_offline_for_real_is_one_line(capsys, classifier_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # huggingface_hub's own upload path
    assert_error(capsys, ["push", classifier_run / "model", "alice/sst2-tiny"], "push alice/sst2-tiny")


@pytest.mark.parametrize("repo_id", ["no-owner", "a/b/c", "alice/x@main"])
def test_push_needs_owner_slash_name(capsys, classifier_run: Path, repo_id: str) -> None:
    assert_error(capsys, ["push", classifier_run / "model", repo_id], "not a hub repository id", "OWNER/NAME")


def test_push_refuses_an_incomplete_model_directory(capsys, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    assert_error(capsys, ["push", tmp_path / "model", "alice/x"], "not a complete model directory")
