"""A model directory's README.md: a Hugging Face model card (YAML front matter + sections), written from the
model directory's own files and the run that trained it. Nothing in it is a blank to fill in: what the files do
not say (the license, the language of data without pretrained English vectors) is left out and said so."""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path
from typing import Any

from .._version import __version__
from ..io import atomic_write_text
from ..model_dir import read_json

CARD = "README.md"
HEADLINE = {"classification": ("accuracy", "macro_f1"), "tagging": ("f1", "precision", "recall", "accuracy")}
METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro F1", "f1": "entity F1", "precision": "entity precision",
                "recall": "entity recall"}
PIPELINE = {"classification": "text-classification", "tagging": "token-classification"}


def training_run(model_dir: str | Path, config: dict[str, Any] | None = None) -> Path | None:
    """The run directory that trained the model in `model_dir` (an export's: that of the model it came from), or
    None where the model directory is not a run's `model/` folder."""
    model_dir = Path(model_dir)
    if config is None:
        config = read_json(model_dir / "config.json")
    source = Path((config.get("export") or {}).get("from", model_dir))
    if source.name == "model" and (source.parent / "metrics.json").is_file():
        return source.parent
    return None


def training_metrics(model_dir: str | Path, config: dict[str, Any]) -> dict[str, Any] | None:
    """metrics.json of the run that trained the model in `model_dir` (`training_run`), or None where there is none."""
    run_dir = training_run(model_dir, config)
    return (_read(run_dir / "metrics.json") or None) if run_dir else None


def _read(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _parameters(model_dir: Path, config: dict[str, Any]) -> int | None:
    """How many weights the model has, from the safetensors header (no tensor is loaded)."""
    source = Path((config.get("export") or {}).get("from", model_dir))
    path = next((p / "model.safetensors" for p in (model_dir, source) if (p / "model.safetensors").is_file()), None)
    if path is None:
        return None
    from safetensors import safe_open

    with safe_open(str(path), "pt") as weights:
        return sum(math.prod(weights.get_slice(name).get_shape()) for name in weights.keys())


def _language(config: dict[str, Any], metrics: dict[str, Any], texts: list[str]) -> list[str]:
    """The language codes the card can stand behind: zh (or ja) for Han text, en where English GloVe vectors
    covered the vocabulary; nothing otherwise."""
    sample = "".join(texts)[:20_000]
    letters = [c for c in sample if c.isalpha()]
    if letters:
        han = sum("CJK UNIFIED" in unicodedata.name(c, "") for c in letters) / len(letters)
        kana = sum(unicodedata.name(c, "").startswith(("HIRAGANA", "KATAKANA")) for c in letters) / len(letters)
        if kana > 0.05:
            return ["ja"]
        if han > 0.5:
            return ["zh"]
    vectors = str(((metrics.get("data") or {}).get("pretrained") or {}).get("vectors")
                  or config.get("model", {}).get("pretrained_vectors") or "")
    return ["en"] if vectors.startswith("glove") else []


def _texts(run_dir: Path | None) -> list[str]:
    """Some texts of the run's final split (predictions.jsonl), to tell the script of the data."""
    if run_dir is None or not (run_dir / "predictions.jsonl").is_file():
        return []
    texts = []
    with (run_dir / "predictions.jsonl").open(encoding="utf-8") as rows:
        for line, _ in zip(rows, range(300)):
            row = json.loads(line)
            texts.append(row["text"] if "text" in row else " ".join(row.get("tokens", [])))
    return texts


def _dataset(spec: str | None) -> tuple[str, str]:
    """(name, type) of a data spec for model-index: a hub data set by its id, anything else as a local file."""
    if not spec:
        return "unknown", "local"
    kind, _, rest = spec.partition(":")
    if kind == "hub":
        name = rest.split("@")[0].split(":")[0]
        return name, name
    return Path((rest or kind).removesuffix(" (held out)")).name, kind if rest else "local"


def _architecture(config: dict[str, Any], labels: list[str], metrics: dict[str, Any]) -> str:
    spec = config["model"]
    task = config.get("task", "classification")
    layers = f"{spec['num_layers']} {'bidirectional ' if spec.get('bidirectional', True) else ''}LSTM layer" + (
        "s" if spec["num_layers"] > 1 else "")
    pretrained = (metrics.get("data") or {}).get("pretrained")
    vectors = (f"initialised from {pretrained['vectors']}" if pretrained else
               "trained from random initialisation" if not spec.get("pretrained_vectors") or
               spec.get("pretrained_vectors") == "auto" else f"initialised from {spec['pretrained_vectors']}")
    parts = [f"token embeddings of {spec['embedding_dim']} dimensions ({vectors})"]
    if task == "tagging" and spec.get("char_embedding_dim"):
        parts.append(f"a character CNN ({spec['char_filters']} filters)")
    if task == "tagging" and spec.get("casing_embedding_dim"):
        parts.append("casing features")
    head = (f"{spec['pooling']} pooling over time, then a linear layer to {len(labels)} labels"
            if task == "classification" else f"a linear layer to {len(labels)} tags"
            + (f" and a CRF ({spec.get('tag_scheme', 'bioes').upper()} constraints)" if spec.get("crf") else ""))
    text = f"{', '.join(parts)} -> {layers} of {spec['hidden_size']} units -> {head}"
    members = (config.get("ensemble") or {}).get("members", 1)
    if members > 1:
        text += (f". A seed ensemble of {members} such models (seeds "
                 f"{', '.join(map(str, config['ensemble']['seeds']))}), combined by "
                 f"{config['ensemble']['combine']}")
    return text


def model_card(model_dir: str | Path, repo_id: str | None = None,
               history: list[dict[str, Any]] | None = None) -> str:
    """The README.md of the model in `model_dir`; `repo_id` (a hub repository) goes into the loading examples,
    `history` (an estimator's per-epoch dev scores) stands in for a run's metrics where there is no run."""
    from huggingface_hub import EvalResult, ModelCardData

    model_dir = Path(model_dir)
    config = read_json(model_dir / "config.json")
    labels = read_json(model_dir / "labels.json")
    task = config.get("task", "classification")
    fmt = config.get("format", "pytorch")
    run_dir = training_run(model_dir, config)
    metrics = _read(run_dir / "metrics.json") if run_dir else {}
    report = _read(run_dir / "report.json") if run_dir else {}
    data = metrics.get("data") or {}
    run_config = config.get("run_config") or {}
    name = run_dir.name if run_dir else model_dir.resolve().name
    headline = HEADLINE[task]

    results = []
    for split in ("test", "dev"):
        scores = metrics.get(split) or {}
        dataset, kind = _dataset(data.get(split))
        for metric in headline:
            if isinstance(scores.get(metric), (int, float)):
                results.append(EvalResult(
                    task_type=PIPELINE[task], dataset_type=kind, dataset_name=dataset, dataset_split=split,
                    metric_type=metric, metric_value=round(scores[metric], 4),
                    metric_name=f"{split} {METRIC_NAMES.get(metric, metric)}"))
    tags = ["nlp-lstm", "pytorch", "lstm", PIPELINE[task]]
    if config["model"].get("crf") and task == "tagging":
        tags.append("crf")
    if fmt != "pytorch":
        tags.append(fmt)
    if (config.get("ensemble") or {}).get("members", 1) > 1:
        tags.append("ensemble")
    hub_datasets = sorted({_dataset(data.get(s))[0] for s in ("train", "dev", "test")
                           if str(data.get(s) or "").startswith("hub:")})
    card = ModelCardData(language=_language(config, metrics, _texts(run_dir)) or None, library_name="nlp-lstm",
                         tags=tags, datasets=hub_datasets or None, metrics=list(dict.fromkeys(
                             r.metric_type for r in results)) or None, pipeline_tag=PIPELINE[task],
                         model_name=name, eval_results=results or None)
    front = card.to_yaml()
    front += "\n# license: not set by nlp-lstm; add the license of the model and of its training data before sharing"

    kind = "text classifier (one label per text)" if task == "classification" else "sequence tagger (one tag per token)"
    lines = [f"# {name}", "",
             f"A {kind} trained with [nlp-lstm](https://pypi.org/project/nlp-lstm/) {__version__}.", "", "## Model", "",
             f"- Architecture: {_architecture(config, labels, metrics)}."]
    parameters = _parameters(model_dir, config)
    if parameters:
        lines.append(f"- Parameters: {parameters:,}.")
    tokenizer = config.get("tokenizer") or {}
    lines.append(f"- Tokenizer: {tokenizer.get('kind', 'word')}"
                 f"{', lowercased' if tokenizer.get('lowercase') else ''}; vocabulary of "
                 f"{config['sizes']['vocab_size']:,}; texts are cut to {config.get('max_length', 256)} tokens.")
    lines.append(f"- {'Labels' if task == 'classification' else 'Tags'} ({len(labels)}): "
                 + ", ".join(f"`{label}`" for label in labels[:40]) + (", ..." if len(labels) > 40 else "") + ".")
    lines.append(f"- Format: {fmt}" + {"pytorch": " (model.safetensors)", "onnx": " (model.onnx, for onnxruntime)",
                                        "int8": " (LSTM and linear weights quantized to int8 when loaded; CPU)"}[fmt]
                 + (f", exported from {config['export']['from']}" if (config.get("export") or {}).get("from") else "")
                 + ".")
    compared = (config.get("export") or {}).get("compared")
    if compared:
        lines.append(f"- Checked on {compared['data']} ({compared['n']:,} {compared['unit']}): accuracy "
                     f"{compared['accuracy_original']:.4f} before export, {compared['accuracy_exported']:.4f} after; "
                     f"the same prediction for {compared['agreement']:.2%}.")

    lines += ["", "## Training data", ""]
    unit = "texts" if task == "classification" else "sentences"
    if data:
        data_config = run_config.get("data") or {}
        fractions = {"dev": data_config.get("validation_fraction"), "test": data_config.get("test_fraction")}
        for split in ("train", "dev", "test"):
            if split not in (data.get("sizes") or {}):
                continue
            source = str(data.get(split) or data.get("train"))
            size = f"{data['sizes'][split]:,} {unit}"
            if source.endswith(" (held out)") and fractions.get(split):
                how = "stratified by label, " if task == "classification" else "by sentence, "
                lines.append(f"- {split}: {size} held out of `{source.removesuffix(' (held out)')}` "
                             f"({fractions[split]:.0%}, {how}split_seed {data_config.get('split_seed', 0)}).")
            else:
                lines.append(f"- {split}: {size} from `{source}`.")
        refit = config.get("refit") or {}
        if refit:
            lines.append(f"- Refit: the final weights were trained on train + dev ({refit['examples']:,} {unit}) for "
                         f"the {refit['epochs']} epochs that dev chose.")
        training = run_config.get("training") or {}
        epochs = (f"{metrics['epochs_trained']} epochs, weights of epoch {metrics['best_epoch']} kept"
                  if metrics.get("epochs_trained") else "")
        if metrics.get("averaged_epochs"):
            epochs = (f"{metrics['epochs_trained']} epochs, the mean weights of epochs "
                      f"{', '.join(map(str, metrics['averaged_epochs']))} kept")
        lines.append(f"- Training: {epochs + '; ' if epochs else ''}seed {metrics.get('seed', training.get('seed'))}"
                     f", on {metrics.get('device', 'cpu')}, {metrics.get('precision', 'fp32')}.")
    elif run_config:
        lines.append(f"- train: `{run_config.get('data', {}).get('train') or 'data given to fit()'}`; saved by the "
                     f"Python API, so the split sizes were not recorded.")
    else:
        lines.append("- Not recorded with this model directory.")

    lines += ["", "## Evaluation results", ""]
    lines += _evaluation(metrics, report, history, headline)

    lines += ["", "## Intended use and limitations", ""]
    lines += _limitations(task, metrics, data, config, labels)

    where = f"hf://{repo_id}" if repo_id else str(model_dir)
    # a text of the model's own data for the examples, one the shell quotes as it is
    examples = [text for text in _texts(run_dir) if 0 < len(text) <= 60 and not set(text) & set("\"'\\$`!")]
    example = examples[0] if examples else "This movie was great" if task == "classification" else "EU rejects it"
    lines += ["", "## How to use it", "", "```", "pip install 'nlp-lstm[serve]'",
              f'nlp-lstm predict {where} "{example}"', f"nlp-lstm serve {where} --port 8000",
              f"curl -s localhost:8000/predict -d '{{\"texts\": [\"{example}\"]}}'", "```", "", "```python",
              "from nlp_lstm import Predictor" if task == "classification" else "from nlp_lstm import TagPredictor",
              "", f"predictor = {'Predictor' if task == 'classification' else 'TagPredictor'}.load({where!r})",
              f"print(predictor.predict([{example!r}]))", "```", ""]
    return f"---\n{front}\n---\n\n" + "\n".join(lines)


def _evaluation(metrics: dict[str, Any], report: dict[str, Any],
                history: list[dict[str, Any]] | None, headline: tuple[str, ...]) -> list[str]:
    lines = []
    bootstrap = report.get("bootstrap") or {}
    rows = []
    for split in ("test", "dev"):
        scores = metrics.get(split) or {}
        for metric in headline:
            if not isinstance(scores.get(metric), (int, float)):
                continue
            interval = bootstrap.get(metric) if report.get("split") == split else None
            rows.append(f"| {split} | {METRIC_NAMES.get(metric, metric)} | {scores[metric]:.4f} | "
                        + (f"{interval['low']:.4f} - {interval['high']:.4f}" if interval else "") + " |")
    if rows:
        lines += ["| split | metric | value | 95% bootstrap interval |", "|---|---|---|---|", *rows, ""]
        if bootstrap:
            unit = bootstrap.get("unit", "text")
            lines.append(f"Intervals: percentile bootstrap over {unit}s of the {report.get('split')} split, "
                         f"{bootstrap.get('resamples', 1000):,} resamples.")
        if metrics.get("final_split_chose_the_epoch"):
            lines.append("The scores are on dev, the split that chose the epoch: expect lower scores on new data.")
        baselines = ((metrics.get(report.get("split") or "") or {}).get("baselines") or {})
        if baselines:
            lines.append("Baselines trained on the same training split: " + "; ".join(
                f"{name.replace('_', ' ')} {values.get(headline[0], 0):.4f}" for name, values in baselines.items()
                if isinstance(values, dict)) + ".")
        members = (metrics.get("ensemble") or {}).get("member_runs") or []
        if members:
            split = "test" if "test" in metrics else "dev"
            key = f"{split}_{metrics.get('early_stopping_metric')}"
            scores = [m[key] for m in members if isinstance(m.get(key), (int, float))]
            if scores:
                lines.append(f"Members alone on {split}: " + ", ".join(f"{s:.4f}" for s in scores) + ".")
    elif history:
        keys = [k for k in history[-1] if k.startswith("dev_")]
        if keys:
            best = max(history, key=lambda row: row.get(keys[0], float("-inf")))
            lines.append("Saved by the Python API, with no held-out test split. Best dev scores (the split that chose "
                         "the epoch): " + ", ".join(f"{k[4:]} {best[k]:.4f}" for k in keys
                                                     if isinstance(best.get(k), (int, float))) + ".")
    if not lines:
        lines.append("No evaluation was recorded with this model directory; `nlp-lstm evaluate MODEL_DIR --data SPEC` "
                     "scores it on labelled data.")
    return lines


def _limitations(task: str, metrics: dict[str, Any], data: dict[str, Any], config: dict[str, Any],
                 labels: list[str]) -> list[str]:
    unit = "texts" if task == "classification" else "sentences"
    lines = [f"- It knows only the {len(labels)} {'labels' if task == 'classification' else 'tags'} it was trained "
             f"on, and scores are measured on data of the same source as its training data: expect lower scores on "
             f"{unit} unlike it (another domain, register or time)."]
    kind = (config.get("tokenizer") or {}).get("kind", "word")
    units = {"char": "Characters", "bpe": "Tokens", "wordpiece": "Tokens"}.get(kind, "Words")
    lines.append(f"- {units} outside its vocabulary of {config['sizes']['vocab_size']:,} read as unknown"
                 + (" (rare words are split into known subword units first)" if kind in ("bpe", "wordpiece") else "")
                 + f"; texts longer than {config.get('max_length', 256)} tokens are cut.")
    final = metrics.get(metrics.get("final_split") or "") or {}
    if final.get("never_predicted"):
        lines.append("- On its final split it never predicted " + ", ".join(f"`{x}`" for x in final["never_predicted"])
                     + ".")
    truncated = data.get("truncated") or {}
    if truncated.get("train"):
        lines.append(f"- {truncated['train']:,} training {unit} were longer than max_length and were cut.")
    lines.append("- A statistical model: check its mistakes on your own data (the run's report.html lists the most "
                 "confident ones) before you rely on it.")
    return lines


def write_model_card(model_dir: str | Path, repo_id: str | None = None,
                     history: list[dict[str, Any]] | None = None) -> Path:
    """Write MODEL_DIR/README.md (see `model_card`); returns its path."""
    path = Path(model_dir) / CARD
    atomic_write_text(path, model_card(model_dir, repo_id, history))
    return path
