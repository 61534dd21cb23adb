"""Config: recipes load, `--set` overrides, TOML round trips, and every bad value is named."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import tomllib
from conftest import REPO_ROOT

from nlp_lstm.config import Config, DataConfig, ModelConfig, TrainingConfig, dump_config, load_config, parse_override
from nlp_lstm.errors import ConfigError

RECIPES = sorted((REPO_ROOT / "recipes").glob("*/*.toml"))


@pytest.fixture
def minimal(tmp_path: Path) -> Path:
    """A config file with one key; everything else takes its default."""
    path = tmp_path / "minimal.toml"
    path.write_text("[training]\nepochs = 1\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- recipes


def test_every_recipe_is_found() -> None:
    assert [f"{p.parent.name}/{p.name}" for p in RECIPES] == [
        "sentiment/sst2.toml", "sentiment/sst2_glove.toml", "sentiment/zh_reviews.toml",
        "tagging/conll2003_ner.toml", "tagging/conll2003_ner_glove.toml", "tagging/peoples_daily_ner.toml",
        "tagging/peoples_daily_pos.toml"]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_loads_with_every_value_it_sets(recipe: Path) -> None:
    config = load_config(recipe)
    raw = tomllib.loads(recipe.read_text(encoding="utf-8"))
    loaded = config.to_dict()
    for section, values in raw.items():
        if not isinstance(values, dict):  # the top-level `task`
            assert loaded[section] == values
            continue
        for key, value in values.items():
            assert loaded[section][key] == value, f"{recipe.name}: {section}.{key}"


def test_recipe_values() -> None:
    sst2 = load_config(REPO_ROOT / "recipes" / "sentiment" / "sst2.toml")
    assert (sst2.data.train, sst2.data.text_column, sst2.data.validation_fraction) == (
        "tsv:../shared/data/sst2/train.tsv", "sentence", 0.0)
    zh = load_config(REPO_ROOT / "recipes" / "sentiment" / "zh_reviews.toml")
    assert (zh.data.train, zh.data.validation_fraction, zh.data.test_fraction) == ("embedded:zh-reviews", 0.1, 0.1)
    assert zh.tokenizer.min_freq == 2


# ---------------------------------------------------------------- --set overrides


@pytest.mark.parametrize("override, section, key, expected", [
    ("training.epochs=3", "training", "epochs", 3),
    ("training.learning_rate=0.01", "training", "learning_rate", 0.01),
    ("training.learning_rate=1e-4", "training", "learning_rate", 1e-4),
    ("training.learning_rate=1", "training", "learning_rate", 1.0),  # an int where a float goes
    ("model.dropout=0", "model", "dropout", 0.0),
    ("model.bidirectional=false", "model", "bidirectional", False),
    ("tokenizer.lowercase=true", "tokenizer", "lowercase", True),
    ("model.pooling=mean", "model", "pooling", "mean"),  # a bare word is a string
    ('model.pooling="attention"', "model", "pooling", "attention"),  # so is a quoted one
    ("data.train=tsv:x.tsv", "data", "train", "tsv:x.tsv"),  # the colon stays in the value
    ("data.train=hub:glue:sst2@train", "data", "train", "hub:glue:sst2@train"),
    ("data.dev=tsv:a=b.tsv", "data", "dev", "tsv:a=b.tsv"),  # only the first '=' splits
    ("data.train=embedded:zh-reviews", "data", "train", "embedded:zh-reviews"),
    ("training.device=cuda:1", "training", "device", "cuda:1"),
    ("data.test=", "data", "test", ""),
    (" training.epochs = 4", "training", "epochs", 4),
])
def test_override(minimal: Path, override: str, section: str, key: str, expected: object) -> None:
    config = load_config(minimal, [override])
    value = getattr(getattr(config, section), key)
    assert value == expected and type(value) is type(expected)


def test_overrides_apply_in_order_over_the_file(minimal: Path) -> None:
    config = load_config(minimal, ["training.epochs=2", "model.hidden_size=16", "training.epochs=7"])
    assert config.training.epochs == 7  # the file said 1, the last --set wins
    assert config.model.hidden_size == 16
    assert config.model.embedding_dim == ModelConfig().embedding_dim


def test_override_of_a_recipe() -> None:
    recipe = REPO_ROOT / "recipes" / "sentiment" / "sst2.toml"
    config = load_config(recipe, ["data.train=tsv:train.tsv", "data.dev=tsv:dev.tsv", "training.epochs=1"])
    assert (config.data.train, config.data.dev, config.training.epochs) == ("tsv:train.tsv", "tsv:dev.tsv", 1)
    assert config.data.text_column == "sentence"  # the rest of the recipe stays


@pytest.mark.parametrize("override", ["training.epochs", "epochs=3", "=3", ""])
def test_malformed_override(minimal: Path, override: str) -> None:
    with pytest.raises(ConfigError, match=r"--set expects section\.key=value \(e\.g\. training\.epochs=3\), "
                                          rf"got {re.escape(repr(override))}"):
        load_config(minimal, [override])


def test_parse_override() -> None:
    assert parse_override("data.train=tsv:x.tsv") == ("data", "train", "tsv:x.tsv")
    assert parse_override("model.hidden_size=64") == ("model", "hidden_size", 64)


# ---------------------------------------------------------------- round trips


def test_default_config_round_trip(tmp_path: Path) -> None:
    assert Config.from_dict({}) == Config()
    assert Config.from_dict(Config().to_dict()) == Config()
    path = tmp_path / "default.toml"
    path.write_text(dump_config(Config()), encoding="utf-8")
    assert load_config(path) == Config()


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_round_trip(recipe: Path, tmp_path: Path) -> None:
    config = load_config(recipe, ["training.learning_rate=1e-05", "data.train=tsv:some dir/x.tsv"])
    path = tmp_path / "dumped.toml"
    path.write_text(dump_config(config), encoding="utf-8")
    assert load_config(path) == config


def test_round_trip_of_strings_that_need_escaping(tmp_path: Path) -> None:
    config = Config(
        data=DataConfig(train='tsv:C:\\data\\"quoted"\\train.tsv', dev="tsv:评论/开发集.tsv",
                        test="tsv:tab\there and\nnewline.tsv", text_column="text 😀", label_column="del\x7f",
                        tag_column=-3),
        training=TrainingConfig(learning_rate=3e-5, weight_decay=0.0, device="cuda:1", seed=3),
    )
    path = tmp_path / "odd.toml"
    path.write_text(dump_config(config), encoding="utf-8")
    assert load_config(path) == config


# ---------------------------------------------------------------- unknown sections and keys


def test_unknown_section_lists_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[trainer]\nepochs = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: unknown section \[trainer\]; "
                                          r"valid sections: data, tokenizer, model, training "
                                          r"\(and the top-level key 'task'\)$"):
        load_config(path)


def test_task_is_a_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "tagger.toml"
    path.write_text('task = "tagging"\n[data]\ntrain = "conll:x"\n', encoding="utf-8")
    config = load_config(path)
    assert config.task == "tagging"
    again = tmp_path / "again.toml"
    again.write_text(dump_config(config), encoding="utf-8")
    assert load_config(again) == config
    path.write_text('task = "parsing"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="The 'task' parameter must be one of classification, tagging. "
                                          "Got 'parsing' instead."):
        load_config(path)


def test_unknown_section_from_an_override(minimal: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[optim\]; valid sections: data, tokenizer, model, "
                                          r"training"):
        load_config(minimal, ["optim.learning_rate=0.1"])


def test_unknown_key_lists_the_valid_ones(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[training]\nepoch = 3\n", encoding="utf-8")
    valid = ", ".join(f.name for f in dataclasses.fields(TrainingConfig))
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: unknown key 'training\.epoch'; "
                                          rf"valid keys in \[training\]: {valid}$"):
        load_config(path)


def test_unknown_key_from_an_override(minimal: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'model\.hidden'; valid keys in \[model\]: embedding_dim, "
                                          r"hidden_size, num_layers, bidirectional, dropout, pooling"):
        load_config(minimal, ["model.hidden=64"])


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('model = "big"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[model\] must be a table of keys, got 'big'"):
        load_config(path)


# ---------------------------------------------------------------- bad values


@pytest.mark.parametrize("override, message", [
    ("training.epochs=0", "The 'training.epochs' parameter must be a positive int. Got 0 instead."),
    ("training.epochs=2.5", "The 'training.epochs' parameter must be a positive int. Got 2.5 instead."),
    ('training.epochs="3"', "The 'training.epochs' parameter must be a positive int. Got '3' instead."),
    ("training.epochs=true", "The 'training.epochs' parameter must be a positive int. Got True instead."),
    ("training.batch_size=-8", "The 'training.batch_size' parameter must be a positive int. Got -8 instead."),
    ("model.hidden_size=0", "The 'model.hidden_size' parameter must be a positive int. Got 0 instead."),
    ("model.embedding_dim=-1", "The 'model.embedding_dim' parameter must be a positive int. Got -1 instead."),
    ("model.num_layers=0", "The 'model.num_layers' parameter must be a positive int. Got 0 instead."),
    ("data.max_length=0", "The 'data.max_length' parameter must be a positive int. Got 0 instead."),
    ("data.num_proc=-1", "The 'data.num_proc' parameter must be an int >= 0 (0: one per CPU core). Got -1 instead."),
    ("tokenizer.vocab_size=2", "The 'tokenizer.vocab_size' parameter must be at least 3. Got 2 instead."),
    ("tokenizer.min_freq=0", "The 'tokenizer.min_freq' parameter must be a positive int. Got 0 instead."),
    ("training.learning_rate=0", "The 'training.learning_rate' parameter must be a float in (0, 10]. "
                                 "Got 0.0 instead."),
    ("training.learning_rate=-0.001", "The 'training.learning_rate' parameter must be a float in (0, 10]. "
                                      "Got -0.001 instead."),
    ("training.learning_rate=11", "The 'training.learning_rate' parameter must be a float in (0, 10]. "
                                  "Got 11.0 instead."),
    ("training.learning_rate=nan", "The 'training.learning_rate' parameter must be a float in (0, 10]. "
                                   "Got nan instead."),
    ("training.learning_rate=fast", "The 'training.learning_rate' parameter must be a float in (0, 10]. "
                                    "Got 'fast' instead."),
    ("training.learning_rate=true", "The 'training.learning_rate' parameter must be a float in (0, 10]. "
                                    "Got True instead."),
    ("training.weight_decay=-1", "The 'training.weight_decay' parameter must be a float >= 0. Got -1.0 instead."),
    ("training.weight_decay=inf", "The 'training.weight_decay' parameter must be a float >= 0. Got inf instead."),
    ("training.clip_grad_norm=false", "The 'training.clip_grad_norm' parameter must be a float >= 0. "
                                      "Got False instead."),
    ("training.patience=-1", "The 'training.patience' parameter must be an int >= 0. Got -1 instead."),
    ("training.patience=true", "The 'training.patience' parameter must be an int >= 0. Got True instead."),
    ("training.max_steps=1.5", "The 'training.max_steps' parameter must be an int >= 0. Got 1.5 instead."),
    ("training.seed=1.5", "The 'training.seed' parameter must be an int. Got 1.5 instead."),
    ("training.seed=false", "The 'training.seed' parameter must be an int. Got False instead."),
    ("data.split_seed=x", "The 'data.split_seed' parameter must be an int >= 0. Got 'x' instead."),
    ("data.split_seed=-1", "The 'data.split_seed' parameter must be an int >= 0. Got -1 instead."),
    ("model.pooling=sum", "The 'model.pooling' parameter must be one of last, max, mean, max_mean, attention. "
                          "Got 'sum' instead."),
    ("model.dropout=1", "The 'model.dropout' parameter must be a float in [0, 1). Got 1.0 instead."),
    ("model.dropout=-0.1", "The 'model.dropout' parameter must be a float in [0, 1). Got -0.1 instead."),
    ("model.bidirectional=yes", "The 'model.bidirectional' parameter must be true or false. Got 'yes' instead."),
    ("tokenizer.lowercase=1", "The 'tokenizer.lowercase' parameter must be true or false. Got 1 instead."),
    ("tokenizer.kind=sentencepiece", "The 'tokenizer.kind' parameter must be one of word, char, bpe, wordpiece. "
                                     "Got 'sentencepiece' instead."),
    ("training.metric=f2", "The 'training.metric' parameter must be one of auto, accuracy, macro_f1, f1, neg_mse. "
                           "Got 'f2' instead."),
    ("training.device=tpu", "The 'training.device' parameter must be auto, cpu, cuda or cuda:N. "
                            "Got 'tpu' instead."),
    ("training.device=0", "The 'training.device' parameter must be auto, cpu, cuda or cuda:N. Got 0 instead."),
    ("data.dev=5", "The 'data.dev' parameter must be a data spec string or \"\". Got 5 instead."),
    ("data.text_column=1", "The 'data.text_column' parameter must be a non-empty string. Got 1 instead."),
    ("data.label_column=", "The 'data.label_column' parameter must be a non-empty string. Got '' instead."),
    ("data.validation_fraction=1", "The 'data.validation_fraction' parameter must be a float in [0, 1). "
                                   "Got 1.0 instead."),
    ("data.dev_fraction=0.2", "unknown key 'data.dev_fraction'; it is called 'data.validation_fraction' now"),
    ("data.test_fraction=0.95", "The 'data.validation_fraction + data.test_fraction' parameter must be below 1."),
])
def test_bad_value_is_named(minimal: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"{minimal}: {message}")):
        load_config(minimal, [override])


def test_bad_value_in_the_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[model]\nhidden_size = -64\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: The 'model.hidden_size' parameter must be a positive "
                                                    f"int. Got -64 instead.")):
        load_config(path)


def test_dataclasses_validate_on_their_own() -> None:
    with pytest.raises(ConfigError, match=re.escape("The 'model.pooling' parameter must be one of last, max, mean, "
                                                    "max_mean, attention. Got 'avg' instead.")):
        ModelConfig(pooling="avg")
    with pytest.raises(ValueError):  # ConfigError is a ValueError, as scikit-learn raises
        TrainingConfig(batch_size=0)


# ---------------------------------------------------------------- unreadable files


def test_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[training]\nepochs = 3\nlearning_rate = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: not valid TOML: .*line 3"):
        load_config(path)


def test_unclosed_section_header(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[training\nepochs = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: not valid TOML: .*line 1"):
        load_config(path)


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('[data]\ntext_column = "résumé"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: not valid UTF-8 at byte 23 \(line 2\): "
                                          r"b'\\xe9' \(invalid continuation byte\); TOML files are UTF-8"):
        load_config(path)


def test_missing_config_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=rf"^config file not found: {re.escape(str(path))}$"):
        load_config(path)


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=rf"config file not found: {re.escape(str(tmp_path))}"):
        load_config(tmp_path)
