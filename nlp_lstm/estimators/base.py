"""What both text estimators share: their parameters are the config's keys, one name per setting.

`TextClassifier` and `SequenceTagger` take every key of the config sections that their task reads, flattened
(`hidden_size` is model.hidden_size, `seed` is training.seed), with the config's defaults for that task; the
signature is made from the dataclasses, so a new config field is a new estimator parameter without more code.
`get_config()` gives the validated `Config`, `from_config()` goes the other way, so a recipe runs from Python.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from sklearn.base import BaseEstimator

from ..config import TASK_KEYS, Config, load_config, renamed_keys
from ..config_docs import field_docs
from ..device import precision_note, resolve_device
from ..errors import ConfigError, ModelDirError
from ..model_dir import model_format
from ..models.ensemble import ensemble
from ..models.pretrained import format_coverage
from ..runs import ensemble_record, member_configs
from ..tasks import Prepared, prepare, prepare_refit
from ..training.trainer import Trainer

SECTIONS = ("data", "tokenizer", "model", "training")
ESTIMATOR_ONLY = {"verbose": 1}  # not a config key: how much fit prints (Keras's convention: 0 nothing)
# Names of earlier versions (and scikit-learn habits), for a helpful error and for model directories that
# stored estimator parameters by those names.
RENAMED = {"random_state": "seed", "class_weight": "class_weights", "tokenizer": "kind"}


def config_keys(task: str) -> dict[str, tuple[str, Any]]:
    """Flat parameter name -> (config section, default) of every key the task reads."""
    other = set().union(*(keys for name, keys in TASK_KEYS.items() if name != task))
    defaults = Config.from_dict({"task": task})
    keys: dict[str, tuple[str, Any]] = {}
    for section in SECTIONS:
        for f in dataclasses.fields(getattr(defaults, section)):
            if f"{section}.{f.name}" in other:
                continue
            assert f.name not in keys, f"config key {f.name!r} occurs in two sections"
            keys[f.name] = (section, getattr(getattr(defaults, section), f.name))
    return keys


def parameters_doc(keys: dict[str, tuple[str, Any]]) -> str:
    """A numpydoc Parameters section: each parameter's type, default, meaning and TOML key."""
    docs = {section: field_docs(type(getattr(Config(), section))) for section in SECTIONS}
    lines = ["    Parameters", "    ----------"]
    for name, (section, default) in keys.items():
        lines += [f"    {name} : {type(default).__name__}, default={default!r}",
                  f"        {docs[section].get(name) or name}. TOML: [{section}] {name}."]
    lines += ["    verbose : int, default=1",
              "        1: while fitting, say what it trains on and print one line per epoch (and a progress bar where "
              "stderr is a terminal); 0: print nothing. Not a config key."]
    return "\n".join(lines) + "\n"


def _make_init(cls: type, defaults: dict[str, Any]) -> Any:
    """An __init__ that stores the parameters (scikit-learn's rule), with a signature scikit-learn can read."""

    def __init__(self: Any, **params: Any) -> None:
        for name in params:
            if name not in defaults:
                hint = f"; did you mean {RENAMED[name]!r}?" if name in RENAMED else ""
                raise TypeError(f"{cls.__name__}() got an unexpected parameter {name!r}{hint}")
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=value) for name, value in defaults.items()])
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    return __init__


def _printing(verbose: int) -> contextlib.AbstractContextManager[Any]:
    """Output as it is with `verbose`, else none: standard output goes nowhere."""
    return contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO())


class ConfigEstimator(BaseEstimator):
    """Base of the text estimators: parameters from the config, `get_config`, `from_config`, the shared fit."""

    task: ClassVar[str]
    _keys: ClassVar[dict[str, tuple[str, Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._keys = config_keys(cls.task)
        cls.__init__ = _make_init(cls, {name: default for name, (_, default) in cls._keys.items()} | ESTIMATOR_ONLY)
        cls.__doc__ = (cls.__doc__ or "").rstrip() + "\n\n" + parameters_doc(cls._keys)

    def get_config(self) -> Config:
        """The parameters as a validated `Config` (what `nlp-lstm train` would run); errors name the parameter."""
        raw: dict[str, Any] = {"task": self.task}
        for name, (section, _) in self._keys.items():
            raw.setdefault(section, {})[name] = _config_value(getattr(self, name))
        try:
            return Config.from_dict(raw, source=type(self).__name__)
        except ConfigError as err:  # the estimator's own parameter names, not the TOML ones
            raise ConfigError(re.sub(r"'(?:data|tokenizer|model|training)\.(\w+)'", r"'\1'", str(err))) from None

    @classmethod
    def from_config(cls, config: Config | str | Path, overrides: Sequence[str] = ()) -> ConfigEstimator:
        """An estimator with the settings of a Config or a TOML file (with `section.key=value` overrides)."""
        source = "config" if isinstance(config, Config) else str(config)
        config = config if isinstance(config, Config) else load_config(config, overrides)
        if config.task != cls.task:
            raise ConfigError(f"{source}: task = {config.task!r}; {cls.__name__} trains {cls.task} models")
        defaults = Config.from_dict({"task": cls.task})
        for key in sorted(set().union(*TASK_KEYS.values()) - TASK_KEYS[cls.task]):
            section, name = key.split(".")
            value = getattr(getattr(config, section), name)
            if value != getattr(getattr(defaults, section), name):
                raise ConfigError(f"{source}: {key} = {value!r} is not read by {cls.task}; {cls.__name__} does "
                                  f"not take it (leave it out)")
        return cls(**{name: getattr(getattr(config, section), name) for name, (section, _) in cls._keys.items()})

    def _fit(self, splits: dict[str, Any] | None, labels: Sequence[str] | None = None) -> Prepared:
        """Prepare (reading config.data when `splits` is None), train with early stopping on "dev" if there is one;
        an ensemble trains its members one after another and becomes one model."""
        config = self.get_config()
        device = resolve_device(config.training.device)
        configs = member_configs(config)
        models, self.history_ = [], []
        for k, member in enumerate(configs):
            with _printing(self.verbose):  # prepare's notes (truncated texts, ...) count as output too
                prepared = prepare(member, splits, labels, cache_vectors=True)
            if self.verbose and k == 0:
                print(self._fit_line(prepared, config, device), flush=True)
            if self.verbose and len(configs) > 1:
                print(f"member {k + 1} of {len(configs)} (seed {member.training.seed})", flush=True)
            trainer = Trainer(prepared.model, prepared.training, device, prepared.task, progress=bool(self.verbose),
                              verbose=bool(self.verbose))
            result = trainer.fit(prepared.encoded["train"], prepared.encoded.get("dev"))
            self.history_ += [{**row, "member": k} for row in result.history] if len(configs) > 1 else result.history
            if member.training.refit and "dev" in prepared.encoded:
                with _printing(self.verbose):
                    prepared = prepare_refit(member, prepared, result.kept_epochs, len(result.averaged_epochs) or 1,
                                             cache_vectors=True)
                if self.verbose:
                    print(result.refit_note(len(prepared.splits["train"])), flush=True)
                Trainer(prepared.model, prepared.training, device, prepared.task, progress=bool(self.verbose),
                        verbose=bool(self.verbose)).fit(prepared.encoded["train"], None)
            models.append(prepared.model.eval())
        if len(configs) > 1:
            prepared.model = prepared.saved.model = ensemble(models).eval()
            prepared.saved.config["ensemble"] = ensemble_record(config)
            prepared.saved.config["run_config"] = config.to_dict()
        self.config_ = config
        self.device_ = device
        self.pretrained_ = prepared.data_notes.get("pretrained")
        self.vocab_ = prepared.saved.tokenizer.vocab
        return prepared


    def _fit_line(self, prepared: Prepared, config: Config, device: torch.device) -> str:
        """What fit trains on, where, in which precision, and how it chooses the epoch, in one line; then the
        pretrained vectors' lines, where it uses them."""
        sizes = ", ".join(f"{split} {n:,}" for split, n in prepared.sizes.items())
        held = prepared.data_notes.get("validation")
        if held and "not_carved" in held:
            dev = (f"no dev set could be held out ({held['not_carved']}), so all {config.training.epochs} epochs "
                   f"run and the last one is kept")
        elif held:
            dev = (f"dev is {held['fraction']:.0%} of the training data, held out (split_seed "
                   f"{held['split_seed']}) to choose the best epoch; validation_fraction=0 trains on all of it")
        elif "dev" in prepared.sizes:
            dev = "the best epoch on eval_set is kept"
        else:
            dev = f"no dev data: all {config.training.epochs} epochs run and the last one is kept"
        where = f"{device}, {precision_note(config.training.precision, device)}"
        lines = [f"{type(self).__name__}.fit: {sizes} | {prepared.summary} | {where} | {dev}"]
        # the vectors, as `nlp-lstm train` prints them: "auto"'s choice, then their coverage and added words
        if choice := prepared.data_notes.get("vectors_choice"):
            lines.append(choice)
        if pretrained := prepared.data_notes.get("pretrained"):
            lines.append(format_coverage(pretrained))
        return "\n".join(lines)


def _config_value(value: Any) -> Any:
    """scikit-learn habits accepted where the config has one spelling: class weights None or keyed by ints."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return {str(label): weight for label, weight in value.items()}
    return value


def estimator_params(saved_config: dict[str, Any], task: str) -> dict[str, Any]:
    """The parameters a model directory was trained with: its whole run config, or (older directories) the
    estimator parameters it stored, renamed to today's names."""
    if "run_config" in saved_config:
        config = Config.from_dict(renamed_keys(saved_config["run_config"]), source="config.json run_config")
        keys = config_keys(task)
        return {name: getattr(getattr(config, section), name) for name, (section, _) in keys.items()}
    params = saved_config.get("api", {}).get("params", {})
    renamed = {RENAMED.get(name, name): value for name, value in params.items()}
    return {name: value for name, value in renamed.items() if name in config_keys(task)}


def check_loadable(path: str | Path, device: str) -> Any:
    """The device to load a PyTorch model directory on; exported int8 and ONNX directories are for predicting."""
    found = model_format(path)
    if found != "pytorch":
        raise ModelDirError(f"{path} holds an {found} export, which estimators do not load; predict with "
                            f"nlp_lstm.Predictor.load / TagPredictor.load or nlp-lstm predict")
    return resolve_device(device)


def check_texts(X: Any, name: str = "X") -> list[str]:
    """A list of strings, or a ValueError that says what is wrong and where."""
    if isinstance(X, (str, bytes)):
        raise ValueError(f"{name} must be a list of strings, got a single {type(X).__name__}; "
                         f"wrap one text in a list: [text]")
    try:
        texts = list(X)
    except TypeError:
        raise ValueError(f"{name} must be a list of strings, got {type(X).__name__}") from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            bad = "NaN" if isinstance(text, float) and math.isnan(text) else repr(text)
            raise ValueError(f"{name}[{i}] is {bad}; expected a string (an empty string is fine)")
    return texts
