"""Model cards: every model directory that train, report, export and the estimators' save write has a README.md
that huggingface_hub reads as a model card, with metrics equal to metrics.json, the report's bootstrap intervals,
facts about the model and data from the run's files, and nothing it cannot know (no license, no guessed
language)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_slice
from huggingface_hub import ModelCard

from nlp_lstm import TextClassifier
from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
from nlp_lstm.evaluation.model_card import model_card
from nlp_lstm.runs import report, train


def load_card(model_dir: Path) -> ModelCard:
    return ModelCard.load(model_dir / "README.md")


def test_a_training_runs_card_has_its_metrics_intervals_and_model(classifier_run: Path) -> None:
    model = classifier_run / "model"
    card = load_card(model)
    metrics = json.loads((classifier_run / "metrics.json").read_text(encoding="utf-8"))
    summary = json.loads((classifier_run / "report.json").read_text(encoding="utf-8"))
    results = {(r.dataset_split, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results == {(split, name): round(metrics[split][name], 4) for split in ("dev", "test")
                       for name in ("accuracy", "macro_f1")}
    assert card.data.pipeline_tag == "text-classification" and card.data.library_name == "nlp-lstm"
    assert card.data.license is None and "# license: not set" in (model / "README.md").read_text(encoding="utf-8")
    interval = summary["bootstrap"]["accuracy"]
    assert f"| test | accuracy | {metrics['test']['accuracy']:.4f} | {interval['low']:.4f} - {interval['high']:.4f} |" \
        in card.text
    sizes = metrics["data"]["sizes"]
    assert f"- train: {sizes['train']:,} texts from `{metrics['data']['train']}`." in card.text
    assert "-> 1 bidirectional LSTM layer of 8 units -> max pooling over time, then a linear layer to 2 labels" \
        in card.text
    assert f"nlp-lstm serve {model}" in card.text
    # the language is stated only where the run shows it: English GloVe vectors here, or none at all
    assert card.data.language == (["en"] if metrics["data"].get("pretrained") else None)


def test_report_rewrites_the_card(classifier_run: Path) -> None:
    card = classifier_run / "model" / "README.md"
    card.write_text("stale", encoding="utf-8")
    assert report(classifier_run)["model_card"] == card
    assert card.read_text(encoding="utf-8").startswith("---\n")


def test_a_chinese_run_is_marked_zh(tmp_path: Path) -> None:
    config = Config(
        data=DataConfig(train="embedded:zh-reviews", validation_fraction=0.1, test_fraction=0.1, max_length=32),
        tokenizer=TokenizerConfig(kind="char", vocab_size=2000),
        model=ModelConfig(embedding_dim=8, hidden_size=8, pretrained_vectors=""),
        training=TrainingConfig(epochs=1, max_steps=5, device="cpu", baselines=False, plots=False),
    )
    run = train(config, tmp_path / "zh", progress=False).run_dir
    card = load_card(run / "model")
    assert card.data.language == ["zh"]
    assert "texts held out of `embedded:zh-reviews` (10%, stratified by label, split_seed 0)." in card.text


def test_an_estimators_saved_model_has_a_card_with_its_dev_scores(sst2_dir: Path, tmp_path: Path) -> None:
    write_slice(sst2_dir / "train.tsv", tmp_path / "train.tsv", 0, 300)
    rows = [line.split("\t") for line in (tmp_path / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    texts, labels = [r[0] for r in rows], [int(r[1]) for r in rows]
    model = TextClassifier(embedding_dim=8, hidden_size=8, epochs=2, pretrained_vectors="", verbose=0,
                           device="cpu").fit(texts, labels)
    model.save(tmp_path / "saved")
    card = load_card(tmp_path / "saved")
    best = max(row["dev_accuracy"] for row in model.history_)
    assert f"accuracy {best:.4f}" in card.text and "Saved by the Python API" in card.text
    assert card.data.eval_results is None  # no held-out split was scored, so the front matter claims none


def test_the_card_for_a_hub_repository_loads_from_it(classifier_run: Path) -> None:
    text = model_card(classifier_run / "model", repo_id="alice/sst2-tiny")
    assert 'nlp-lstm predict hf://alice/sst2-tiny "' in text and "Predictor.load('hf://alice/sst2-tiny')" in text
    test_texts = [json.loads(line)["text"] for line in (classifier_run / "predictions.jsonl").open(encoding="utf-8")]
    example = text.split('nlp-lstm predict hf://alice/sst2-tiny "')[1].split('"')[0]
    assert example in test_texts  # a text of the model's own data


@pytest.mark.parametrize("missing", ["metrics.json", "report.json"])
def test_a_card_without_the_runs_files_says_less_and_claims_nothing(classifier_run: Path, tmp_path: Path,
                                                                    missing: str) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(classifier_run, run)
    (run / missing).unlink()
    text = model_card(run / "model")
    if missing == "metrics.json":  # not a run any more: no scores at all
        assert "No evaluation was recorded" in text and "model-index" not in text
    else:  # scores, without intervals
        assert "| test | accuracy |" in text and "bootstrap over" not in text
