"""Atomic writes: the content lands whole, nothing temporary is left, and the file gets the umask's mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nlp_lstm.io import atomic_write_text, write_json


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_atomic_write_gives_the_mode_open_would(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a" / "report.md", "first")
        atomic_write_text(tmp_path / "a" / "report.md", "second")  # replaces, keeps the mode rule
        with open(tmp_path / "plain.txt", "w") as handle:
            handle.write("x")
    finally:
        os.umask(previous)
    assert (tmp_path / "a" / "report.md").read_text() == "second"
    assert (tmp_path / "a" / "report.md").stat().st_mode & 0o777 == (tmp_path / "plain.txt").stat().st_mode & 0o777
    assert (tmp_path / "a" / "report.md").stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["report.md"]


def test_write_json_keeps_non_ascii_readable(tmp_path: Path) -> None:
    write_json(tmp_path / "m.json", {"label": "正面"})
    assert '"label": "正面"' in (tmp_path / "m.json").read_text(encoding="utf-8")
