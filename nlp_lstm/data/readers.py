"""Local data files -> (where, row) records: tsv, csv, jsonl and parquet, decoded and checked.

Files are decoded as strict UTF-8 (a leading BOM is dropped; a bad byte is an error naming its offset and
line); LF, CRLF and old Mac CR-only line endings all work, and so does a missing final newline. A missing
column is an error that lists the columns found (and suggests the separator when one column holds them all).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io import decode_utf8

Record = tuple[str, dict[str, Any]]  # (where, e.g. "data/x.tsv: line 3", {column: value})


def short_repr(value: Any, limit: int = 80) -> str:
    """repr(value), cut to `limit` characters: a message quotes the value, not a whole document."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _check_file(path: Path, name: str) -> None:
    """A missing path or a directory is an error naming the path."""
    if not path.exists():
        raise DataError(f"{name}: file not found")
    if path.is_dir():
        raise DataError(f"{name}: is a directory, expected a file")


def read_text(path: Path, name: str) -> str:
    """The file decoded as strict UTF-8 (BOM dropped); errors name the file, byte and line."""
    _check_file(path, name)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{name}: cannot read file: {err.strerror or err}") from None
    return decode_utf8(data, name, DataError)


def split_lines(text: str) -> list[str]:
    """Lines split on LF only (CR of CRLF removed), trailing blank lines dropped. A text with CRs but no
    LF at all (old Mac line endings) is split on CR; otherwise a CR inside a line stays in it."""
    if "\n" not in text and "\r" in text:
        return split_lines(text.replace("\r", "\n"))
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def check_header(header: list[str], name: str, text_column: str, label_column: str | None,
                  separator: str = "") -> None:
    """The header must be unique and hold the text (and label) column; a one-column header that holds
    another separator gets a hint (a space- or comma-separated file read as tsv:, say)."""
    duplicates = sorted(c for c, n in Counter(header).items() if n > 1)
    if duplicates:
        raise DataError(f"{name}: line 1: duplicate column name(s) in header: {', '.join(duplicates)}")
    for role, column in (("text", text_column), ("label", label_column)):
        if column is not None and column not in header:
            shown = [short_repr(c, 40) for c in header[:20]] + (["..."] if len(header) > 20 else [])
            raise DataError(f"{name}: missing {role} column {column!r}; columns present: "
                            f"{', '.join(shown)}{_separator_hint(header, separator)}")


def _separator_hint(header: list[str], separator: str) -> str:
    if not separator or len(header) != 1:
        return ""
    others = {"\t": "a tab (tsv:)", ",": "a comma (csv:)", ";": "a semicolon", " ": "a space"}
    found = [name for sep, name in others.items() if sep != separator and sep in header[0]]
    expected = "tab" if separator == "\t" else "comma"
    return f"; the header has no {expected}: is the file separated by {' or '.join(found)}?" if found else ""


def _read_tsv(path: Path, name: str, text_column: str, label_column: str | None) -> Iterator[Record]:
    """Header row, then rows split on the tab; every row must have the header's field count."""
    lines = split_lines(read_text(path, name))
    if not lines:
        raise DataError(f"{name}: empty file, expected a header row (e.g. text<TAB>label)")
    header = [c.strip() for c in lines[0].split("\t")]
    check_header(header, name, text_column, label_column, "\t")
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(f"{name}: line {number}: expected {len(header)} tab-separated fields "
                            f"({', '.join(header)}), got {len(fields)}")
        yield f"{name}: line {number}", dict(zip(header, fields))


def _read_csv(path: Path, name: str, text_column: str, label_column: str | None) -> Iterator[Record]:
    """Comma-separated with a header; fully blank lines are skipped. A field may be as long as the file
    (the csv module's own limit, 131,072 characters, would make a long text an error)."""
    text = read_text(path, name)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    limit = csv.field_size_limit()
    try:  # the limit is global to the csv module: raised while this file is parsed, then restored
        csv.field_size_limit(max(limit, len(text)))
        rows = [(reader.line_num, fields) for fields in reader if fields]
    except csv.Error as err:
        raise DataError(f"{name}: line {reader.line_num}: malformed CSV: {err}") from None
    finally:
        csv.field_size_limit(limit)
    if not rows:
        raise DataError(f"{name}: empty file, expected a header row (e.g. text,label)")
    header = [c.strip() for c in rows[0][1]]
    check_header(header, name, text_column, label_column, ",")
    for number, fields in rows[1:]:
        if len(fields) != len(header):
            raise DataError(f"{name}: line {number}: expected {len(header)} comma-separated "
                            f"fields ({', '.join(header)}), got {len(fields)}")
        yield f"{name}: line {number}", dict(zip(header, fields))


def _read_jsonl(path: Path, name: str, text_column: str, label_column: str | None) -> Iterator[Record]:
    """One JSON object a line; blank lines are skipped; every object needs the columns."""
    for number, line in enumerate(split_lines(read_text(path, name)), start=1):
        if not line.strip():
            continue
        where = f"{name}: line {number}"
        row = parse_json_line(line, where)
        if not isinstance(row, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
        for role, column in (("text", text_column), ("label", label_column)):
            if column is not None and column not in row:
                raise DataError(f"{where}: missing {role} column {column!r}; keys in this object: "
                                f"{', '.join(repr(k) for k in row) or '(none)'}")
        yield where, row


def parse_json_line(line: str, where: str) -> Any:
    """One line of JSON; anything `json.loads` rejects is a DataError naming `where`: bad syntax (with its
    column), nesting too deep for Python's parser, or an integer of more than 4,300 digits."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: invalid JSON: {err.msg} (column {err.colno})") from None
    except RecursionError:
        raise DataError(f"{where}: invalid JSON: nested too deeply (arrays or objects inside one another "
                        f"more than about 1,000 levels)") from None
    except ValueError:  # int() refuses numbers of more than sys.get_int_max_str_digits() digits
        raise DataError(f"{where}: invalid JSON: an integer of more than {sys.get_int_max_str_digits():,} "
                        f"digits") from None


def _read_parquet(path: Path, name: str, text_column: str, label_column: str | None) -> Iterator[Record]:
    """A Parquet file, read a record batch at a time (so a million rows never sit in Arrow and Python at
    once); rows are numbered from 1."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_file(path, name)
    wanted = list(dict.fromkeys(c for c in (text_column, label_column) if c is not None))
    try:
        # stream each column chunk through a 1 MiB buffer instead of reading whole row groups (a million rows
        # each by default) into memory first: Arrow's memory then stays small whatever the file's size
        parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
        check_header(parquet.schema_arrow.names, name, text_column, label_column)
        batches = parquet.iter_batches(batch_size=PARQUET_BATCH, columns=wanted)
        row = 0
        for batch in batches:
            columns = {c: batch.column(c).to_pylist() for c in wanted}
            for index in range(batch.num_rows):
                row += 1
                yield f"{name}: row {row}", {c: values[index] for c, values in columns.items()}
    except (pa.ArrowException, OSError) as err:
        raise DataError(f"{name}: cannot read as Parquet: {err}") from None


PARQUET_BATCH = 65_536  # rows per record batch

FILE_READERS: dict[str, Callable[[Path, str, str, str | None], Iterator[Record]]] = {
    "tsv": _read_tsv, "csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet,
}
