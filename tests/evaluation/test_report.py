"""The run report: files, self-contained HTML, numbers equal to metrics.json, bootstrap, ECE, CLI."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import assert_error, run_cli

from nlp_lstm.evaluation.classification_report import CLASSIFICATION_PLOTS as PLOTS
from nlp_lstm.evaluation.uncertainty import bootstrap_intervals, expected_calibration_error
from nlp_lstm.runs import report as write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEADINGS = ["Headline metrics", "Per-class metrics", "Confusion matrix", "Training curves", "Calibration",
            "Most confident mistakes", "Why: token attributions", "Data", "Provenance"]


@pytest.fixture
def run_dir(classifier_run: Path) -> Path:
    return classifier_run


def test_train_writes_every_report_file(run_dir: Path) -> None:
    for name in ("report.md", "report.html", "report.json"):
        assert (run_dir / name).is_file(), name
    for name in PLOTS:
        assert (run_dir / "plots" / f"{name}.png").read_bytes()[:8] == PNG_SIGNATURE


def test_html_is_self_contained(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(PLOTS) == page.count("<img ")
    for data in images:
        assert base64.b64decode(data, validate=True)[:8] == PNG_SIGNATURE
    for heading in HEADINGS:
        assert f"<h2>{heading}</h2>" in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_markdown_numbers_equal_metrics_json(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    test = metrics["test"]
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    for heading in HEADINGS:
        assert f"## {heading}" in markdown
    assert f"| accuracy | {test['accuracy']:.4f} |" in markdown
    assert f"| macro F1 | {test['macro_f1']:.4f} |" in markdown
    for label in test["confusion_matrix"]["labels"]:
        row = test["classification_report"][label]
        assert (f"| {label} | {row['precision']:.4f} | {row['recall']:.4f} | {row['f1-score']:.4f} | "
                f"{int(row['support'])} |") in markdown
    assert "Final split: test (n=100)" in markdown


def test_bootstrap_interval_holds_the_estimate_and_is_deterministic(run_dir: Path) -> None:
    summary = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    for name in ("accuracy", "macro_f1"):
        interval = summary["bootstrap"][name]
        assert interval["low"] <= interval["estimate"] <= interval["high"]
        assert interval["low"] < interval["high"]
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    gold, predicted = [r["gold"] for r in rows], [r["predicted"] for r in rows]
    first = bootstrap_intervals(gold, predicted, ["0", "1"])
    assert first == bootstrap_intervals(gold, predicted, ["0", "1"])
    assert first["accuracy"] == {k: summary["bootstrap"]["accuracy"][k] for k in ("low", "high")}
    assert bootstrap_intervals(["a"] * 5, ["a"] * 5, ["a", "b"])["accuracy"] == {"low": 1.0, "high": 1.0}


def test_accuracy_by_length_and_unknown_words_covers_every_prediction(run_dir: Path) -> None:
    import re

    report = (run_dir / "report.md").read_text(encoding="utf-8")
    section = report.split("## Accuracy by length and unknown words", 1)[1].split("\n## ", 1)[0]
    n = len((run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines())
    tables = [t for t in section.split("\n\n") if t.startswith("|")]
    assert len(tables) == 2
    for table in tables:  # each table splits the same n predictions into buckets
        counts = [int(m.replace(",", "")) for m in re.findall(r"^\| [^|]+ \| ([\d,]+) \|", table, re.M)]
        assert sum(counts) == n
    coverage = float(re.search(r"coverage of this split: ([\d.]+)%", section).group(1))
    assert 50 < coverage <= 100


def test_expected_calibration_error_by_hand() -> None:
    # 15 bins of width 1/15: 0.95 and 0.99 share the last bin (0.9333, 1]; 0.5 and 0.52 share bin 8
    # (0.4667, 0.5333]; 0.2 is alone in bin 3 (0.2 is its upper edge).
    confidence = [0.95, 0.99, 0.5, 0.52, 0.2]
    correct = [True, False, True, True, False]
    last = abs(0.5 - 0.97) * 2 / 5
    middle = abs(1.0 - 0.51) * 2 / 5
    alone = abs(0.0 - 0.2) * 1 / 5
    assert expected_calibration_error(confidence, correct) == pytest.approx(last + middle + alone)
    assert expected_calibration_error([1.0, 1.0], [True, True]) == 0.0


def test_mistakes_are_escaped_and_truncated(tmp_path: Path, run_dir: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints", "plots", "report.*"))
    rows = [{"text": "a | b `c` <b>x</b>\nnext 这个手机 " + "z" * 300, "gold": "1", "predicted": "0",
             "confidence": 0.99},
            {"text": "", "gold": "0", "predicted": "1", "confidence": 0.6},
            {"text": "right", "gold": "0", "predicted": "0", "confidence": 0.7}]
    (copy / "predictions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
    paths = write_report(copy)
    markdown = paths["md"].read_text(encoding="utf-8")
    mistakes = markdown.split("## Most confident mistakes")[1].split("## ")[0]
    table = [line for line in mistakes.splitlines() if line.startswith("| 0.")]
    assert [line.split(" | ")[0] for line in table] == ["| 0.9900", "| 0.6000"]
    assert "a \\| b \\`c\\` \\<b\\>x\\</b\\> next 这个手机" in table[0]
    assert "…" in table[0] and "z" * 200 not in table[0]
    assert table[0].count("|") - table[0].count("\\|") == 5  # four cells: the text's pipe is escaped
    page = paths["html"].read_text(encoding="utf-8")
    assert "a | b `c` &lt;b&gt;x&lt;/b&gt; next" in page and "<b>x" not in page


def test_cli_report_regenerates(capsys: pytest.CaptureFixture[str], tmp_path: Path, run_dir: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints", "plots", "report.*"))
    code, out, err = run_cli(capsys, "report", copy)
    assert code == 0, err
    assert f"html: {copy / 'report.html'}" in out
    assert (copy / "report.md").read_text(encoding="utf-8") == (run_dir / "report.md").read_text(encoding="utf-8") \
        .replace(run_dir.resolve().name, copy.resolve().name, 1)
    assert all((copy / "plots" / f"{name}.png").is_file() for name in PLOTS)


def test_cli_report_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, run_dir: Path) -> None:
    missing = tmp_path / "nowhere"
    assert_error(capsys, ["report", missing], "run directory not found", str(missing))
    copy = tmp_path / "partial"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("model", "checkpoints", "predictions.jsonl"))
    assert_error(capsys, ["report", copy], "missing predictions.jsonl", str(copy))


def test_evaluate_writes_a_report_for_the_scored_data(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                      run_dir: Path, sst2_dir: Path) -> None:
    code, out, err = run_cli(capsys, "evaluate", run_dir / "model", "--data", f"tsv:{sst2_dir / 'dev.tsv'}",
                             "--output", tmp_path / "ev")
    assert code == 0, err
    assert f"report: {tmp_path / 'ev' / 'report.html'}" in out
    report = (tmp_path / "ev" / "report.md").read_text(encoding="utf-8")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text(encoding="utf-8"))
    assert f"| accuracy | {metrics['accuracy']:.4f} |" in report
    assert "No training history" in report and "Vocabulary coverage of this split" in report
    html = (tmp_path / "ev" / "report.html").read_text(encoding="utf-8")
    # every plot but the training curves: an evaluation has no training
    assert html.count('src="data:image/png;base64,') == len(PLOTS) - 1
    assert not (tmp_path / "ev" / "plots" / "training_curves.png").exists()


def test_data_section_counts_every_example_of_every_split(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    data = markdown.split("## Data\n", 1)[1].split("\n## ", 1)[0]
    sizes = metrics["data"]["sizes"]
    assert sizes == {"train": 400, "dev": 100, "test": 100}
    # label distribution: one row per label, a "count (share)" cell per split, counts adding up to the split
    label_rows = re.findall(r"^\| (\d) \| ([\d,]+) \(([\d.]+)%\) \| ([\d,]+) \([\d.]+%\) \| ([\d,]+) \([\d.]+%\) \|$",
                            data, re.M)
    assert sorted(row[0] for row in label_rows) == ["0", "1"]
    for column, split in ((1, "train"), (3, "dev"), (4, "test")):
        assert sum(int(row[column]) for row in label_rows) == sizes[split]
    train_labels = [line.split("\t")[1] for line in (run_dir.parent / "train.tsv").read_text().splitlines()[1:]]
    assert {row[0]: int(row[1]) for row in label_rows} == {label: train_labels.count(label) for label in "01"}
    # lengths and coverage: the recorded statistics, and train's coverage is whole (min_freq 1)
    stats = metrics["data"]["stats"]
    for split in ("train", "dev", "test"):
        assert sum(stats[split]["length_counts"].values()) == sizes[split]
        row = re.search(rf"^\| {split} \| [\d,]+ \| ([\d,]+) \| ([\d.]+) \|.* \| ([\d.]+)% \|$", data, re.M)
        assert int(row.group(1).replace(",", "")) == stats[split]["tokens"]
    assert "| train | 400 | " in data and re.search(r"^\| train .* \| 100\.00% \|$", data, re.M)
    for name in ("label_distribution", "length_histogram"):
        assert f"](plots/{name}.png)" in data


def test_provenance_records_the_runs_package_versions(run_dir: Path) -> None:
    from importlib import metadata

    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["environment"]["torch"] == metadata.version("torch")
    markdown = (run_dir / "report.md").read_text(encoding="utf-8")
    provenance = markdown.split("## Provenance\n", 1)[1]
    assert "Versions of the run:" in provenance
    for package, version in metrics["environment"].items():
        assert "| " + package + " | " + version.replace("_", "\\_") + " |" in provenance  # Markdown-escaped
    assert "| seed | 0 |" in provenance and "| device | cpu |" in provenance
