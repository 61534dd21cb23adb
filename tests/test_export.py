"""`nlp-lstm export`: the ONNX graph gives the PyTorch model's probabilities (within 1e-4) and tags on real
sentences of mixed lengths (a tagger's graph decodes them itself, Viterbi in an ONNX Loop), the int8 model stays
close to the float one, exported directories work with `predict` and `evaluate`, and bad requests are one clear
error that changes nothing."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, assert_error, run_cli, sentence_blocks, write_conll
from torch import nn

from nlp_lstm import ModelDirError, Predictor, TextClassifier
from nlp_lstm.data.batching import collate_tagged
from nlp_lstm.data.conll import read_conll
from nlp_lstm.data.sources import load_texts
from nlp_lstm.errors import ExportError
from nlp_lstm.export import OPSET, export_model
from nlp_lstm.model_dir import load_model_dir, save_model_dir
from nlp_lstm.models.crf import CRF, scheme_constraints
from nlp_lstm.models.ensemble import TaggerEnsemble, ensemble
from nlp_lstm.models.onnx_runtime import OnnxModel
from nlp_lstm.predictor import TagPredictor, predict_tag_ids
from nlp_lstm.runs import evaluate
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


@pytest.fixture(scope="module")
def tagger_onnx(tagger_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ONNX export of `tagger_dir` (BIOES tags, so a constrained CRF)."""
    return export_model(tagger_dir, "onnx", tmp_path_factory.mktemp("tagger") / "onnx")


class _Decoder(nn.Module):
    """A CRF's decoding alone, as the tagger's graph holds it: emissions, lengths -> tags."""

    def __init__(self, crf: CRF) -> None:
        super().__init__()
        self.crf = crf

    def forward(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.crf.paths(emissions, torch.arange(emissions.size(1))[None, :] < lengths[:, None])


def decoder_session(crf: CRF, path: Path) -> object:
    """`_Decoder(crf)` exported (at batch 3, length 6) as `export_model` exports a tagger, on onnxruntime."""
    import onnxruntime

    emissions, lengths = torch.randn(3, 6, crf.num_tags), torch.tensor([6, 4, 1])
    axes = {"emissions": {0: "batch", 1: "sequence"}, "lengths": {0: "batch"}, "tags": {0: "batch", 1: "sequence"}}
    with torch.no_grad():
        torch.onnx.export(_Decoder(crf).eval(), (emissions, lengths), str(path), input_names=["emissions", "lengths"],
                          output_names=["tags"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


CONLL_BIOES = sorted(["O", *(f"{p}-{kind}" for kind in ("LOC", "MISC", "ORG", "PER") for p in "BIES")])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript-based exporter
@pytest.mark.parametrize("constrained", [True, False])
def test_graph_viterbi_equals_crf_decode_on_random_emissions(constrained: bool, tmp_path: Path) -> None:
    crf = CRF(len(CONLL_BIOES), scheme_constraints(CONLL_BIOES, "BIOES") if constrained else None)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in crf.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 2)
    session = decoder_session(crf, tmp_path / "viterbi.onnx")
    # batch of 1, length-1 sentences, a batch of only length 1, long and mixed, and ties (integer scores)
    shapes = [[1], [7], [1, 1, 1, 1, 1, 1], [9, 1, 4, 9, 2], [40, *torch.randint(1, 41, (255,)).tolist()]]
    for ties in (False, True):
        for lengths in shapes:
            size = (len(lengths), max(lengths), crf.num_tags)
            emissions = (torch.randint(0, 2, size, generator=generator).float() if ties
                         else torch.randn(size, generator=generator) * 3)
            mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
            (tags,) = session.run(["tags"], {"emissions": emissions.numpy(), "lengths": np.array(lengths)})
            assert tags.dtype == np.int64 and tags.shape == tuple(mask.shape)
            expected = crf.decode(emissions, mask)
            assert [row[:n] for row, n in zip(tags.tolist(), lengths)] == expected
            assert [row[n:] for row, n in zip(tags.tolist(), lengths)] == [  # padded steps: the last tag
                [path[-1]] * (max(lengths) - n) for path, n in zip(expected, lengths)]


def test_onnxruntime_alone_reads_the_tags(tagger_dir: Path, tagger_onnx: Path, tmp_path: Path) -> None:
    """What a C#, Java or JavaScript program does: feed int64 arrays to model.onnx and read `tags`."""
    original = load_model_dir(tagger_dir)
    sentences = read_conll(CONLL / "eng.testa", 0, 3).sentences[:40]
    ids, chars, casing = encode_words(original.tokenizer, sentences, original.char_vocab, True)
    batch = collate_tagged(ids, list(range(len(ids))), None, chars, casing, original.tokenizer.pad_id)
    np.savez(tmp_path / "inputs.npz", ids=batch.ids.numpy(), lengths=batch.lengths.numpy(),
             chars=batch.chars.numpy(), casing=batch.casing.numpy())
    program = """import sys, json, numpy, onnxruntime
session = onnxruntime.InferenceSession(sys.argv[1] + "/model.onnx", providers=["CPUExecutionProvider"])
inputs = dict(numpy.load(sys.argv[2]))
io = [[(node.name, node.type) for node in nodes] for nodes in (session.get_inputs(), session.get_outputs())]
(tags,) = session.run(["tags"], inputs)
print(json.dumps({"io": io, "tags": tags.tolist(), "nlp_lstm": "nlp_lstm" in sys.modules}))
"""
    done = subprocess.run([sys.executable, "-c", program, str(tagger_onnx), str(tmp_path / "inputs.npz")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["io"] == [[["ids", "tensor(int64)"], ["lengths", "tensor(int64)"], ["chars", "tensor(int64)"],
                             ["casing", "tensor(int64)"]], [["emissions", "tensor(float)"], ["tags", "tensor(int64)"]]]
    assert not result["nlp_lstm"]
    tags = [row[:n] for row, n in zip(result["tags"], batch.lengths.tolist())]
    assert tags == predict_tag_ids(original.model, ids, chars, casing, torch.device("cpu"), 8)
    assert len({t for row in tags for t in row}) > 2


def test_the_graph_decodes_for_predict_and_evaluate(tagger_dir: Path, tagger_onnx: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_conll(tmp_path / "dev.txt", sentence_blocks(CONLL / "eng.testa")[:150])
    expected = evaluate(tagger_dir, f"conll:{data}", tmp_path / "pytorch")
    sentences = read_conll(data, 0, 3).sentences
    tags = TagPredictor.load(tagger_dir, "cpu").predict_tags(sentences)

    def no_python_viterbi(*args: object) -> None:
        raise AssertionError("decoded in PyTorch, not in the graph")

    monkeypatch.setattr(CRF, "decode", no_python_viterbi)
    assert TagPredictor.load(tagger_onnx, "cpu").predict_tags(sentences) == tags
    got = evaluate(tagger_onnx, f"conll:{data}", tmp_path / "onnx")
    assert got["f1"] == expected["f1"] and got["accuracy"] == expected["accuracy"]
    rows = [(tmp_path / name / "predictions.jsonl").read_text(encoding="utf-8") for name in ("pytorch", "onnx")]
    assert rows[0] == rows[1]


def test_an_export_without_tags_decodes_with_its_crf_file(tagger_dir: Path, tagger_onnx: Path,
                                                          tmp_path: Path) -> None:
    """A graph that outputs emissions only (as exports of earlier versions do) decodes with crf.safetensors."""
    import onnx.utils

    old = tmp_path / "old"
    old.mkdir()
    for path in tagger_onnx.iterdir():
        (old / path.name).write_bytes(path.read_bytes())
    onnx.utils.extract_model(str(tagger_onnx / "model.onnx"), str(old / "model.onnx"),
                             ["ids", "lengths", "chars", "casing"], ["emissions"])
    model = load_model_dir(old).model
    assert model.output_names == ["emissions"]
    sentences = read_conll(CONLL / "eng.testa", 0, 3).sentences[:100]
    assert (TagPredictor.load(old, "cpu").predict_tags(sentences)
            == TagPredictor.load(tagger_dir, "cpu").predict_tags(sentences))
    (old / "crf.safetensors").unlink()
    with pytest.raises(ModelDirError, match="missing crf.safetensors"):
        load_model_dir(old)


def test_an_ensemble_exports_its_averaged_crf(tagger_dir: Path, tmp_path: Path) -> None:
    saved = load_model_dir(tagger_dir)
    other = load_model_dir(tagger_dir).model
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in other.parameters():
            param.add_(torch.randn(param.shape, generator=generator) * 0.3)
        other.char_cnn.embedding.weight[other.char_cnn.padding_idx] = 0  # as training keeps the padding vector
    saved.model = ensemble([saved.model, other])
    saved.config["ensemble"] = {"members": 2, "seeds": [0, 1], "combine": "mean emission and transition scores"}
    save_model_dir(tmp_path / "ensemble", saved)
    out = export_model(tmp_path / "ensemble", "onnx", tmp_path / "onnx")  # its check: the graph's tags are Viterbi's
    exported, original = load_model_dir(out), load_model_dir(tmp_path / "ensemble")
    assert isinstance(original.model, TaggerEnsemble)
    sentences = read_conll(CONLL / "eng.testa", 0, 3).sentences[:200]
    ids, chars, casing = encode_words(original.tokenizer, sentences, original.char_vocab, True)
    batch = collate_tagged(ids, list(range(len(ids))), None, chars, casing, original.tokenizer.pad_id)
    outputs = exported.model.outputs(batch.ids, batch.lengths, batch.chars, batch.casing)
    got = [row[:n] for row, n in zip(outputs["tags"].tolist(), batch.lengths.tolist())]
    assert got == original.model.decode(outputs["emissions"], batch.mask)  # the averaged CRF's Viterbi
    first = original.model.members[0].crf.decode(outputs["emissions"], batch.mask)
    assert got != first  # a first member's CRF would decode otherwise: the test tells them apart
    assert (TagPredictor.load(out, "cpu").predict_tags(sentences)
            == TagPredictor.load(tmp_path / "ensemble", "cpu").predict_tags(sentences))


def test_a_tagger_without_crf_exports_each_token_s_best_tag(tagger_dir: Path, tmp_path: Path) -> None:
    saved = load_model_dir(tagger_dir)
    saved.model.crf, saved.spec = None, dataclasses.replace(saved.spec, crf=False)
    save_model_dir(tmp_path / "no-crf", saved)
    out = export_model(tmp_path / "no-crf", "onnx", tmp_path / "onnx")
    assert not (out / "crf.safetensors").exists()
    sentences = read_conll(CONLL / "eng.testa", 0, 3).sentences[:100]
    ids, chars, casing = encode_words(saved.tokenizer, sentences, saved.char_vocab, True)
    batch = collate_tagged(ids, list(range(len(ids))), None, chars, casing, saved.tokenizer.pad_id)
    outputs = load_model_dir(out).model.outputs(batch.ids, batch.lengths, batch.chars, batch.casing)
    assert torch.equal(outputs["tags"], outputs["emissions"].argmax(dim=-1))
    assert (TagPredictor.load(out, "cpu").predict_tags(sentences)
            == TagPredictor.load(tmp_path / "no-crf", "cpu").predict_tags(sentences))


def test_an_export_whose_graph_tags_differ_fails_naming_the_sentence(tagger_dir: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    paths = CRF.paths

    def shifted_when_traced(self: CRF, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tags = paths(self, emissions, mask)
        return (tags + 1) % self.num_tags if torch.jit.is_tracing() else tags

    monkeypatch.setattr(CRF, "paths", shifted_when_traced)
    with pytest.raises(ExportError, match=r"the graph's tags differ from PyTorch's decoding in sentence 0 of the "
                                          r"check batch \(\[\d"):
        export_model(tagger_dir, "onnx", tmp_path / "onnx")


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
