"""TextClassifier follows scikit-learn's estimator contract and shares the CLI's model directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from nlp_lstm import SequenceTagger, TextClassifier
from nlp_lstm.config import Config, DataConfig, ModelConfig, TrainingConfig
from nlp_lstm.runs import train

TINY = {"embedding_dim": 16, "hidden_size": 16, "epochs": 2, "batch_size": 32, "device": "cpu"}


def sst2(path: Path, start: int, stop: int) -> tuple[list[str], list[int]]:
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]][start:stop]
    return [text.strip() for text, _ in rows], [int(label) for _, label in rows]


@pytest.fixture(scope="module")
def data(sst2_dir: Path) -> dict[str, tuple[list[str], list[int]]]:
    return {"train": sst2(sst2_dir / "train.tsv", 0, 1500), "dev": sst2(sst2_dir / "dev.tsv", 0, 300)}


@pytest.fixture(scope="module")
def fitted(data) -> TextClassifier:
    return TextClassifier(**{**TINY, "epochs": 3}).fit(*data["train"], eval_set=data["dev"])


def test_constructor_only_stores_parameters_and_clone_works():
    clf = TextClassifier(hidden_size=7, pooling="nope")  # validated in fit, not here
    assert clf.get_params()["hidden_size"] == 7
    assert clone(clf).get_params() == clf.get_params()
    assert clf.set_params(hidden_size=9) is clf and clf.hidden_size == 9
    assert "hidden_size=9" in repr(clf)
    assert not hasattr(clf, "model_")


def test_fit_returns_self_and_sets_fitted_attributes(fitted, data):
    assert isinstance(fitted, TextClassifier)
    assert fitted.classes_.tolist() == [0, 1]
    assert len(fitted.vocab_) > 100 and fitted.model_ is not None
    assert [row["epoch"] for row in fitted.history_] == [1, 2, 3]
    dev_texts, dev_labels = data["dev"]
    majority = max(np.mean(np.array(dev_labels) == 0), np.mean(np.array(dev_labels) == 1))
    assert fitted.score(dev_texts, dev_labels) > majority + 0.05  # measured: about 0.65 vs 0.52


def test_predictions_come_back_as_the_labels_given(data):
    texts, labels = data["train"]
    names = ["negative" if label == 0 else "positive" for label in labels]
    clf = TextClassifier(**TINY).fit(texts[:400], names[:400])
    predicted = clf.predict(["a great movie", "", "😀 好"])
    assert set(predicted) <= {"negative", "positive"} and len(predicted) == 3
    probabilities = clf.predict_proba(["a great movie", ""])
    assert probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1)


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        TextClassifier().predict(["text"])


@pytest.mark.parametrize(("X", "y", "message"), [
    ("one text", [0], "X must be a list of strings, got a single str"),
    (["a", "b", "c"], [0, 1], "inconsistent numbers of samples"),
    (["a", "b"], [1, 1], "The number of classes has to be greater than one; got 1 class"),
    (["a", None], [0, 1], r"X\[1\] is None; expected a string"),
    (["a", float("nan")], [0, 1], r"X\[1\] is NaN; expected a string"),
    (["a", "b", "c"], [0.5, 1.0, 1.5], "Unknown label type: continuous"),
    (["a", "b"], [["x", "y"], ["y"]], r"y\[0\] is a collection of labels .* multi-label classification is not "
                                      r"supported yet"),
])
def test_bad_inputs_are_named(X, y, message):
    with pytest.raises(ValueError, match=message):
        TextClassifier(**TINY).fit(X, y)


def test_bad_hyperparameter_is_named_in_fit(data):
    with pytest.raises(ValueError, match="The 'pooling' parameter must be one of"):
        TextClassifier(pooling="sum").fit(*data["train"])


def test_eval_set_label_unknown_to_training(data):
    texts, labels = data["train"]
    with pytest.raises(ValueError, match=r"eval_set\[1\] has label 7"):
        TextClassifier(**TINY).fit(texts[:100], labels[:100], eval_set=(["x"], [7]))


def test_pipeline_cross_val_score_and_grid_search(data):
    texts, labels = data["train"]
    texts, labels = texts[:600], labels[:600]
    pipeline = make_pipeline(FunctionTransformer(lambda xs: [x.lower() for x in xs]), TextClassifier(**TINY))
    assert pipeline.fit(texts, labels).predict(["A GREAT MOVIE"]).shape == (1,)
    scores = cross_val_score(TextClassifier(**TINY), texts, labels, cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
    search = GridSearchCV(TextClassifier(**TINY), {"hidden_size": [8, 16]}, cv=2, n_jobs=1).fit(texts, labels)
    assert search.best_params_["hidden_size"] in (8, 16)
    assert search.best_estimator_.predict(["fine"]).shape == (1,)


def test_save_load_round_trip_and_the_cli_reads_it(fitted, data, tmp_path, capsys):
    fitted.save(tmp_path / "model")
    loaded = TextClassifier.load(tmp_path / "model", device="cpu")
    texts = data["dev"][0] + ["", "😀"]
    np.testing.assert_allclose(loaded.predict_proba(texts), fitted.predict_proba(texts), atol=1e-6)
    assert loaded.classes_.tolist() == [0, 1] and loaded.get_params()["hidden_size"] == 16
    code, out, err = run_cli(capsys, "predict", tmp_path / "model", "a great movie")
    assert code == 0, err
    label, probability, text = out.strip().split("\t")
    assert label in ("0", "1") and 0.5 <= float(probability) <= 1 and text == "a great movie"


def test_a_model_trained_by_the_cli_pipeline_loads_in_the_api(sst2_dir, tmp_path):
    config = Config(
        data=DataConfig(train=f"tsv:{sst2_dir / 'train.tsv'}", dev=f"tsv:{sst2_dir / 'dev.tsv'}",
                        text_column="sentence"),
        model=ModelConfig(embedding_dim=8, hidden_size=8),
        training=TrainingConfig(plots=False, baselines=False, epochs=1, max_steps=3, device="cpu"),
    )
    result = train(config, tmp_path / "run", progress=False)
    clf = TextClassifier.load(result.model_dir, device="cpu")
    assert clf.classes_.tolist() == [0, 1]  # the file's labels are ints, so the estimator gives ints back
    assert clf.predict(["a great movie"])[0] in (0, 1)
    assert clf.get_params()["hidden_size"] == 8


# ---------------------------------------------------------------- SequenceTagger

TAGGER = {"embedding_dim": 32, "hidden_size": 32, "char_embedding_dim": 16, "char_filters": 16, "epochs": 5,
          "learning_rate": 0.01, "device": "cpu"}


@pytest.fixture(scope="module")
def conll(shared_data: Path):
    from nlp_lstm.data.conll import read_conll

    train_set = read_conll(shared_data / "conll2003" / "eng.train", tag_column=3)
    dev_set = read_conll(shared_data / "conll2003" / "eng.testa", tag_column=3)
    return (train_set.sentences[:800], train_set.tags[:800]), (dev_set.sentences[:150], dev_set.tags[:150])


@pytest.fixture(scope="module")
def tagger(conll) -> SequenceTagger:
    (X, y), dev = conll
    return SequenceTagger(**TAGGER).fit(X, y, eval_set=dev)


def test_tagger_learns_entities_and_answers_in_the_data_scheme(tagger, conll):
    _, (dev_X, dev_y) = conll
    assert tagger.score(dev_X, dev_y) > 0.3  # entity F1; all-O scores 0 (measured about 0.5)
    [tags] = tagger.predict([["EU", "rejects", "German", "call", "."]])
    assert len(tags) == 5 and all(t == "O" or t[:2] in ("I-", "B-") for t in tags)  # IOB1 like the data
    assert {"S-PER", "E-LOC"} <= set(tagger.tags_)  # the model itself predicts BIOES
    assert tagger.predict([[]]) == [[]]


def test_tagger_save_load_round_trip(tagger, conll, tmp_path):
    _, (dev_X, _) = conll
    tagger.save(tmp_path / "tagger")
    loaded = SequenceTagger.load(tmp_path / "tagger", device="cpu")
    assert loaded.predict(dev_X) == tagger.predict(dev_X)
    assert loaded.get_params()["hidden_size"] == 32
    TextClassifier(**TINY).fit(["good", "bad"] * 5, [1, 0] * 5).save(tmp_path / "clf")
    with pytest.raises(ValueError, match="holds a classification model, not a tagger"):
        SequenceTagger.load(tmp_path / "clf", device="cpu")


@pytest.mark.parametrize(("X", "y", "message"), [
    ("EU rejects", [["O"]], "X must be a list of token lists, got a single str"),
    ([["EU", "rejects"]], [["I-ORG"]], r"X\[0\] has 2 tokens but y\[0\] has 1 tags"),
    ([["EU"], ["x"]], [["I-ORG"]], "inconsistent numbers of samples"),
    (["EU rejects"], [["I-ORG", "O"]], r"X\[0\] must be a list of strings"),
])
def test_tagger_bad_inputs_are_named(X, y, message):
    with pytest.raises(ValueError, match=message):
        SequenceTagger(**TAGGER).fit(X, y)


def test_tagger_in_cross_val_score(conll):
    (X, y), _ = conll
    scores = cross_val_score(SequenceTagger(**{**TAGGER, "epochs": 1}), X[:200], y[:200], cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_split_cjk_reaches_the_tokenizer():
    texts = ["这个手机很好用", "这个手机不好用", "屏幕很好", "手机屏幕不好"] * 20
    labels = [1, 0, 1, 0] * 20
    options = dict(kind="bpe", vocab_size=60, embedding_dim=8, hidden_size=8, epochs=1, device="cpu")
    joined = TextClassifier(split_cjk=False, **options).fit(texts, labels)
    split = TextClassifier(**options).fit(texts, labels)
    assert max(len(t.removesuffix("</w>")) for t in joined.tokenizer_.tokenize("这个手机很好用")) >= 2
    assert all(len(t.removesuffix("</w>")) == 1 for t in split.tokenizer_.tokenize("这个手机很好用"))


@pytest.mark.parametrize("estimator", ["classifier", "tagger"])
def test_unk_replace_reaches_training(estimator, data, conll):
    """With replacement the <unk> row is trained; without it (and no weight decay) it keeps its init."""
    if estimator == "classifier":
        X, y = data["train"]
        make = lambda p: TextClassifier(embedding_dim=8, hidden_size=8, epochs=1, weight_decay=0.0,  # noqa: E731
                                        unk_replace=p, device="cpu")
    else:
        (X, y), _ = conll
        X, y = X[:300], y[:300]
        make = lambda p: SequenceTagger(**{**TAGGER, "epochs": 1, "weight_decay": 0.0, "unk_replace": p})  # noqa: E731
    assert clone(make(0.5)).get_params()["unk_replace"] == 0.5
    rows = []
    for p in (0.0, 0.5):
        fitted = make(p).fit(X, y)
        model = fitted.predictor_.saved.model if estimator == "tagger" else fitted.model_
        rows.append(model.embedding.weight[fitted.vocab_["<unk>"]].detach())
    assert (rows[1] - rows[0]).abs().max().item() > 1e-3
