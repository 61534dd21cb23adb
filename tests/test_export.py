"""`nlp-lstm export`: the ONNX graph gives the PyTorch model's probabilities (within 1e-4) and tags on real
sentences of mixed lengths, the int8 model stays close to the float one, exported directories work with
`predict` and `evaluate`, and bad requests are one clear error that changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, assert_error, run_cli

from nlp_lstm import ModelDirError, Predictor, TextClassifier
from nlp_lstm.data.batching import collate_tagged
from nlp_lstm.data.conll import read_conll
from nlp_lstm.data.sources import load_texts
from nlp_lstm.export import export_model
from nlp_lstm.model_dir import load_model_dir
from nlp_lstm.models.onnx_runtime import OnnxModel
from nlp_lstm.predictor import TagPredictor
from nlp_lstm.text.features import encode_words

pytest.importorskip("onnxruntime")
CONLL = REPO_ROOT.parent / "shared" / "data" / "conll2003"


@pytest.fixture(scope="module")
def dev_texts(sst2_dir: Path) -> list[str]:
    """200 GLUE dev sentences (2 to 50+ words) and two edge cases: one word, and one past max_length."""
    texts = list(load_texts(f"tsv:{sst2_dir / 'dev.tsv'}", "sentence", "label").texts[:200])
    return texts + ["good", " ".join(texts[:6])]


def test_onnx_classifier_gives_the_pytorch_probabilities(classifier_dir: Path, dev_texts: list[str],
                                                         tmp_path: Path) -> None:
    out = export_model(classifier_dir, "onnx", tmp_path / "onnx")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "labels.json", "model.onnx",
                                                     "tokenizer.json"]
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["format"] == "onnx" and config["export"]["check_max_abs_diff"] <= 1e-4
    assert len(set(map(len, (t.split() for t in dev_texts)))) > 20  # many lengths, so many batch shapes
    # batches of 16 sorted by length: every batch has another (batch, sequence) shape than the export's example
    expected = Predictor.load(classifier_dir, "cpu", batch_size=16).predict_proba(dev_texts)
    onnx = Predictor.load(out, "cpu", batch_size=16)
    assert isinstance(onnx.saved.model, OnnxModel)
    got = onnx.predict_proba(dev_texts)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert (got.argmax(1) == expected.argmax(1)).all()
    assert 0.05 < expected[:, 1].mean() < 0.95 and expected.max() - expected.min() > 0.1  # a model that learned
    import onnx as onnx_lib

    graph = onnx_lib.load(str(out / "model.onnx")).graph
    dims = {i.name: [d.dim_param for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims == {"ids": ["batch", "sequence"], "lengths": ["batch"]}


def test_onnx_tagger_gives_the_pytorch_emissions_and_crf_tags(tagger_dir: Path, tmp_path: Path) -> None:
    out = export_model(tagger_dir, "onnx", tmp_path / "onnx")
    assert (out / "crf.safetensors").is_file() and (out / "chars.json").is_file()
    original, exported = load_model_dir(tagger_dir), load_model_dir(out)
    assert exported.model.input_names == ["ids", "lengths", "chars", "casing"]
    sentences = read_conll(CONLL / "eng.testa", 0, 3).sentences[100:164]
    ids, chars, casing = encode_words(original.tokenizer, sentences, original.char_vocab, True)
    batch = collate_tagged(ids, list(range(len(ids))), None, chars, casing, original.tokenizer.pad_id)
    with torch.no_grad():
        expected = original.model(batch.ids, batch.lengths, batch.chars, batch.casing)
    got = exported.model(batch.ids, batch.lengths, batch.chars, batch.casing)
    mask = batch.mask
    assert batch.chars.size(2) > 7 and len(set(batch.lengths.tolist())) > 10  # longer words, mixed lengths
    np.testing.assert_allclose(got[mask].numpy(), expected[mask].numpy(), atol=1e-4, rtol=0)
    tags = TagPredictor.load(tagger_dir, "cpu", batch_size=8).predict_tags(sentences)
    assert TagPredictor.load(out, "cpu", batch_size=8).predict_tags(sentences) == tags
    assert len({t for row in tags for t in row}) > 1


def test_int8_export_quantizes_lstm_and_linear_layers_and_stays_close(classifier_dir: Path, dev_texts: list[str],
                                                                       tmp_path: Path) -> None:
    out = export_model(classifier_dir, "int8", tmp_path / "int8")
    saved = load_model_dir(out)
    lstm, linear = saved.model.encoder.forward_layers[0], saved.model.output
    assert "quantized" in type(lstm).__module__ and "quantized" in type(linear).__module__
    assert type(load_model_dir(classifier_dir).model.encoder.forward_layers[0]) is torch.nn.LSTM
    expected = Predictor.load(classifier_dir, "cpu").predict_proba(dev_texts)
    got = Predictor.load(out, "cpu").predict_proba(dev_texts)
    assert not np.array_equal(got, expected)  # really another computation
    assert np.abs(got - expected).max() < 0.05
    assert (got.argmax(1) == expected.argmax(1)).mean() >= 0.97


def test_int8_tagger_keeps_its_tags(tagger_dir: Path, tmp_path: Path) -> None:
    out = export_model(tagger_dir, "int8", tmp_path / "int8")
    sentences = read_conll(CONLL / "eng.testa", 0, 3).sentences[:80]
    expected = TagPredictor.load(tagger_dir, "cpu").predict_tags(sentences)
    got = TagPredictor.load(out, "cpu").predict_tags(sentences)
    same = np.mean([a == b for x, y in zip(expected, got) for a, b in zip(x, y)])
    assert same >= 0.97


def test_cli_export_reports_the_accuracy_change_and_the_export_predicts_and_evaluates(
        capsys: pytest.CaptureFixture[str], classifier_dir: Path, sst2_600: Path, tmp_path: Path) -> None:
    dev = f"tsv:{sst2_600 / 'dev.tsv'}"
    for fmt in ("onnx", "int8"):
        code, out, _ = run_cli(capsys, "export", classifier_dir, "--format", fmt, "--output", tmp_path / fmt,
                               "--data", dev)
        assert code == 0
        compared = json.loads((tmp_path / fmt / "config.json").read_text(encoding="utf-8"))["export"]["compared"]
        assert compared["n"] == 100 and compared["unit"] == "texts"
        assert (f"on {dev} (100 texts): accuracy {compared['accuracy_original']:.4f} -> "
                f"{compared['accuracy_exported']:.4f}") in out
        if fmt == "onnx":
            assert compared["agreement"] == 1.0
            assert compared["accuracy_exported"] == compared["accuracy_original"]
    texts = ["a gorgeous , witty , seductive movie .", "the plot is nothing but boilerplate clichés"]
    _, original, _ = run_cli(capsys, "predict", classifier_dir, *texts)
    _, onnx, _ = run_cli(capsys, "predict", tmp_path / "onnx", *texts)
    assert onnx == original and len(onnx.splitlines()) == 2
    scores = {}
    for name, model in (("pytorch", classifier_dir), ("onnx", tmp_path / "onnx")):
        code, _, _ = run_cli(capsys, "evaluate", model, "--data", dev, "--output", tmp_path / f"eval-{name}")
        assert code == 0
        scores[name] = json.loads((tmp_path / f"eval-{name}" / "metrics.json").read_text(encoding="utf-8"))
    assert scores["onnx"]["accuracy"] == scores["pytorch"]["accuracy"]


def test_cli_export_of_a_tagger_with_data(capsys: pytest.CaptureFixture[str], tagger_dir: Path,
                                          tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "export", tagger_dir, "--format", "onnx", "--output", tmp_path / "onnx",
                           "--data", f"conll:{CONLL / 'eng.testa'}")
    assert code == 0
    assert "(51,362 tokens)" in out and "same prediction for 100.00%" in out


def test_export_refusals_change_nothing(capsys: pytest.CaptureFixture[str], classifier_dir: Path,
                                        tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("keep me", encoding="utf-8")
    assert_error(capsys, ["export", classifier_dir, "--format", "onnx", "--output", taken],
                 str(taken), "already exists and is not empty")
    assert [p.name for p in taken.iterdir()] == ["notes.txt"]
    missing = tmp_path / "missing.tsv"
    assert_error(capsys, ["export", classifier_dir, "--format", "int8", "--output", tmp_path / "new",
                          "--data", f"tsv:{missing}"], str(missing))
    assert not (tmp_path / "new").exists()  # bad data is found before anything is written
    exported = export_model(classifier_dir, "int8", tmp_path / "int8")
    assert_error(capsys, ["export", exported, "--format", "onnx"], "already holds an int8 export")
    assert_error(capsys, ["export", tmp_path / "nowhere", "--format", "onnx"], "nowhere")
    with pytest.raises(ModelDirError, match="estimators do not load"):
        TextClassifier.load(exported)


def test_a_corrupted_onnx_file_is_named(classifier_dir: Path, tmp_path: Path) -> None:
    out = export_model(classifier_dir, "onnx", tmp_path / "onnx")
    labels = json.loads((out / "labels.json").read_text(encoding="utf-8"))
    (out / "labels.json").write_text(json.dumps([*labels, "extra"]), encoding="utf-8")
    with pytest.raises(ModelDirError, match=r"labels\.json: 3 labels, but the model has 2 outputs"):
        Predictor.load(out, "cpu")  # the class count comes from the graph itself
    (out / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    (out / "model.onnx").write_bytes((out / "model.onnx").read_bytes()[:500])
    with pytest.raises(ModelDirError, match=r"model\.onnx: not a loadable ONNX model"):
        Predictor.load(out, "cpu")
    (out / "model.onnx").unlink()
    with pytest.raises(ModelDirError, match="missing model.onnx"):
        Predictor.load(out, "cpu")
