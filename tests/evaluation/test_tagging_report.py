"""The tagger's report: every file and section, numbers equal to metrics.json, sentence-bootstrap intervals,
span-length and unknown-word breakdowns that add up, examples taken from predictions.jsonl, and the
report `nlp-lstm evaluate` writes for a tagger."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, sentence_blocks, write_conll

from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
from nlp_lstm.data.tag_schemes import spans
from nlp_lstm.errors import DataError
from nlp_lstm.evaluation.metrics import tagging_metrics
from nlp_lstm.evaluation.tagging_report import TAGGING_PLOTS
from nlp_lstm.runs import report as write_report
from nlp_lstm.runs import train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NER_HEADINGS = ["Headline metrics", "Per-type metrics", "Tag confusion", "Training curves", "Errors by span length",
                "Unknown words", "Example sentences", "Data", "Provenance"]


@pytest.fixture(scope="module")
def conll(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 500 sentences of eng.train and the first 120 of eng.testa."""
    folder = tmp_path_factory.mktemp("conll")
    write_conll(folder / "train.conll", sentence_blocks(shared_data / "conll2003" / "eng.train")[:500])
    write_conll(folder / "dev.conll", sentence_blocks(shared_data / "conll2003" / "eng.testa")[:120])
    return folder


@pytest.fixture(scope="module")
def tagger_run(conll: Path) -> Path:
    """A short BiLSTM-CNN-CRF NER run (about 3 s); train() writes its report."""
    config = Config(
        task="tagging",
        data=DataConfig(train=f"conll:{conll / 'train.conll'}", dev=f"conll:{conll / 'dev.conll'}", tag_column=3,
                        validation_fraction=0.0),
        tokenizer=TokenizerConfig(lowercase=True, digits_to_zero=True),
        model=ModelConfig(embedding_dim=32, hidden_size=32, char_embedding_dim=16, char_filters=20,
                          casing_embedding_dim=4, crf=True, tag_scheme="bioes"),
        training=TrainingConfig(epochs=4, batch_size=16, learning_rate=0.01, weight_decay=0.0, metric="f1", seed=0,
                                device="cpu"),
    )
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return train(config, conll / "run", progress=False).run_dir


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def section(markdown: str, heading: str) -> str:
    return markdown.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def table_rows(text: str) -> list[list[str]]:
    """The cells of every table body row in `text` (not the header line, nor the rule under it)."""
    lines = text.splitlines()
    rows = []
    for k, line in enumerate(lines):
        header = k + 1 < len(lines) and lines[k + 1].startswith("|---")
        if line.startswith("| ") and not header:
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def test_tagging_run_writes_every_report_file_and_section(tagger_run: Path) -> None:
    for name in TAGGING_PLOTS:
        assert (tagger_run / "plots" / f"{name}.png").read_bytes()[:8] == PNG_SIGNATURE, name
    page = (tagger_run / "report.html").read_text(encoding="utf-8")
    markdown = (tagger_run / "report.md").read_text(encoding="utf-8")
    for heading in NER_HEADINGS:
        assert f"<h2>{heading}</h2>" in page and f"## {heading}\n" in markdown, heading
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(TAGGING_PLOTS) == page.count("<img ")
    import matplotlib.image

    for data in images:  # each decodes to a real picture, not just a PNG header
        picture = matplotlib.image.imread(io.BytesIO(base64.b64decode(data, validate=True)), format="png")
        assert picture.shape[0] > 100 and picture.shape[1] > 100 and picture.std() > 0.01
    summary = json.loads((tagger_run / "report.json").read_text(encoding="utf-8"))
    assert summary["task"] == "tagging" and summary["scheme"] == "iob1"
    assert summary["plots"] == [f"plots/{name}.png" for name in TAGGING_PLOTS]


def test_tagging_markdown_numbers_equal_metrics_json(tagger_run: Path) -> None:
    dev = json.loads((tagger_run / "metrics.json").read_text(encoding="utf-8"))["dev"]
    markdown = (tagger_run / "report.md").read_text(encoding="utf-8")
    headline = {row[0]: row[1:] for row in table_rows(section(markdown, "Headline metrics"))}
    assert headline["token accuracy"][0] == f"{dev['accuracy']:.4f}"
    for name, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1")):
        assert headline[f"entity {name}"][0] == f"{dev[key]:.4f}"
    assert headline["macro F1 over tags"][0] == f"{dev['macro_f1']:.4f}"
    per_type = {row[0]: row[1:] for row in table_rows(section(markdown, "Per-type metrics"))}
    assert set(per_type) == set(dev["entity_report"])
    for name, row in dev["entity_report"].items():
        assert per_type[name] == [f"{row['precision']:.4f}", f"{row['recall']:.4f}", f"{row['f1-score']:.4f}",
                                  str(int(row["support"]))]
    tags, matrix = dev["confusion_matrix"]["labels"], dev["confusion_matrix"]["matrix"]
    full = [row for row in table_rows(section(markdown, "Tag confusion")) if len(row) == len(tags) + 1]
    assert full == [[tag, *(str(c) for c in counts)] for tag, counts in zip(tags, matrix)]


def test_sentence_bootstrap_is_built_on_the_scored_spans(tagger_run: Path) -> None:
    summary = json.loads((tagger_run / "report.json").read_text(encoding="utf-8"))
    dev = json.loads((tagger_run / "metrics.json").read_text(encoding="utf-8"))["dev"]
    rows = read_jsonl(tagger_run / "predictions.jsonl")
    # the per-sentence span counts the bootstrap resamples give back seqeval's micro F1 on the whole split
    true_pos = sum(len(set(spans(r["gold"], "iob1")) & set(spans(r["predicted"], "iob1"))) for r in rows)
    n_gold = sum(len(spans(r["gold"], "iob1")) for r in rows)
    n_pred = sum(len(spans(r["predicted"], "iob1")) for r in rows)
    assert 2 * true_pos / (n_gold + n_pred) == pytest.approx(dev["f1"])
    assert n_gold == dev["entity_report"]["micro avg"]["support"]
    for name in ("accuracy", "precision", "recall", "f1"):
        interval = summary["bootstrap"][name]
        assert interval["low"] < interval["estimate"] < interval["high"], name
    assert summary["bootstrap"]["unit"] == "sentence" and summary["n_sentences"] == len(rows) == 120


def test_span_length_and_error_tables_account_for_every_entity(tagger_run: Path) -> None:
    markdown = (tagger_run / "report.md").read_text(encoding="utf-8")
    rows = read_jsonl(tagger_run / "predictions.jsonl")
    gold = [set(spans(r["gold"], "iob1")) for r in rows]
    pred = [set(spans(r["predicted"], "iob1")) for r in rows]
    tables = table_rows(section(markdown, "Errors by span length"))
    by_length = [row for row in tables if len(row) == 5]
    assert [row[0] for row in by_length] == ["1", "2", "3", "4", "5+"]
    assert sum(int(row[1].replace(",", "")) for row in by_length) == sum(map(len, gold))
    assert sum(int(row[3].replace(",", "")) for row in by_length) == sum(map(len, pred))
    one_token = [s for g in gold for s in g if s[2] - s[1] == 1]
    found = sum(s in p for g, p in zip(gold, pred) for s in g if s[2] - s[1] == 1)
    assert by_length[0][2] == f"{found / len(one_token):.4f}"
    errors = {row[0]: int(row[1].replace(",", "")) for row in tables if len(row) == 2}
    missed = sum(len(g - p) for g, p in zip(gold, pred))
    assert errors["wrong type, same boundaries"] + errors["overlapping, wrong boundaries"] + \
        errors["missed (no overlap)"] == missed > 0


def test_unknown_word_rows_split_every_token(tagger_run: Path) -> None:
    markdown = (tagger_run / "report.md").read_text(encoding="utf-8")
    metrics = json.loads((tagger_run / "metrics.json").read_text(encoding="utf-8"))
    text = section(markdown, "Unknown words")
    rows = {row[0]: row[1:] for row in table_rows(text)}
    n_tokens = metrics["dev"]["n_tokens"]
    assert int(rows["in vocabulary"][0].replace(",", "")) + int(rows["unknown"][0].replace(",", "")) == n_tokens
    # the same count the run recorded for the data section, from the same tokenizer
    assert int(rows["unknown"][0].replace(",", "")) == metrics["data"]["stats"]["dev"]["unknown_tokens"] > 0
    entities = int(rows["all words known"][0]) + int(rows["with an unknown word"][0])
    assert entities == metrics["dev"]["entity_report"]["micro avg"]["support"]


def test_examples_put_gold_and_predicted_spans_side_by_side(tagger_run: Path) -> None:
    markdown = (tagger_run / "report.md").read_text(encoding="utf-8")
    rows = read_jsonl(tagger_run / "predictions.jsonl")
    examples = table_rows(section(markdown, "Example sentences"))
    assert 0 < len(examples) <= 8
    for number, gold_text, predicted_text in examples:
        row = rows[int(number) - 1]
        assert row["gold"] != row["predicted"]
        for column, text in (("gold", gold_text), ("predicted", predicted_text)):
            written = [f"{kind}\\[{' '.join(row['tokens'][start:end])}\\]"
                       for kind, start, end in spans(row[column], "iob1")]
            assert re.findall(r"[A-Z]+\\\[[^\]]*?\\\]", text) == written


def test_pos_report_has_per_tag_sentence_length_and_marked_examples(conll: Path, tmp_path: Path) -> None:
    """A POS run's report, built from files alone: no tokenizer there, so no unknown-word breakdown."""
    from nlp_lstm.data.conll import read_conll

    dev = read_conll(conll / "dev.conll", 0, 1)
    predicted = [["NN" if k == 0 else tag for k, tag in enumerate(tags)] for tags in dev.tags]
    metrics = tagging_metrics(dev.tags, predicted, None)
    (tmp_path / "metrics.json").write_text(json.dumps({"task": "tagging", "dev": metrics}), encoding="utf-8")
    (tmp_path / "config.toml").write_text("task = 'tagging'\n", encoding="utf-8")
    (tmp_path / "history.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "predictions.jsonl").write_text("".join(
        json.dumps({"tokens": s, "gold": g, "predicted": p}) + "\n"
        for s, g, p in zip(dev.sentences, dev.tags, predicted)), encoding="utf-8")
    markdown = write_report(tmp_path)["md"].read_text(encoding="utf-8")
    per_tag = {row[0]: row[1:] for row in table_rows(section(markdown, "Per-tag metrics"))}
    assert per_tag["NNP"][2] == f"{metrics['classification_report']['NNP']['f1-score']:.4f}"
    by_length = table_rows(section(markdown, "Accuracy by sentence length"))
    assert sum(int(row[1].replace(",", "")) for row in by_length) == metrics["n_tokens"]
    assert "tokenizer.json was not found" in section(markdown, "Unknown words")
    first_wrong = next(k for k, (g, p) in enumerate(zip(dev.tags, predicted)) if g != p)
    number, gold_text, predicted_text = table_rows(section(markdown, "Example sentences"))[0]
    assert int(number) == first_wrong + 1
    word, tag = dev.sentences[first_wrong][0], dev.tags[first_wrong][0]
    assert gold_text.startswith(f"{word}/{tag} ") and predicted_text.startswith(f"{word}/NN✗ ")
    assert "Errors by span length" not in markdown and "entity F1" not in markdown


def test_a_malformed_predictions_row_is_named(tagger_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(tagger_run, copy, ignore=shutil.ignore_patterns("checkpoints", "plots", "report.*"))
    rows = read_jsonl(copy / "predictions.jsonl")
    rows[2]["predicted"] = rows[2]["predicted"][:-1]
    (copy / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DataError, match=r"predictions\.jsonl: row 3: \d+ tokens but \d+ gold and \d+ predicted"):
        write_report(copy)


def test_evaluate_writes_a_tagger_report(capsys: pytest.CaptureFixture[str], conll: Path, tagger_run: Path,
                                         tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "evaluate", tagger_run / "model", "--data", f"conll:{conll / 'dev.conll'}",
                             "--output", tmp_path / "ev")
    assert code == 0, err
    assert f"report: {tmp_path / 'ev' / 'report.html'}" in out
    markdown = (tmp_path / "ev" / "report.md").read_text(encoding="utf-8")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text(encoding="utf-8"))
    headline = {row[0]: row[1:] for row in table_rows(section(markdown, "Headline metrics"))}
    assert headline["entity F1"][0] == f"{metrics['f1']:.4f}"
    # the same model on the same data: the training run's dev numbers
    train_dev = json.loads((tagger_run / "metrics.json").read_text(encoding="utf-8"))["dev"]
    assert metrics["f1"] == pytest.approx(train_dev["f1"])
    assert "No training history" in markdown and "Final split: test (120 sentences" in markdown
    assert (tmp_path / "ev" / "plots" / "confusion_matrix.png").is_file()
