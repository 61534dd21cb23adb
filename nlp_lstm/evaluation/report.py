"""A run directory -> report.md, report.html (self-contained), report.json and plots/*.png.

Everything is read from files in the run directory, so `nlp-lstm report RUN_DIR` regenerates the
report at any time. Per-class numbers and the confusion matrix come from metrics.json as written;
the bootstrap intervals, calibration and mistakes come from predictions.jsonl (the final split).
"""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, ModelDirError
from ..io import atomic_write_bytes, atomic_write_text, write_json

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CALIBRATION_BINS = 15
N_MISTAKES = 10
MAX_TEXT_CHARS = 200
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "AR PL UMing CN")
PLOTS = {"per_class_f1": "Per-class F1", "confusion_matrix": "Confusion matrix",
         "training_curves": "Training curves", "reliability": "Reliability diagram"}

# A report is a list of sections (title, blocks); a block is ("p", text), ("table", headers, rows),
# ("pre", text) or ("img", plot name). The Markdown and HTML renderers share it, so both hold the same.
Block = tuple[Any, ...]
Section = tuple[str, list[Block]]


def write_report(run_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html, report.json (and plots/*.png for classifiers) into `run_dir`;
    returns their paths by name ("md", "html", "json", and one per plot)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ModelDirError(f"run directory not found: {run_dir}")
    metrics = _read_json(run_dir / "metrics.json")
    if "classification_report" in metrics:  # written by `nlp-lstm evaluate`: one scored split, no training
        config_text, history = f"(evaluation of the model in {metrics.get('model_dir', 'unknown')})", []
        tokenizer = Path(str(metrics.get("model_dir", run_dir / "model"))) / "tokenizer.json"
        metrics = {"task": "classification", "test": metrics,
                   "data": {"sizes": {"test": metrics["n_samples"]}, "test": metrics.get("data")}}
    else:
        config_text = _read_file(run_dir / "config.toml")
        history = _read_jsonl(run_dir / "history.jsonl")
        tokenizer = run_dir / "model" / "tokenizer.json"
    if metrics.get("task") == "tagging":
        sections, summary, images = _tagging_sections(metrics), {"task": "tagging"}, {}
    else:
        predictions = _read_jsonl(run_dir / "predictions.jsonl")
        sections, summary, images = _classification_sections(run_dir, metrics, history, predictions, tokenizer)
    sections.append(("Provenance", _provenance(metrics, config_text)))
    title = f"Run report: {run_dir.resolve().name}"
    paths = {"md": run_dir / "report.md", "html": run_dir / "report.html", "json": run_dir / "report.json"}
    atomic_write_text(paths["md"], render_markdown(title, sections))
    atomic_write_text(paths["html"], render_html(title, sections, images))
    write_json(paths["json"], summary)
    paths.update({name: run_dir / "plots" / f"{name}.png" for name in images})
    return paths


# ---------------------------------------------------------------- reading the run directory

def _read_file(path: Path) -> str:
    if not path.is_file():
        raise ModelDirError(f"{path.parent}: missing {path.name}; is this a complete training run directory?")
    return path.read_text(encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(_read_file(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(_read_file(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {number}: not valid JSON ({err.msg})") from None
    return rows


# ---------------------------------------------------------------- statistics

def bootstrap_intervals(gold: list[str], predicted: list[str], labels: list[str],
                        resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                        confidence: float = 0.95) -> dict[str, dict[str, float]]:
    """Percentile bootstrap intervals of accuracy and macro F1 (over `labels`, zero_division 0, as
    metrics.json computes it): `resamples` resamplings of the rows, numpy Generator seeded `seed`."""
    index = {label: k for k, label in enumerate(labels)}
    n_labels = len(labels)
    gold_ids = np.array([index.get(g, n_labels) for g in gold])  # n_labels: a label outside `labels`
    pred_ids = np.array([index.get(p, n_labels) for p in predicted])
    n = len(gold_ids)
    if n == 0:
        raise DataError("no predictions to bootstrap")
    rng = np.random.default_rng(seed)
    accuracy, macro_f1 = [], []
    width = n_labels + 1
    chunk = max(1, 2_000_000 // n)  # resamples drawn at a time, bounding memory on large splits
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        rows = rng.integers(0, n, size=(size, n))
        g, p = gold_ids[rows], pred_ids[rows]  # (size, n)
        correct = g == p
        offset = np.arange(size)[:, None] * width
        gold_counts = np.bincount((offset + g).ravel(), minlength=size * width).reshape(size, width)
        pred_counts = np.bincount((offset + p).ravel(), minlength=size * width).reshape(size, width)
        true_pos = np.bincount((offset + g).ravel(), weights=correct.ravel(),
                               minlength=size * width).reshape(size, width)
        denominator = (gold_counts + pred_counts)[:, :n_labels]
        f1 = np.divide(2 * true_pos[:, :n_labels], denominator, out=np.zeros(denominator.shape),
                       where=denominator > 0)
        accuracy.append(correct.mean(axis=1))
        macro_f1.append(f1.mean(axis=1))
    tail = (1 - confidence) / 2 * 100
    result = {}
    for name, values in (("accuracy", np.concatenate(accuracy)), ("macro_f1", np.concatenate(macro_f1))):
        low, high = np.percentile(values, [tail, 100 - tail])
        result[name] = {"low": float(low), "high": float(high)}
    return result


def calibration_bins(confidence: list[float], correct: list[bool],
                     n_bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Equal-width confidence bins (k/n_bins, (k+1)/n_bins] (0 goes in the first): count, mean
    confidence and accuracy of each."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=float)
    which = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    bins = []
    for k in range(n_bins):
        mask = which == k
        count = int(mask.sum())
        bins.append({"low": k / n_bins, "high": (k + 1) / n_bins, "count": count,
                     "confidence": float(conf[mask].mean()) if count else 0.0,
                     "accuracy": float(hits[mask].mean()) if count else 0.0})
    return bins


def expected_calibration_error(confidence: list[float], correct: list[bool], n_bins: int = CALIBRATION_BINS) -> float:
    """sum over bins of |accuracy - mean confidence| weighted by the bin's share of the rows."""
    total = len(confidence)
    if total == 0:
        return 0.0
    return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                     for b in calibration_bins(confidence, correct, n_bins)))


# ---------------------------------------------------------------- sections

def _f(value: float) -> str:
    return f"{value:.4f}"


def _classification_sections(run_dir: Path, metrics: dict[str, Any], history: list[dict[str, Any]],
                             predictions: list[dict[str, Any]], tokenizer: Path
                             ) -> tuple[list[Section], dict[str, Any], dict]:
    split = "test" if "test" in metrics else "dev"
    if split not in metrics:
        raise DataError(f"{run_dir / 'metrics.json'}: no 'test' or 'dev' section")
    final = metrics[split]
    labels = list(final["confusion_matrix"]["labels"])
    gold = [str(row["gold"]) for row in predictions]
    predicted = [str(row["predicted"]) for row in predictions]
    confidence = [float(row["confidence"]) for row in predictions]
    correct = [g == p for g, p in zip(gold, predicted)]
    intervals = bootstrap_intervals(gold, predicted, labels)
    bins = calibration_bins(confidence, correct)
    ece = expected_calibration_error(confidence, correct)
    font = _cjk_font()
    images = _plots(run_dir / "plots", metrics, final, history, bins, font)

    headline = [["accuracy", _f(final["accuracy"]), _f(intervals["accuracy"]["low"]),
                 _f(intervals["accuracy"]["high"])],
                ["macro F1", _f(final["macro_f1"]), _f(intervals["macro_f1"]["low"]),
                 _f(intervals["macro_f1"]["high"])],
                ["weighted F1", _f(final["weighted_f1"]), "", ""]]
    report = final["classification_report"]
    per_class = [[name, _f(report[name]["precision"]), _f(report[name]["recall"]), _f(report[name]["f1-score"]),
                  str(int(report[name]["support"]))] for name in [*labels, "macro avg", "weighted avg"]]
    matrix = final["confusion_matrix"]["matrix"]
    confusion = [[label, *(str(c) for c in row)] for label, row in zip(labels, matrix)]
    metric_keys = [key for key in ("dev_accuracy", "dev_macro_f1") if any(key in row for row in history)]
    curves = [[str(row["epoch"]) + (" (best)" if row["epoch"] == metrics.get("best_epoch") else ""),
               _f(row["train_loss"]), *(_f(row[key]) if key in row else "" for key in metric_keys)]
              for row in history]
    mistakes = sorted((row for row, ok in zip(predictions, correct) if not ok),
                      key=lambda row: -float(row["confidence"]))[:N_MISTAKES]
    mistake_rows = [[_f(float(row["confidence"])), str(row["gold"]), str(row["predicted"]), _truncate(row["text"])]
                    for row in mistakes]
    data = metrics.get("data", {})
    sizes = [[name, f"{size:,}", str(data.get(name) or "")] for name, size in data.get("sizes", {}).items()]
    font_note = ([("p", "no CJK font found: Chinese characters in the plots may show as empty boxes.")]
                 if font is None and any(_has_cjk(label) for label in labels) else [])

    sections: list[Section] = [
        ("Headline metrics", [
            ("p", f"Final split: {split} (n={final['n_samples']:,}); 95% intervals: percentile bootstrap, "
                  f"{BOOTSTRAP_RESAMPLES:,} resamples of predictions.jsonl, seed {BOOTSTRAP_SEED}."),
            ("table", ["metric", "value", "95% CI low", "95% CI high"], headline)]),
        ("Per-class metrics", [("table", ["label", "precision", "recall", "F1", "support"], per_class),
                               ("img", "per_class_f1"), *font_note]),
        ("Confusion matrix", [("p", "Rows: gold label; columns: predicted label (counts)."),
                              ("table", ["gold \\ predicted", *labels], confusion), ("img", "confusion_matrix")]),
        ("Training curves", [("table", ["epoch", "train loss", *(k.replace("_", " ") for k in metric_keys)],
                              curves), ("img", "training_curves")] if history else
         [("p", "No training history: this report scores a saved model on other data.")]),
        ("Calibration", [
            ("p", f"Expected calibration error (ECE, {CALIBRATION_BINS} equal-width confidence bins): {ece:.4f}"),
            ("img", "reliability")]),
        ("Accuracy by length and unknown words", _slices(tokenizer, predictions, correct)),
        ("Most confident mistakes", [("table", ["confidence", "gold", "predicted", "text"], mistake_rows)
                                     if mistake_rows else ("p", "No mistakes.")]),
        ("Data", [("p", f"Labels: {', '.join(str(label) for label in data.get('labels', labels))}; "
                        f"vocabulary size: {data.get('vocab_size', 'unknown')}"),
                  ("table", ["split", "examples", "source"], sizes)]),
    ]
    summary = {"task": "classification", "split": split, "n_samples": final["n_samples"],
               "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": 0.95,
                             "accuracy": {"estimate": final["accuracy"], **intervals["accuracy"]},
                             "macro_f1": {"estimate": final["macro_f1"], **intervals["macro_f1"]}},
               "calibration": {"bins": CALIBRATION_BINS, "ece": ece},
               "cjk_font": font, "plots": [f"plots/{name}.png" for name in images]}
    return sections, summary, images


LENGTH_EDGES = (10, 25, 50, 100, 200)  # upper bounds (tokens) of the length buckets; the last is open


def _length_bucket(n: int) -> str:
    low = 1
    for high in LENGTH_EDGES:
        if n <= high:
            return f"{low}-{high}"
        low = high + 1
    return f"{low}+"


def _unknown_bucket(share: float) -> str:
    return "none" if share == 0 else "up to 10%" if share <= 0.1 else "over 10%"


def _accuracy_by(keys: list[str], correct: list[bool], order: list[str]) -> list[list[str]]:
    rows = []
    for name in order:
        hits = [ok for key, ok in zip(keys, correct) if key == name]
        rows.append([name, f"{len(hits):,}", _f(sum(hits) / len(hits)) if hits else ""])
    return rows


def _slices(path: Path, predictions: list[dict[str, Any]], correct: list[bool]) -> list[Block]:
    """Accuracy by text length and by share of unknown tokens, and the vocabulary coverage of the split,
    using the model's own tokenizer.json."""
    from ..text.tokenizers import TextTokenizer

    if not path.is_file():
        return [("p", f"{path} not found: no breakdown by length or unknown tokens.")]
    tokenizer = TextTokenizer.load(path)
    ids = tokenizer.encode_batch([str(row["text"]) for row in predictions])
    unknown = [row.count(tokenizer.unk_id) for row in ids]
    total = sum(len(row) for row in ids)
    coverage = 1 - sum(unknown) / total if total else 1.0
    length_order = [_length_bucket(high) for high in LENGTH_EDGES] + [_length_bucket(LENGTH_EDGES[-1] + 1)]
    return [
        ("p", f"Vocabulary coverage of this split: {coverage:.2%} of its {total:,} tokens are in the training "
              f"vocabulary ({len(tokenizer):,} entries). Lengths count tokens (an empty text counts as 1)."),
        ("table", ["length (tokens)", "texts", "accuracy"],
         _accuracy_by([_length_bucket(max(len(row), 1)) for row in ids], correct, length_order)),
        ("table", ["unknown tokens", "texts", "accuracy"],
         _accuracy_by([_unknown_bucket(u / len(row) if row else 0.0) for u, row in zip(unknown, ids)], correct,
                      ["none", "up to 10%", "over 10%"])),
    ]


def _tagging_sections(metrics: dict[str, Any]) -> list[Section]:
    split = "test" if "test" in metrics else "dev"
    final = metrics.get(split)
    if final is None:
        raise DataError("metrics.json: no 'test' or 'dev' section")
    blocks: list[Block] = [("p", f"Final split: {split} ({final.get('n_sentences', '?')} sentences, "
                                 f"{final.get('n_tokens', '?')} tokens); token accuracy {_f(final['accuracy'])}.")]
    if "entity_report" in final:
        rows = [[name, _f(row["precision"]), _f(row["recall"]), _f(row["f1-score"]), str(int(row["support"]))]
                for name, row in final["entity_report"].items()]
        blocks.append(("table", ["entity", "precision", "recall", "F1", "support"], rows))
    blocks.append(("p", "Tagging-specific sections (per-tag errors, plots, calibration) are not there yet."))
    return [("Headline metrics", blocks)]


def _provenance(metrics: dict[str, Any], config_text: str) -> list[Block]:
    import sklearn
    import torch

    from .. import __version__

    rows = [["seed", str(metrics.get("seed", ""))], ["device", str(metrics.get("device", ""))],
            ["wall time (s)", f"{metrics['wall_seconds']:.1f}" if "wall_seconds" in metrics else ""],
            ["best epoch / epochs / steps", f"{metrics.get('best_epoch')} / {metrics.get('epochs_trained')} / "
                                            f"{metrics.get('steps')}"]]
    versions = [["python", platform.python_version()], ["torch", torch.__version__], ["nlp_lstm", __version__],
                ["numpy", np.__version__], ["scikit-learn", sklearn.__version__]]
    return [("table", ["run", "value"], rows),
            ("p", "Versions of the environment that wrote this report:"), ("table", ["package", "version"], versions),
            ("p", "config.toml:"), ("pre", config_text)]


def _truncate(text: Any) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS - 1] + "…"


def _has_cjk(text: str) -> bool:
    return re.search(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]", str(text)) is not None


# ---------------------------------------------------------------- plots

def _cjk_font() -> str | None:
    """The name of an installed font that draws Chinese, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    return next((name for name in sorted(installed) if "CJK" in name), None)


def _plots(folder: Path, metrics: dict[str, Any], final: dict[str, Any], history: list[dict[str, Any]],
           bins: list[dict[str, float]], font: str | None) -> dict[str, bytes]:
    """Draw the four plots, write them to `folder`, return their PNG bytes by name."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = [str(label) for label in final["confusion_matrix"]["labels"]]
    style = {"font.sans-serif": [font, "DejaVu Sans"], "font.family": "sans-serif"} if font else {}
    images = {}
    with matplotlib.rc_context(style):
        figure = Figure(figsize=(max(4.0, 0.6 * len(labels) + 2), 3.5), layout="constrained")
        axes = figure.add_subplot()
        report = final["classification_report"]
        axes.bar(labels, [report[label]["f1-score"] for label in labels], color="tab:blue")
        axes.set_ylim(0, 1)
        axes.set_ylabel("F1")
        axes.set_title("Per-class F1")
        axes.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0)
        images["per_class_f1"] = figure

        counts = np.asarray(final["confusion_matrix"]["matrix"], dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        normalized = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        side = max(3.5, 0.5 * len(labels) + 2)
        figure = Figure(figsize=(2 * side, side), layout="constrained")
        for axes, values, title, fmt in zip(figure.subplots(1, 2), (counts, normalized),
                                            ("counts", "row-normalized"), ("{:.0f}", "{:.2f}")):
            image = axes.imshow(values, cmap="Blues")
            axes.set_xticks(range(len(labels)), labels, rotation=45 if len(labels) > 6 else 0)
            axes.set_yticks(range(len(labels)), labels)
            axes.set_xlabel("predicted")
            axes.set_ylabel("gold")
            axes.set_title(title)
            if len(labels) <= 20:
                limit = values.max() / 2 if values.size else 0
                for (i, j), value in np.ndenumerate(values):
                    axes.text(j, i, fmt.format(value), ha="center", va="center",
                              color="white" if value > limit else "black", fontsize=8)
            figure.colorbar(image, ax=axes, shrink=0.8)
        images["confusion_matrix"] = figure

        if history:  # an evaluation of a saved model has none
            figure = Figure(figsize=(8, 3.5), layout="constrained")
            loss_axes, dev_axes = figure.subplots(1, 2)
            epochs = [row["epoch"] for row in history]
            loss_axes.plot(epochs, [row["train_loss"] for row in history], marker="o")
            loss_axes.set_xlabel("epoch")
            loss_axes.set_title("train loss")
            for key in ("dev_accuracy", "dev_macro_f1"):
                points = [(row["epoch"], row[key]) for row in history if key in row]
                if points:
                    dev_axes.plot(*zip(*points), marker="o", label=key.replace("_", " "))
            if metrics.get("best_epoch"):
                dev_axes.axvline(metrics["best_epoch"], color="gray", linestyle=":", label="best epoch")
            dev_axes.set_xlabel("epoch")
            dev_axes.set_title("dev metric")
            dev_axes.legend()
            images["training_curves"] = figure

        figure = Figure(figsize=(4.5, 4.5), layout="constrained")
        axes = figure.add_subplot()
        width = 1 / len(bins)
        filled = [b for b in bins if b["count"]]
        axes.bar([b["low"] for b in filled], [b["accuracy"] for b in filled], width=width, align="edge",
                 edgecolor="black", color="tab:blue", label="accuracy")
        axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("confidence")
        axes.set_ylabel("accuracy")
        axes.set_title("Reliability diagram")
        axes.legend(loc="upper left")
        images["reliability"] = figure

        data = {}
        for name, figure in images.items():
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
            data[name] = buffer.getvalue()
            atomic_write_bytes(folder / f"{name}.png", data[name])
    return data


# ---------------------------------------------------------------- rendering

def _md_escape(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, Markdown punctuation backslash-escaped."""
    text = " ".join(str(text).split())
    return re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", text)


def render_markdown(title: str, sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for heading, blocks in sections:
        lines += [f"## {heading}", ""]
        for block in blocks:
            kind = block[0]
            if kind == "p":
                lines += [_md_escape(block[1]), ""]
            elif kind == "table":
                headers, rows = block[1], block[2]
                lines.append("| " + " | ".join(_md_escape(h) for h in headers) + " |")
                lines.append("|" + "|".join("---" for _ in headers) + "|")
                lines += ["| " + " | ".join(_md_escape(cell) for cell in row) + " |" for row in rows]
                lines.append("")
            elif kind == "pre":
                fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", block[1])), default=0))
                lines += [f"{fence}toml", block[1].rstrip("\n"), fence, ""]
            elif kind == "img":
                lines += [f"![{PLOTS[block[1]]}](plots/{block[1]}.png)", ""]
    return "\n".join(lines)


_CSS = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em}"
        "td{text-align:right}td:first-child,td:last-child{text-align:left}img{max-width:100%}"
        "pre{background:#f6f6f6;padding:1em;overflow-x:auto}")


def render_html(title: str, sections: list[Section], images: dict[str, bytes]) -> str:
    """A self-contained HTML5 page: plots inlined as base64 PNG data URIs, no external resources."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>", f"<h1>{esc(title)}</h1>"]
    for heading, blocks in sections:
        parts.append(f"<section>\n<h2>{esc(heading)}</h2>")
        for block in blocks:
            kind = block[0]
            if kind == "p":
                parts.append(f"<p>{esc(block[1])}</p>")
            elif kind == "table":
                head = "".join(f"<th>{esc(str(h))}</th>" for h in block[1])
                body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in block[2])
                parts.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n</table>")
            elif kind == "pre":
                parts.append(f"<pre>{esc(block[1])}</pre>")
            elif kind == "img" and block[1] in images:
                data = base64.b64encode(images[block[1]]).decode("ascii")
                parts.append(f'<img src="data:image/png;base64,{data}" alt="{esc(PLOTS[block[1]])}">')
        parts.append("</section>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
