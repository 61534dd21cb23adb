"""`nlp-lstm` for taggers through `main(argv)`: each tagging recipe trains from the repository root with
small overrides, `predict` prints token/TAG pairs (and the entities found) or writes JSON lines,
`evaluate` scores entities in the evaluated data's own scheme, and bad tagged input is exit status 1
with one stderr line naming the file and line."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, assert_error, run_cli

from nlp_lstm.cli import main
from nlp_lstm.config import load_config
from nlp_lstm.data.conll import read_conll
from nlp_lstm.data.tag_schemes import convert_sequences, spans
from nlp_lstm.evaluation.metrics import tagging_metrics
from nlp_lstm.model_dir import FILES
from nlp_lstm.predictor import TagPredictor

SENTENCE = "EU rejects German call to boycott British lamb ."
TINY = ["--set", "training.max_steps=3", "--set", "training.epochs=1", "--set", "model.hidden_size=16",
        "--set", "model.embedding_dim=16", "--set", 'training.device="cpu"', "--set", "training.plots=false"]
# The People's Daily recipes read 19,484 sentences: score a 1% dev split only, no test split (scoring
# 10% splits takes longer than the whole run; tests/training/test_tagging.py prepares the recipe as given).
PD_SPLITS = ["--set", "data.validation_fraction=0.01", "--set", "data.test_fraction=0.0"]
TOKEN_TAG = re.compile(r"\S+/\S+")
ENTITY = re.compile(r"(PER|LOC|ORG|MISC)\[[^\]]+\]")


@contextlib.contextmanager
def at_repo_root() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO_ROOT)
        yield


def train_quietly(argv: list[object]) -> str:
    """Train from the repository root (where the recipes' relative data paths start); the stdout."""
    out = io.StringIO()
    with at_repo_root(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in argv])
    assert code == 0, out.getvalue()
    return out.getvalue()


def expected_output(predictor: TagPredictor, texts: list[str]) -> str:
    """What `predict` prints for these texts: token/TAG pairs, then the entities line when there are any."""
    joiner = "" if predictor.input == "characters" else " "
    lines = []
    for p in predictor.predict(texts):
        lines.append(" ".join(f"{token}/{tag}" for token, tag in zip(p.tokens, p.tags)))
        if p.entities:
            lines.append("  entities: " + "  ".join(f"{kind}[{joiner.join(p.tokens[start:end])}]"
                                                     for kind, start, end in p.entities))
    return "".join(line + "\n" for line in lines)


def check_printed_tags(out: str, sentences: list[list[str]], labels: list[str]) -> None:
    """Strict format: one line of token/TAG pairs per sentence, each optionally followed by one
    '  entities: TYPE[text] ...' line."""
    lines = out.splitlines()
    found = []
    for line in lines:
        if line.startswith("  entities: "):
            assert found, line
            entities = line[len("  entities: "):].split("  ")
            assert entities and all(ENTITY.fullmatch(e) for e in entities), line
            continue
        pairs = line.split(" ")
        assert all(TOKEN_TAG.fullmatch(pair) for pair in pairs), line
        found.append([pair.rsplit("/", 1) for pair in pairs])
    assert [[token for token, _ in row] for row in found] == sentences
    assert all(tag in labels for row in found for _, tag in row)


# ---------------------------------------------------------------- CoNLL-2003 recipe


@pytest.fixture(scope="module")
def conll_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """recipes/tagging/conll2003_ner.toml exactly as given (the full eng.train and eng.testa), stopped
    after 3 steps of a tiny model; the run directory and what train printed."""
    run = tmp_path_factory.mktemp("conll") / "run"
    out = train_quietly(["train", "recipes/tagging/conll2003_ner.toml", *TINY, "--output", run, "--no-progress"])
    return run, out


@pytest.fixture(scope="module")
def conll_labels() -> list[str]:
    """The tags `predict` may print for the CoNLL model: the data's IOB1 tags, never BIOES's E- or S-."""
    return ["O"] + [f"{p}-{t}" for p in "IB" for t in ("PER", "LOC", "ORG", "MISC")]


def test_train_conll_recipe_prints_entity_scores_and_writes_the_run(conll_run: tuple[Path, str]) -> None:
    run, out = conll_run
    assert "data: train 14,041, dev 3,250 | 17 tags (iob1 data, bioes model) | chars " in out
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    dev = metrics["dev"]
    assert f"dev: token accuracy {dev['accuracy']:.4f}  macro F1 over tags {dev['macro_f1']:.4f}  " \
           f"entity F1 {dev['f1']:.4f}  (3250 sentences)" in out
    assert "      entity  precision    recall  f1-score   support" in out
    for kind, support in (("LOC", 1837), ("MISC", 922), ("ORG", 1341), ("PER", 1842)):  # eng.testa's entities
        assert re.search(rf"^ +{kind} .* {support}$", out, re.M), kind
    assert f"run directory: {run}" in out
    assert metrics["steps"] == 3 and metrics["epochs_trained"] == 1
    config = load_config(run / "config.toml")
    assert (config.training.max_steps, config.model.hidden_size, config.model.crf) == (3, 16, True)
    assert config.data.dev == "conll:../shared/data/conll2003/eng.testa"  # the recipe as given
    for name in (*FILES, "chars.json"):
        assert (run / "model" / name).is_file(), name


def test_predict_prints_token_tag_pairs(capsys, conll_run: tuple[Path, str], conll_labels: list[str]) -> None:
    model = conll_run[0] / "model"
    texts = [SENTENCE, "Peter Blackburn", "BRUSSELS 1996-08-22"]
    code, out, err = run_cli(capsys, "predict", model, *texts)
    assert code == 0 and err == "", err
    check_printed_tags(out, [t.split() for t in texts], conll_labels)
    assert out == expected_output(TagPredictor.load(model, "cpu"), texts)


def test_predict_txt_input_one_sentence_per_line(capsys, conll_run: tuple[Path, str], conll_labels: list[str],
                                                 tmp_path: Path) -> None:
    model = conll_run[0] / "model"
    dev = read_conll(REPO_ROOT.parent / "shared" / "data" / "conll2003" / "eng.testa", 0, 3)
    texts = [" ".join(tokens) for tokens in dev.sentences[:25]] + ["Der  Spiegel\tsaid it"]
    source = tmp_path / "sentences.txt"
    source.write_text("\n".join(texts[:-1]) + "\r\n" + texts[-1] + "\n", encoding="utf-8")  # one CRLF line end
    code, out, err = run_cli(capsys, "predict", model, "--input", source)
    assert code == 0, err
    check_printed_tags(out, [t.split() for t in texts], conll_labels)
    assert out == expected_output(TagPredictor.load(model, "cpu"), texts)

    out_file = tmp_path / "out" / "predictions.jsonl"
    code, out, err = run_cli(capsys, "predict", model, "--input", source, "--output", out_file)
    assert code == 0, err
    assert out.strip() == f"{len(texts)} predictions written to {out_file}"
    rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert [row["tokens"] for row in rows] == [t.split() for t in texts]
    check_rows(rows, conll_labels)


def check_rows(rows: list[dict], labels: list[str]) -> None:
    """JSON rows of tokens, tags and the entities those tags make (in IOB1)."""
    for row in rows:
        assert set(row) == {"tokens", "tags", "entities"}
        assert len(row["tags"]) == len(row["tokens"]) and set(row["tags"]) <= set(labels)
        expected = [{"type": kind, "start": start, "end": end, "text": " ".join(row["tokens"][start:end])}
                    for kind, start, end in spans(row["tags"], "iob1")]
        assert row["entities"] == expected


def test_predict_jsonl_tokens_to_jsonl_output(capsys, conll_run: tuple[Path, str], conll_labels: list[str],
                                              tmp_path: Path) -> None:
    model = conll_run[0] / "model"
    token_rows = [SENTENCE.split(), ["New York", "Yankees", "won"], ["Éire", "😀", "1996-08-22"], ["x"]]
    source = tmp_path / "tokens.jsonl"
    source.write_text("".join(json.dumps({"tokens": tokens}, ensure_ascii=False) + "\n" for tokens in token_rows)
                      + "\n", encoding="utf-8")  # a trailing blank line is skipped
    out_file = tmp_path / "out.jsonl"
    code, out, err = run_cli(capsys, "predict", model, "--input", source, "--output", out_file)
    assert code == 0, err
    assert out.strip() == f"4 predictions written to {out_file}"
    rows = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert [row["tokens"] for row in rows] == token_rows  # pre-split tokens are kept, spaces inside included
    check_rows(rows, conll_labels)
    predictor = TagPredictor.load(model, "cpu")
    assert [row["tags"] for row in rows] == predictor.predict_tags(token_rows)


def test_evaluate_scores_entities_and_matches_the_training_run(capsys, conll_run: tuple[Path, str],
                                                                tmp_path: Path) -> None:
    run = conll_run[0]
    spec = "conll:../shared/data/conll2003/eng.testa"
    with at_repo_root():
        code, out, err = run_cli(capsys, "evaluate", run / "model", "--data", spec, "--output", tmp_path / "ev")
    assert code == 0, err
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text(encoding="utf-8"))
    assert f"{spec}: token accuracy {metrics['accuracy']:.4f}" in out
    assert f"entity F1 {metrics['f1']:.4f}  (3250 sentences)" in out
    assert f"metrics: {tmp_path / 'ev' / 'metrics.json'}" in out
    assert metrics["data"] == spec
    assert {"LOC", "MISC", "ORG", "PER"} <= set(metrics["entity_report"])
    # the same model on the same dev file scores what training reported for it
    trained = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["dev"]
    assert {k: metrics[k] for k in ("f1", "precision", "recall", "accuracy")} == \
           {k: trained[k] for k in ("f1", "precision", "recall", "accuracy")}
    rows = [json.loads(line) for line in (tmp_path / "ev" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 3250 and set(rows[0]) == {"tokens", "gold", "predicted"}


@pytest.fixture
def bio_hub(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """datasets.load_dataset returns the first 40 eng.testa sentences in BIO (IOB2), as
    eriktks/conll2003 stores them; records the calls."""
    import datasets

    names = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
    dev = read_conll(REPO_ROOT.parent / "shared" / "data" / "conll2003" / "eng.testa", 0, 3)
    bio = convert_sequences(dev.tags[:40], "iob1", "bio")
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    rows = {"tokens": dev.sentences[:40], "ner_tags": [[names.index(t) for t in tags] for tags in bio]}
    calls: list[tuple] = []

    def load_dataset(name: str, config: str | None = None, *, split: str) -> datasets.Dataset:
        calls.append((name, config, split))
        return datasets.Dataset.from_dict(rows, features=features)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_evaluate_scores_hub_data_in_its_own_bio_scheme(capsys, conll_run: tuple[Path, str], bio_hub: list[tuple],
                                                        tmp_path: Path) -> None:
    model = conll_run[0] / "model"
    code, out, err = run_cli(capsys, "evaluate", model, "--data", "hub:eriktks/conll2003", "--output",
                             tmp_path / "hub")
    assert code == 0, err
    assert bio_hub == [("eriktks/conll2003", None, "test")]
    metrics = json.loads((tmp_path / "hub" / "metrics.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in (tmp_path / "hub" / "predictions.jsonl").read_text().splitlines()]
    gold = [row["gold"] for row in rows]
    predicted = [row["predicted"] for row in rows]
    # predictions are written in the evaluated data's scheme (BIO), whatever the training data used
    assert convert_sequences(predicted, "bio", "bio") == predicted
    assert metrics["f1"] == tagging_metrics(gold, predicted, "bio")["f1"]
    # and score exactly as the same sentences in IOB1 do
    iob1 = TagPredictor.load(model, "cpu").predict_tags([row["tokens"] for row in rows])
    assert convert_sequences(iob1, "iob1", "bio") == predicted
    assert metrics["f1"] == tagging_metrics(convert_sequences(gold, "bio", "iob1"), iob1, "iob1")["f1"]


# ---------------------------------------------------------------- bad tagged input


def test_a_conll_line_with_a_wrong_column_count_is_named(capsys, conll_run: tuple[Path, str],
                                                         tmp_path: Path) -> None:
    bad = tmp_path / "bad.conll"
    bad.write_text("-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n\nGerman JJ I-MISC\n",
                   encoding="utf-8")
    line = assert_error(capsys, ["evaluate", conll_run[0] / "model", "--data", f"conll:{bad}", "--output",
                                 tmp_path / "ev"],
                        str(bad), "line 6", "expected 4 columns", "got 3")
    assert "German JJ I-MISC" in line
    assert not (tmp_path / "ev").exists()


def test_a_wordtag_token_without_a_slash_is_named(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("迈向/v  充满/v  希望/n\n\n新/a  世纪/n  一九九八年\n", encoding="utf-8")
    with at_repo_root():
        line = assert_error(capsys, ["train", "recipes/tagging/peoples_daily_pos.toml", *TINY, "--set",
                                     f"data.train=wordtag:{bad}", "--output", tmp_path / "run", "--no-progress"],
                            str(bad), "line 3", "'一九九八年'", "no '/'", "expected word/TAG")
    assert "\n" not in line
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- People's Daily recipes


def test_peoples_daily_ner_recipe_and_character_level_predict(capsys, tmp_path: Path) -> None:
    """The recipe end to end on characters: the run, its model directory, report and predictor, and `predict`."""
    run = tmp_path / "run"
    out = train_quietly(["train", "recipes/tagging/peoples_daily_ner.toml", *TINY, *PD_SPLITS, "--output", run,
                         "--no-progress"])
    assert "data: train 19,289, dev 195 | 13 tags (bio data, bioes model) | chars off" in out
    assert "entity F1" in out
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["steps"] == 3 and metrics["data"]["sizes"] == {"train": 19289, "dev": 195}
    assert {"f1", "entity_report", "accuracy"} <= set(metrics["dev"])
    model_config = json.loads((run / "model" / "config.json").read_text(encoding="utf-8"))
    assert model_config["tagging"] == {"data_scheme": "bio", "model_scheme": "bioes", "input": "characters"}
    assert not (run / "model" / "chars.json").exists()  # char_embedding_dim = 0: the tokens are characters
    predictor = TagPredictor.load(run / "model", "cpu")
    assert predictor.input == "characters"
    assert predictor.split("江泽民 在北京\u3000会见") == list("江泽民在北京会见")
    assert predictor.predict([["北京", "市"]])[0].tokens == ["北京", "市"]  # pre-split input is taken as given
    text = "国家主席江泽民在北京会见了联合国秘书长安南。"
    code, out, err = run_cli(capsys, "predict", run / "model", text, "人民 日报")
    assert code == 0, err
    labels = ["O"] + [f"{p}-{t}" for p in "BI" for t in ("PER", "LOC", "ORG")]
    check_printed_tags(out, [list(text), ["人", "民", "日", "报"]], labels)  # raw text split into characters
    assert out == expected_output(predictor, [text, "人民 日报"])
    for line in out.splitlines():
        if line.startswith("  entities: "):
            assert " " not in line[len("  entities: "):].replace("  ", ""), line  # characters joined without spaces
    # the report writes character-level examples as text: characters run together, entities set off
    report = (run / "report.md").read_text(encoding="utf-8")
    examples = report.split("## Example sentences\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in examples.splitlines() if re.match(r"\| \d+ \|", line)]
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert rows
    for row in rows:
        number, gold = row.split(" | ")[0][2:], row.split(" | ")[1]
        tokens = predictions[int(number) - 1]["tokens"]
        assert re.sub(r"(PER|LOC|ORG)\\\[|\\\]| ", "", gold) == "".join(tokens)  # up to 40: never cut
        assert not re.search(r"[\u4e00-\u9fff] [\u4e00-\u9fff] [\u4e00-\u9fff]", gold)  # no letter-spacing


def test_peoples_daily_pos_recipe_and_word_level_predict(capsys, tmp_path: Path) -> None:
    """The recipe end to end on words: the run, its model directory and predictor, and `predict`."""
    run = tmp_path / "run"
    out = train_quietly(["train", "recipes/tagging/peoples_daily_pos.toml", *TINY, *PD_SPLITS, "--set",
                         "model.char_embedding_dim=8", "--set", "model.char_filters=8", "--output", run,
                         "--no-progress"])
    assert "data: train 19,289, dev 195 | 44 tags (no entity scheme) | chars " in out
    assert "dev: token accuracy" in out and "entity F1" not in out
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["steps"] == 3 and metrics["data"]["sizes"] == {"train": 19289, "dev": 195}
    assert "f1" not in metrics["dev"] and "accuracy" in metrics["dev"]
    labels = json.loads((run / "model" / "labels.json").read_text(encoding="utf-8"))
    assert labels == metrics["data"]["labels"]
    assert len(labels) == 44 and {"n", "v", "w", "nr", "ns", "nt"} <= set(labels)
    assert (run / "model" / "chars.json").is_file()
    predictor = TagPredictor.load(run / "model", "cpu")
    assert predictor.input == "whitespace" and predictor.data_scheme is None
    text = "中国 人民 银行 行长 发表 讲话 。"
    [prediction] = predictor.predict([text])
    assert prediction.tokens == ["中国", "人民", "银行", "行长", "发表", "讲话", "。"]
    assert len(prediction.tags) == 7 and set(prediction.tags) <= set(labels) and prediction.entities == []
    code, out, err = run_cli(capsys, "predict", run / "model", text)
    assert code == 0, err
    check_printed_tags(out, [text.split()], labels)
    assert "entities:" not in out
    assert out == expected_output(predictor, [text])


def test_the_most_frequent_tag_baseline_is_computed_from_train_and_scored_on_dev(conll_run: tuple[Path, str]) -> None:
    run, out = conll_run
    data = REPO_ROOT.parent / "shared" / "data" / "conll2003"
    train, dev = read_conll(data / "eng.train", 0, 3), read_conll(data / "eng.testa", 0, 3)
    counts: dict[str, dict[str, int]] = {}
    for words, tags in zip(train.sentences, train.tags):
        for word, tag in zip(words, tags):
            counts.setdefault(word, {}).setdefault(tag, 0)
            counts[word][tag] += 1
    every = [tag for tags in train.tags for tag in tags]
    overall = max(sorted(set(every)), key=every.count)
    best = {word: max(sorted(tags), key=tags.__getitem__) for word, tags in counts.items()}
    predicted = [[best.get(word, overall) for word in words] for words in dev.sentences]
    expected = tagging_metrics(dev.tags, predicted, "iob1")
    baseline = json.loads((run / "metrics.json").read_text(encoding="utf-8"))["dev"]["baselines"]["most_frequent_tag"]
    assert baseline == pytest.approx({key: expected[key] for key in ("accuracy", "macro_f1", "f1")})
    assert f"baseline, most frequent tag: accuracy {expected['accuracy']:.4f}" in out
