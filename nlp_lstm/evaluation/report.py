"""A run directory -> report.md, report.html (self-contained), report.json and plots/*.png.

Everything is read from files in the run directory (a training run, or the folder `nlp-lstm evaluate`
writes), so `nlp-lstm report RUN_DIR` regenerates the report at any time. Per-label numbers and the
confusion matrix come from metrics.json as written; intervals, calibration, slices and examples come
from predictions.jsonl (the final split). Classifier sections are in
classification_report.py, tagger sections in tagging_report.py, the rest in sections.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..io import atomic_write_text, write_json
from . import plots
from .render import Section, render_html, render_markdown
from .run_files import Run
from .sections import Builders, provenance

SectionsFn = Callable[[Run, "str | None"], "tuple[list[Section], dict[str, Any], Builders]"]


def write_report(run: Run, sections_of: SectionsFn, draw_plots: bool = True) -> dict[str, Path]:
    """Write report.md, report.html, report.json and (if `draw_plots`) plots/*.png into the run's folder, with the
    task's sections (`sections_of(run, font)`) and provenance; returns their paths by name ("md", "html", "json",
    one per plot)."""
    font = plots.cjk_font()
    sections, summary, builders = sections_of(run, font)
    if draw_plots:
        images = plots.render_plots(run.folder / "plots", builders, font)
    else:
        images = {}
        sections.append(("Plots", [("p", f"Not drawn (training.plots = false): `nlp-lstm report "
                                         f"{run.folder}` draws them.")]))
    sections.append(("Provenance", provenance(run.metrics, run.config_text)))
    summary.update({"cjk_font": font, "plots": [f"plots/{name}.png" for name in images]})
    title = f"Run report: {run.folder.resolve().name}"
    paths = {"md": run.folder / "report.md", "html": run.folder / "report.html", "json": run.folder / "report.json"}
    atomic_write_text(paths["md"], render_markdown(title, sections, images))
    atomic_write_text(paths["html"], render_html(title, sections, images))
    write_json(paths["json"], summary)
    paths.update({name: run.folder / "plots" / f"{name}.png" for name in images})
    return paths
