"""The report's plots: matplotlib figures (Agg backend, no pyplot state), saved as PNG."""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_bytes

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC", "AR PL UMing CN")
ANNOTATE_UP_TO = 20  # confusion matrices with more labels than this get no numbers in their cells


def has_cjk(text: str) -> bool:
    """True when `text` holds Chinese, Japanese or Korean characters."""
    return re.search(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]", str(text)) is not None


# The PyPI package with Noto Sans CJK that the `cjk` extra installs (pip install 'nlp-lstm[cjk]')
CJK_FONT_PACKAGE = "manimgx_fonts_cjk"
NO_CJK_FONT = ("No CJK font is installed, so Chinese characters in the plots show as empty boxes: "
               "pip install 'nlp-lstm[cjk]' (or Debian's fonts-noto-cjk), then run `nlp-lstm report` again.")


def cjk_font() -> str | None:
    """The name of a font that draws Chinese: an installed system font, else the `cjk` extra's; or None."""
    from matplotlib import font_manager

    found = _known_cjk_font(font_manager.fontManager.ttflist)
    if found is None:
        # matplotlib never rescans after building its font cache: add CJK fonts installed since then
        cached = {font.fname for font in font_manager.fontManager.ttflist}
        for path in [*font_manager.findSystemFonts(), *_packaged_cjk_fonts()]:
            if path not in cached and re.search(r"cjk|wqy|han|hei|ming|song", Path(path).name, re.I):
                font_manager.fontManager.addfont(path)
        found = _known_cjk_font(font_manager.fontManager.ttflist)
    return found


def _packaged_cjk_fonts() -> list[str]:
    """The font files of the `cjk` extra's package, when it is installed."""
    spec = importlib.util.find_spec(CJK_FONT_PACKAGE)
    if spec is None or spec.origin is None:
        return []
    return [str(path) for path in sorted(Path(spec.origin).parent.iterdir()) if path.suffix in (".ttc", ".otf", ".ttf")]


def _known_cjk_font(fonts: list[Any]) -> str | None:
    installed = {font.name for font in fonts}
    for name in CJK_FONTS:
        if name in installed:
            return name
    return next((name for name in sorted(installed) if "CJK" in name), None)


def render_plots(folder: Path, builders: dict[str, Callable[[], Any]], font: str | None) -> dict[str, bytes]:
    """Build each figure (with `font` first in the sans-serif list), write it to folder/NAME.png, return the PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    style = {"font.sans-serif": [font, "DejaVu Sans"], "font.family": "sans-serif"} if font else {}
    images = {}
    # text takes its font when drawn, so build and save inside; without a CJK font each missing character warns
    # once per draw, and the report and the CLI say it once instead. Noto Sans CJK's variable font registers as
    # weight 100 only, and matplotlib logs a warning each time it stands in for "normal": that is expected here.
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context(style), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
            for name, build in builders.items():
                buffer = io.BytesIO()
                build().savefig(buffer, format="png", dpi=120, bbox_inches="tight")
                images[name] = buffer.getvalue()
                atomic_write_bytes(folder / f"{name}.png", images[name])
    finally:
        font_log.setLevel(level)
    return images


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def bar_chart(names: list[str], values: list[float], title: str, ylabel: str) -> Any:
    """One bar per name, values in [0, 1]."""
    figure = _figure(max(4.0, 0.35 * len(names) + 2), 3.5)
    axes = figure.add_subplot()
    axes.bar(names, values, color="tab:blue")
    axes.set_ylim(0, 1)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.tick_params(axis="x", labelrotation=90 if len(names) > 12 else 45 if len(names) > 6 else 0)
    return figure


def confusion_heatmaps(labels: list[str], matrix: list[list[int]]) -> Any:
    """Counts and row-normalized rates side by side; rows gold, columns predicted."""
    from matplotlib.colors import LogNorm

    counts = np.asarray(matrix, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    normalized = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    side = min(max(4.0, 0.35 * len(labels) + 2.5), 10)
    figure = _figure(2 * side, side)
    rotation = 90 if len(labels) > 12 else 45 if len(labels) > 4 else 0
    for axes, values, title, fmt in zip(figure.subplots(1, 2), (counts, normalized),
                                        ("counts", "row-normalized"), ("{:.0f}", "{:.2f}")):
        # with many labels the diagonal's counts would wash out every confusion: a log scale shows them
        norm = LogNorm(vmin=1, vmax=max(values.max(), 1)) if fmt == "{:.0f}" and len(labels) > ANNOTATE_UP_TO else None
        image = axes.imshow(np.ma.masked_equal(values, 0) if norm else values, cmap="Blues", norm=norm)
        axes.set_xticks(range(len(labels)), labels, rotation=rotation, fontsize=8 if len(labels) > 20 else None)
        axes.set_yticks(range(len(labels)), labels, fontsize=8 if len(labels) > 20 else None)
        axes.set_xlabel("predicted")
        axes.set_ylabel("gold")
        axes.set_title(f"{title}, log scale" if norm else title)
        if len(labels) <= ANNOTATE_UP_TO:
            limit = values.max() / 2 if values.size else 0
            for (i, j), value in np.ndenumerate(values):
                axes.text(j, i, fmt.format(value), ha="center", va="center",
                          color="white" if value > limit else "black", fontsize=10 if len(labels) <= 8 else 8)
        figure.colorbar(image, ax=axes, shrink=0.8)
    return figure


def training_curves(history: list[dict[str, Any]], metric_keys: list[str], best_epoch: int | None) -> Any:
    """Train loss per epoch beside the dev metrics per epoch, the best epoch marked."""
    from matplotlib.ticker import MaxNLocator

    figure = _figure(8, 3.5)
    loss_axes, dev_axes = figure.subplots(1, 2)
    loss_axes.plot([row["epoch"] for row in history], [row["train_loss"] for row in history], marker="o")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_title("train loss")
    for key in metric_keys:
        points = [(row["epoch"], row[key]) for row in history if key in row]
        if points:
            dev_axes.plot(*zip(*points), marker="o", label=key.replace("_", " "))
    if best_epoch:
        dev_axes.axvline(best_epoch, color="gray", linestyle=":", label="best epoch")
    for axes in (loss_axes, dev_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    dev_axes.set_xlabel("epoch")
    dev_axes.set_title("dev metric")
    dev_axes.legend()
    return figure


def reliability_diagram(bins: list[dict[str, float]]) -> Any:
    """Accuracy per confidence bin against the diagonal of perfect calibration."""
    figure = _figure(4.5, 4.5)
    axes = figure.add_subplot()
    filled = [b for b in bins if b["count"]]
    axes.bar([b["low"] for b in filled], [b["accuracy"] for b in filled], width=1 / len(bins), align="edge",
             edgecolor="black", color="tab:blue", label="accuracy")
    axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title("Reliability diagram")
    axes.legend(loc="upper left")
    return figure


def label_distribution(stats: dict[str, dict[str, Any]], kind: str, max_labels: int = 40) -> Any:
    """Share of each label (or entity type, or tag) per split, as grouped bars; the most frequent `max_labels`."""
    totals: dict[str, int] = {}
    for split in stats.values():
        for label, count in split["label_counts"].items():
            totals[label] = totals.get(label, 0) + count
    labels = sorted(totals, key=lambda label: (-totals[label], label))[:max_labels]
    figure = _figure(max(5.0, 0.3 * len(labels) * len(stats) + 2), 3.5)
    axes = figure.add_subplot()
    width = 0.8 / len(stats)
    for k, (name, split) in enumerate(stats.items()):
        total = sum(split["label_counts"].values()) or 1
        axes.bar(np.arange(len(labels)) + k * width, [split["label_counts"].get(label, 0) / total for label in labels],
                 width=width, label=name)
    axes.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels,
                    rotation=90 if len(labels) > 12 else 45 if len(labels) > 6 else 0)
    axes.set_ylabel("share of the split")
    axes.set_title(f"{kind.capitalize()} distribution")
    axes.legend(loc="upper right")  # labels come most frequent first; "best" searches every bar (slow for 40 tags)
    return figure


def length_histogram(stats: dict[str, dict[str, Any]], unit: str) -> Any:
    """Histogram of lengths per split (density, shared whole-number bins), from each split's length counts;
    lengths past the longest split's 99th percentile are folded into the last bin, so a few very long
    texts do not squeeze the rest into one bar."""
    from .data_stats import length_summary

    figure = _figure(6, 3.5)
    axes = figure.add_subplot()
    longest = max((int(length) for split in stats.values() for length in split["length_counts"]), default=1)
    cap = int(max(length_summary(split["length_counts"], 0.99)["quantile"] for split in stats.values()))
    cap = max(cap, 1) if cap < longest else longest
    width = -(-(cap + 1) // 40)  # whole-number bins, at most about 40 of them
    edges = np.arange(0, cap + width + 1, width) - 0.5
    for name, split in stats.items():
        lengths = [min(int(length), cap) for length in split["length_counts"]]
        axes.hist(lengths, bins=edges, weights=list(split["length_counts"].values()), density=True,
                  histtype="step", linewidth=1.5, label=name)
    folded = f"; {cap}+ in the last bin (longest {longest})" if cap < longest else ""
    axes.set_xlabel(f"length ({unit}){folded}")
    axes.set_ylabel("density")
    axes.set_title("Length histogram")
    axes.legend()
    return figure
