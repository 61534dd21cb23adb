"""Run configuration: small dataclasses loaded from TOML, with `section.key=value` overrides."""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .io import decode_utf8

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOKENIZER_KINDS = ("word", "char", "bpe", "wordpiece")
POOLINGS = ("last", "max", "mean", "max_mean", "attention")
# auto: f1 for taggers of entity tags, else accuracy; neg_mse: SequenceRegressor's dev mean squared error, negated
METRICS = ("auto", "accuracy", "macro_f1", "f1", "neg_mse")
TASKS = ("classification", "tagging")
TAG_SCHEMES = ("bio", "bioes")
UNKNOWN_INITS = ("uniform", "normal", "zeros")
LR_SCHEDULES = ("constant", "plateau", "linear")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Widths above this are typos (an extra zero or three): an LSTM of hidden_size 100,000 would need 160 GB for
# its weights, and torch's allocator fails deep inside nn.LSTM. Real models use 50 to 1,024.
MAX_WIDTH = 16384
MAX_SEED = 2**32 - 1  # numpy's legacy seeding and scikit-learn's random_state take [0, 2**32 - 1]


def _check(condition: bool, name: str, expected: str, value: Any) -> None:
    if not condition:
        raise ConfigError(f"The '{name}' parameter must be {expected}. Got {value!r} instead.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # TOML `true` is not a number


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive_int(name: str, value: Any) -> None:
    _check(_is_int(value) and value > 0, name, "a positive int", value)


def _width(name: str, value: Any, minimum: int = 1) -> None:
    """A layer size: an int from `minimum` (1, or 0 where 0 turns the part off) to MAX_WIDTH."""
    expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    _check(_is_int(value) and value >= minimum, name, expected, value)
    _check(value <= MAX_WIDTH, name, f"at most {MAX_WIDTH:,} (larger layers need tens of GB)", value)


def _seed(name: str, value: Any, expected: str) -> None:
    _check(_is_int(value) and value >= 0, name, expected, value)
    _check(value <= MAX_SEED, name, f"at most 2**32 - 1 = {MAX_SEED}", value)


def _fraction(name: str, value: Any) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1
    _check(ok, name, "a float in [0, 1)", value)


@dataclass
class DataConfig:
    """Where the examples come from and how they are split and truncated."""

    train: str = ""  # data spec, e.g. csv:reviews.csv (recipes/sentiment/zh_reviews.toml: embedded:zh-reviews)
    dev: str = ""  # data spec; "" carves validation_fraction out of train
    test: str = ""  # data spec; "" carves test_fraction out of train (0 means no test set)
    text_column: str = "text"  # column (csv, tsv, parquet) or field (jsonl) of the texts
    label_column: str = "label"  # column or field of the labels
    # share of the training data held out (stratified, seeded by split_seed) as dev for early stopping and the
    # best epoch when `dev` is "" (also for estimators fitted without eval_set); 0 trains on all of it for `epochs`
    validation_fraction: float = 0.1
    test_fraction: float = 0.0  # share of the train source held out for test when `test` is ""
    split_seed: int = 0  # seed of the stratified split, independent of the training seed
    max_length: int = 256  # tokens kept per text; longer texts are truncated (classification only)
    token_column: int = 0  # conll: column of the word (tagging)
    tag_column: int = -1  # conll: column of the tag, -1 the last (tagging)
    tag_field: str = "upos"  # conllu: upos | xpos (tagging)
    num_proc: int = 0  # processes that tokenize large training data the first time; 0: one per CPU core

    def __post_init__(self) -> None:
        _check(isinstance(self.train, str), "data.train", "a data spec string", self.train)
        for name in ("dev", "test"):
            _check(isinstance(getattr(self, name), str), f"data.{name}", 'a data spec string or ""',
                   getattr(self, name))
        for name in ("text_column", "label_column"):
            value = getattr(self, name)
            _check(isinstance(value, str) and value != "", f"data.{name}", "a non-empty string", value)
        _fraction("data.validation_fraction", self.validation_fraction)
        _fraction("data.test_fraction", self.test_fraction)
        _check(self.validation_fraction + self.test_fraction < 1, "data.validation_fraction + data.test_fraction",
               "below 1", self.validation_fraction + self.test_fraction)
        _seed("data.split_seed", self.split_seed, "an int >= 0")
        _positive_int("data.max_length", self.max_length)
        _check(_is_int(self.token_column), "data.token_column", "an int", self.token_column)
        _check(_is_int(self.tag_column), "data.tag_column", "an int", self.tag_column)
        _check(self.tag_field in ("upos", "xpos"), "data.tag_field", "upos or xpos", self.tag_field)
        _check(_is_int(self.num_proc) and self.num_proc >= 0, "data.num_proc", "an int >= 0 (0: one per CPU core)",
               self.num_proc)


@dataclass
class TokenizerConfig:
    """How text becomes tokens and ids."""

    kind: str = "word"  # word | char | bpe | wordpiece
    lowercase: bool = True  # lowercase text before the vocabulary lookup
    vocab_size: int = 50000  # upper bound, specials included
    min_freq: int = 1  # tokens seen fewer times in train map to <unk>
    digits_to_zero: bool = False  # taggers: every digit becomes 0 before the word lookup
    split_cjk: bool = True  # each CJK character its own token; false lets bpe / wordpiece learn Chinese words

    def __post_init__(self) -> None:
        _check(isinstance(self.split_cjk, bool), "tokenizer.split_cjk", "true or false", self.split_cjk)
        _check(isinstance(self.digits_to_zero, bool), "tokenizer.digits_to_zero", "true or false",
               self.digits_to_zero)
        _check(self.kind in TOKENIZER_KINDS, "tokenizer.kind", f"one of {', '.join(TOKENIZER_KINDS)}", self.kind)
        _check(isinstance(self.lowercase, bool), "tokenizer.lowercase", "true or false", self.lowercase)
        _positive_int("tokenizer.vocab_size", self.vocab_size)
        _check(self.vocab_size >= 3, "tokenizer.vocab_size", "at least 3", self.vocab_size)
        _positive_int("tokenizer.min_freq", self.min_freq)


@dataclass
class ModelConfig:
    """Sizes and parts of the embedding + BiLSTM classifier or tagger."""

    embedding_dim: int = 128  # size of each word vector
    hidden_size: int = 128  # LSTM units per direction and layer
    num_layers: int = 1  # stacked LSTM layers
    bidirectional: bool = True  # also read each text backwards
    dropout: float = 0.3  # on embeddings, between LSTM layers and before the output layer
    pooling: str = "max"  # classifier: last | max | mean | max_mean (both, side by side) | attention
    char_embedding_dim: int = 0  # tagger: character CNN features per word; 0 turns them off
    char_filters: int = 50  # tagger: character CNN output size
    casing_embedding_dim: int = 0  # tagger: casing-class embedding per word; 0 turns it off
    crf: bool = False  # tagger: CRF output layer with Viterbi decoding
    tag_scheme: str = "bioes"  # tagger on entity tags: the scheme it predicts in (bio | bioes)
    embedding_dropout: float = 0.0  # share of token positions whose whole word vector is zeroed in training
    recurrent_dropout: float = 0.0  # DropConnect on the LSTMs' hidden-to-hidden weights in training
    # glove-6b-50d | text:PATH | word2vec:PATH | npy:PATH | a path | "" (random) | auto: glove-6b-50d (and its
    # embedding_dim, 50) where it is installed, embedding_dim is left at its default (or is 50) and most frequent
    # training words have a vector, else random
    pretrained_vectors: str = "auto"
    freeze_embeddings: bool = False  # keep the word vectors fixed during training
    # add up to this many of the most frequent pretrained words that training lacks (none without pretrained vectors)
    extend_vocab: int = 0
    unknown_init: str = "uniform"  # rows of words without a pretrained vector: uniform | normal | zeros
    lowercase_fallback: bool = True  # look a word up lowercased when its own form has no vector
    lstm: str = "fused"  # fused: torch.nn.LSTM's kernel (fast); explicit: the gate equations step by step

    def __post_init__(self) -> None:
        _fraction("model.embedding_dropout", self.embedding_dropout)
        _fraction("model.recurrent_dropout", self.recurrent_dropout)
        _check(isinstance(self.pretrained_vectors, str), "model.pretrained_vectors",
               'a vectors spec (glove-6b-50d, text:PATH, word2vec:PATH, npy:PATH), auto or ""', self.pretrained_vectors)
        for name in ("freeze_embeddings", "lowercase_fallback"):
            _check(isinstance(getattr(self, name), bool), f"model.{name}", "true or false", getattr(self, name))
        _check(_is_int(self.extend_vocab) and self.extend_vocab >= 0, "model.extend_vocab", "an int >= 0",
               self.extend_vocab)
        _check(self.unknown_init in UNKNOWN_INITS, "model.unknown_init", f"one of {', '.join(UNKNOWN_INITS)}",
               self.unknown_init)
        if not self.pretrained_vectors:
            _check(not self.freeze_embeddings, "model.freeze_embeddings", "false without model.pretrained_vectors",
                   self.freeze_embeddings)
        for name in ("char_embedding_dim", "casing_embedding_dim"):
            _width(f"model.{name}", getattr(self, name), minimum=0)
        _width("model.char_filters", self.char_filters)
        _check(isinstance(self.crf, bool), "model.crf", "true or false", self.crf)
        _check(self.tag_scheme in TAG_SCHEMES, "model.tag_scheme", f"one of {', '.join(TAG_SCHEMES)}",
               self.tag_scheme)
        _width("model.embedding_dim", self.embedding_dim)
        _width("model.hidden_size", self.hidden_size)
        _positive_int("model.num_layers", self.num_layers)
        _check(self.num_layers <= 64, "model.num_layers", "at most 64", self.num_layers)
        _check(isinstance(self.bidirectional, bool), "model.bidirectional", "true or false", self.bidirectional)
        _fraction("model.dropout", self.dropout)
        _check(self.pooling in POOLINGS, "model.pooling", f"one of {', '.join(POOLINGS)}", self.pooling)
        _check(self.lstm in ("fused", "explicit"), "model.lstm", "one of fused, explicit", self.lstm)


@dataclass
class TrainingConfig:
    """Optimisation, early stopping and reproducibility."""

    epochs: int = 5  # passes over the training data, at most
    batch_size: int = 64  # examples per optimizer step
    learning_rate: float = 2e-3  # AdamW step size
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    clip_grad_norm: float = 1.0  # max gradient norm; 0 turns clipping off
    # > 0: each batch holds as many examples of similar length as fit in this many padded tokens (rows times the
    # longest row) instead of batch_size examples, so short texts make batches as large as long ones
    # (docs/results.md#batches-by-tokens-sst-2)
    batch_tokens: int = 0
    patience: int = 2  # epochs without dev improvement before stopping; 0 never stops early
    # dev metric for early stopping: auto (f1 for taggers of entity tags, else accuracy) | accuracy | macro_f1 |
    # f1 (entity F1, taggers) | neg_mse (SequenceRegressor)
    metric: str = "auto"
    seed: int = 0  # seeds initialisation, dropout and batch order: the same seed gives the same model
    # after dev has chosen the weights to keep, train again from scratch on train + dev for as many epochs as they
    # took and keep that model (dev scores stay those of the dev-chosen model; a test split scores the refit one)
    refit: bool = False
    # members of a seed ensemble (seeds seed, seed+1, ...), trained alike and saved as one model that averages
    # their probabilities (taggers: their emission and CRF transition scores); 1 is a single model
    n_ensemble: int = 1
    # keep the mean of the weights of the last N epochs (checkpoint averaging; at most half the epochs trained,
    # rounded up) where dev scores it at least as well as the best epoch (without dev: always); 1 keeps the best
    # epoch's weights (docs/results.md#checkpoint-averaging)
    average_last: int = 3
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    max_steps: int = 0  # stop after this many optimizer steps in total (0: no limit); for smoke runs
    lr_schedule: str = "constant"  # constant | plateau (times lr_decay after an epoch without dev gain) | linear
    lr_decay: float = 0.5  # plateau: the factor the learning rate is multiplied by
    class_weights: Any = ""  # "" (none) | "balanced" (inverse training frequency) | a table {label = weight}
    unk_replace: float = 0.0  # chance that a word seen once in training becomes <unk> in a training batch
    # autocast of the training forward pass: auto (bf16 on a CPU with AVX512-BF16 or AMX, else fp32) | fp32 | bf16
    # (CUDA, or a CPU with AVX512) | fp16 (CUDA only)
    precision: str = "auto"
    checkpoint_every: int = 0  # also write checkpoints/last.safetensors every this many steps (0: at epoch ends)
    # nlp-lstm train: score baselines beside the model on dev and test (majority class and TF-IDF + logistic
    # regression for classifiers, most frequent tag per word for taggers); the TF-IDF fit costs seconds per 10,000 texts
    baselines: bool = True
    # nlp-lstm train: draw the report's plots (seconds a run: docs/performance.md#the-reports-plots); false writes
    # the report without them, and `nlp-lstm report RUN` draws them later
    plots: bool = True
    # CPU: glibc keeps freed buffers for the next step (no page faults: faster steps), but its heap can grow
    # where buffers of many sizes come and go (nlp_lstm/training/memory.py; numbers in docs/performance.md)
    keep_freed_memory: bool = False

    def __post_init__(self) -> None:
        _check(self.lr_schedule in LR_SCHEDULES, "training.lr_schedule", f"one of {', '.join(LR_SCHEDULES)}",
               self.lr_schedule)
        _check(_is_real(self.lr_decay) and 0 < self.lr_decay < 1, "training.lr_decay", "a float in (0, 1)",
               self.lr_decay)
        _fraction("training.unk_replace", self.unk_replace)
        _check(self.precision in PRECISIONS, "training.precision", f"one of {', '.join(PRECISIONS)}", self.precision)
        weights = self.class_weights
        table_ok = isinstance(weights, dict) and weights and all(
            isinstance(k, str) and _is_real(v) and v > 0 for k, v in weights.items())
        _check(weights in ("", "balanced") or bool(table_ok), "training.class_weights",
               '"", "balanced" or a table of label = positive weight', weights)
        _positive_int("training.epochs", self.epochs)
        _positive_int("training.batch_size", self.batch_size)
        _check(_is_int(self.batch_tokens) and self.batch_tokens >= 0, "training.batch_tokens",
               "an int >= 0 (0: batches of batch_size examples)", self.batch_tokens)
        lr = self.learning_rate
        _check(_is_real(lr) and 0 < lr <= 10, "training.learning_rate", "a float in (0, 10]", lr)
        _check(_is_real(self.weight_decay) and self.weight_decay >= 0,
               "training.weight_decay", "a float >= 0", self.weight_decay)
        _check(_is_real(self.clip_grad_norm) and self.clip_grad_norm >= 0,
               "training.clip_grad_norm", "a float >= 0", self.clip_grad_norm)
        _check(_is_int(self.patience) and self.patience >= 0, "training.patience", "an int >= 0",
               self.patience)
        _check(self.metric in METRICS, "training.metric", f"one of {', '.join(METRICS)}", self.metric)
        _check(_is_int(self.n_ensemble) and 1 <= self.n_ensemble <= 100, "training.n_ensemble",
               "an int in [1, 100]", self.n_ensemble)
        _check(_is_int(self.average_last) and 1 <= self.average_last <= 100, "training.average_last",
               "an int in [1, 100]", self.average_last)
        _check(_is_int(self.seed), "training.seed", "an int", self.seed)
        _check(0 <= self.seed <= MAX_SEED, "training.seed", f"an int in [0, 2**32 - 1 = {MAX_SEED}]", self.seed)
        ok_device = isinstance(self.device, str) and (self.device in ("auto", "cpu", "cuda")
                                                     or self.device.startswith("cuda:"))
        _check(ok_device, "training.device", "auto, cpu, cuda or cuda:N", self.device)
        _check(_is_int(self.max_steps) and self.max_steps >= 0, "training.max_steps", "an int >= 0",
               self.max_steps)
        _check(_is_int(self.checkpoint_every) and self.checkpoint_every >= 0, "training.checkpoint_every",
               "an int >= 0", self.checkpoint_every)
        _check(isinstance(self.keep_freed_memory, bool), "training.keep_freed_memory", "true or false",
               self.keep_freed_memory)
        _check(isinstance(self.baselines, bool), "training.baselines", "true or false", self.baselines)
        _check(isinstance(self.plots, bool), "training.plots", "true or false", self.plots)
        _check(isinstance(self.refit, bool), "training.refit", "true or false", self.refit)


# Where a tagger's default differs from the field's: Ma & Hovy's BiLSTM-CNN-CRF. `Config.from_dict` fills these
# in for task = "tagging" when the config leaves the key out; the estimators resolve through it too.
TAGGING_DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {"embedding_dim": 100, "dropout": 0.5, "char_embedding_dim": 30, "crf": True, "extend_vocab": 100000},
    "training": {"epochs": 10, "batch_size": 32, "weight_decay": 0.0, "clip_grad_norm": 5.0, "patience": 3},
}

# Keys of earlier versions -> their names now: a user's TOML gets a hint, a stored run or model directory is read
# through `renamed_keys`.
RENAMED_KEYS: dict[str, str] = {"data.dev_fraction": "data.validation_fraction"}


def renamed_keys(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored config's nested dicts with the keys of earlier versions under their names now."""
    raw = {name: dict(values) if isinstance(values, dict) else values for name, values in raw.items()}
    for old, new in RENAMED_KEYS.items():
        (section, key), (_, new_key) = old.split("."), new.split(".")
        values = raw.get(section)
        if isinstance(values, dict) and key in values:
            values.setdefault(new_key, values.pop(key))
    return raw


# Keys that only one task reads; the other task's estimator does not take them.
TASK_KEYS: dict[str, frozenset[str]] = {
    "classification": frozenset({"data.text_column", "data.label_column", "data.max_length", "tokenizer.kind",
                                 "tokenizer.split_cjk", "model.pooling"}),
    "tagging": frozenset({"data.token_column", "data.tag_column", "data.tag_field", "tokenizer.digits_to_zero",
                          "model.char_embedding_dim", "model.char_filters", "model.casing_embedding_dim",
                          "model.crf", "model.tag_scheme"}),
}


@dataclass
class Config:
    """A whole training run."""

    task: str = "classification"  # classification (one label per text) | tagging (one tag per word)
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        _check(self.task in TASKS, "task", f"one of {', '.join(TASKS)}", self.task)

    def to_dict(self) -> dict[str, Any]:
        """The config as nested plain dicts (`task` at the top, then one dict per section)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> Config:
        """Build a config from nested dicts, naming any unknown section or key."""
        section_types = {f.name: f.default_factory for f in dataclasses.fields(cls)  # type: ignore[misc]
                         if f.name != "task"}
        sections = list(section_types)
        unknown = sorted(set(raw) - set(sections) - {"task"})
        if unknown:
            raise ConfigError(f"{source}: unknown section [{unknown[0]}]; valid sections: {', '.join(sections)} "
                              f"(and the top-level key 'task')")
        built: dict[str, Any] = {}
        if "task" in raw:
            try:
                built["task"] = cls(task=raw["task"]).task
            except ConfigError as err:
                raise ConfigError(f"{source}: {err}") from None
        task_defaults = TAGGING_DEFAULTS if built.get("task") == "tagging" else {}
        for name, factory in section_types.items():
            values = raw.get(name, {})
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: [{name}] must be a table of keys, got {values!r}")
            section_cls = type(factory())
            valid = [f.name for f in dataclasses.fields(section_cls)]
            for key in values:
                if key not in valid:
                    new = RENAMED_KEYS.get(f"{name}.{key}")
                    hint = f"; it is called '{new}' now" if new else ""
                    raise ConfigError(f"{source}: unknown key '{name}.{key}'{hint}; valid keys in [{name}]: "
                                      f"{', '.join(valid)}")
            values = {**task_defaults.get(name, {}), **values}
            try:
                built[name] = section_cls(**_coerce(section_cls, values))
            except ConfigError as err:
                raise ConfigError(f"{source}: {err}") from None
        return cls(**built)


def _coerce(section_cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Let an int stand where a float is expected (`learning_rate = 1`)."""
    floats = {f.name for f in dataclasses.fields(section_cls) if f.type == "float"}
    return {k: float(v) if k in floats and isinstance(v, int) and not isinstance(v, bool) else v
            for k, v in values.items()}


def parse_override(text: str) -> tuple[str, str, Any]:
    """Split `section.key=value` into its parts; the value is read as TOML, else as a plain string."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"--set expects section.key=value (e.g. training.epochs=3), got {text!r}")
    dotted, raw_value = text.split("=", 1)
    section, key = dotted.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw_value}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw_value
    return section, key, value


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a TOML config file and apply `section.key=value` overrides."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = decode_utf8(path.read_bytes(), str(path), ConfigError, "; TOML files are UTF-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    return config_with_overrides(raw, overrides, source=str(path))


def config_with_overrides(raw: dict[str, Any], overrides: list[str] | tuple[str, ...] = (),
                          source: str = "config") -> Config:
    """A config from nested dicts with `section.key=value` overrides applied on top."""
    for text in overrides:
        section, key, value = parse_override(text)
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ConfigError(f"--set {text}: [{section}] is not a table")
        raw[section][key] = value
    return Config.from_dict(raw, source=source)


# A TOML basic string holds any character but these: quote, backslash and control characters except tab.
_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\",
                 **{chr(c): f"\\u{c:04x}" for c in [*range(0x20), 0x7F] if chr(c) != "\t"}}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_TOML_ESCAPES.get(ch, ch) for ch in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table, e.g. class_weights = { neg = 2.0, pos = 1.0 }
        return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_config(config: Config) -> str:
    """The config as TOML text that `load_config` reads back to an equal config."""
    raw = config.to_dict()
    lines = [f"task = {toml_value(raw.pop('task'))}", ""]
    for section, values in raw.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


@dataclass
class ServeConfig:
    """How `nlp-lstm serve` listens, batches and bounds its work."""

    host: str = "127.0.0.1"
    port: int = 8000
    max_batch_size: int = 64  # texts per model call
    max_wait_ms: float = 0.0  # how long an idle model waits for more requests; 0: texts that arrive while a batch
    # runs form the next one (docs/performance.md#serving measures 0, 2 and 5)
    max_queue: int = 4096  # texts waiting for a batch; past it a request gets 503 and Retry-After
    max_texts: int = 256  # texts (or sentences) per request
    max_text_length: int = 20_000  # characters per text, or per sentence's tokens together
    max_body_bytes: int = 4 * 1024 * 1024
    device: str = "auto"
    # torch CPU threads; 0: one fewer than the cores (at least 1), which leaves a core to the event loop that reads
    # requests while a batch runs (docs/performance.md#serving)
    threads: int = 0
    graceful_timeout: float = 30.0  # seconds a stopping server waits for accepted requests
    access_log: bool = False

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_queue", "max_texts", "max_text_length", "max_body_bytes"):
            value = getattr(self, name)
            _check(_is_int(value) and value >= 1, name, "an int >= 1", value)
        _check(_is_int(self.port) and 1 <= self.port <= 65535, "port", "a port number, 1 to 65535", self.port)
        _check(_is_int(self.threads) and self.threads >= 0, "threads", "an int >= 0 (0: one fewer than the cores)",
               self.threads)
        _check(self.max_wait_ms >= 0, "max_wait_ms", "a number of milliseconds >= 0", self.max_wait_ms)
        _check(self.graceful_timeout >= 0, "graceful_timeout", "a number of seconds >= 0", self.graceful_timeout)
