"""Training runs on real data slices: it learns, it is reproducible, it writes a complete run
directory, a saved model predicts exactly what the trained one did, and early stopping keeps the
best epoch."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import write_slice
from safetensors.torch import load_file

from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig, load_config
from nlp_lstm.data.sources import load_texts
from nlp_lstm.errors import TrainingError
from nlp_lstm.model_dir import FILES, SavedModel, save_model_dir
from nlp_lstm.models.classifier import BiLSTMClassifier
from nlp_lstm.predictor import Predictor, predict_proba_ids
from nlp_lstm.runs import RunResult, train
from nlp_lstm.tasks import prepare
from nlp_lstm.tasks.classification import ClassificationTask, EncodedSplit
from nlp_lstm.text.tokenizers import TextTokenizer
from nlp_lstm.training.checkpoint import read_checkpoint
from nlp_lstm.training.trainer import Trainer, clip_gradients

CPU = torch.device("cpu")
# Measured, not model behaviour: these may differ between two identical runs.
TIMING_HISTORY_KEYS = {"train_tokens_per_second", "train_seconds"}
TIMING_METRIC_KEYS = {"wall_seconds", "train_tokens_per_second", "train_seconds_per_epoch"}
# Texts a model must handle: empty, whitespace only, emoji, Chinese, accents, and one longer than max_length.
ODD_TEXTS = ["", "   ", "😀👍🔥", "这个手机很好用", "naïve café ✓", "screen broke after a day 😡",
             " ".join(["a fine , moving and thoroughly enjoyable film"] * 20)]




@pytest.fixture(scope="module")
def sst2_slices(sst2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2,000 SST-2 training phrases; dev = the first 400 GLUE dev sentences, test = the next 400."""
    folder = tmp_path_factory.mktemp("sst2")
    write_slice(sst2_dir / "train.tsv", folder / "train.tsv", 0, 2000)
    write_slice(sst2_dir / "dev.tsv", folder / "dev.tsv", 0, 400)
    write_slice(sst2_dir / "dev.tsv", folder / "test.tsv", 400, 800)
    return folder


def sst2_config(folder: Path, seed: int = 0) -> Config:
    """Small and fast (about 1.5 s on one core), yet it learns: dev accuracy 0.69-0.74 and test accuracy
    0.71-0.74 over seeds 0-7, against majority baselines of 0.52 and 0.50."""
    return Config(
        data=DataConfig(train=f"tsv:{folder / 'train.tsv'}", dev=f"tsv:{folder / 'dev.tsv'}",
                        test=f"tsv:{folder / 'test.tsv'}", text_column="sentence", max_length=64),
        tokenizer=TokenizerConfig(kind="word", vocab_size=20000),
        model=ModelConfig(embedding_dim=32, hidden_size=32, dropout=0.3),
        training=TrainingConfig(plots=False, epochs=3, batch_size=32, learning_rate=0.01, patience=3, seed=seed,
                                device="cpu"),
    )


@pytest.fixture(scope="module")
def sst2_run(sst2_slices: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], RunResult]:
    """Train once per seed and share the run between the tests that read it."""
    runs: dict[int, RunResult] = {}

    def run(seed: int) -> RunResult:
        if seed not in runs:
            runs[seed] = train(sst2_config(sst2_slices, seed), tmp_path_factory.mktemp(f"run{seed}") / "run",
                               progress=False)
        return runs[seed]

    return run


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def majority_accuracy(train_labels: list[str], dev_labels: list[str]) -> float:
    """Accuracy on dev of always predicting the most frequent training label."""
    majority = Counter(train_labels).most_common(1)[0][0]
    return dev_labels.count(majority) / len(dev_labels)


# ---------------------------------------------------------------- (a) it learns


@pytest.mark.parametrize("seed", [0, 1])
def test_training_lowers_the_loss_and_beats_the_majority_class(
    sst2_run: Callable[[int], RunResult], sst2_slices: Path, seed: int
) -> None:
    result = sst2_run(seed)
    history = read_jsonl(result.run_dir / "history.jsonl")
    losses = [row["train_loss"] for row in history]
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0], losses  # measured: about 0.67 -> 0.09

    train_labels = load_texts(f"tsv:{sst2_slices / 'train.tsv'}", "sentence").labels
    for split in ("dev", "test"):  # measured over seeds 0-7: at least 0.69 on both, baselines 0.52 and 0.50
        gold = load_texts(f"tsv:{sst2_slices / f'{split}.tsv'}", "sentence").labels
        baseline = majority_accuracy(train_labels, gold)
        assert 0.45 < baseline < 0.55
        assert result.metrics[split]["accuracy"] >= baseline + 0.1, (split, result.metrics[split], baseline)
    # the best epoch's weights, or the mean of the last epochs' where dev scores it at least as well
    assert result.metrics["dev"]["accuracy"] >= max(row["dev_accuracy"] for row in history)


# ---------------------------------------------------------------- (b) reproducible


def test_same_seed_gives_identical_runs(sst2_slices: Path, tmp_path: Path) -> None:
    def small(seed: int) -> Config:
        config = sst2_config(sst2_slices, seed)
        config.data.train = f"tsv:{write_slice(sst2_slices / 'train.tsv', tmp_path / 'train500.tsv', 0, 500)}"
        config.model.hidden_size = 16
        config.training.epochs = 2
        return config

    first = train(small(7), tmp_path / "first", progress=False)
    second = train(small(7), tmp_path / "second", progress=False)
    other = train(small(8), tmp_path / "other", progress=False)

    def model_behaviour(result: RunResult) -> tuple[list[dict], dict]:
        history = [{k: v for k, v in row.items() if k not in TIMING_HISTORY_KEYS}
                   for row in read_jsonl(result.run_dir / "history.jsonl")]
        metrics = {k: v for k, v in json.loads((result.run_dir / "metrics.json").read_text()).items()
                   if k not in TIMING_METRIC_KEYS}
        return history, metrics

    assert model_behaviour(first) == model_behaviour(second)
    assert ((first.run_dir / "predictions.jsonl").read_bytes() == (second.run_dir / "predictions.jsonl").read_bytes())
    weights_1 = load_file(first.model_dir / "model.safetensors")
    weights_2 = load_file(second.model_dir / "model.safetensors")
    assert weights_1.keys() == weights_2.keys()
    assert all(torch.equal(weights_1[name], weights_2[name]) for name in weights_1)
    # The seed matters: another one gives another run.
    assert model_behaviour(other)[0] != model_behaviour(first)[0]


# ---------------------------------------------------------------- (c) the run directory


def test_run_directory_holds_everything(sst2_run: Callable[[int], RunResult], sst2_slices: Path) -> None:
    result = sst2_run(0)
    run = result.run_dir
    assert result.model_dir == run / "model"

    assert load_config(run / "config.toml") == sst2_config(sst2_slices, 0)
    assert sorted(p.name for p in (run / "model").iterdir()) == sorted([*FILES, "README.md"])  # no pickle
    assert json.loads((run / "model" / "labels.json").read_text()) == ["0", "1"]
    model_config = json.loads((run / "model" / "config.json").read_text())
    assert model_config["max_length"] == 64
    assert model_config["model"]["hidden_size"] == 32 and model_config["sizes"]["num_outputs"] == 2
    assert model_config["data"] == {"text_column": "sentence", "label_column": "label"}

    assert {p.name for p in (run / "checkpoints").iterdir()} == {"best.safetensors", "last.safetensors"}
    last = read_checkpoint(run / "checkpoints" / "last.safetensors")
    assert last.progress["epoch"] == 3 and last.progress["epoch_done"]
    assert last.progress["best_epoch"] == result.metrics["best_epoch"]
    assert last.optimizer["param_groups"][0]["lr"] == 0.01

    history = read_jsonl(run / "history.jsonl")
    assert len(history) == 3 == result.metrics["epochs_trained"]
    for row in history:
        assert {"epoch", "steps", "train_loss", "dev_accuracy", "dev_macro_f1", "train_tokens_per_second",
                "train_seconds"} <= row.keys()
    assert history[-1]["steps"] == result.metrics["steps"] == 3 * 63  # ceil(2000 / 32) batches an epoch

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["sizes"] == {"train": 2000, "dev": 400, "test": 400}
    assert metrics["data"]["labels"] == ["0", "1"]
    for split in ("dev", "test"):
        scores = metrics[split]
        assert scores["n_samples"] == 400
        for average in ("macro", "micro", "weighted"):
            for name in ("precision", "recall", "f1"):
                assert 0 <= scores[f"{average}_{name}"] <= 1
        assert scores["micro_f1"] == pytest.approx(scores["accuracy"])  # single-label: micro F1 is accuracy
        report = scores["classification_report"]
        assert {"0", "1", "macro avg", "weighted avg"} <= report.keys()
        assert report["0"]["support"] + report["1"]["support"] == 400
        matrix = np.array(scores["confusion_matrix"]["matrix"])
        assert scores["confusion_matrix"]["labels"] == ["0", "1"]
        assert matrix.sum() == 400
        assert np.trace(matrix) / 400 == pytest.approx(scores["accuracy"])
    assert metrics == json.loads(json.dumps(result.metrics))

    # predictions.jsonl: the test split, in file order, and it agrees with the test metrics.
    predictions = read_jsonl(run / "predictions.jsonl")
    test = load_texts(f"tsv:{sst2_slices / 'test.tsv'}", "sentence")
    assert [p["text"] for p in predictions] == test.texts
    assert [p["gold"] for p in predictions] == test.labels
    assert all(p["predicted"] in ("0", "1") and 0.5 <= p["confidence"] <= 1 for p in predictions)
    correct = sum(p["predicted"] == p["gold"] for p in predictions)
    assert correct / len(predictions) == pytest.approx(metrics["test"]["accuracy"])


# ---------------------------------------------------------------- (d) save / load round trip


def test_saved_run_model_predicts_what_the_run_predicted(sst2_run: Callable[[int], RunResult]) -> None:
    result = sst2_run(0)
    predictions = read_jsonl(result.run_dir / "predictions.jsonl")
    predictor = Predictor.load(result.model_dir, "cpu")
    probabilities = predictor.predict_proba([p["text"] for p in predictions])
    assert [predictor.labels[k] for k in probabilities.argmax(axis=1)] == [p["predicted"] for p in predictions]
    np.testing.assert_allclose(probabilities.max(axis=1), [p["confidence"] for p in predictions], atol=1e-6)


def test_save_load_round_trip_gives_identical_probabilities(sst2_dir: Path, tmp_path: Path) -> None:
    data = load_texts(f"tsv:{write_slice(sst2_dir / 'train.tsv', tmp_path / 'train.tsv', 0, 300)}", "sentence")
    dev = load_texts(f"tsv:{write_slice(sst2_dir / 'dev.tsv', tmp_path / 'dev.tsv', 0, 100)}", "sentence")
    labels = sorted(set(data.labels))
    max_length = 16  # shorter than the last odd text, so truncation is part of the round trip

    torch.manual_seed(0)
    tokenizer = TextTokenizer.train(data.texts, "word", True, 5000, 1)
    spec = ModelConfig(embedding_dim=16, hidden_size=16, pooling="attention")
    model = BiLSTMClassifier(len(tokenizer), len(labels), spec, tokenizer.pad_id)
    config = TrainingConfig(epochs=1, batch_size=32, learning_rate=0.01, device="cpu")
    trainer = Trainer(model, config, CPU, ClassificationTask(labels, tokenizer.pad_id, max_length), progress=False)

    def encode(texts: list[str], gold: list[str]) -> EncodedSplit:
        return EncodedSplit(tokenizer.encode_batch(texts), [labels.index(label) for label in gold])

    trainer.fit(encode(data.texts, data.labels), encode(dev.texts, dev.labels))
    texts = ODD_TEXTS + dev.texts[:50]
    in_memory = predict_proba_ids(trainer.model, tokenizer.encode_batch(texts), CPU, max_length=max_length,
                                  pad_id=tokenizer.pad_id)

    save_model_dir(tmp_path / "model", SavedModel(trainer.model, tokenizer, labels, max_length, {}, spec))
    predictor = Predictor.load(tmp_path / "model", "cpu")
    loaded = predictor.predict_proba(texts)
    assert loaded.shape == (len(texts), 2)
    np.testing.assert_allclose(loaded, in_memory, atol=1e-6)
    np.testing.assert_allclose(loaded.sum(axis=1), 1.0, atol=1e-6)
    assert predictor.saved.tokenizer.encode_batch(texts) == tokenizer.encode_batch(texts)

    predictions = predictor.predict(texts)
    assert [p.text for p in predictions] == texts
    assert [p.label for p in predictions] == [labels[k] for k in in_memory.argmax(axis=1)]
    np.testing.assert_allclose([p.probability for p in predictions], in_memory.max(axis=1), atol=1e-6)
    assert predictor.predict([]) == [] and predictor.predict_proba([]).shape == (0, 2)


# ---------------------------------------------------------------- (e) early stopping


@pytest.mark.parametrize("patience", [1, 2])
def test_early_stopping_keeps_the_best_epoch(sst2_dir: Path, tmp_path: Path, patience: int) -> None:
    # A dev set that no model can improve on: every sentence twice, once per label. A model gives both
    # copies the same label, so dev accuracy is exactly 0.5 after every epoch; epoch 1 stays the best
    # (a tie is no improvement) and training stops `patience` epochs later.
    train_path = write_slice(sst2_dir / "train.tsv", tmp_path / "train.tsv", 0, 300)
    sentences = [line.split("\t")[0] for line in (sst2_dir / "dev.tsv").read_text().splitlines()[1:21]]
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\n" + "".join(f"{s}\t0\n{s}\t1\n" for s in sentences))
    config = Config(
        data=DataConfig(train=f"tsv:{train_path}", dev=f"tsv:{tmp_path / 'dev.tsv'}", text_column="sentence"),
        model=ModelConfig(embedding_dim=16, hidden_size=16),
        training=TrainingConfig(plots=False, epochs=8, batch_size=32, learning_rate=0.01, patience=patience,
                                average_last=1, device="cpu"),
    )
    result = train(config, tmp_path / "run", progress=False)

    history = read_jsonl(result.run_dir / "history.jsonl")
    assert [row["dev_accuracy"] for row in history] == [0.5] * (patience + 1)
    assert result.metrics["epochs_trained"] == patience + 1 < config.training.epochs
    assert result.metrics["best_epoch"] == 1
    checkpoint = read_checkpoint(result.run_dir / "checkpoints" / "last.safetensors")
    assert checkpoint.progress["epoch"] == patience + 1 and checkpoint.progress["stopped"]

    saved = load_file(result.model_dir / "model.safetensors")
    best = load_file(result.run_dir / "checkpoints" / "best.safetensors")
    last = checkpoint.model
    assert all(torch.equal(saved[name], best[name]) for name in best)  # the model is epoch 1's
    assert not all(torch.equal(saved[name], last[name]) for name in last)  # not the last epoch's


def averaging_run(sst2_dir: Path, tmp_path: Path, mean_score: float) -> tuple[Trainer, Any, list[dict]]:
    """A 4-epoch run with average_last 3 that keeps every epoch's weights, where dev scores the mean weights
    `mean_score`."""
    train_path = write_slice(sst2_dir / "train.tsv", tmp_path / "train.tsv", 0, 300)
    dev_path = write_slice(sst2_dir / "dev.tsv", tmp_path / "dev.tsv", 0, 60)
    config = Config(
        data=DataConfig(train=f"tsv:{train_path}", dev=f"tsv:{dev_path}", text_column="sentence"),
        model=ModelConfig(embedding_dim=16, hidden_size=16, pretrained_vectors=""),
        training=TrainingConfig(plots=False, epochs=4, batch_size=32, patience=0, average_last=3, device="cpu"))
    prepared = prepare(config)
    trainer = Trainer(prepared.model, prepared.training, torch.device("cpu"), prepared.task, progress=False)
    states: list[dict] = []
    evaluate = trainer.evaluate

    def keep(row: dict) -> None:
        states.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})

    def scored_low_after_training(split: Any) -> tuple[dict, Any]:
        metrics, predictions = evaluate(split)
        return ({**metrics, "accuracy": mean_score} if len(states) == 4 else metrics), predictions

    trainer.evaluate = scored_low_after_training
    result = trainer.fit(prepared.encoded["train"], prepared.encoded["dev"], on_epoch_end=keep)
    return trainer, result, states


def test_checkpoint_averaging_keeps_the_mean_of_the_last_epochs(sst2_dir: Path, tmp_path: Path, capsys) -> None:
    trainer, result, states = averaging_run(sst2_dir, tmp_path, mean_score=1.0)
    assert "kept the mean of epochs 3-4 (dev accuracy: the mean of epochs 3-4 1.0000, epoch " in capsys.readouterr().out
    assert result.averaged_epochs == [3, 4] and result.kept_epochs == 4  # 2: half of the 4 epochs trained
    assert result.kept() == "the mean of epochs 3-4"
    model = trainer.model.state_dict()
    assert all(torch.allclose(model[k], (states[2][k] + states[3][k]) / 2) for k in model)
    assert not all(torch.equal(model[k], states[3][k]) for k in model)


def test_checkpoint_averaging_keeps_the_best_epoch_where_dev_scores_the_mean_lower(sst2_dir: Path,
                                                                                   tmp_path: Path, capsys) -> None:
    trainer, result, states = averaging_run(sst2_dir, tmp_path, mean_score=0.0)
    out = capsys.readouterr().out
    assert f"kept epoch {result.best_epoch} (dev accuracy: the mean of epochs 3-4 0.0000, epoch " in out
    assert result.averaged_epochs == [] and result.kept() == f"epoch {result.best_epoch}"
    model, best = trainer.model.state_dict(), states[result.best_epoch - 1]
    assert all(torch.equal(model[k], best[k]) for k in best)


def test_patience_zero_never_stops_early(sst2_dir: Path, tmp_path: Path) -> None:
    train_path = write_slice(sst2_dir / "train.tsv", tmp_path / "train.tsv", 0, 200)
    sentences = [line.split("\t")[0] for line in (sst2_dir / "dev.tsv").read_text().splitlines()[1:11]]
    (tmp_path / "dev.tsv").write_text("sentence\tlabel\n" + "".join(f"{s}\t0\n{s}\t1\n" for s in sentences))
    config = Config(
        data=DataConfig(train=f"tsv:{train_path}", dev=f"tsv:{tmp_path / 'dev.tsv'}", text_column="sentence"),
        model=ModelConfig(embedding_dim=8, hidden_size=8),
        training=TrainingConfig(plots=False, epochs=4, batch_size=32, patience=0, device="cpu"),
    )
    result = train(config, tmp_path / "run", progress=False)
    assert result.metrics["epochs_trained"] == 4 and result.metrics["best_epoch"] == 1


def test_a_nan_loss_stops_training_with_the_step_and_keeps_the_last_good_checkpoint(
        sst2_600: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp_lstm.errors import TrainingError

    calls = {"n": 0}
    original = ClassificationTask.loss

    def loss_going_nan(self: ClassificationTask, model: torch.nn.Module, batch) -> torch.Tensor:
        calls["n"] += 1
        loss = original(self, model, batch)
        return loss * float("nan") if calls["n"] >= 13 else loss  # step 13: the third step of epoch 2

    monkeypatch.setattr(ClassificationTask, "loss", loss_going_nan)
    config = Config(
        data=DataConfig(train=f"tsv:{sst2_600 / 'train.tsv'}", dev=f"tsv:{sst2_600 / 'dev.tsv'}",
                        text_column="sentence"),
        tokenizer=TokenizerConfig(vocab_size=2000), model=ModelConfig(embedding_dim=8, hidden_size=8),
        training=TrainingConfig(plots=False, epochs=3, batch_size=60, seed=0, device="cpu",
                                clip_grad_norm=0.0))  # 10 steps/epoch
    with pytest.raises(TrainingError, match=r"NaN or infinite at step 13 \(epoch 2\).*checkpoints/last.safetensors "
                                            r"holds the last good state \(step 10, end of epoch 1\).*"
                                            r"learning_rate \(now 0\.002\), "
                                            r"training\.clip_grad_norm = 1\.0"):
        train(config, tmp_path / "run", progress=False)
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert checkpoint.progress["epoch"] == 1 and checkpoint.progress["epoch_done"]
    weights = checkpoint.model
    assert all(torch.isfinite(t).all() for t in weights.values())


@pytest.mark.parametrize("scale", [0.01, 100.0, float("nan")])
def test_clip_gradients_leaves_the_gradients_clip_grad_norm_would_leave(scale: float) -> None:
    torch.manual_seed(0)
    model = BiLSTMClassifier(50, 3)
    ids = torch.randint(1, 50, (4, 7))
    (model(ids, torch.full((4,), 7)).sum() * scale).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    expected = [p.grad for p in model.parameters()]
    for param, grad in zip(model.parameters(), grads):
        param.grad = grad
    clip_gradients(list(model.parameters()), 1.0)
    for got, want in zip((p.grad for p in model.parameters()), expected):
        assert torch.equal(got, want) or (got.isnan().all() and want.isnan().all())


# ---------------------------------------------------------------- (g) embedding rows no training text has


def added_words_run(sst2_dir: Path, tmp_path: Path, weight_decay: float, narrow: bool = True,
                    checkpoints: Path | None = None, resume: bool = False) -> tuple[Trainer, torch.Tensor, int]:
    """Two epochs of a classifier whose vocabulary ends with 500 words no training phrase has, clipped on most
    steps; the trainer, the embedding table before training, and how many rows training can reach."""
    tmp_path.mkdir()
    data = load_texts(f"tsv:{write_slice(sst2_dir / 'train.tsv', tmp_path / 'train.tsv', 0, 300)}", "sentence")
    labels = sorted(set(data.labels))
    trained = TextTokenizer.train(data.texts, "word", True, 5000, 1)
    tokenizer = trained.with_words(f"unseen{k}" for k in range(500))
    torch.manual_seed(0)
    model = BiLSTMClassifier(len(tokenizer), len(labels), ModelConfig(embedding_dim=16, hidden_size=16),
                             tokenizer.pad_id)
    before = model.embedding.weight.detach().clone()
    config = TrainingConfig(epochs=2, batch_size=32, learning_rate=0.01, weight_decay=weight_decay,
                            clip_grad_norm=0.05, average_last=1, device="cpu")
    trainer = Trainer(model, config, CPU, ClassificationTask(labels, tokenizer.pad_id), checkpoints, progress=False,
                      verbose=False)
    if not narrow:
        trainer._optimize_trained_rows = lambda train: None  # the whole table in the optimizer, as without this
    trainer.fit(EncodedSplit(tokenizer.encode_batch(data.texts), [labels.index(y) for y in data.labels]), None,
                resume=resume)
    return trainer, before, len(trained)


def test_the_optimizer_holds_only_the_embedding_rows_training_reaches_and_trains_bit_for_bit_the_same(
        sst2_dir: Path, tmp_path: Path) -> None:
    trainer, before, reached = added_words_run(sst2_dir, tmp_path / "a", weight_decay=0.0)
    table = trainer.model.embedding.weight
    held = trainer.optimizer.param_groups[0]["params"][0]
    assert held.shape == (reached, 16) and held.data_ptr() == table.data_ptr()  # a view of the table's first rows
    assert torch.equal(table[reached:], before[reached:]) and not torch.equal(table[:reached], before[:reached])
    whole, _, _ = added_words_run(sst2_dir, tmp_path / "b", weight_decay=0.0, narrow=False)
    assert whole.optimizer.param_groups[0]["params"][0] is whole.model.embedding.weight
    for name, tensor in whole.model.state_dict().items():
        assert torch.equal(trainer.model.state_dict()[name], tensor), name


def test_with_weight_decay_the_optimizer_holds_the_whole_embedding_which_decays_rows_training_never_reaches(
        sst2_dir: Path, tmp_path: Path) -> None:
    trainer, before, reached = added_words_run(sst2_dir, tmp_path / "a", weight_decay=0.1)
    table = trainer.model.embedding.weight.detach()
    assert trainer.optimizer.param_groups[0]["params"][0] is trainer.model.embedding.weight
    assert (table[reached:].abs() < before[reached:].abs()).all()


def test_resuming_from_optimizer_state_of_other_shapes_is_refused(sst2_dir: Path, tmp_path: Path) -> None:
    added_words_run(sst2_dir, tmp_path / "a", weight_decay=0.0, checkpoints=tmp_path / "checkpoints")
    with pytest.raises(TrainingError, match=r"does not fit this model and config \(optimizer state of shape "
                                            r"\(\d+, 16\) for a parameter of shape \(\d+, 16\)\)"):
        added_words_run(sst2_dir, tmp_path / "b", weight_decay=0.0, narrow=False,
                        checkpoints=tmp_path / "checkpoints", resume=True)
