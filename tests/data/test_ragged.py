"""Ragged id arrays and the tokenization cache that keeps large training data tokenized between runs."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp_lstm.data import encode_cache, ragged
from nlp_lstm.data.encode_cache import cached_encode, cached_tokenizer, texts_digest
from nlp_lstm.data.ragged import RaggedIds, encode_texts, token_counts
from nlp_lstm.errors import DataError
from nlp_lstm.text.tokenizers import TextTokenizer

TEXTS = ["a fine , moving film", "", "这个手机很好用", "naïve café ✓", "screen broke after a day 😡"] * 7


def test_ragged_ids_hold_the_rows_in_two_flat_arrays() -> None:
    rows = [[5, 6, 7], [], [8], [9, 10]]
    ids = RaggedIds.from_rows(rows)
    assert ids.flat.dtype == np.int32 and ids.offsets.tolist() == [0, 3, 3, 4, 6]
    assert len(ids) == 4 and ids.tolist() == rows and [row.tolist() for row in ids] == rows
    assert ids[-1].tolist() == [9, 10] and [row.tolist() for row in ids[1:3]] == [[], [8]]
    assert ids.lengths().tolist() == [3, 0, 1, 2]
    with pytest.raises(IndexError):
        ids[4]
    both = RaggedIds.concat([ids, RaggedIds.from_rows([[1], [2, 3]])])
    assert both.tolist() == [*rows, [1], [2, 3]]
    assert token_counts(ids, 12).tolist() == token_counts(rows, 12).tolist() == [0] * 5 + [1] * 6 + [0]


def test_token_counts_in_chunks_equal_one_bincount(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [list(np.random.default_rng(k).integers(0, 20, k % 7)) for k in range(50)]
    expected = np.bincount(np.concatenate(rows).astype(np.int64), minlength=20)[:15].tolist()
    monkeypatch.setattr(ragged, "COUNT_CHUNK", 4)
    assert token_counts(RaggedIds.from_rows(rows), 15).tolist() == token_counts(rows, 15).tolist() == expected


def test_encoding_in_chunks_equals_the_tokenizers_batch_encoding() -> None:
    tokenizer = TextTokenizer.train(TEXTS, "word", True, 100, 1)
    assert encode_texts(tokenizer, TEXTS, chunk_size=4).tolist() == tokenizer.encode_batch(TEXTS)


def test_large_data_is_tokenized_once_and_later_runs_load_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLP_LSTM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(encode_cache, "CACHE_MIN_TEXTS", 10)
    trained = []

    def train() -> TextTokenizer:
        trained.append(1)
        return TextTokenizer.train(TEXTS, "word", True, 100, 1)

    settings = {"kind": "word", "vocab_size": 100}
    first = cached_tokenizer(TEXTS, settings, train, TextTokenizer.load)
    second = cached_tokenizer(TEXTS, settings, train, TextTokenizer.load)
    assert len(trained) == 1 and second.tokenizer.to_str() == first.tokenizer.to_str()
    cached_tokenizer(TEXTS, {**settings, "vocab_size": 50}, train, TextTokenizer.load)  # other settings: trained
    cached_tokenizer(TEXTS[:-1], settings, train, TextTokenizer.load)  # other texts: trained
    assert len(trained) == 3

    expected = first.encode_batch(TEXTS)
    ids = cached_encode(first, TEXTS)  # encoded a chunk at a time into the entry, then memory-mapped
    again = cached_encode(first, TEXTS, texts_digest(TEXTS))
    assert isinstance(ids.flat, np.memmap) and isinstance(again.flat, np.memmap)
    assert ids.tolist() == again.tolist() == expected
    monkeypatch.setattr(encode_cache, "ENCODE_CHUNK", 3)  # chunks that split the texts unevenly
    entry = next((tmp_path / "cache" / "encoded").iterdir())
    shutil.rmtree(entry)
    assert cached_encode(first, TEXTS).tolist() == expected
    # a damaged entry is encoded again and replaced (the mappings above see the damage: they are not used again)
    (entry / "offsets.npy").write_bytes(b"garbage")
    assert cached_encode(first, TEXTS).tolist() == expected
    (entry / "flat.int32").write_bytes(b"12345")  # truncated mid-id
    assert cached_encode(first, TEXTS).tolist() == expected
    assert isinstance(cached_encode(first, TEXTS).flat, np.memmap)
    # small data is never cached
    monkeypatch.setattr(encode_cache, "CACHE_MIN_TEXTS", 1000)
    assert not isinstance(cached_encode(first, TEXTS).flat, np.memmap)


def test_an_unwritable_cache_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NLP_LSTM_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(encode_cache, "CACHE_MIN_TEXTS", 10)
    tokenizer = TextTokenizer.train(TEXTS, "word", True, 100, 1)
    assert cached_encode(tokenizer, TEXTS).tolist() == tokenizer.encode_batch(TEXTS)


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_forked_processes_encode_the_same_ids_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NLP_LSTM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(encode_cache, "CACHE_MIN_TEXTS", 10)
    monkeypatch.setattr(encode_cache, "ENCODE_CHUNK", 4)  # shares of several chunks, split unevenly
    tokenizer = TextTokenizer.train(TEXTS, "word", True, 100, 1)
    texts = [f"{text} {i}" for i, text in enumerate(TEXTS)]
    expected = tokenizer.encode_batch(texts)
    for num_proc in (3, 0):
        assert encode_cache.encode_processes(num_proc, len(texts)) > 1
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)
        assert cached_encode(tokenizer, texts, num_proc=num_proc).tolist() == expected
        entry = next((tmp_path / "cache" / "encoded").iterdir())
        assert sorted(p.name for p in entry.iterdir()) == ["flat.int32", "offsets.npy"]  # parts joined, removed
    assert os.environ.get("TOKENIZERS_PARALLELISM") is None  # set for the workers only
    assert encode_cache.encode_processes(0, 3) == 1  # one chunk: one process
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "64")  # torchrun's ranks on this machine share its cores
    assert encode_cache.encode_processes(0, 1000) == 1 and encode_cache.encode_processes(5, 1000) == 5


class _FailingTokenizer:
    """Refuses one text, as the real tokenizer refuses text it cannot encode."""

    def __init__(self, tokenizer: TextTokenizer) -> None:
        self.tokenizer = tokenizer.tokenizer
        self.inner = tokenizer

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        if "refused" in texts:
            raise DataError(f"text {texts.index('refused')}: refused")
        return self.inner.encode_batch(texts)


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_an_error_in_a_worker_reaches_the_caller_and_leaves_no_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLP_LSTM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(encode_cache, "CACHE_MIN_TEXTS", 10)
    monkeypatch.setattr(encode_cache, "ENCODE_CHUNK", 4)
    tokenizer = _FailingTokenizer(TextTokenizer.train(TEXTS, "word", True, 100, 1))
    with pytest.raises(DataError, match="refused"):
        cached_encode(tokenizer, [*TEXTS, "x", "refused"], num_proc=2)
    assert list((tmp_path / "cache" / "encoded").iterdir()) == []
