"""Modelling options that move accuracy: embedding and recurrent dropout, class weights, learning-rate
schedules. Each is checked for what it does to the numbers, not only that it runs."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
from nlp_lstm.data.batching import collate
from nlp_lstm.device import onednn_bf16
from nlp_lstm.errors import ConfigError
from nlp_lstm.model_dir import load_model_dir
from nlp_lstm.models.classifier import BiLSTMClassifier
from nlp_lstm.models.dropout import EmbeddingDropout
from nlp_lstm.models.encoder import BiLSTMEncoder
from nlp_lstm.models.tagger import BiLSTMTagger
from nlp_lstm.runs import train
from nlp_lstm.tasks.classification import ClassificationTask, EncodedSplit
from nlp_lstm.tasks.tagging import EncodedTagged, TaggingTask
from nlp_lstm.training.class_weights import class_weights
from nlp_lstm.training.unk_replacement import UnkReplacement

# ---------------------------------------------------------------- dropout


def test_embedding_dropout_zeroes_whole_word_vectors_in_training_only() -> None:
    torch.manual_seed(0)
    dropout = EmbeddingDropout(0.5)
    x = torch.randn(8, 50, 16) + 3  # no exact zeros of its own
    out = dropout(x)
    zeroed = (out == 0).all(dim=-1)  # (8, 50): whole vectors dropped
    assert ((out == 0).any(dim=-1) == zeroed).all()  # never part of a vector
    assert 0.35 < zeroed.float().mean() < 0.65
    assert torch.allclose(out[~zeroed], x[~zeroed] * 2)  # the kept ones scaled by 1 / (1 - p)
    dropout.eval()
    assert torch.equal(dropout(x), x)


def test_recurrent_dropout_masks_hidden_weights_in_training_only() -> None:
    torch.manual_seed(0)
    encoder = BiLSTMEncoder(6, 8, num_layers=2, recurrent_dropout=0.5)
    plain = BiLSTMEncoder(6, 8, num_layers=2)
    plain.load_state_dict(encoder.state_dict())
    x, lengths = torch.randn(3, 7, 6), torch.tensor([7, 4, 1])
    encoder.eval()
    plain.eval()
    assert torch.equal(encoder(x, lengths), plain(x, lengths))  # eval: the exact encoder
    encoder.train()
    plain.train()
    out = encoder(x, lengths)
    assert not torch.allclose(out, plain(x, lengths))
    out.sum().backward()
    assert encoder.forward_layers[0].weight_hh_l0.grad.abs().sum() > 0  # gradients reach the real weights
    # the module's own parameters are untouched by the mask
    assert torch.equal(encoder.forward_layers[0].weight_hh_l0, plain.forward_layers[0].weight_hh_l0)


# ---------------------------------------------------------------- class weights


def test_balanced_class_weights_follow_scikit_learn() -> None:
    from sklearn.utils.class_weight import compute_class_weight

    labels = ["neg"] * 30 + ["pos"] * 10 + ["neutral"] * 5
    names = ["neg", "neutral", "pos"]
    ours = class_weights("balanced", names, labels)
    theirs = compute_class_weight("balanced", classes=pytest.importorskip("numpy").array(names), y=labels)
    assert ours == pytest.approx(list(theirs))
    assert class_weights("", names, labels) is None
    assert class_weights({"pos": 3.0}, names, labels) == [1.0, 1.0, 3.0]
    # a tagger's table may name an entity type: all of its prefixes get the weight
    tags = ["B-PER", "E-PER", "I-PER", "O", "S-LOC", "S-PER"]
    assert class_weights({"PER": 2.0, "O": 0.5}, tags, []) == [2.0, 2.0, 2.0, 0.5, 1.0, 2.0]
    with pytest.raises(ConfigError, match="training.class_weights names 'ORG'.*labels: B-PER"):
        class_weights({"ORG": 2.0}, tags, [])


def test_class_weights_change_the_loss_as_a_weighted_mean() -> None:
    torch.manual_seed(0)
    # eval: no dropout, so both losses see the same logits
    model = BiLSTMClassifier(20, 2, ModelConfig(embedding_dim=8, hidden_size=8)).eval()
    batch = collate([[2, 3, 4], [5, 6], [7, 8, 9, 10]], [0, 1, 2], [0, 1, 1], 0)
    logits = model(batch.ids, batch.lengths)
    per_example = nn.functional.cross_entropy(logits, batch.labels, reduction="none")
    weights = [1.0, 3.0]
    loss = ClassificationTask(["a", "b"], class_weights=weights).loss(model, batch)
    w = torch.tensor([weights[k] for k in batch.labels.tolist()])
    assert loss.item() == pytest.approx(((per_example * w).sum() / w.sum()).item(), rel=1e-5)
    assert ClassificationTask(["a", "b"]).loss(model, batch).item() == pytest.approx(per_example.mean().item(),
                                                                                     rel=1e-5)


def test_a_crf_tagger_refuses_class_weights() -> None:
    tagger = BiLSTMTagger(10, 3, ModelConfig(embedding_dim=4, hidden_size=4, crf=True))
    emissions = torch.zeros(1, 2, 3)
    with pytest.raises(ValueError, match="CRF"):
        tagger.loss(emissions, torch.zeros(1, 2, dtype=torch.long), torch.ones(1, 2, dtype=torch.bool),
                    torch.ones(3))


# ---------------------------------------------------------------- <unk> replacement


def test_unk_replacement_touches_only_words_seen_once_at_the_given_rate() -> None:
    train_ids = [[5, 6, 7, 5], [6, 8, 9, 2]]  # 7, 8, 9 once; 2 is <unk> itself; 5, 6 twice
    replace = UnkReplacement(train_ids, vocab_size=12, unk_id=2, probability=0.5, seed=0)
    assert replace.num_rare == 3
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 0]] * 4000)  # 10 never seen in training, 0 padding
    out = replace(ids)
    changed = out != ids
    assert not changed[:, [0, 1, 5, 6]].any()  # frequent, unseen and padding positions stay
    assert (out[changed] == 2).all()
    assert changed[:, 2:5].float().mean().item() == pytest.approx(0.5, abs=0.02)
    again = UnkReplacement(train_ids, 12, 2, 0.5, seed=0)(ids)
    assert torch.equal(out, again)  # its own seeded generator: the same batches every run
    assert not torch.equal(out, UnkReplacement(train_ids, 12, 2, 0.5, seed=1)(ids))


def test_tasks_replace_in_training_batches_only() -> None:
    split = EncodedSplit([[3, 4], [3, 5]], [0, 1])
    replace = UnkReplacement(split.ids, 6, unk_id=1, probability=0.999, seed=0)
    batch = ClassificationTask(["a", "b"], unk_replacement=replace).collate(split, [0, 1])
    assert batch.ids.tolist() == [[3, 1], [3, 1]]
    tagged = EncodedTagged([[3, 4], [3, 5]], [[0, 0], [0, 0]], [["x", "x"], ["x", "x"]])
    batch = TaggingTask(["x"], None, None, unk_replacement=replace).collate(tagged, [0, 1])
    assert batch.ids.tolist() == [[3, 1], [3, 1]]
    model = BiLSTMClassifier(6, 2, ModelConfig(embedding_dim=4, hidden_size=4))
    probabilities = ClassificationTask(["a", "b"], unk_replacement=replace).evaluate(
        model.eval(), split, torch.device("cpu"))[1]
    plain = ClassificationTask(["a", "b"]).evaluate(model, split, torch.device("cpu"))[1]
    np.testing.assert_allclose(probabilities, plain)  # scoring sees the real words


# ---------------------------------------------------------------- runs with the options


def small_config(folder: Path, **training: object) -> Config:
    return Config(
        data=DataConfig(train=f"tsv:{folder / 'train.tsv'}", dev=f"tsv:{folder / 'dev.tsv'}", text_column="sentence"),
        tokenizer=TokenizerConfig(vocab_size=3000),
        model=ModelConfig(embedding_dim=8, hidden_size=8, embedding_dropout=0.1, recurrent_dropout=0.2),
        training=TrainingConfig(**{"plots": False, "epochs": 3, "batch_size": 64, "seed": 0, "device": "cpu",
                                   **training}),
    )


def quiet(config: Config, output: Path) -> dict:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return train(config, output, progress=False).metrics


def history(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]


def test_linear_schedule_decays_to_zero_and_plateau_multiplies_by_lr_decay(sst2_600: Path, tmp_path: Path) -> None:
    quiet(small_config(sst2_600, lr_schedule="linear", learning_rate=0.01), tmp_path / "linear")
    rates = [row["learning_rate"] for row in history(tmp_path / "linear")]
    steps_per_epoch = history(tmp_path / "linear")[0]["steps"]
    assert rates == pytest.approx([0.01 * (1 - e / 3) for e in (1, 2, 3)], abs=1e-9)
    assert steps_per_epoch == 10  # 600 rows / 64
    config = small_config(sst2_600, lr_schedule="plateau", lr_decay=0.25, learning_rate=0.01, epochs=4, patience=0)
    quiet(config, tmp_path / "plateau")
    rows = history(tmp_path / "plateau")
    best, lr = float("-inf"), 0.01
    for row in rows:  # the rate each epoch trained at: times 0.25 after an epoch without a dev gain
        assert row["learning_rate"] == pytest.approx(lr)
        if row["dev_accuracy"] > best:
            best = row["dev_accuracy"]
        else:
            lr *= 0.25
    assert lr < 0.01  # the run had a plateau to react to


def test_class_weights_are_recorded_and_a_crf_tagger_config_is_refused(sst2_600: Path, tmp_path: Path) -> None:
    metrics = quiet(small_config(sst2_600, class_weights="balanced"), tmp_path / "run")
    train_labels = [line.split("\t")[1] for line in (sst2_600 / "train.tsv").read_text().splitlines()[1:]]
    n, counts = len(train_labels), {label: train_labels.count(label) for label in "01"}
    assert metrics["data"]["class_weights"] == pytest.approx({k: n / (2 * c) for k, c in counts.items()})
    with pytest.raises(ConfigError, match="training.class_weights names 'maybe'"):
        quiet(small_config(sst2_600, class_weights={"maybe": 2.0}), tmp_path / "bad")


@pytest.mark.parametrize("section, key, value, expected", [
    ("model", "embedding_dropout", 1.0, "a float in [0, 1)"),
    ("model", "recurrent_dropout", -0.1, "a float in [0, 1)"),
    ("model", "unknown_init", "ones", "one of uniform, normal, zeros"),
    ("training", "lr_schedule", "cosine", "one of constant, plateau, linear"),
    ("training", "lr_decay", 1.0, "a float in (0, 1)"),
    ("training", "class_weights", "inverse", '"balanced" or a table'),
    ("training", "class_weights", {"pos": -1}, '"balanced" or a table'),
    ("training", "unk_replace", 1.5, "a float in [0, 1)"),
    ("training", "precision", "fp8", "one of auto, fp32, bf16, fp16"),
    ("model", "lstm", "cudnn", "one of fused, explicit"),
])
def test_bad_option_values_are_named(section: str, key: str, value: object, expected: str) -> None:
    cls = ModelConfig if section == "model" else TrainingConfig
    with pytest.raises(ConfigError, match=rf"'{section}\.{key}' parameter must be .*{re.escape(expected)}"):
        cls(**{key: value})


def test_frozen_embeddings_without_vectors_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"'model\.freeze_embeddings' .*false without model.pretrained_vectors"):
        ModelConfig(pretrained_vectors="", freeze_embeddings=True)
    assert ModelConfig(freeze_embeddings=True).pretrained_vectors == "auto"  # auto decides later
    # extend_vocab is an upper bound that random embeddings leave at nothing added (taggers default to 100000)
    assert ModelConfig(pretrained_vectors="", extend_vocab=100000).extend_vocab == 100000


def test_unk_replace_trains_the_unk_vector_and_is_recorded(sst2_600: Path, tmp_path: Path) -> None:
    def unk_row(run: Path) -> torch.Tensor:
        saved = load_model_dir(run / "model", torch.device("cpu"))
        return saved.model.embedding.weight[saved.tokenizer.unk_id].detach()

    plain = quiet(small_config(sst2_600, weight_decay=0.0, epochs=1), tmp_path / "plain")
    replaced = quiet(small_config(sst2_600, weight_decay=0.0, epochs=1, unk_replace=0.5), tmp_path / "replaced")
    assert "unk_replace" not in plain["data"]
    tokenizer = load_model_dir(tmp_path / "replaced" / "model", torch.device("cpu")).tokenizer
    texts = [line.split("\t")[0] for line in (sst2_600 / "train.tsv").read_text().splitlines()[1:]]
    counts = Counter(i for ids in tokenizer.encode_batch(texts) for i in ids)
    singletons = sum(1 for i, count in counts.items() if count == 1 and i != tokenizer.unk_id)
    assert replaced["data"]["unk_replace"] == {"probability": 0.5, "rare_words": singletons}
    # same seed, same initialisation: without replacement <unk> never occurs and its row never moves
    change = (unk_row(tmp_path / "replaced") - unk_row(tmp_path / "plain")).abs().max().item()
    assert change > 1e-3


# ---------------------------------------------------------------- precision


NO_BF16_LSTM = pytest.mark.skipif(not onednn_bf16(), reason="torch's CPU LSTM has no bfloat16 kernel (needs AVX512)")


@NO_BF16_LSTM
def test_bf16_autocast_runs_the_training_forward_in_bfloat16_and_keeps_fp32_weights(sst2_600: Path,
                                                                                    tmp_path: Path) -> None:
    from nlp_lstm.training.trainer import Trainer

    seen: list[torch.dtype] = []
    original = BiLSTMClassifier.forward

    def spy(self: BiLSTMClassifier, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = original(self, ids, lengths)
        seen.append(logits.dtype)
        return logits

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BiLSTMClassifier, "forward", spy)
        metrics = quiet(small_config(sst2_600, precision="bf16", learning_rate=0.01), tmp_path / "bf16")
    assert metrics["precision"] == "bf16"
    assert torch.bfloat16 in seen and torch.float32 in seen  # training steps in bf16, scoring in fp32
    losses = [row["train_loss"] for row in history(tmp_path / "bf16")]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    model = load_model_dir(tmp_path / "bf16" / "model").model
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    fp32 = quiet(small_config(sst2_600, precision="fp32", learning_rate=0.01), tmp_path / "fp32")
    assert fp32["precision"] == "fp32"
    assert abs(fp32["dev"]["accuracy"] - metrics["dev"]["accuracy"]) < 0.1  # the same training, rounded
    assert Trainer(BiLSTMClassifier(10, 2), TrainingConfig(precision="bf16"), torch.device("cpu"),
                   ClassificationTask(["0", "1"], 0, 16)).scaler is None  # bf16 needs no loss scaling


@NO_BF16_LSTM
def test_bf16_crf_tagger_loss_is_summed_in_fp32() -> None:
    tagger = BiLSTMTagger(30, 5, ModelConfig(embedding_dim=8, hidden_size=8, crf=True))
    task = TaggingTask(["O", "B-X", "I-X", "E-X", "S-X"], None, None)
    data = EncodedTagged([[3, 4, 5], [6, 7]], [[0, 1, 3], [4, 0]], [["O", "B-X", "E-X"], ["S-X", "O"]])
    batch = task.collate(data, [0, 1])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = task.loss(tagger, batch)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


@pytest.mark.parametrize(("units", "expected"), [
    ({"_is_avx512_bf16_supported": True, "_is_amx_tile_supported": False},
     ("bf16", "auto: this CPU has AVX512-BF16")),
    ({"_is_avx512_bf16_supported": True, "_is_amx_tile_supported": True},
     ("bf16", "auto: this CPU has AMX and AVX512-BF16")),
    ({"_is_avx512_bf16_supported": False, "_is_amx_tile_supported": False},
     ("fp32", "auto: fp32 without AVX512-BF16 or AMX")),
])
def test_auto_precision_is_bf16_exactly_where_the_cpu_computes_it(monkeypatch: pytest.MonkeyPatch, units: dict,
                                                                 expected: tuple[str, str]) -> None:
    import nlp_lstm.device
    from nlp_lstm.device import autocast_dtype, resolve_precision

    for name, value in units.items():
        monkeypatch.setattr(torch.cpu, name, lambda value=value: value)
    monkeypatch.setattr(nlp_lstm.device, "onednn_bf16", lambda: True)  # as on every CPU with AVX512-BF16
    assert resolve_precision("auto", torch.device("cpu")) == expected
    assert autocast_dtype("auto", torch.device("cpu")) == (torch.bfloat16 if expected[0] == "bf16" else None)
    assert resolve_precision("fp32", torch.device("cpu")) == ("fp32", "")  # an explicit choice stands
    assert resolve_precision("auto", torch.device("meta")) == ("fp32", "auto: fp32 without AVX512-BF16 or AMX")


def test_a_run_says_which_precision_auto_chose(sst2_600: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        train(small_config(sst2_600, precision="auto"), tmp_path / "run", progress=False)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (metrics["precision"], metrics["precision_choice"]) == ("fp32", "auto: fp32 without AVX512-BF16 or AMX")
    assert "| device cpu | fp32 (auto: fp32 without AVX512-BF16 or AMX)" in out.getvalue()


def test_fp16_without_cuda_is_refused_before_any_data_is_read(tmp_path: Path) -> None:
    config = small_config(tmp_path / "no-such-folder", precision="fp16")
    with pytest.raises(ConfigError, match='training.precision = "fp16" needs a CUDA device.*use "bf16" or "fp32"'):
        quiet(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bf16_where_the_cpu_lstm_has_no_bfloat16_kernel_is_refused_before_any_data_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nlp_lstm.device

    monkeypatch.setattr(nlp_lstm.device, "onednn_bf16", lambda: False)
    config = small_config(tmp_path / "no-such-folder", precision="bf16")
    with pytest.raises(ConfigError, match='precision = "bf16": torch\'s LSTM has no bfloat16 kernel on this CPU'):
        quiet(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- token batches


def test_batch_tokens_sizes_the_training_batches_by_padded_tokens(sst2_600: Path, tmp_path: Path) -> None:
    def run(batch_tokens: int) -> dict:
        config = Config(data=DataConfig(train=f"tsv:{sst2_600 / 'train.tsv'}", dev=f"tsv:{sst2_600 / 'dev.tsv'}",
                                        text_column="sentence"),
                        tokenizer=TokenizerConfig(kind="word", vocab_size=2000),
                        model=ModelConfig(embedding_dim=8, hidden_size=8, pretrained_vectors=""),
                        training=TrainingConfig(plots=False, epochs=1, batch_size=16, batch_tokens=batch_tokens, seed=0,
                                                device="cpu", baselines=False))
        with contextlib.redirect_stdout(io.StringIO()):
            return train(config, tmp_path / f"run-{batch_tokens}", progress=False).metrics

    by_rows, by_tokens = run(0), run(400)
    assert by_rows["steps"] == 600 // 16 + 1  # 600 phrases, 16 a batch
    # 600 phrases of 9 words on average: about 6,000 tokens, in batches of at most 400 padded tokens
    assert 15 <= by_tokens["steps"] < 30
    assert by_tokens["steps"] != by_rows["steps"]
