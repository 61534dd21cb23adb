"""Texts to predict from a file: a .txt file (one text or sentence a line) or a .jsonl file (objects with a
text field, or a "tokens" list of pre-split words for taggers)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import DataError
from .readers import parse_json_line, read_text


def _read_jsonl(path: Path, text_field: str) -> list[str | list[str]]:
    """Texts, or pre-split token lists (a "tokens" list, for taggers), one JSON object per line."""
    inputs: list[str | list[str]] = []
    for number, line in enumerate(read_text(path, str(path)).split("\n"), start=1):
        if not line.strip():
            continue
        row = parse_json_line(line, f"{path}: line {number}")
        value = row.get("tokens", row.get(text_field)) if isinstance(row, dict) else None
        if isinstance(value, str) or (isinstance(value, list) and all(isinstance(t, str) for t in value)):
            inputs.append(value)
        elif isinstance(row, dict) and ("tokens" in row or text_field in row):
            key = "tokens" if "tokens" in row else text_field
            wanted = "a list of strings" if key == "tokens" else "a string"
            raise DataError(f"{path}: line {number}: {key!r} must be {wanted}; got {type(row[key]).__name__} "
                            f"{json.dumps(row[key])[:60]}")
        else:
            keys = ", ".join(repr(k) for k in row) if isinstance(row, dict) else type(row).__name__
            raise DataError(f"{path}: line {number}: missing text column {text_field!r} (or a 'tokens' list of "
                            f"strings); keys in this object: {keys}")
    return inputs


def read_inputs(path: Path, text_field: str) -> list[str | list[str]]:
    """Texts from a .txt file (one per line) or a .jsonl file (objects with a text field, or a "tokens"
    list of pre-split words for taggers)."""
    if path.suffix == ".jsonl":
        return _read_jsonl(path, text_field)
    text = read_text(path, str(path))  # strict UTF-8, BOM dropped
    # Split on "\n" only: str.splitlines also breaks at \f, \x1c-\x1e, \x85, U+2028 and U+2029, which
    # occur inside real texts. The CR of CRLF is dropped, as the data loaders do.
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line.removesuffix("\r") for line in lines]
