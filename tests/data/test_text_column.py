"""Large data keeps its texts in a memory-mapped Arrow file: the column reads like the list it replaces,
readers and splits give the same data either way, and no file is left behind."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nlp_lstm.config import DataConfig
from nlp_lstm.data import encode_cache, text_column
from nlp_lstm.data.sources import load_splits, load_texts
from nlp_lstm.data.text_column import TextColumn, collect_texts
from nlp_lstm.errors import DataError

TEXTS = [f"text {i} " + "é中😀"[i % 3] * (i % 7) for i in range(1000)] + ["", " "]


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("NLP_LSTM_CACHE", str(folder))
    return folder


def leftovers(cache: Path) -> list[Path]:
    return list(cache.rglob("*")) if cache.exists() else []


def test_a_spilled_column_reads_like_the_list(cache: Path) -> None:
    column = collect_texts(iter(TEXTS), spill_rows=100)
    assert isinstance(column, TextColumn) and len(column.array.chunks) > 1
    assert len(column) == len(TEXTS) and list(column) == TEXTS
    assert column[0] == TEXTS[0] and column[-1] == TEXTS[-1] and column[555] == TEXTS[555]
    assert column[10:20] == TEXTS[10:20] and column[990:2000] == TEXTS[990:] and column[5:1:-2] == TEXTS[5:1:-2]
    with pytest.raises(IndexError):
        column[len(TEXTS)]
    subset = column.take([7, 3, 999, 3])
    assert list(subset) == [TEXTS[7], TEXTS[3], TEXTS[999], TEXTS[3]]
    assert subset[1:3] == [TEXTS[3], TEXTS[999]] and list(subset.take([2, 0])) == [TEXTS[999], TEXTS[7]]
    assert [p.name for p in leftovers(cache) if p.is_file()] == []  # unlinked once mapped


def test_small_data_stays_a_list() -> None:
    assert collect_texts(iter(TEXTS[:50]), spill_rows=100) == TEXTS[:50]


def test_readers_and_carved_splits_give_the_same_data_spilled_or_not(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = ["pos" if i % 3 else "neg" for i in range(len(TEXTS))]
    parquet = tmp_path / "data.parquet"
    pq.write_table(pa.table({"text": TEXTS, "label": labels}), parquet, row_group_size=300)
    jsonl = tmp_path / "data.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in zip(TEXTS, labels)))
    for spec in (f"parquet:{parquet}", f"jsonl:{jsonl}"):
        config = DataConfig(train=spec, validation_fraction=0.1, test_fraction=0.1)
        in_lists = load_splits(config)
        monkeypatch.setattr(text_column, "SPILL_ROWS", 200)
        spilled = load_splits(config)
        monkeypatch.undo()
        assert isinstance(spilled["train"].texts, TextColumn) and isinstance(spilled["dev"].texts, TextColumn)
        for name in ("train", "dev", "test"):
            assert list(spilled[name].texts) == in_lists[name].texts, (spec, name)
            assert spilled[name].labels == in_lists[name].labels
    whole = load_texts(f"parquet:{parquet}")
    assert len({id(label) for label in whole.labels}) == 2  # one string object per distinct label
    assert [p for p in leftovers(cache) if p.is_file()] == []


def test_a_bad_row_after_spilling_is_reported_and_leaves_no_file(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_column, "SPILL_ROWS", 100)
    lines = [json.dumps({"text": f"row {i}", "label": "a" if i % 2 else "b"}) for i in range(500)]
    lines[400] = json.dumps({"text": None, "label": "a"})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl: line 401: missing text in column 'text'"):
        load_texts(f"jsonl:{path}")
    assert [p for p in leftovers(cache) if p.is_file()] == []


def test_a_classifier_trained_on_spilled_texts_tokenized_by_forked_processes_matches_one_trained_on_lists(
    sst2_dir: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import write_slice

    from nlp_lstm.config import Config, ModelConfig, TrainingConfig
    from nlp_lstm.runs import train

    train_file = write_slice(sst2_dir / "train.tsv", tmp_path / "train.tsv", 0, 600)
    config = Config(data=DataConfig(train=f"tsv:{train_file}", text_column="sentence", validation_fraction=0.2),
                    model=ModelConfig(embedding_dim=8, hidden_size=8),
                    training=TrainingConfig(plots=False, epochs=1, batch_size=32, device="cpu"))
    plain = train(config, output=tmp_path / "lists", progress=False).metrics
    monkeypatch.setattr(text_column, "SPILL_ROWS", 100)
    monkeypatch.setattr(encode_cache, "CACHE_MIN_TEXTS", 100)  # tokenized into the cache, 3 shares of 2 chunks
    monkeypatch.setattr(encode_cache, "ENCODE_CHUNK", 80)
    config.data.num_proc = 3
    forked: list[int] = []
    encode_forked = encode_cache._encode_forked
    monkeypatch.setattr(encode_cache, "_encode_forked",
                        lambda tokenizer, texts, bounds, parts: forked.append(len(parts))
                        or encode_forked(tokenizer, texts, bounds, parts))
    spilled = train(config, output=tmp_path / "spilled", progress=False).metrics
    assert forked == ([3, 2] if sys.platform == "linux" else [])  # train, then dev (120 texts: 2 chunks)
    assert len(list((cache / "encoded").iterdir())) == 2
    assert spilled["dev"] == plain["dev"] and spilled["data"]["sizes"] == plain["data"]["sizes"] == {
        "train": 480, "dev": 120}
    predictions = [(tmp_path / run / "predictions.jsonl").read_text() for run in ("lists", "spilled")]
    assert predictions[0] == predictions[1]


# Arrow string arrays built and freed, then released: anonymous MB over the start after each step
ARROW_RELEASE_PROBE = """
import nlp_lstm.runs, sklearn.metrics  # what `nlp-lstm train` loads first (without it glibc keeps ~30 MB of heap)
from nlp_lstm.data.text_column import release_arrow_memory
import pyarrow as pa
def anon():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("RssAnon")) / 1024
texts = [f"text number {i} " * 5 for i in range(400_000)]
start = anon()
arrays = [pa.array(texts[i : i + 20_000]) for i in range(0, len(texts), 20_000)]
built = anon()
del arrays
freed = anon()
release_arrow_memory()
print(built - start, freed - start, anon() - start)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_arrow_memory_freed_after_reading_goes_back_to_the_os() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", ARROW_RELEASE_PROBE], capture_output=True, text=True, check=True)
    built, freed, released = map(float, done.stdout.split())
    assert built > 30 and freed > 30  # pyarrow's pool keeps the pages of freed arrays
    assert released < 10


def test_loading_a_file_releases_the_readers_arrow_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nlp_lstm.data import sources

    parquet = tmp_path / "data.parquet"
    pq.write_table(pa.table({"text": TEXTS, "label": ["a"] * len(TEXTS)}), parquet)
    calls: list[int] = []
    monkeypatch.setattr(sources, "release_arrow_memory", lambda: calls.append(1))
    assert len(load_texts(f"parquet:{parquet}")) == len(TEXTS) and calls == [1]
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": "x"}\n{"text": 3}\n')
    with pytest.raises(DataError):
        load_texts(f"jsonl:{tmp_path / 'bad.jsonl'}")
    assert calls == [1, 1]  # also when a row is refused
