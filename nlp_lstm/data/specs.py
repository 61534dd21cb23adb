"""Data specs, ``KIND:LOCATION``: one parser for labelled texts (`sources`) and tagged sentences (`conll`).

Each reader names the kinds and embedded data sets it knows. A hub spec is ``hub:NAME[:CONFIG][@SPLIT]``;
without ``@SPLIT`` it reads the split of its role: train, validation for dev, test (`HUB_SPLITS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
ROLES = tuple(HUB_SPLITS)


@dataclass(frozen=True)
class DataSpec:
    """A parsed data spec: kind, location (path, hub name or embedded name), hub split and config."""

    kind: str
    location: str
    split: str | None = None
    config: str | None = None

    def hub_split(self, role: str) -> str:
        """The hub split to read: the spec's own @SPLIT, else the one of `role` (train, dev or test)."""
        if role not in HUB_SPLITS:
            raise ValueError(f"expected role one of {', '.join(ROLES)}, got {role!r}")
        return self.split or HUB_SPLITS[role]


def parse_spec(spec: str, kinds: Sequence[str], embedded: Mapping[str, str], what: str = "data spec",
               example: str = "tsv:data/train.tsv") -> DataSpec:
    """Parse `KIND:LOCATION` with KIND one of `kinds` (an embedded name one of `embedded`) into a DataSpec;
    a DataError names the spec (as `what`) and what was expected."""
    hint = f"expected KIND:LOCATION with KIND one of {', '.join(kinds)} (e.g. {example})"
    if not isinstance(spec, str) or ":" not in spec:
        suffix = Path(spec).suffix.lstrip(".").lower() if isinstance(spec, str) else ""
        did_you_mean = f"; did you mean {suffix}:{spec}?" if suffix in kinds and suffix not in ("hub", "embedded") \
            else ""
        raise DataError(f"{what} {spec!r} has no kind: {hint}{did_you_mean}")
    kind, location = (part.strip() for part in spec.strip().split(":", 1))
    kind = kind.lower()
    if kind not in kinds:
        raise DataError(f"{what} {spec!r}: unknown kind {kind!r}; {hint}")
    if not location:
        raise DataError(f"{what} {spec!r}: empty location after '{kind}:'")
    if kind == "embedded" and location not in embedded:
        raise DataError(f"{what} {spec!r}: unknown embedded data set {location!r}; valid names: {', '.join(embedded)}")
    if kind == "hub":
        return _parse_hub(spec, location, what)
    return DataSpec(kind, location)


def _parse_hub(spec: str, location: str, what: str) -> DataSpec:
    """Split `NAME[:CONFIG][@SPLIT]`."""
    name, split, config = location, None, None
    if "@" in name:
        name, split = name.rsplit("@", 1)
        if not split:
            raise DataError(f"{what} {spec!r}: empty split after '@' (e.g. hub:{name}@validation)")
    if ":" in name:
        name, config = name.split(":", 1)
        if not config:
            raise DataError(f"{what} {spec!r}: empty config after '{name}:'")
    if not name:
        raise DataError(f"{what} {spec!r}: empty hub data set name")
    return DataSpec("hub", name, split, config)
