"""The CJK font the report picks really draws Chinese: matplotlib warns of no missing glyph with it, and does
without it."""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path

import pytest

from nlp_lstm.evaluation.plots import cjk_font

LABELS = ["正面", "负面"]


def _missing_glyph_warnings(sans_serif: list[str]) -> list[str]:
    """The 'Glyph ... missing from font(s)' warnings matplotlib gives while rendering a bar chart with
    Chinese tick labels, a title and a legend under `font.sans-serif=sans_serif`."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with matplotlib.rc_context({"font.family": "sans-serif", "font.sans-serif": sans_serif}):
            figure = Figure(figsize=(3, 2))
            axes = figure.add_subplot()
            axes.bar(LABELS, [0.8, 0.6], label="F1 分数")
            axes.set_title("各类别 F1")
            axes.legend()
            figure.savefig(io.BytesIO(), format="png")  # rendering is what looks the glyphs up
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_cjk_font_draws_chinese_labels() -> None:
    font = cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (apt-get install fonts-noto-cjk; if it is installed, matplotlib's "
                    "font cache may predate it: delete fontlist-*.json under matplotlib.get_cachedir())")
    assert _missing_glyph_warnings([font, "DejaVu Sans"]) == []
    # The control: without the CJK font the same figure does warn, so the check above can fail.
    assert _missing_glyph_warnings(["DejaVu Sans"]), "DejaVu Sans alone drew Chinese: the check proves nothing"


def test_without_a_cjk_font_the_report_says_so_only_when_labels_are_chinese(
        monkeypatch: pytest.MonkeyPatch, classifier_run, tmp_path) -> None:
    import json
    import shutil

    from nlp_lstm import runs
    from nlp_lstm.evaluation import plots
    from nlp_lstm.evaluation.sections import font_note

    assert font_note(None, LABELS) and font_note(None, ["positive", "negative"]) == []
    assert font_note("Noto Sans CJK SC", LABELS) == []
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    copy = tmp_path / "run"
    shutil.copytree(classifier_run, copy, ignore=shutil.ignore_patterns("checkpoints", "plots", "report.*"))
    paths = runs.report(copy)
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["cjk_font"] is None
    assert "No CJK font" not in paths["md"].read_text(encoding="utf-8")  # labels 0 and 1: nothing to say

    # the same run with Chinese labels: the plots would draw boxes, and the report says so
    chinese = dict(zip(["0", "1"], LABELS))
    metrics = json.loads((copy / "metrics.json").read_text(encoding="utf-8"))
    for split in ("dev", "test"):
        final = metrics[split]
        final["confusion_matrix"]["labels"] = [chinese[label] for label in final["confusion_matrix"]["labels"]]
        final["classification_report"] = {chinese.get(k, k): v for k, v in final["classification_report"].items()}
    (copy / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False), encoding="utf-8")
    rows = [json.loads(line) for line in (copy / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row["gold"], row["predicted"] = chinese[row["gold"]], chinese[row["predicted"]]
    (copy / "predictions.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                            encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        markdown = runs.report(copy)["md"].read_text(encoding="utf-8")
    assert [str(w.message) for w in caught if "missing from font" in str(w.message)] == []  # one note, no storm
    assert "No CJK font is installed, so Chinese characters in the plots show as empty boxes: pip install " \
           "'nlp-lstm\\[cjk\\]'" in markdown  # Markdown escapes the brackets
    assert f"| {LABELS[0]} |" in markdown


def test_the_cjk_extra_is_a_font_matplotlib_finds() -> None:
    from nlp_lstm.evaluation.plots import _packaged_cjk_fonts

    if importlib.util.find_spec("manimgx_fonts_cjk") is None:
        pytest.skip("the cjk extra is not installed (pip install 'nlp-lstm[cjk]')")
    files = _packaged_cjk_fonts()
    assert files and all(Path(path).is_file() for path in files)
    assert cjk_font() is not None
