"""Tagger training through `nlp_lstm.runs.train` on real data: a CoNLL-2003 slice (IOB1 NER and the POS
column) and the People's Daily recipes. It learns, the run directory is complete and in the data's own
tag scheme, a saved model predicts exactly what the trained one did, runs are reproducible, and bad
setups fail early with errors that name the problem."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import REPO_ROOT, sentence_blocks, write_conll

from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig, load_config
from nlp_lstm.data.conll import read_conll
from nlp_lstm.data.tag_schemes import convert_sequences
from nlp_lstm.errors import ConfigError
from nlp_lstm.evaluation.metrics import tagging_metrics
from nlp_lstm.model_dir import FILES
from nlp_lstm.predictor import TagPredictor
from nlp_lstm.runs import RunResult, train
from nlp_lstm.tasks import prepare
from nlp_lstm.training.trainer import Trainer

CPU = torch.device("cpu")
N_TRAIN, N_DEV = 800, 150  # sentences: the first of eng.train, the first of eng.testa
ENTITY_TYPES = ["LOC", "MISC", "ORG", "PER"]
# Measured, not model behaviour: these may differ between two identical runs.
TIMING_KEYS = {"wall_seconds", "train_tokens_per_second", "train_seconds_per_epoch", "train_seconds"}


@pytest.fixture(scope="module")
def conll(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.conll: the first 800 sentences of eng.train; dev.conll: the first 150 of eng.testa (2,012
    tokens, 1,617 of them O; its POS column has WP$, which the train slice lacks); pos_dev.conll: those
    dev sentences without WP$."""
    folder = tmp_path_factory.mktemp("conll")
    write_conll(folder / "train.conll", sentence_blocks(shared_data / "conll2003" / "eng.train")[:N_TRAIN])
    dev = sentence_blocks(shared_data / "conll2003" / "eng.testa")[:N_DEV]
    write_conll(folder / "dev.conll", dev)
    write_conll(folder / "pos_dev.conll", [b for b in dev if " WP$ " not in b])
    return folder


def ner_config(folder: Path, seed: int = 0, dev: str = "dev.conll", train_file: str = "train.conll",
               **training: Any) -> Config:
    """BiLSTM-CNN-CRF, small: about 4 s on one core. Dev entity F1 measured 0.53-0.65 over seeds 0-7
    (mean 0.58), token accuracy 0.90-0.91; the all-O baseline scores F1 0 and accuracy 0.80."""
    options = {"epochs": 5, "batch_size": 16, "learning_rate": 0.01, "weight_decay": 0.0, "clip_grad_norm": 5.0,
               "patience": 0, "metric": "f1", "seed": seed, "device": "cpu", "plots": False, **training}
    return Config(
        task="tagging",
        data=DataConfig(train=f"conll:{folder / train_file}", dev=f"conll:{folder / dev}", tag_column=3,
                        validation_fraction=0.0),
        tokenizer=TokenizerConfig(lowercase=True, digits_to_zero=True),
        model=ModelConfig(embedding_dim=32, hidden_size=32, dropout=0.5, char_embedding_dim=16, char_filters=20,
                          casing_embedding_dim=4, crf=True, tag_scheme="bioes"),
        training=TrainingConfig(**options),
    )


def quiet_train(config: Config, output: Path) -> RunResult:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return train(config, output, progress=False)


@pytest.fixture(scope="module")
def ner_runs(conll: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, RunResult]:
    """One short NER run for each of seeds 0 and 1."""
    root = tmp_path_factory.mktemp("ner")
    return {seed: quiet_train(ner_config(conll, seed), root / f"seed{seed}") for seed in (0, 1)}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def history(run: Path) -> list[dict[str, Any]]:
    return read_jsonl(run / "history.jsonl")


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


# ---------------------------------------------------------------- (a) it learns


@pytest.mark.parametrize("seed", [0, 1])
def test_short_ner_run_beats_the_all_o_baseline(ner_runs, conll: Path, seed: int) -> None:
    dev = read_conll(conll / "dev.conll", 0, 3)
    all_o = tagging_metrics(dev.tags, [["O"] * len(tags) for tags in dev.tags], "iob1")
    assert all_o["f1"] == 0.0 and all_o["accuracy"] == pytest.approx(1617 / 2012)
    metrics = ner_runs[seed].metrics["dev"]
    assert metrics["f1"] > 0.4, metrics["f1"]  # measured 0.53-0.65 over seeds 0-7
    assert metrics["accuracy"] > all_o["accuracy"] + 0.05, metrics["accuracy"]  # measured 0.90-0.91
    assert metrics["precision"] > 0.3 and metrics["recall"] > 0.3
    losses = [row["train_loss"] for row in history(ner_runs[seed].run_dir)]
    assert len(losses) == 5 and all(a > b for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] / 3, losses  # measured 7.0-8.7 down to 1.2-1.4


# ---------------------------------------------------------------- (b) the run directory


def test_run_directory_is_complete_and_in_the_datas_scheme(ner_runs, conll: Path) -> None:
    run = ner_runs[0].run_dir
    for name in (*FILES, "chars.json"):
        assert (run / "model" / name).is_file(), name
    chars = json.loads((run / "model" / "chars.json").read_text(encoding="utf-8"))
    assert chars  # the character vocabulary is saved with the model
    config = json.loads((run / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["task"] == "tagging"
    assert config["tagging"] == {"data_scheme": "iob1", "model_scheme": "bioes", "input": "whitespace"}
    labels = json.loads((run / "model" / "labels.json").read_text(encoding="utf-8"))
    assert set(labels) == {"O"} | {f"{p}-{t}" for p in "BIES" for t in ENTITY_TYPES}  # BIOES, the model's scheme

    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"] == "tagging" and metrics["early_stopping_metric"] == "f1"
    assert metrics["data"]["sizes"] == {"train": N_TRAIN, "dev": N_DEV}
    assert "test" not in metrics
    dev = metrics["dev"]
    for key in ("precision", "recall", "f1", "accuracy", "macro_f1"):
        assert 0.0 <= dev[key] <= 1.0, key
    assert dev["n_sentences"] == N_DEV and dev["n_tokens"] == 2012
    report = dev["entity_report"]
    assert set(ENTITY_TYPES) <= set(report)
    gold_counts = {"LOC": 0, "MISC": 0, "ORG": 0, "PER": 0}
    dev_data = read_conll(conll / "dev.conll", 0, 3)
    for tags in convert_sequences(dev_data.tags, "iob1", "bio"):
        for tag in tags:
            if tag.startswith("B-"):
                gold_counts[tag[2:]] += 1
    assert {t: int(report[t]["support"]) for t in ENTITY_TYPES} == gold_counts
    assert all({"precision", "recall", "f1-score", "support"} <= set(report[t]) for t in ENTITY_TYPES)

    rows = read_jsonl(run / "predictions.jsonl")
    assert len(rows) == N_DEV
    assert all(set(row) == {"tokens", "gold", "predicted"} for row in rows)
    assert [row["tokens"] for row in rows] == dev_data.sentences
    assert [row["gold"] for row in rows] == dev_data.tags  # exactly as in the file
    predicted = [row["predicted"] for row in rows]
    assert [len(p) for p in predicted] == [len(s) for s in dev_data.sentences]
    # IOB1 as the data has it: no E-/S- tags, and each sequence is already canonical IOB1 (B- only
    # where an entity follows one of the same type)
    tags = {tag for p in predicted for tag in p}
    assert tags <= {"O"} | {f"{prefix}-{t}" for prefix in "IB" for t in ENTITY_TYPES}
    assert any(tag.startswith("I-") for tag in tags)
    assert convert_sequences(predicted, "iob1", "iob1") == predicted
    # the metrics are those of these predictions
    recomputed = tagging_metrics(dev_data.tags, predicted, "iob1")
    assert (recomputed["f1"], recomputed["accuracy"]) == (dev["f1"], dev["accuracy"])


# ---------------------------------------------------------------- (c) save and load


def test_loaded_model_reproduces_the_dev_predictions_exactly(ner_runs) -> None:
    run = ner_runs[1].run_dir
    rows = read_jsonl(run / "predictions.jsonl")
    predictor = TagPredictor.load(run / "model", "cpu")
    assert (predictor.data_scheme, predictor.model_scheme, predictor.input) == ("iob1", "bioes", "whitespace")
    sentences = [row["tokens"] for row in rows]
    assert predictor.predict_tags(sentences) == [row["predicted"] for row in rows]
    # raw text is split at whitespace; batch composition and order do not matter
    texts = [" ".join(tokens) for tokens in sentences]
    reversed_predictions = predictor.predict(texts[::-1])
    assert [p.tags for p in reversed_predictions[::-1]] == [row["predicted"] for row in rows]
    assert [p.tokens for p in reversed_predictions[::-1]] == sentences
    one = TagPredictor.load(run / "model", "cpu", batch_size=1)
    assert one.predict_tags(sentences[:30]) == [row["predicted"] for row in rows[:30]]
    for prediction in reversed_predictions:
        for kind, start, end in prediction.entities:
            assert kind in ENTITY_TYPES and 0 <= start < end <= len(prediction.tokens)
            assert all(tag.endswith("-" + kind) for tag in prediction.tags[start:end])


# ---------------------------------------------------------------- (d) reproducible


def test_same_seed_gives_identical_metrics_predictions_and_weights(ner_runs, conll: Path, tmp_path: Path) -> None:
    again = quiet_train(ner_config(conll, seed=0), tmp_path / "again").run_dir
    first = ner_runs[0].run_dir
    read = lambda run: json.loads((run / "metrics.json").read_text(encoding="utf-8"))  # noqa: E731
    assert without_timings(read(again)) == without_timings(read(first))
    assert without_timings(history(again)) == without_timings(history(first))
    assert (again / "predictions.jsonl").read_bytes() == (first / "predictions.jsonl").read_bytes()
    assert (again / "model" / "model.safetensors").read_bytes() == (first / "model" / "model.safetensors").read_bytes()
    # and another seed gives another model
    assert ner_runs[1].metrics["dev"] != ner_runs[0].metrics["dev"]


# ---------------------------------------------------------------- (e) tags without an entity scheme


def pos_config(folder: Path, dev: str = "pos_dev.conll", **training: Any) -> Config:
    """The POS column of the same slice, softmax output: dev accuracy measured 0.77-0.78 over
    seeds 0-5, macro F1 0.46-0.52 (always NNP: accuracy 0.21)."""
    config = ner_config(folder, dev=dev, **{"metric": "accuracy", "epochs": 3, **training})
    config.data.tag_column = 1
    config.model.crf = False
    return config


def test_pos_run_reports_token_accuracy_and_macro_f1_but_no_entity_scores(conll: Path, tmp_path: Path) -> None:
    result = quiet_train(pos_config(conll), tmp_path / "pos")
    dev = result.metrics["dev"]
    assert {"accuracy", "macro_f1", "n_tokens", "n_sentences"} <= set(dev)
    assert not {"f1", "precision", "recall", "entity_report"} & set(dev)
    assert dev["accuracy"] > 0.6, dev["accuracy"]
    assert 0 < dev["macro_f1"] < dev["accuracy"]
    assert set(history(result.run_dir)[0]) >= {"dev_accuracy", "dev_macro_f1"}
    config = json.loads((result.run_dir / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["tagging"] == {"data_scheme": None, "model_scheme": None, "input": "whitespace"}
    labels = json.loads((result.run_dir / "model" / "labels.json").read_text(encoding="utf-8"))
    assert {"NNP", "VBD", "DT", "."} <= set(labels) and "O" not in labels
    rows = read_jsonl(result.run_dir / "predictions.jsonl")
    assert all(set(row["predicted"]) <= set(labels) for row in rows)
    predictor = TagPredictor.load(result.model_dir, "cpu")
    [prediction] = predictor.predict(["EU rejects German call to boycott British lamb ."])
    assert len(prediction.tags) == 9 and prediction.entities == []


def test_entity_f1_as_the_metric_of_a_pos_run_is_a_config_error(conll: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        quiet_train(pos_config(conll, metric="f1"), tmp_path / "pos")
    message = str(info.value)
    assert "training.metric = 'f1'" in message and "no B-/I- entity tags" in message
    assert "accuracy or macro_f1" in message and str(conll / "train.conll") in message
    assert not (tmp_path / "pos").exists()  # nothing was written


# ---------------------------------------------------------------- (f) unseen dev tags


def test_a_dev_pos_tag_never_seen_in_train_is_reported_and_scored_as_an_error(
    conll: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the real dev slice: "whose" is tagged WP$, which the 800 training sentences never use. Rare tags are
    # normal in POS corpora (People's Daily has three that occur once), so the run goes on and says so.
    result = train(pos_config(conll, dev="dev.conll"), tmp_path / "pos", progress=False)
    assert result.metrics["data"]["unseen_tags"] == {"dev": ["WP$"]}
    out = capsys.readouterr().out
    assert f"note: conll:{conll / 'dev.conll'}: dev tags never seen in training: WP$" in out
    assert "WP$" not in result.metrics["data"]["labels"]


def tiny_entity_files(folder: Path, dev_lines: str) -> Path:
    """A train file whose PER entities are all two words long (IOB1), and a dev file."""
    (folder / "train.conll").write_text(
        "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nsaid VBD I-VP O\n\n"
        "Hans NNP I-NP I-PER\nFischler NNP I-NP I-PER\nin IN I-PP O\nBRUSSELS NNP I-NP I-LOC\n", encoding="utf-8")
    (folder / "dev.conll").write_text(dev_lines, encoding="utf-8")
    return folder


def tiny_config(folder: Path) -> Config:
    config = ner_config(folder, epochs=1, batch_size=2)
    config.model = ModelConfig(embedding_dim=4, hidden_size=4, char_embedding_dim=4, char_filters=4, crf=True)
    return config


def test_an_unseen_dev_entity_type_is_named_as_the_dev_file_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tiny_entity_files(tmp_path, "Peter NNP I-NP I-PER\nvisited VBD I-VP O\nAcme NNP I-NP I-FOO\n")
    result = train(tiny_config(folder), tmp_path / "run", progress=False)
    assert result.metrics["data"]["unseen_tags"] == {"dev": ["I-FOO"]}
    assert "dev tags never seen in training: I-FOO;" in capsys.readouterr().out
    assert result.metrics["dev"]["entity_report"]["FOO"]["recall"] == 0.0


def test_a_dev_entity_of_a_known_type_but_new_length_is_accepted(tmp_path: Path) -> None:
    folder = tiny_entity_files(tmp_path, "Fischler NNP I-NP I-PER\nsaid VBD I-VP O\n")
    result = quiet_train(tiny_config(folder), tmp_path / "run")
    labels = result.metrics["data"]["labels"]
    assert {"S-PER", "I-PER", "S-LOC", "B-LOC", "E-LOC"} <= set(labels)


# ---------------------------------------------------------------- (g) People's Daily recipes

# The recipes end to end (run, model directory, report, predictor, `predict`): tests/test_cli_tagging.py


def test_peoples_daily_pos_recipe_as_given_splits_into_trainable_parts() -> None:
    config = load_config(REPO_ROOT / "recipes" / "tagging" / "peoples_daily_pos.toml",
                         ["training.max_steps=1", "training.epochs=1", "model.embedding_dim=4",
                          "model.hidden_size=4", "model.char_embedding_dim=4", "model.char_filters=4",
                          'training.device="cpu"'])
    prepared = prepare(config)  # the whole run (scores, report) is what the tests above check on smaller data
    assert set(prepared.sizes) == {"train", "dev", "test"} and min(prepared.sizes.values()) > 1000
    trainer = Trainer(prepared.model, prepared.training, torch.device("cpu"), prepared.task, progress=False,
                      verbose=False)
    result = trainer.fit(prepared.encoded["train"], None)
    assert result.steps == 1 and result.history[0]["train_loss"] > 0
