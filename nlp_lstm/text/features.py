"""Per-word features for taggers: character ids and a casing class.

Lowercasing the word embedding lookup cuts the vocabulary but loses "Apple" vs "apple"; the casing
class gives that information back as a small embedding of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .vocab import Vocab, build_vocab_from_iterator

CHAR_SPECIALS = ["<pad>", "<unk>"]
CASINGS = ["<pad>", "lower", "upper", "title", "mixed", "numeric", "has_digit", "other"]
MAX_WORD_LENGTH = 30  # characters kept per word for the character encoder


def casing(word: str) -> int:
    """The casing class of a word, an index into CASINGS."""
    if word.isdigit():
        return CASINGS.index("numeric")
    if any(c.isdigit() for c in word):
        return CASINGS.index("has_digit")
    if not any(c.islower() or c.isupper() for c in word):  # punctuation, and uncased scripts such as Chinese
        return CASINGS.index("other")
    if word.islower():
        return CASINGS.index("lower")
    if word.isupper():
        return CASINGS.index("upper")
    if word[0].isupper() and word[1:].islower():
        return CASINGS.index("title")
    return CASINGS.index("mixed")


def casing_ids(sentences: Iterable[Sequence[str]]) -> list[list[int]]:
    """Casing classes of every word of every sentence."""
    known: dict[str, int] = {}  # a corpus repeats its words: each type is classified once
    return [[known[word] if word in known else known.setdefault(word, casing(word)) for word in sentence]
            for sentence in sentences]


def build_char_vocab(sentences: Iterable[Sequence[str]], min_freq: int = 1) -> Vocab:
    """Characters of the training words; `<pad>` is 0 and unknown characters map to `<unk>`."""
    vocab = build_vocab_from_iterator((word for sentence in sentences for word in sentence), min_freq=min_freq,
                                      specials=CHAR_SPECIALS)
    vocab.set_default_index(vocab["<unk>"])
    return vocab


def char_ids(sentences: Iterable[Sequence[str]], vocab: Vocab) -> list[list[list[int]]]:
    """Character ids of every word (at most MAX_WORD_LENGTH each) of every sentence; repeated words share one
    list, so treat them as read-only."""
    stoi = vocab.get_stoi()
    unk = vocab.get_default_index()
    known: dict[str, list[int]] = {}

    def word_ids(word: str) -> list[int]:
        ids = known.get(word)
        if ids is None:
            ids = known[word] = [stoi.get(c, unk) for c in word[:MAX_WORD_LENGTH]] or [unk]
        return ids

    return [[word_ids(word) for word in sentence] for sentence in sentences]


def encode_words(
    tokenizer: Any, sentences: Sequence[Sequence[str]], char_vocab: Vocab | None = None, with_casing: bool = False
) -> tuple[list[list[int]], list[list[list[int]]] | None, list[list[int]] | None]:
    """Word ids, character ids (with a char vocab) and casing classes (when asked) of pre-split sentences."""
    ids = tokenizer.encode_words_batch(sentences)
    chars = char_ids(sentences, char_vocab) if char_vocab is not None else None
    casings = casing_ids(sentences) if with_casing else None
    return ids, chars, casings
