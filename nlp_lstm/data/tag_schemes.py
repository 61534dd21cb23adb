"""Entity tag schemes: find the spans in a tag sequence, convert between IOB1, BIO and BIOES, detect the scheme.

A tag is ``O`` or ``PREFIX-TYPE`` (``B-PER``, ``I-MISC``; the type is everything after the first
``-``, so ``B-ART-OBJ`` has type ``ART-OBJ``). The schemes, for the entities [New York] [Yankees]
of types LOC and ORG, and two adjacent PER entities [Tom] [Sue]:

=========  =====================  ==================  ==========================================
scheme     New York Yankees       Tom Sue             rule
=========  =====================  ==================  ==========================================
``iob1``   I-LOC I-LOC I-ORG      I-PER B-PER         I- everywhere; B- only on the first token of
                                                      an entity that directly follows an entity
                                                      of the same type (CoNLL-2003 as shipped)
``bio``    B-LOC I-LOC B-ORG      B-PER B-PER         B- on the first token, I- on the rest
                                                      (alias ``iob2``)
``bioes``  B-LOC E-LOC S-ORG      S-PER S-PER         B- first, I- inside, E- last, S- single
=========  =====================  ==================  ==========================================

Invalid sequences are read the way conlleval (and seqeval's default mode) reads them, whatever
the scheme: an entity starts at a B- or S- tag, at any tag whose type differs from the previous
tag's, and at an I- or E- tag that follows O, E- or S-; it ends before O, B- or S-, after E- or
S-, and where the type changes. So ``O I-PER`` in BIO is one PER entity, ``B-PER`` after O in IOB1
starts a PER entity (the two such tags in CoNLL-2003's eng.train, on "Atlanta" and
"Urdu-speaking"), and ``B-LOC I-LOC O`` in BIOES is one LOC entity although it has no E-. Only
the prefixes a scheme has are accepted: E- or S- in an IOB1 or BIO sequence is an error.

`convert_tags` finds the spans and writes them in the target scheme, so its output is always the
canonical form of that scheme (``iob1`` to ``iob1`` turns the two odd B-MISC tags into I-MISC).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

SCHEMES = ("iob1", "bio", "bioes")
ALIASES = {"iob2": "bio"}
PREFIXES = {"iob1": "BI", "bio": "BI", "bioes": "BIES"}

Span = tuple[str, int, int]  # (type, start, end exclusive)


def check_scheme(name: str) -> str:
    """The canonical name of a scheme ("iob2" -> "bio"); an unknown name is a ValueError naming the valid ones."""
    key = name.lower() if isinstance(name, str) else name
    key = ALIASES.get(key, key)
    if key not in SCHEMES:
        valid = ", ".join([*SCHEMES, *(f"{alias} (= {target})" for alias, target in ALIASES.items())])
        raise ValueError(f"unknown tag scheme {name!r}; valid schemes: {valid}")
    return key


def _split_tag(tag: str, index: int, scheme: str) -> tuple[str, str]:
    """("B", "PER") for "B-PER", ("O", "") for "O"; anything else the scheme lacks is a ValueError."""
    if tag == "O":
        return "O", ""
    prefix, dash, type_ = tag.partition("-") if isinstance(tag, str) else ("", "", "")
    if len(prefix) != 1 or prefix not in PREFIXES[scheme] or not dash or not type_:
        allowed = ", ".join(f"{p}-TYPE" for p in PREFIXES[scheme])
        raise ValueError(f"tag {index + 1} ({tag!r}) is not valid in the {scheme} scheme: expected O, {allowed}")
    return prefix, type_


def spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """The entities in `tags` as (type, start, end exclusive), in order; invalid runs are read as conlleval does.

    >>> spans(["I-LOC", "I-LOC", "O", "I-PER", "B-PER"], "iob1")
    [('LOC', 0, 2), ('PER', 3, 4), ('PER', 4, 5)]
    """
    return _spans(tags, check_scheme(scheme), {})


def sequence_spans(sequences: Iterable[Sequence[str]], scheme: str) -> Iterator[list[Span]]:
    """`spans` of each sequence; an error names the sequence (counted from 1)."""
    scheme, parsed = check_scheme(scheme), {}
    for number, tags in enumerate(sequences, start=1):
        try:
            yield _spans(tags, scheme, parsed)
        except ValueError as err:
            raise ValueError(f"sequence {number}: {err}") from None


def _spans(tags: Sequence[str], scheme: str, parsed: dict[str, tuple[str, str]]) -> list[Span]:
    """`spans`, with each distinct tag split once into `parsed` (shared by the sequences of one corpus)."""
    found: list[Span] = []
    start = None
    prev_prefix, prev_type = "O", ""
    for index, tag in enumerate(tags):
        try:
            prefix, type_ = parsed[tag]
        except (KeyError, TypeError):  # TypeError: an unhashable tag, which _split_tag refuses
            prefix, type_ = parsed[tag] = _split_tag(tag, index, scheme)
        ends = prev_prefix in "ES" or prefix in "BSO" or type_ != prev_type
        if start is not None and ends:
            found.append((prev_type, start, index))
            start = None
        if prefix != "O" and (start is None or prefix in "BS"):
            start = index
        prev_prefix, prev_type = prefix, type_
    if start is not None:
        found.append((prev_type, start, len(tags)))
    return found


def tags_from_spans(entities: Iterable[Span], length: int, scheme: str) -> list[str]:
    """Tags of length `length` in `scheme` for non-overlapping (type, start, end exclusive) spans."""
    scheme = check_scheme(scheme)
    tags = ["O"] * length
    previous: Span | None = None
    for type_, start, end in sorted(entities, key=lambda span: span[1]):
        if not 0 <= start < end <= length:
            raise ValueError(f"span {(type_, start, end)!r} is empty or outside a sequence of length {length}")
        if previous is not None and start < previous[2]:
            raise ValueError(f"spans {previous!r} and {(type_, start, end)!r} overlap")
        if scheme == "iob1":
            follows_same = previous is not None and previous[2] == start and previous[0] == type_
            tags[start:end] = ["I-" + type_] * (end - start)
            if follows_same:
                tags[start] = "B-" + type_
        elif scheme == "bio":
            tags[start:end] = ["B-" + type_] + ["I-" + type_] * (end - start - 1)
        elif end - start == 1:
            tags[start] = "S-" + type_
        else:
            tags[start:end] = ["B-" + type_] + ["I-" + type_] * (end - start - 2) + ["E-" + type_]
        previous = (type_, start, end)
    return tags


def convert_tags(tags: Sequence[str], source: str, target: str) -> list[str]:
    """`tags` read in scheme `source`, written in the canonical form of scheme `target`.

    >>> convert_tags(["I-PER", "B-PER", "O", "I-LOC", "I-LOC"], "iob1", "bioes")
    ['S-PER', 'S-PER', 'O', 'B-LOC', 'E-LOC']
    """
    return tags_from_spans(spans(tags, source), len(tags), target)


def convert_sequences(sequences: Iterable[Sequence[str]], source: str, target: str) -> list[list[str]]:
    """`convert_tags` on each sequence; an error names the sequence (counted from 1)."""
    source, target = check_scheme(source), check_scheme(target)
    sequences = sequences if isinstance(sequences, Sequence) else list(sequences)
    return [tags_from_spans(found, len(tags), target)
            for tags, found in zip(sequences, sequence_spans(sequences, source))]


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """"bioes" if any tag has an E- or S- prefix, else "iob1" if any entity starts with I-, else "bio".

    Input with no entity, or whose entities all start with B-, is reported as "bio" (both IOB1 and
    BIO read it the same way then, except that IOB1 would put B- only after a same-type entity).
    """
    pairs: set[tuple[str, str]] = set()  # (previous tag, tag), "O" before each sequence's first tag
    for tags in sequences:
        pairs.update(zip(["O", *tags], tags))
    if any(tag.partition("-")[0] in ("E", "S") for tag in {tag for _, tag in pairs}):
        return "bioes"
    for prev, tag in pairs:
        prefix, _, type_ = tag.partition("-")
        if prefix == "I" and (prev == "O" or prev.partition("-")[2] != type_):
            return "iob1"
    return "bio"
