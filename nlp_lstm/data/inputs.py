"""Texts to predict from a file: text (one a line), jsonl (objects with a text field, or a "tokens" list of
pre-split words for taggers), or csv / tsv / parquet read like training data."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError
from .readers import parse_json_line, read_text
from .sources import load_texts


def _read_jsonl(path: Path, text_column: str) -> list[str | list[str]]:
    """Texts, or pre-split token lists (a "tokens" list, for taggers), one JSON object per line."""
    inputs: list[str | list[str]] = []
    for number, line in enumerate(read_text(path, str(path)).split("\n"), start=1):
        if not line.strip():
            continue
        row = parse_json_line(line, f"{path}: line {number}")
        value = row.get("tokens", row.get(text_column)) if isinstance(row, dict) else None
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            inputs.append(value)
        elif isinstance(row, dict) and ("tokens" in row or text_column in row):
            key = "tokens" if "tokens" in row else text_column
            wanted = "a list of strings" if key == "tokens" else "a string"
            raise DataError(f"{path}: line {number}: {key!r} must be {wanted}; got {type(row[key]).__name__} "
                            f"{json.dumps(row[key])[:60]}")
        else:
            keys = ", ".join(repr(k) for k in row) if isinstance(row, dict) else type(row).__name__
            raise DataError(f"{path}: line {number}: missing text column {text_column!r} (or a 'tokens' list of "
                            f"strings); keys in this object: {keys}")
    return inputs


INPUT_KINDS = ("txt", "tsv", "csv", "jsonl", "parquet")


def input_kind(source: str) -> tuple[str, Path]:
    """The kind of an --input: a spec KIND:PATH with KIND one of INPUT_KINDS, else the file's suffix (.csv, .tsv,
    .jsonl, .parquet; anything else is read as text, one per line)."""
    kind, sep, rest = source.partition(":")
    if sep and kind.lower() in INPUT_KINDS:
        return kind.lower(), Path(rest).expanduser()
    suffix = Path(source).suffix.lstrip(".").lower()
    return (suffix if suffix in INPUT_KINDS else "txt"), Path(source).expanduser()


def read_inputs(source: str, text_column: str) -> tuple[list[str | list[str]], str]:
    """The texts (or a tagger's token lists) in an --input file or spec, and a line saying what was read: a
    text file one per line, jsonl objects (`text_column`, or a "tokens" list), or csv / tsv / parquet rows
    through the same readers as training data (`text_column` by name; other columns are ignored)."""
    kind, path = input_kind(source)
    if kind == "txt":
        texts: list[str | list[str]] = _read_lines(path)
        what = "lines"
    elif kind == "jsonl":
        texts, what = _read_jsonl(path, text_column), f"objects ({text_column!r} or 'tokens')"
    else:
        texts, what = list(load_texts(f"{kind}:{path}", text_column, None).texts), f"rows (column {text_column!r})"
    return texts, f"read {len(texts):,} texts from {path}: {kind} {what}"


def _read_lines(path: Path) -> list[str]:
    """One text a line."""
    text = read_text(path, str(path))  # strict UTF-8, BOM dropped
    # Split on "\n" only: str.splitlines also breaks at \f, \x1c-\x1e, \x85, U+2028 and U+2029, which
    # occur inside real texts. The CR of CRLF is dropped, as the data loaders do.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line.removesuffix("\r") for line in lines]
