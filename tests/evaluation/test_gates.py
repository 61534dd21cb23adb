"""`nlp-lstm gates` and `trace_gates`: a trained model's own weights through the explicit LSTM; the gates are
in their ranges, they rebuild the fused model's hidden states exactly, and the plot is a real PNG."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_error, run_cli, sentence_blocks, write_conll

from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
from nlp_lstm.evaluation.gates import plot_gates, trace_gates
from nlp_lstm.model_dir import load_model_dir
from nlp_lstm.runs import train

TEXT = "a gorgeous , witty , seductive movie that never lets up"


@pytest.fixture(scope="module")
def two_layer_classifier(sst2_600: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = Config(
        data=DataConfig(train=f"tsv:{sst2_600 / 'train.tsv'}", dev=f"tsv:{sst2_600 / 'dev.tsv'}",
                        text_column="sentence", max_length=40),
        tokenizer=TokenizerConfig(vocab_size=3000),
        model=ModelConfig(embedding_dim=12, hidden_size=10, num_layers=2),
        training=TrainingConfig(plots=False, epochs=2, batch_size=32, max_steps=30, seed=0, device="cpu"),
    )
    with contextlib.redirect_stdout(io.StringIO()):
        return train(config, tmp_path_factory.mktemp("gates") / "run", progress=False).model_dir


def test_gates_are_in_range_and_rebuild_the_fused_models_hidden_states(two_layer_classifier: Path) -> None:
    trace = trace_gates(two_layer_classifier, TEXT)
    assert trace.tokens == TEXT.split() and trace.prediction.split()[0] in ("0", "1")
    assert len(trace.layers) == 2 and all(len(layer) == 2 for layer in trace.layers)
    for layer in trace.layers:
        for direction in layer:
            for name in ("forget", "input", "output"):
                assert direction[name].shape == (len(trace.tokens), 10)
                assert ((direction[name] > 0) & (direction[name] < 1)).all(), name
            assert (np.abs(direction["candidate"]) < 1).all()
    # h = o * tanh(c) per step, per direction: the fused model's encoder output for the same text
    saved = load_model_dir(two_layer_classifier)
    ids = torch.tensor([saved.tokenizer.encode(TEXT)])
    with torch.no_grad():
        hidden = saved.model.encoder(saved.model.embed(ids), torch.tensor([ids.size(1)]))[0].numpy()
    last = trace.layers[-1]
    rebuilt = np.concatenate([d["output"] * np.tanh(d["cell"]) for d in last], axis=-1)
    np.testing.assert_allclose(rebuilt, hidden, atol=1e-5)


def test_cli_gates_writes_a_png_and_prints_the_means(capsys: pytest.CaptureFixture[str], two_layer_classifier: Path,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "gates.png"
    code, printed, _ = run_cli(capsys, "gates", two_layer_classifier, TEXT, "--output", out, "--layer", "0")
    assert code == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and out.stat().st_size > 10_000
    lines = printed.splitlines()
    assert lines[0].startswith("prediction: ")
    assert lines[1].startswith("forward  mean over 11 tokens: forget 0.") and "cell-state norm" in lines[1]
    assert lines[2].startswith("backward mean over 11 tokens: forget 0.")
    assert lines[3] == f"gate plot: {out}"


def test_tagger_gates(tmp_path: Path) -> None:
    from conftest import SHARED_DATA

    blocks = sentence_blocks(SHARED_DATA / "conll2003" / "eng.train")[:200]
    write_conll(tmp_path / "train.txt", blocks)
    config = Config(
        task="tagging", data=DataConfig(train=f"conll:{tmp_path / 'train.txt'}", validation_fraction=0.1, tag_column=3),
        tokenizer=TokenizerConfig(lowercase=False),
        training=TrainingConfig(plots=False, epochs=1, max_steps=5, device="cpu"),
        model=ModelConfig(embedding_dim=8, hidden_size=6, char_embedding_dim=4, char_filters=4,
                          casing_embedding_dim=2, crf=True))
    with contextlib.redirect_stdout(io.StringIO()):
        model_dir = train(config, tmp_path / "run", progress=False).model_dir
    trace = plot_gates(model_dir, "EU rejects German call to boycott British lamb .", tmp_path / "tagger.png")
    assert len(trace.prediction.split()) == len(trace.tokens) == 9
    assert (tmp_path / "tagger.png").stat().st_size > 10_000


def test_gates_errors_are_one_line(capsys: pytest.CaptureFixture[str], two_layer_classifier: Path,
                                   tmp_path: Path) -> None:
    assert_error(capsys, ["gates", two_layer_classifier, TEXT, "--layer", "2", "--output", tmp_path / "g.png"],
                 "--layer 2: the model has 2 LSTM layer(s)")
    assert_error(capsys, ["gates", two_layer_classifier, TEXT, "--output", tmp_path / "g.jpg"],
                 "give a path ending in .png")
    assert_error(capsys, ["gates", two_layer_classifier, "   ", "--output", tmp_path / "g.png"], "no tokens")
    from nlp_lstm.export import export_model

    onnx = export_model(two_layer_classifier, "onnx", tmp_path / "onnx")
    assert_error(capsys, ["gates", onnx, TEXT, "--output", tmp_path / "g.png"], "only a PyTorch model directory")
