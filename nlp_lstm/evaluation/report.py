"""A run directory -> report.md, report.html (self-contained), report.json and plots/*.png.

Everything is read from files in the run directory (a training run, or the folder `nlp-lstm evaluate`
writes), so `nlp-lstm report RUN_DIR` regenerates the report at any time. Per-label numbers and the
confusion matrix come from metrics.json as written; intervals, calibration, slices and examples come
from predictions.jsonl (the final split). Classifier sections are in
classification_report.py, tagger sections in tagging_report.py, the rest in sections.py.
"""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_write_text, write_json
from . import plots
from .classification_report import classification_sections
from .render import render_html, render_markdown
from .run_files import read_run
from .sections import provenance
from .tagging_report import tagging_sections


def write_report(run_dir: str | Path) -> dict[str, Path]:
    """Write report.md, report.html, report.json and plots/*.png into `run_dir`; returns their paths
    by name ("md", "html", "json", and one per plot)."""
    run = read_run(run_dir)
    font = plots.cjk_font()
    if run.metrics.get("task") == "tagging":
        sections, summary, builders = tagging_sections(run, font)
    else:
        sections, summary, builders = classification_sections(run, font)
    images = plots.render_plots(run.folder / "plots", builders, font)
    sections.append(("Provenance", provenance(run.metrics, run.config_text)))
    summary.update({"cjk_font": font, "plots": [f"plots/{name}.png" for name in images]})
    title = f"Run report: {run.folder.resolve().name}"
    paths = {"md": run.folder / "report.md", "html": run.folder / "report.html", "json": run.folder / "report.json"}
    atomic_write_text(paths["md"], render_markdown(title, sections, images))
    atomic_write_text(paths["html"], render_html(title, sections, images))
    write_json(paths["json"], summary)
    paths.update({name: run.folder / "plots" / f"{name}.png" for name in images})
    return paths
