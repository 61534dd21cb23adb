"""A pure-Python drop-in for torchtext's `Vocab`, `vocab` and `build_vocab_from_iterator`.

torchtext is deprecated and its compiled extension no longer loads with torch >= 2.4, so
tutorial code ports by changing `from torchtext.vocab import ...` to
`from nlp_lstm.text.vocab import ...`. Behaviour and error wording follow torchtext 0.18
(torchtext/vocab/vocab_factory.py and torchtext/csrc/vocab.cpp), with tokens quoted by repr()
so that '' shows; the other differences are noted where they occur.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any


class VocabLookupError(RuntimeError):
    """A lookup or edit that torchtext rejects with RuntimeError (unknown token, bad index, duplicate)."""


class Vocab:
    """Maps tokens to indices and back; indices are positions in the token list."""

    # __getitem__ takes tokens, so without this Python would "iterate" by calling
    # vocab[0], vocab[1], ... which never ends once a default index is set.
    __iter__ = None

    def __init__(self, tokens: Iterable[str] = (), default_index: int | None = None) -> None:
        """Build from tokens in index order; a duplicate token raises ValueError."""
        _reject_str(tokens)
        self._itos: list[str] = []
        self._stoi: dict[str, int] = {}
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"Vocab tokens must be str, got {type(token).__name__}: {token!r}")
            if token in self._stoi:
                raise ValueError(f"Duplicate token found in tokens list: {token!r}")
            self._stoi[token] = len(self._itos)
            self._itos.append(token)
        self._default_index: int | None = None
        self.set_default_index(default_index)

    def __len__(self) -> int:
        """Number of tokens."""
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        """Whether `token` has an index of its own (the default index does not count)."""
        return token in self._stoi

    def __getitem__(self, token: str) -> int:
        """Index of `token`, else the default index; VocabLookupError if neither exists."""
        index = self._stoi.get(token, self._default_index)
        if index is None:
            raise VocabLookupError(f"Token {token!r} not found and default index is not set")
        return index

    def __call__(self, tokens: Iterable[str]) -> list[int]:
        """Same as `lookup_indices`, as torchtext's `vocab(tokens)`."""
        return self.lookup_indices(tokens)

    forward = __call__

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, default_index={self._default_index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._itos == other._itos and self._default_index == other._default_index

    def set_default_index(self, index: int | None) -> None:
        """Index returned for unknown tokens; None makes them raise. Like torchtext, not range-checked."""
        self._default_index = None if index is None else operator.index(index)

    def get_default_index(self) -> int | None:
        """The default index, or None when unset."""
        return self._default_index

    def insert_token(self, token: str, index: int) -> None:
        """Insert `token` at `index` in [0, len], shifting later tokens up by one; the default index is not shifted."""
        index = operator.index(index)
        if not 0 <= index <= len(self._itos):
            raise VocabLookupError(f"Specified index {index} is out of bounds for vocab of size {len(self._itos)}")
        self._check_new(token)
        self._itos.insert(index, token)
        for i in range(index, len(self._itos)):
            self._stoi[self._itos[i]] = i

    def append_token(self, token: str) -> None:
        """Add `token` at the end."""
        self._check_new(token)
        self._stoi[token] = len(self._itos)
        self._itos.append(token)

    def lookup_token(self, index: int) -> str:
        """Token at `index` in [0, len); negative indices are out of bounds, as in torchtext."""
        index = operator.index(index)
        if not 0 <= index < len(self._itos):
            raise VocabLookupError(f"Specified index {index} is out of bounds for vocab of size {len(self._itos)}")
        return self._itos[index]

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        """Tokens at `indices`; the error names the first bad index and its position."""
        tokens = []
        for position, index in enumerate(indices):
            index = operator.index(index)
            if not 0 <= index < len(self._itos):
                raise VocabLookupError(
                    f"Specified index {index} at position {position} "
                    f"is out of bounds for vocab of size {len(self._itos)}"
                )
            tokens.append(self._itos[index])
        return tokens

    def lookup_indices(self, tokens: Iterable[str]) -> list[int]:
        """Indices of `tokens`, unknown ones mapped as by `vocab[token]`."""
        _reject_str(tokens)
        if self._default_index is not None:
            return [self._stoi.get(token, self._default_index) for token in tokens]
        return [self[token] for token in tokens]

    def get_stoi(self) -> dict[str, int]:
        """A copy of the token -> index mapping."""
        return dict(self._stoi)

    def get_itos(self) -> list[str]:
        """A copy of the index -> token list."""
        return list(self._itos)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state: {"itos": [...], "default_index": int | None}."""
        return {"itos": list(self._itos), "default_index": self._default_index}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocab:
        """Rebuild a Vocab saved with `to_dict`; malformed data raises ValueError naming the field."""
        if not isinstance(data, Mapping):
            raise ValueError(f"A saved vocab must be a dict, got {type(data).__name__}")
        unknown = sorted(set(data) - {"itos", "default_index"})
        if unknown:
            raise ValueError(f"A saved vocab has only the keys 'itos' and 'default_index', got extra keys {unknown}")
        itos = data.get("itos")
        if not isinstance(itos, list):
            raise ValueError(f"A saved vocab's 'itos' must be a list of str, got {type(itos).__name__}")
        for position, token in enumerate(itos):
            if not isinstance(token, str):
                raise ValueError(f"A saved vocab's 'itos' must hold only str, got {token!r} at position {position}")
        default_index = data.get("default_index")
        if default_index is not None and (not isinstance(default_index, int) or isinstance(default_index, bool)):
            raise ValueError(f"A saved vocab's 'default_index' must be an int or null, got {default_index!r}")
        return cls(itos, default_index=default_index)

    def _check_new(self, token: str) -> None:
        if not isinstance(token, str):
            raise TypeError(f"Vocab tokens must be str, got {type(token).__name__}: {token!r}")
        if token in self._stoi:
            raise VocabLookupError(f"Token {token!r} already exists in the Vocab with index: {self._stoi[token]}")


def _reject_str(tokens: object) -> None:
    if isinstance(tokens, str):
        raise TypeError(f"Expected a list of tokens, got the str {tokens!r}; wrap a single token in a list")


def vocab(
    ordered_dict: Mapping[str, int],
    min_freq: int = 1,
    specials: list[str] | None = None,
    special_first: bool = True,
) -> Vocab:
    """Vocab of the tokens of `ordered_dict` with count >= `min_freq`, in the dict's order, plus `specials`.

    Specials are kept whatever their count, in the order given, before the other tokens
    (`special_first=True`) or after them. Unlike torchtext, `ordered_dict` is not modified
    (torchtext pops the specials out of it).
    """
    specials = list(specials or [])
    special_set = set(specials)
    tokens = [token for token, freq in ordered_dict.items() if freq >= min_freq and token not in special_set]
    return Vocab(specials + tokens if special_first else tokens + specials)


def build_vocab_from_iterator(
    iterator: Iterable[Iterable[str]],
    min_freq: int = 1,
    specials: list[str] | None = None,
    special_first: bool = True,
    max_tokens: int | None = None,
) -> Vocab:
    """Vocab of the tokens in an iterable of token lists, most frequent first.

    Ties in frequency are broken lexicographically (Python str order, i.e. by code point),
    as torchtext does from pytorch/text PR #1322 (June 2021) to its final release 0.18: it
    sorts with `key=lambda x: (-x[1], x[0])`. The earlier `torchtext.experimental.vocab`
    version (0.8-0.9) sorted by frequency alone, so ties kept the order of first appearance.

    `max_tokens` caps the size including specials, exactly as torchtext does: the sorted
    list is cut to its first `max_tokens - len(specials)` entries *before* specials are
    removed from it, so a special that also occurs in the corpus and ranks inside the cut
    uses up a slot and the vocab comes out smaller than `max_tokens`. torchtext asserts
    `len(specials) < max_tokens`; here that raises ValueError.
    """
    counter: Counter[str] = Counter()
    for tokens in iterator:
        counter.update(tokens)
    specials = list(specials or [])
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    if max_tokens is not None:
        if len(specials) >= max_tokens:
            raise ValueError(
                f"max_tokens={max_tokens} leaves no room for corpus tokens: it must exceed "
                f"len(specials)={len(specials)}, since max_tokens counts the specials too"
            )
        ranked = ranked[: max_tokens - len(specials)]
    return vocab(dict(ranked), min_freq=min_freq, specials=specials, special_first=special_first)
