"""The estimators' parameters are the config's keys: every recipe becomes an estimator and back to the identical
resolved config; a parameter's error names the parameter; scikit-learn's clone and get_params see them all."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
from sklearn.base import clone

from nlp_lstm import SequenceTagger, TextClassifier
from nlp_lstm.config import TASK_KEYS, Config, ConfigError, load_config

REPO_ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO_ROOT / "recipes").rglob("*.toml"))
ESTIMATORS = {"classification": TextClassifier, "tagging": SequenceTagger}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_round_trips_through_its_estimator(recipe: Path) -> None:
    config = load_config(recipe)
    estimator = ESTIMATORS[config.task].from_config(recipe)
    assert estimator.get_config() == config
    assert clone(estimator).get_config() == config
    assert type(estimator)(**estimator.get_params()).get_config() == config


@pytest.mark.parametrize("task", ["classification", "tagging"])
def test_parameters_are_the_keys_the_task_reads(task: str) -> None:
    other = set().union(*(keys for name, keys in TASK_KEYS.items() if name != task))
    expected = {f"{section}.{f.name}" for section in ("data", "tokenizer", "model", "training")
                for f in dataclasses.fields(getattr(Config(), section))} - other
    params = set(ESTIMATORS[task]().get_params())
    assert params == {key.split(".")[1] for key in expected} | {"verbose"}
    signature = inspect.signature(ESTIMATORS[task])
    assert signature.parameters["hidden_size"].default == Config.from_dict({"task": task}).model.hidden_size


def test_defaults_are_the_configs_for_each_task() -> None:
    assert TextClassifier().get_config() == Config.from_dict({"task": "classification"})
    tagger = Config.from_dict({"task": "tagging"})
    assert SequenceTagger().get_config() == tagger
    assert tagger.model.crf and tagger.model.char_embedding_dim == 30 and tagger.tokenizer.lowercase
    assert tagger.model.extend_vocab == 100000 and Config.from_dict({}).model.extend_vocab == 0
    assert SequenceTagger(pretrained_vectors="").get_config().model.extend_vocab == 100000  # no error: nothing to add


def test_an_invalid_parameter_is_named_as_the_estimator_names_it() -> None:
    with pytest.raises(ConfigError, match=r"TextClassifier: The 'pooling' parameter must be one of .* Got 'avg'"):
        TextClassifier(pooling="avg").get_config()
    with pytest.raises(ConfigError, match=r"The 'max_length' parameter must be a positive int. Got 0"):
        TextClassifier(max_length=0).fit(["a", "b"], [0, 1])


def test_old_parameter_names_get_a_hint() -> None:
    with pytest.raises(TypeError, match=r"unexpected parameter 'random_state'; did you mean 'seed'\?"):
        TextClassifier(random_state=0)


def test_a_config_of_the_other_task_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="task = 'tagging'; TextClassifier trains classification"):
        TextClassifier.from_config(REPO_ROOT / "recipes" / "tagging" / "conll2003_ner.toml")
    path = tmp_path / "c.toml"
    path.write_text("[model]\ncrf = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="model.crf = True is not read by classification"):
        TextClassifier.from_config(path)


def test_a_recipe_trains_from_python_on_its_own_data(sst2_dir: Path, tmp_path: Path) -> None:
    overrides = [f'data.train="tsv:{sst2_dir}/train.tsv"', f'data.dev="tsv:{sst2_dir}/dev.tsv"',
                 "training.max_steps=3", "model.hidden_size=8", "model.embedding_dim=8", 'training.device="cpu"']
    clf = TextClassifier.from_config(REPO_ROOT / "recipes" / "sentiment" / "sst2.toml", overrides).fit()
    assert list(clf.classes_) == ["0", "1"]
    assert clf.history_[0]["steps"] == 3 and "dev_accuracy" in clf.history_[0]
    clf.save(tmp_path / "model")
    again = TextClassifier.load(tmp_path / "model")
    assert again.get_config() == dataclasses.replace(clf.get_config(), training=dataclasses.replace(
        clf.get_config().training, device="auto"))
    assert (again.predict_proba(["a fine film"]) == clf.predict_proba(["a fine film"])).all()


@pytest.mark.parametrize("task", ["classification", "tagging"])
def test_help_documents_every_parameter_with_its_default_and_toml_key(task: str) -> None:
    estimator = ESTIMATORS[task]
    doc = estimator.__doc__
    assert "    Parameters\n    ----------\n" in doc
    for name, value in estimator().get_params().items():
        assert f"    {name} : {type(value).__name__}, default={value!r}\n" in doc, name
    assert "        LSTM units per direction and layer. TOML: [model] hidden_size." in doc


def test_the_entity_f1_metric_is_refused_for_a_classifier() -> None:
    with pytest.raises(ConfigError, match="training.metric = 'f1' is the entity F1 of taggers; a classifier uses"):
        TextClassifier(metric="f1", epochs=1, device="cpu").fit(["good", "bad"] * 4, [1, 0] * 4)
