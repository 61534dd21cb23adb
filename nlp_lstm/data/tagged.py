"""Tagged train/dev/test splits from a config: read each spec, or hold sentences out of train."""

from __future__ import annotations

from ..config import DataConfig
from ..errors import DataError
from .conll import TaggedDataset, load_tagged, split_sentences


def _load(spec: str, role: str, config: DataConfig) -> TaggedDataset:
    dataset = load_tagged(spec, config.token_column, config.tag_column, config.tag_field, role)
    if len(dataset) == 0:
        raise DataError(f"{spec}: no sentences")
    return dataset


def carve_tagged_dev(train: TaggedDataset, fraction: float, seed: int) -> dict[str, TaggedDataset]:
    """"train" and "dev": `fraction` of the sentences of `train` held out as dev, seeded."""
    parts = split_sentences(train, fraction, 0.0, seed)
    return {"train": parts["train"], "dev": parts["dev"]}


def load_tagged_splits(config: DataConfig) -> dict[str, TaggedDataset]:
    """"train", "dev" and (when there is one) "test": from their specs, or a seeded split by sentence of
    the train source (`validation_fraction`, `test_fraction`) where a spec is empty."""
    train = _load(config.train, "train", config)
    tags = {tag for sentence in train.tags for tag in sentence}
    if len(tags) < 2:
        raise DataError(f"{train.source}: the training data has a single tag {tags.pop()!r}; "
                        f"a tagger needs at least 2")
    splits = {}
    held_out = {"dev": 0.0 if config.dev else config.validation_fraction,
                "test": 0.0 if config.test else config.test_fraction}
    if any(held_out.values()):
        parts = split_sentences(train, held_out["dev"], held_out["test"], config.split_seed)
        train = parts["train"]
        splits.update({name: parts[name] for name, fraction in held_out.items() if fraction})
    splits["train"] = train
    for name in ("dev", "test"):
        spec = getattr(config, name)
        if spec:
            splits[name] = _load(spec, name, config)
    return {name: splits[name] for name in ("train", "dev", "test") if name in splits}
