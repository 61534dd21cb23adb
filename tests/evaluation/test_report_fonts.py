"""The CJK font the report picks really draws Chinese: matplotlib warns of no missing glyph with it, and does
without it."""

from __future__ import annotations

import io
import warnings

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
