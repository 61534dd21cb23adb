"""`nlp-lstm` end to end: train, evaluate and predict through `main(argv)`, once through the installed
command, and every bad input as exit status 1 with one line on stderr naming what and where."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, assert_error, run_cli

from nlp_lstm.cli import main
from nlp_lstm.config import load_config
from nlp_lstm.data.sources import load_texts
from nlp_lstm.model_dir import FILES
from nlp_lstm.predictor import Predictor
from nlp_lstm.text.tokenizers import TextTokenizer

LABELS = ["negative", "positive"]


def write_tsv(path: Path, rows: list[tuple[str, str]], header: str = "text\tlabel") -> Path:
    path.write_text(header + "\n" + "".join(f"{text}\t{label}\n" for text, label in rows), encoding="utf-8")
    return path


def write_config(path: Path, train: Path, dev: Path, extra: str = "") -> Path:
    """A tiny config: trains in about a second."""
    path.write_text(f"""[data]
train = {json.dumps(f"tsv:{train}")}
dev = {json.dumps(f"tsv:{dev}")}
max_length = 64

[tokenizer]
vocab_size = 5000

[model]
embedding_dim = 16
hidden_size = 16

[training]
epochs = 2
batch_size = 32
learning_rate = 0.01
device = "cpu"
plots = false
{extra}""", encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under `folder` with its bytes and modification time."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data_dir(sst2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chinese reviews and SST-2 sentences mixed, labelled negative/positive; and a tiny config."""
    folder = tmp_path_factory.mktemp("data")
    zh = load_texts("embedded:zh-reviews")
    zh_rows = [(zh.texts[i].replace("\t", " "), zh.labels[i]) for i in range(0, len(zh), 45)][:190]
    sst_lines = (sst2_dir / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:191]
    sst_rows = [(text.strip(), LABELS[int(label)]) for text, label in (line.split("\t") for line in sst_lines)]
    rows = [row for pair in zip(zh_rows, sst_rows) for row in pair]
    write_tsv(folder / "train.tsv", rows[:300])
    write_tsv(folder / "dev.tsv", rows[300:])
    write_config(folder / "tiny.toml", folder / "train.tsv", folder / "dev.tsv")
    return folder


@pytest.fixture(scope="module")
def trained_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run of the tiny config, shared by the tests that only read it."""
    run = tmp_path_factory.mktemp("trained") / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", str(data_dir / "tiny.toml"), "--output", str(run), "--no-progress"]) == 0
    return run


@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path) -> Path:
    """A copy of the trained run that a test may change."""
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


# ---------------------------------------------------------------- train


def test_train_prints_the_run_directory_and_metrics(capsys, data_dir: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "train", data_dir / "tiny.toml", "--set", "training.epochs=1",
                             "--output", out_dir, "--no-progress")
    assert code == 0, err
    assert err == ""
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert f"run directory: {out_dir}" in out
    assert "data: train 300, dev 80 | labels: negative, positive" in out
    assert f"dev: accuracy {metrics['dev']['accuracy']:.4f}  macro F1 {metrics['dev']['macro_f1']:.4f}  (n=80)" in out
    assert "precision    recall  f1-score   support" in out and "weighted avg" in out
    assert metrics["epochs_trained"] == 1  # the --set reached the run
    assert load_config(out_dir / "config.toml").training.epochs == 1
    assert (out_dir / "model" / "model.safetensors").is_file()


def test_a_run_without_plots_writes_its_report_and_report_draws_them_later(capsys, data_dir: Path,
                                                                           tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run_cli(capsys, "train", data_dir / "tiny.toml", "--set", "training.max_steps=2",
                             "--output", out_dir, "--no-progress")  # tiny.toml: plots = false
    assert code == 0, err
    assert f"report: {out_dir / 'report.html'}" in out
    assert not (out_dir / "plots").exists()
    markdown = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "Not drawn (training.plots = false)" in markdown and "](plots/" not in markdown
    page = (out_dir / "report.html").read_text(encoding="utf-8")
    assert f"Not drawn (training.plots = false): `nlp-lstm report {out_dir}` draws them." in page
    assert "data:image/png" not in page
    assert json.loads((out_dir / "report.json").read_text())["plots"] == []
    code, out, err = run_cli(capsys, "report", out_dir)
    assert code == 0, err
    assert (out_dir / "plots" / "training_curves.png").is_file()
    markdown = (out_dir / "report.md").read_text(encoding="utf-8")
    assert "Not drawn" not in markdown and "](plots/training_curves.png)" in markdown
    assert "plots/training_curves.png" in json.loads((out_dir / "report.json").read_text())["plots"]


def test_train_default_run_directory_is_numbered(capsys, data_dir: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, out, err = run_cli(capsys, "train", data_dir / "tiny.toml", "--set", "training.max_steps=2",
                                 "--no-progress")
        assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["tiny", "tiny-2"]
    assert "run directory: runs/tiny-2" in out
    assert json.loads((tmp_path / "runs" / "tiny-2" / "metrics.json").read_text())["steps"] == 2


def test_train_recipe_with_overrides_as_a_user_types_them(capsys, sst2_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (sst2_dir / "train.tsv").read_text(encoding="utf-8").split("\n")
    (tmp_path / "train.tsv").write_text("\n".join(lines[:301]) + "\n", encoding="utf-8")
    shutil.copy(sst2_dir / "dev.tsv", tmp_path / "dev.tsv")
    train, dev, out_dir = (shlex.quote(str(tmp_path / name)) for name in ("train.tsv", "dev.tsv", "run"))
    command = (f"train recipes/sentiment/sst2.toml --set data.train=tsv:{train} --set data.dev=tsv:{dev} "
               f"--set model.embedding_dim=16 --set model.hidden_size=16 --set training.epochs=1 "
               f"--set training.max_steps=3 --set training.device=cpu --output {out_dir} --no-progress")
    monkeypatch.chdir(REPO_ROOT)
    code, out, err = run_cli(capsys, *shlex.split(command))
    assert code == 0, err
    run = tmp_path / "run"
    assert f"run directory: {run}" in out and "dev: accuracy" in out
    config = load_config(run / "config.toml")
    assert (config.data.train, config.data.dev) == (f"tsv:{tmp_path / 'train.tsv'}", f"tsv:{tmp_path / 'dev.tsv'}")
    assert (config.data.text_column, config.data.max_length, config.training.epochs) == ("sentence", 128, 1)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 3
    assert metrics["data"]["sizes"] == {"train": 300, "dev": 872}
    assert metrics["data"]["labels"] == ["0", "1"]


# ---------------------------------------------------------------- evaluate


def test_evaluate_prints_the_report_and_writes_metrics(capsys, trained_run: Path, data_dir: Path,
                                                       tmp_path: Path) -> None:
    spec = f"tsv:{data_dir / 'dev.tsv'}"
    code, out, err = run_cli(capsys, "evaluate", trained_run / "model", "--data", spec, "--output", tmp_path / "ev")
    assert code == 0, err
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert f"{spec}: accuracy {metrics['accuracy']:.4f}  macro F1 {metrics['macro_f1']:.4f}  (n=80)" in out
    assert "precision    recall  f1-score   support" in out
    for label in [*LABELS, "macro avg", "weighted avg"]:
        assert label in out
    assert f"metrics: {tmp_path / 'ev' / 'metrics.json'}" in out
    assert metrics["data"] == spec and metrics["n_samples"] == 80
    assert metrics["confusion_matrix"]["labels"] == LABELS
    # The same model on the same dev file scores what training reported for it.
    assert metrics["accuracy"] == json.loads((trained_run / "metrics.json").read_text())["dev"]["accuracy"]
    predictions = [json.loads(line) for line in (tmp_path / "ev" / "predictions.jsonl").read_text().splitlines()]
    assert len(predictions) == 80


def test_evaluate_writes_beside_the_model_by_default(capsys, run_copy: Path, data_dir: Path) -> None:
    code, out, err = run_cli(capsys, "evaluate", run_copy / "model", "--data", f"tsv:{data_dir / 'dev.tsv'}")
    assert code == 0, err
    [written] = run_copy.glob("eval-*/metrics.json")
    assert f"metrics: {written}" in out
    assert json.loads(written.read_text())["n_samples"] == 80


# ---------------------------------------------------------------- predict


def parse_predictions(out: str) -> list[tuple[str, float, str]]:
    rows = []
    for line in out.splitlines():
        label, probability, text = line.split("\t", 2)
        rows.append((label, float(probability), text))
    return rows


def test_predict_texts(capsys, trained_run: Path) -> None:
    texts = ["这个手机很好用", "screen broke after a day", "", "😀👍"]
    code, out, err = run_cli(capsys, "predict", trained_run / "model", *texts)
    assert code == 0, err
    rows = parse_predictions(out)
    assert [text for _, _, text in rows] == texts
    predictor = Predictor.load(trained_run / "model", "cpu")
    expected = predictor.predict(texts)
    assert [label for label, _, _ in rows] == [p.label for p in expected]
    assert all(label in LABELS and 0.5 <= probability <= 1 for label, probability, _ in rows)
    assert [probability for _, probability, _ in rows] == [round(p.probability, 4) for p in expected]


def test_predict_txt_input_to_jsonl_output(capsys, trained_run: Path, tmp_path: Path) -> None:
    lines = ["这个手机很好用", "", "screen broke after a day", "form\x0cfeed and line\u2028separator stay inside",
             "naïve café 😀"]
    source = tmp_path / "texts.txt"
    # A BOM, one CRLF line ending, and characters that str.splitlines would break lines at.
    source.write_bytes(("\ufeff" + "\n".join(lines[:3]) + "\r\n" + "\n".join(lines[3:]) + "\n").encode())
    out_file = tmp_path / "out" / "predictions.jsonl"
    code, out, err = run_cli(capsys, "predict", trained_run / "model", "--input", source, "--output", out_file)
    assert code == 0, err
    assert out.strip() == f"5 predictions written to {out_file}"
    # JSON keeps U+2028 unescaped, so split on "\n" as JSON-lines readers do, not with str.splitlines.
    rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").split("\n")[:-1]]
    assert [row["text"] for row in rows] == lines
    assert all(row["label"] in LABELS and 0.5 <= row["probability"] <= 1 for row in rows)
    expected = Predictor.load(trained_run / "model", "cpu").predict(lines)
    assert [row["label"] for row in rows] == [p.label for p in expected]


def test_predict_jsonl_input(capsys, trained_run: Path, tmp_path: Path) -> None:
    texts = ["", "质量太差了😡", "a thoroughly enjoyable film"]
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(json.dumps({"id": i, "review": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    out_file = tmp_path / "out.jsonl"
    code, out, err = run_cli(capsys, "predict", trained_run / "model", "first from the command line",
                             "--input", source, "--text-field", "review", "--output", out_file)
    assert code == 0, err
    rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == ["first from the command line", *texts]
    assert set(rows[0]) == {"text", "label", "probability", "top_k", "probabilities"}


def test_installed_command(trained_run: Path, tmp_path: Path) -> None:
    # the console script beside this interpreter (a venv's bin/), else on PATH, else `python -m nlp_lstm`
    beside = Path(sys.executable).parent / "nlp-lstm"
    command = str(beside) if beside.is_file() else shutil.which("nlp-lstm")
    prefix = [command] if command is not None else [sys.executable, "-m", "nlp_lstm"]
    paths = [str(REPO_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": "1"}
    texts = ["这个手机很好用", "screen broke after a day"]
    done = subprocess.run([*prefix, "predict", str(trained_run / "model"), *texts],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = parse_predictions(done.stdout)
    assert [text for _, _, text in rows] == ["这个手机很好用", "screen broke after a day"]
    assert all(label in LABELS for label, _, _ in rows)

    missing = tmp_path / "no-such-model"
    failed = subprocess.run([*prefix, "predict", str(missing), "text"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr == f"nlp-lstm: error: model directory not found: {missing}\n"


# ---------------------------------------------------------------- bad input: data


@pytest.fixture
def good_rows(data_dir: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("\t")) for line in (data_dir / "train.tsv").read_text().splitlines()[1:]]


def train_argv(config: Path, output: Path, *overrides: str) -> list[str]:
    return ["train", str(config), *(a for o in overrides for a in ("--set", o)), "--output", str(output),
            "--no-progress"]


def test_missing_data_file(capsys, data_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "train.tsv"
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", f"data.train=tsv:{missing}"),
                 f"{missing}: file not found")
    assert not (tmp_path / "run").exists()  # a run that fails on its data leaves nothing behind


@pytest.mark.parametrize("header, message", [
    ("review\tlabel", "missing text column 'text'; columns present: 'review', 'label'"),
    ("text\tpolarity", "missing label column 'label'; columns present: 'text', 'polarity'"),
])
def test_missing_column_lists_the_present_ones(capsys, data_dir: Path, tmp_path: Path, good_rows,
                                               header: str, message: str) -> None:
    train = write_tsv(tmp_path / "train.tsv", good_rows, header)
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", f"data.train=tsv:{train}"),
                 f"{train}: {message}")
    assert not (tmp_path / "run").exists()


def test_empty_dataset(capsys, data_dir: Path, tmp_path: Path) -> None:
    dev = write_tsv(tmp_path / "dev.tsv", [])  # header only
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", f"data.dev=tsv:{dev}"),
                 f"tsv:{dev}: no examples (the source is empty or has only a header)")
    assert not (tmp_path / "run").exists()


def test_dev_label_unseen_in_train(capsys, data_dir: Path, tmp_path: Path, good_rows) -> None:
    dev = write_tsv(tmp_path / "dev.tsv", [*good_rows[:2], ("so-so", "neutral"), *good_rows[2:5]])
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", f"data.dev=tsv:{dev}"),
                 f"tsv:{dev}: dev example 3 has label 'neutral', which never occurs in train",
                 "train labels: negative, positive")
    assert not (tmp_path / "run").exists()


def test_a_single_training_label(capsys, data_dir: Path, tmp_path: Path, good_rows) -> None:
    train = write_tsv(tmp_path / "train.tsv", [row for row in good_rows if row[1] == "positive"])
    dev = write_tsv(tmp_path / "dev.tsv", [row for row in good_rows if row[1] == "positive"][:5])
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", f"data.train=tsv:{train}",
                                    f"data.dev=tsv:{dev}"),
                 f"tsv:{train}: the training data has a single label 'positive'; a classifier needs at least 2")


def test_non_utf8_data_file_names_file_and_byte(capsys, data_dir: Path, tmp_path: Path, good_rows) -> None:
    train = write_tsv(tmp_path / "train.tsv", good_rows)
    valid = train.read_bytes()
    data = valid + "café\tpositive\n".encode("latin-1")
    train.write_bytes(data)
    offset = len(valid) + len("caf")
    line = data[:offset].count(b"\n") + 1
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", f"data.train=tsv:{train}"),
                 f"{train}: not valid UTF-8 at byte {offset} (line {line})")


# ---------------------------------------------------------------- bad input: config


def test_unknown_config_key(capsys, data_dir: Path, tmp_path: Path) -> None:
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", "training.epoch=3"),
                 "unknown key 'training.epoch'; valid keys in [training]: epochs, batch_size, learning_rate")


def test_unknown_key_in_the_config_file(capsys, data_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "typo.toml", data_dir / "train.tsv", data_dir / "dev.tsv",
                          "hiden_size = 32\n")
    assert_error(capsys, train_argv(config, tmp_path / "run"),
                 f"{config}: unknown key 'training.hiden_size'; valid keys in [training]: epochs")


def test_bad_config_value(capsys, data_dir: Path, tmp_path: Path) -> None:
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", "training.device=0"),
                 "The 'training.device' parameter must be auto, cpu, cuda or cuda:N. Got 0 instead.")


def test_malformed_config_and_missing_config(capsys, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[training\nepochs = 1\n", encoding="utf-8")
    assert_error(capsys, train_argv(broken, tmp_path / "run"), f"{broken}: not valid TOML:", "line 1")
    assert_error(capsys, train_argv(tmp_path / "nope.toml", tmp_path / "run"),
                 f"config file not found: {tmp_path / 'nope.toml'}")


def test_malformed_override(capsys, data_dir: Path, tmp_path: Path) -> None:
    assert_error(capsys, train_argv(data_dir / "tiny.toml", tmp_path / "run", "epochs=3"),
                 "--set expects section.key=value (e.g. training.epochs=3), got 'epochs=3'")


def test_output_directory_that_holds_a_run_is_left_alone(capsys, data_dir: Path, run_copy: Path) -> None:
    before = snapshot(run_copy)
    assert_error(capsys, train_argv(data_dir / "tiny.toml", run_copy),
                 f"output directory {run_copy} is not empty; choose another --output")
    assert snapshot(run_copy) == before


# ---------------------------------------------------------------- bad input: model directories


@pytest.mark.parametrize("name", FILES)
def test_model_directory_missing_a_file(capsys, run_copy: Path, data_dir: Path, name: str) -> None:
    model = run_copy / "model"
    (model / name).unlink()
    assert_error(capsys, ["predict", str(model), "text"], f"{model} is not a complete model directory: missing {name}")
    assert_error(capsys, ["evaluate", str(model), "--data", f"tsv:{data_dir / 'dev.tsv'}"], f"missing {name}")


def test_nonexistent_model_directory(capsys, tmp_path: Path, data_dir: Path) -> None:
    missing = tmp_path / "runs" / "nope" / "model"
    assert_error(capsys, ["predict", str(missing), "text"], f"model directory not found: {missing}")
    assert_error(capsys, ["evaluate", str(missing), "--data", f"tsv:{data_dir / 'dev.tsv'}"],
                 f"model directory not found: {missing}")


def test_tokenizer_from_another_model(capsys, run_copy: Path) -> None:
    TextTokenizer.train(["a small and different vocabulary"]).save(run_copy / "model" / "tokenizer.json")
    vocab_size = json.loads((run_copy / "model" / "config.json").read_text())["sizes"]["vocab_size"]
    assert_error(capsys, ["predict", str(run_copy / "model"), "a small vocabulary"],
                 f"{run_copy / 'model' / 'tokenizer.json'}: 7 tokens, but model.safetensors has {vocab_size} "
                 f"embeddings")


def test_corrupt_labels_file(capsys, run_copy: Path) -> None:
    (run_copy / "model" / "labels.json").write_text("[0, 1", encoding="utf-8")
    assert_error(capsys, ["predict", str(run_copy / "model"), "text"],
                 f"{run_copy / 'model' / 'labels.json'}: not valid JSON")


# ---------------------------------------------------------------- bad input: evaluate and predict


def test_evaluate_on_a_label_the_model_does_not_know(capsys, trained_run: Path, tmp_path: Path, good_rows) -> None:
    data = write_tsv(tmp_path / "test.tsv", [*good_rows[:3], ("meh", "neutral")])
    assert_error(capsys, ["evaluate", str(trained_run / "model"), "--data", f"tsv:{data}", "--output",
                          str(tmp_path / "ev")],
                 f"tsv:{data}: label 'neutral' is not one the model knows (model labels: negative, positive)")
    assert not (tmp_path / "ev").exists()


def test_evaluate_on_a_missing_file(capsys, trained_run: Path, tmp_path: Path) -> None:
    assert_error(capsys, ["evaluate", str(trained_run / "model"), "--data", f"tsv:{tmp_path / 'gone.tsv'}"],
                 f"{tmp_path / 'gone.tsv'}: file not found")


def test_predict_input_not_utf8(capsys, trained_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "texts.txt"
    data = b"fine\nsecond line\n" + "naïve\n".encode("latin-1")
    source.write_bytes(data)
    offset = data.index("ï".encode("latin-1"))
    assert_error(capsys, ["predict", str(trained_run / "model"), "--input", str(source)],
                 f"{source}: not valid UTF-8 at byte {offset} (line 3)")


def test_predict_input_missing_and_nothing_to_predict(capsys, trained_run: Path, tmp_path: Path) -> None:
    for name in ("gone.txt", "gone.jsonl"):
        assert_error(capsys, ["predict", str(trained_run / "model"), "--input", str(tmp_path / name)],
                     str(tmp_path / name), "not found")
    assert_error(capsys, ["predict", str(trained_run / "model")],
                 "nothing to predict: give texts as arguments or --input FILE")


def test_predict_jsonl_without_the_text_field(capsys, trained_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "texts.jsonl"
    source.write_text('{"text": "fine"}\n{"body": "no text here"}\n', encoding="utf-8")
    assert_error(capsys, ["predict", str(trained_run / "model"), "--input", str(source)],
                 f"{source}: line 2: missing text column 'text'", "keys in this object: 'body'")


def test_evaluate_refuses_to_write_into_a_training_run(capsys, run_copy: Path, data_dir: Path) -> None:
    before = (run_copy / "metrics.json").read_bytes()
    assert_error(capsys, ["evaluate", str(run_copy / "model"), "--data", f"tsv:{data_dir / 'dev.tsv'}",
                          "--output", str(run_copy)],
                 f"--output {run_copy} holds a training run")
    assert (run_copy / "metrics.json").read_bytes() == before


def test_train_with_fp16_on_a_cpu_is_one_error_and_writes_nothing(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    recipe = REPO_ROOT / "recipes" / "sentiment" / "zh_reviews.toml"
    assert_error(capsys, ["train", recipe, "--precision", "fp16", "--device", "cpu", "--output", tmp_path / "run"],
                 'training.precision = "fp16" needs a CUDA device, and training runs on cpu')
    assert not (tmp_path / "run").exists()


def test_the_command_makes_openmp_threads_spin_briefly_unless_the_user_says_otherwise() -> None:
    code = ("import os, sys, nlp_lstm; from nlp_lstm.cli import main; before = os.environ.get('GOMP_SPINCOUNT'); "
            "loaded = 'torch' in sys.modules; main(['report', 'no-such-run']); "
            "print(before, loaded, os.environ['GOMP_SPINCOUNT'])")
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.split() == ["None", "False", "1000"], out.stderr  # importing nlp_lstm changes nothing
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env={**env, "GOMP_SPINCOUNT": "5"},
                         capture_output=True, text=True)
    assert out.stdout.split() == ["5", "False", "5"], out.stderr


def test_version_and_help_answer_without_loading_torch() -> None:
    for flag, first in (("--version", "nlp-lstm 0.1.0"), ("--help", "usage: nlp-lstm [-h] [--version]")):
        code = ("import sys; from nlp_lstm.cli import main\n"
                f"try:\n    main(['{flag}'])\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
        lines = out.stdout.splitlines()
        assert lines[0] == first and lines[-1] == "False", out.stderr


def test_predict_loads_no_scikit_learn_and_train_loads_it_up_front(trained_run: Path) -> None:
    """scikit-learn takes seconds to import and only scoring needs it: `predict` (like serve and export) goes
    without; `train` imports it with torch, where Ctrl-C waits until the imports finish."""
    code = ("import sys; from nlp_lstm.cli import main; import nlp_lstm.serve, nlp_lstm.export\n"
            f"main(['predict', {str(trained_run / 'model')!r}, 'a fine film'])\n"
            "print('sklearn' in sys.modules)\n"
            "main(['train', 'no-such-recipe.toml'])\n"  # an error about the file, after the command's imports
            "print('sklearn.metrics' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert out.stdout.splitlines()[-2:] == ["False", "True"], out.stdout + out.stderr


def test_predict_into_a_closed_pipe_stops_quietly(trained_run: Path, tmp_path: Path) -> None:
    source = tmp_path / "many.txt"
    source.write_text("a fine film\n" * 5000, encoding="utf-8")
    command = [sys.executable, "-m", "nlp_lstm", "predict", str(trained_run / "model"), "--input", str(source)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    first = process.stdout.readline()
    process.stdout.close()  # what `| head -1` does after its line
    process.wait(timeout=120)
    assert first.decode().split("\t")[2].strip() == "a fine film"
    assert process.stderr.read().decode() == f"read 5,000 texts from {source}: txt lines\n"  # no error
    assert process.returncode == 141  # 128 + SIGPIPE, as `yes | head -1` leaves yes


def test_predict_from_an_empty_file_says_the_file_is_empty(capsys, trained_run: Path, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    assert_error(capsys, ["predict", trained_run / "model", "--input", tmp_path / "empty.txt"],
                 f"{tmp_path / 'empty.txt'}: no texts to predict (the file is empty)")


def test_a_run_directory_given_for_a_model_names_its_model_folder(capsys, trained_run: Path) -> None:
    for command in (["predict", trained_run, "fine"], ["evaluate", trained_run, "--data", "tsv:x.tsv"]):
        assert_error(capsys, command, f"{trained_run} is a run directory: its model is {trained_run / 'model'}")


def test_overwrite_replaces_a_run_but_never_a_folder_of_other_files(capsys, data_dir: Path, run_copy: Path,
                                                                     tmp_path: Path) -> None:
    (run_copy / "stale.txt").write_text("from the run before", encoding="utf-8")
    code, out, err = run_cli(capsys, *train_argv(data_dir / "tiny.toml", run_copy), "--overwrite")
    assert code == 0, err
    assert not (run_copy / "stale.txt").exists() and (run_copy / "metrics.json").is_file()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me", encoding="utf-8")
    assert_error(capsys, [*train_argv(data_dir / "tiny.toml", other), "--overwrite"],
                 f"--overwrite replaces a run directory, but {other} holds no run")
    assert (other / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_ctrl_c_while_the_command_loads_exits_130_without_a_traceback(data_dir: Path, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "nlp_lstm", *train_argv(data_dir / "tiny.toml", tmp_path / "run")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    time.sleep(0.8)  # inside `import torch` and the data loading that follows, before the first epoch
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err and len(err.splitlines()) <= 1, err


def test_ctrl_c_while_a_command_imports_its_modules_waits_for_them_then_interrupts() -> None:
    from nlp_lstm.cli import _sigint_deferred

    finished = []
    with pytest.raises(KeyboardInterrupt):
        with _sigint_deferred():
            signal.raise_signal(signal.SIGINT)
            finished.append(True)
    assert finished == [True] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_config_without_training_data_is_an_error_not_the_bundled_corpus(capsys, tmp_path: Path) -> None:
    config = tmp_path / "no_data.toml"
    config.write_text("[model]\nhidden_size = 16\n", encoding="utf-8")
    assert_error(capsys, train_argv(config, tmp_path / "run"), "data.train is empty: name the training data")
    assert not (tmp_path / "run").exists()


def test_a_run_names_its_sources_and_says_when_its_headline_is_on_the_early_stopping_split(
        capsys, data_dir: Path, trained_run: Path) -> None:
    code, out, err = run_cli(capsys, *train_argv(data_dir / "tiny.toml", trained_run.parent / "again"))
    assert code == 0, err
    assert f"  train: tsv:{data_dir / 'train.tsv'}\n  dev: tsv:{data_dir / 'dev.tsv'}\n" in out
    assert "note: there is no test split, so the final scores are on dev, the split that chose the best epoch" in out
    metrics = json.loads((trained_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["final_split"] == "dev" and metrics["final_split_chose_the_epoch"] is True
    report = (trained_run / "report.md").read_text(encoding="utf-8")
    assert "There is no test split: these scores are on dev, the split that chose the best epoch" in report


def test_the_majority_baseline_is_the_training_majority_scored_on_dev(data_dir: Path, trained_run: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    train = load_texts(f"tsv:{data_dir / 'train.tsv'}")
    dev = load_texts(f"tsv:{data_dir / 'dev.tsv'}")
    majority = max(sorted(set(train.labels)), key=train.labels.count)
    expected = {"label": majority, "accuracy": accuracy_score(dev.labels, [majority] * len(dev)),
                "macro_f1": f1_score(dev.labels, [majority] * len(dev), average="macro", zero_division=0)}
    metrics = json.loads((trained_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["dev"]["baselines"]["majority"] == pytest.approx(expected)
    assert "majority baseline" in (trained_run / "report.md").read_text(encoding="utf-8")


def test_the_tfidf_baseline_is_scikit_learns_pipeline_on_the_same_splits(data_dir: Path, trained_run: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import FeatureUnion, Pipeline

    train = load_texts(f"tsv:{data_dir / 'train.tsv'}")
    dev = load_texts(f"tsv:{data_dir / 'dev.tsv'}")
    pipeline = Pipeline([
        ("features", FeatureUnion([
            ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True))])),
        ("model", LogisticRegression(max_iter=1000))]).fit(train.texts, train.labels)
    predicted = pipeline.predict(dev.texts)
    baseline = json.loads((trained_run / "metrics.json").read_text(encoding="utf-8"))["dev"]["baselines"]
    tfidf = baseline["tfidf_logistic_regression"]
    assert tfidf["accuracy"] == pytest.approx(accuracy_score(dev.labels, predicted))
    assert tfidf["macro_f1"] == pytest.approx(f1_score(dev.labels, predicted, average="macro"))
    assert tfidf["trained_on"] == len(train)
    low, high = tfidf["intervals"]["accuracy"]["low"], tfidf["intervals"]["accuracy"]["high"]
    assert low <= tfidf["accuracy"] <= high and high - low > 0
    assert "tfidf logistic regression baseline: accuracy" in (trained_run / "report.md").read_text(encoding="utf-8")


def test_predict_reads_a_csv_by_its_text_column_not_as_lines(capsys, trained_run: Path, tmp_path: Path) -> None:
    reviews = [("a fine, funny film", "positive"), ("dull, \"and\" far too long", "negative")] * 50
    source = tmp_path / "my.csv"
    source.write_text("review,sentiment\n" + "".join(f'"{t.replace(chr(34), chr(34) * 2)}",{s}\n' for t, s in reviews),
                      encoding="utf-8")
    out_file = tmp_path / "out.jsonl"
    for spec in (source, f"csv:{source}"):
        code, out, err = run_cli(capsys, "predict", trained_run / "model", "--input", spec, "--text-column", "review",
                                 "--output", out_file)
        assert code == 0, err
        assert err == f"read 100 texts from {source}: csv rows (column 'review')\n"
        rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
        assert [row["text"] for row in rows] == [text for text, _ in reviews]  # no header, no label column
    assert_error(capsys, ["predict", trained_run / "model", "--input", source],
                 f"{source}: missing text column 'text'; columns present: 'review', 'sentiment'")


def test_train_on_a_csv_with_no_config_carves_dev_and_test(capsys, data_dir: Path, tmp_path: Path) -> None:
    rows = load_texts(f"tsv:{data_dir / 'train.tsv'}")
    source = tmp_path / "reviews.csv"
    source.write_text("review,sentiment\n" + "".join(f'"{t.replace(chr(34), chr(34) * 2)}",{label}\n'
                                                      for t, label in zip(rows.texts, rows.labels)), encoding="utf-8")
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "--data", f"csv:{source}", "--text-column", "review",
                             "--label-column", "sentiment", "--set", "training.epochs=1",
                             "--set", "model.hidden_size=16", "--output", run, "--no-progress")
    assert code == 0, err
    assert "data: train 239, dev 31, test 30 | labels: negative, positive" in out  # stratified 80/10/10
    config = load_config(run / "config.toml")
    assert (config.data.train, config.data.text_column, config.data.test_fraction) == (f"csv:{source}", "review", 0.1)
    assert json.loads((run / "metrics.json").read_text())["final_split"] == "test"
    assert f"report: {run / 'report.html'}" in out
    assert (run / "plots" / "training_curves.png").is_file()  # training.plots = true by default


def test_train_needs_a_config_or_data_and_task_goes_with_data_alone(capsys, data_dir: Path, tmp_path: Path) -> None:
    assert_error(capsys, ["train"], "give a config file or the data to train on")
    assert_error(capsys, ["train", data_dir / "tiny.toml", "--task", "tag"], "--task goes with --data alone")


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_init_writes_every_key_with_its_default_and_a_comment(capsys, task: str, tmp_path: Path) -> None:
    from nlp_lstm.config import TASK_KEYS, Config

    code, out, err = run_cli(capsys, "init", "--task", task, "--data", "csv:reviews.csv")
    assert code == 0, err
    full = {"classify": "classification", "tag": "tagging"}[task]
    (tmp_path / "my.toml").write_text(out, encoding="utf-8")
    assert load_config(tmp_path / "my.toml") == Config.from_dict(
        {"task": full, "data": {"train": "csv:reviews.csv", "test_fraction": 0.1}})  # as train --data carves
    keys = [line.split(" = ")[0] for line in out.splitlines() if " = " in line and not line.startswith("#")]
    other = {key.split(".")[1] for name, names in TASK_KEYS.items() if name != full for key in names}
    assert "hidden_size" in keys and not other & set(keys)
    assert all("  # " in line for line in out.splitlines() if " = " in line and not line.startswith(("#", "task")))


def test_predict_for_scripts_top_k_threshold_probabilities_batch_size(capsys, trained_run: Path,
                                                                     tmp_path: Path) -> None:
    texts = ["a fine, funny film", "质量太差了", "dull"]
    out_file = tmp_path / "out.jsonl"
    code, out, err = run_cli(capsys, "predict", trained_run / "model", *texts, "--top-k", "2", "--threshold", "0.999",
                             "--batch-size", "2", "--output", out_file)
    assert code == 0, err
    rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    expected = Predictor.load(trained_run / "model", "cpu").predict_proba(texts)
    for row, probs in zip(rows, expected):
        assert row["probabilities"] == pytest.approx(dict(zip(LABELS, probs.tolist())), abs=1e-6)
        assert [name for name, _ in row["top_k"]] == sorted(LABELS, key=lambda name: -row["probabilities"][name])
        assert row["label"] is None if max(probs) < 0.999 else row["label"] == row["top_k"][0][0]
    code, out, err = run_cli(capsys, "predict", trained_run / "model", texts[0], "--top-k", "2", "--threshold", "1")
    label, probability, runner_up, text = out.rstrip("\n").split("\t")
    assert label == "(none)" and text == texts[0] and runner_up.split()[0] in LABELS
    assert_error(capsys, ["predict", trained_run / "model", "x", "--threshold", "1.5"],
                 "The '--threshold' option must be a probability in [0, 1]. Got '1.5' instead.")


def test_a_run_logs_its_steps_to_csv_and_tensorboard(capsys, data_dir: Path, tmp_path: Path) -> None:
    import csv

    run = tmp_path / "run"
    code, out, err = run_cli(capsys, *train_argv(data_dir / "tiny.toml", run, "training.epochs=2",
                                                "training.batch_size=8"))
    assert code == 0, err
    with (run / "steps.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    steps_per_epoch = -(-300 // 8)  # a row every 20 batches of each epoch
    assert [int(row["step"]) for row in rows] == [(epoch - 1) * steps_per_epoch + batch for epoch in (1, 2)
                                                  for batch in range(20, steps_per_epoch + 1, 20)]
    assert {row["epoch"] for row in rows} == {"1", "2"}
    assert all(float(row["loss"]) > 0 and float(row["learning_rate"]) == 0.01 for row in rows)
    if importlib.util.find_spec("tensorboard") is None:
        pytest.skip("tensorboard is not installed (pip install 'nlp-lstm[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [int(row["step"]) for row in rows]
    assert len(events.Scalars("dev/accuracy")) == 2


def test_predict_input_with_a_corrupt_model_config_is_one_error(capsys, run_copy: Path, tmp_path: Path) -> None:
    (run_copy / "model" / "config.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "texts.txt").write_text("fine\n", encoding="utf-8")
    assert_error(capsys, ["predict", run_copy / "model", "--input", tmp_path / "texts.txt"],
                 f"{run_copy / 'model' / 'config.json'}: not valid JSON")
