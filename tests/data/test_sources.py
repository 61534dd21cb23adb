"""Data specs and loaders: local files, the embedded corpus, a faked hub, and the train/dev/test split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from nlp_lstm.config import DataConfig
from nlp_lstm.data import sources
from nlp_lstm.data.sources import EMBEDDED, DataSpec, TextDataset, load_splits, load_texts, parse_spec
from nlp_lstm.errors import DataError

# Chinese text, emoji, an empty string, and characters that need care in csv/tsv/json.
ROWS = [("这本书很好看", "positive"), ("质量太差了😡", "negative"), ("", "negative"),
        ('say "hi", then leave', "positive"), ("naïve café ✓", "positive")]


# ---------------------------------------------------------------- parse_spec


@pytest.mark.parametrize("spec, expected", [
    ("embedded:zh-reviews", DataSpec("embedded", "zh-reviews")),
    ("hub:imdb", DataSpec("hub", "imdb")),
    ("hub:stanfordnlp/imdb@test", DataSpec("hub", "stanfordnlp/imdb", "test")),
    ("hub:glue:sst2@validation", DataSpec("hub", "glue", "validation", "sst2")),
    ("hub:glue:sst2", DataSpec("hub", "glue", None, "sst2")),
    ("tsv:data/train.tsv", DataSpec("tsv", "data/train.tsv")),
    ("csv:C:/data/a@b.csv", DataSpec("csv", "C:/data/a@b.csv")),
    ("  JSONL:x.jsonl ", DataSpec("jsonl", "x.jsonl")),
    ("parquet:x.parquet", DataSpec("parquet", "x.parquet")),
])
def test_parse_spec(spec: str, expected: DataSpec) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("txt:a.txt", r"unknown kind 'txt'.*embedded, hub, tsv, csv, jsonl, parquet"),
    ("data/train.tsv", r"has no kind.*did you mean tsv:data/train.tsv"),
    ("tsv:", r"empty location after 'tsv:'"),
    ("hub:  ", r"empty location after 'hub:'"),
    ("hub:glue:sst2@", r"empty split after '@'"),
    ("hub:glue:@train", r"empty config after 'glue:'"),
    ("hub:@train", r"empty hub data set name"),
    ("embedded:en-reviews", r"unknown embedded data set 'en-reviews'; valid names: zh-reviews"),
])
def test_parse_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_spec(spec)


def test_embedded_names_are_described() -> None:
    assert set(EMBEDDED) == {"zh-reviews"} and all(EMBEDDED.values())


# ---------------------------------------------------------------- SST-2 (real files)


def test_sst2_dev(sst2_dir: Path) -> None:
    data = load_texts(f"tsv:{sst2_dir / 'dev.tsv'}", text_column="sentence")
    assert len(data) == 872
    assert Counter(data.labels) == {"0": 428, "1": 444}
    assert data.texts[0] == "it 's a charming and often affecting journey ."  # trailing space stripped


def test_sst2_train_slice(sst2_dir: Path, tmp_path: Path) -> None:
    lines = (sst2_dir / "train.tsv").read_bytes().split(b"\n")[:2001]
    path = tmp_path / "train_head.tsv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    data = load_texts(f"tsv:{path}", text_column="sentence", label_column="label")
    expected = [line.rsplit(b"\t", 1) for line in lines[1:]]
    assert len(data) == 2000
    assert data.labels == [label.decode() for _, label in expected]
    assert data.texts == [text.decode().strip() for text, _ in expected]
    assert set(data.labels) == {"0", "1"}


def test_sst2_unlabelled(sst2_dir: Path) -> None:
    data = load_texts(f"tsv:{sst2_dir / 'dev.tsv'}", text_column="sentence", label_column=None)
    assert len(data) == 872 and data.labels is None


# ---------------------------------------------------------------- embedded zh-reviews


@pytest.fixture(scope="module")
def zh_reviews() -> TextDataset:
    return load_texts("embedded:zh-reviews")


def test_zh_reviews(zh_reviews: TextDataset) -> None:
    # 35,123 non-empty lines, but only 17,363 distinct reviews with a single label: the rest repeat.
    assert Counter(zh_reviews.labels) == {"positive": 8332, "negative": 9031}
    assert all(text and text == text.strip() for text in zh_reviews.texts)
    assert len(set(zh_reviews.texts)) == len(zh_reviews)  # no review in two splits
    assert zh_reviews.source == "embedded:zh-reviews"
    assert load_texts("embedded:zh-reviews", label_column=None).labels is None


def test_zh_reviews_80_10_10_split(zh_reviews: TextDataset) -> None:
    config = DataConfig(train="embedded:zh-reviews", validation_fraction=0.1, test_fraction=0.1, split_seed=3)
    splits = load_splits(config)
    assert set(splits) == {"train", "dev", "test"}
    sizes = {name: len(data) for name, data in splits.items()}
    assert sum(sizes.values()) == len(zh_reviews)
    for name, share in (("train", 0.8), ("dev", 0.1), ("test", 0.1)):
        assert abs(sizes[name] / len(zh_reviews) - share) < 0.001
        positive = Counter(splits[name].labels)["positive"] / sizes[name]
        assert abs(positive - 8332 / 17363) < 0.001  # stratified
    # Disjoint and complete: the three splits together are exactly the corpus (as a multiset).
    pieces = Counter()
    for data in splits.values():
        pieces.update(zip(data.texts, data.labels))
    assert pieces == Counter(zip(zh_reviews.texts, zh_reviews.labels))

    again = load_splits(config)
    assert all(again[name].texts == splits[name].texts for name in splits)
    other = load_splits(DataConfig(train="embedded:zh-reviews", validation_fraction=0.1, test_fraction=0.1,
                                   split_seed=4))
    assert other["dev"].texts != splits["dev"].texts


def test_default_config_has_no_test_set() -> None:
    splits = load_splits(DataConfig(train="embedded:zh-reviews"))
    assert set(splits) == {"train", "dev"}
    assert len(splits["dev"]) == 1737 and len(splits["train"]) == 17363 - 1737


# ---------------------------------------------------------------- local file formats


def _write(tmp_path: Path, kind: str, rows: list[tuple[str, str]], crlf: bool = False) -> Path:
    path = tmp_path / f"data.{kind}"
    newline = "\r\n" if crlf else "\n"
    if kind == "tsv":
        path.write_bytes(newline.join(["text\tlabel", *(f"{t}\t{label}" for t, label in rows), ""]).encode())
    elif kind == "csv":
        quoted = ['"' + t.replace('"', '""') + '"' if ('"' in t or "," in t or not t) else t for t, _ in rows]
        text = newline.join(["text,label", *(f"{q},{label}" for q, (_, label) in zip(quoted, rows)), ""])
        path.write_bytes(text.encode())
    elif kind == "jsonl":
        lines = [json.dumps({"id": i, "text": t, "label": label}, ensure_ascii=i % 2 == 0)
                 for i, (t, label) in enumerate(rows)]
        path.write_bytes(newline.join([*lines[:2], "", *lines[2:], ""]).encode())
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"text": [t for t, _ in rows], "label": [label for _, label in rows]})
        pq.write_table(table, path)
    return path


@pytest.mark.parametrize("kind", ["tsv", "csv", "jsonl", "parquet"])
@pytest.mark.parametrize("crlf", [False, True])
def test_formats_load_identically(tmp_path: Path, kind: str, crlf: bool) -> None:
    path = _write(tmp_path, kind, ROWS, crlf)
    data = load_texts(f"{kind}:{path}")
    assert data.texts == [t for t, _ in ROWS]
    assert data.labels == [label for _, label in ROWS]
    assert data.source == f"{kind}:{path}"
    assert load_texts(f"{kind}:{path}", label_column=None).texts == data.texts


def test_numeric_labels_become_strings(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "a.jsonl").write_text('{"text": "a", "label": 1}\n{"text": "b", "label": 0.0}\n'
                                      '{"text": "c", "label": true}\n')
    assert load_texts(f"jsonl:{tmp_path / 'a.jsonl'}").labels == ["1", "0", "true"]
    pq.write_table(pa.table({"text": ["a", "b"], "label": [1, 0]}), tmp_path / "a.parquet")
    assert load_texts(f"parquet:{tmp_path / 'a.parquet'}").labels == ["1", "0"]


def test_bom_and_padded_labels(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label\n  hello  , pos \n".encode())
    data = load_texts(f"csv:{path}")
    assert (data.texts, data.labels) == (["hello"], ["pos"])


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_text('text\tlabel\n"quoted, with comma\t1\n\n\n')
    assert load_texts(f"tsv:{path}").texts == ['"quoted, with comma']


# ---------------------------------------------------------------- file errors


def test_non_utf8_names_byte_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tsv"
    data = b"text\tlabel\nfine\t1\n" + "café\t0\n".encode("latin-1")
    path.write_bytes(data)
    offset = data.index(b"\xe9")
    with pytest.raises(DataError, match=rf"latin1\.tsv: not valid UTF-8 at byte {offset} \(line 3\)"):
        load_texts(f"tsv:{path}")


@pytest.mark.parametrize("kind, body, message", [
    ("tsv", "text\tlabel\na\t1\nb\t1\textra\n", r"bad\.tsv: line 3: expected 2 tab-separated fields "
                                                 r"\(text, label\), got 3"),
    ("tsv", "text\tlabel\na\t1\n\nb\t0\n", r"bad\.tsv: line 3: expected 2 tab-separated fields"),
    ("csv", "text,label\na,1\r\nb,1,x\r\n", r"bad\.csv: line 3: expected 2 comma-separated fields"),
    ("csv", 'text,label\na,1\n"b" c,1\n', r"bad\.csv: line 3: malformed CSV"),
    ("jsonl", '{"text": "a", "label": 1}\n\n{"text": "b", label: 1}\n', r"bad\.jsonl: line 3: invalid JSON"),
    ("jsonl", '{"text": "a", "label": 1}\n["b", 1]\n', r"bad\.jsonl: line 2: expected a JSON object, got list"),
    ("jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n',
     r"bad\.jsonl: line 2: missing label column 'label'; keys in this object: 'text'"),
    ("jsonl", '{"text": null, "label": 1}\n', r"bad\.jsonl: line 1: missing text in column 'text'"),
    ("jsonl", '{"text": "a", "label": NaN}\n', r"bad\.jsonl: line 1: missing label in column 'label'"),
    ("jsonl", '{"text": 5, "label": 1}\n', r"bad\.jsonl: line 1: text in column 'text' must be a string"),
    ("csv", "text,label\na,1\nb,\n", r"bad\.csv: line 3: empty label in column 'label'"),
    ("tsv", "sentence\tlabel\na\t1\n", r"bad\.tsv: missing text column 'text'; columns present: "
                                       r"'sentence', 'label'"),
    ("csv", "text,polarity\na,1\n", r"bad\.csv: missing label column 'label'; columns present: "
                                    r"'text', 'polarity'"),
    ("tsv", "text\ttext\tlabel\na\tb\t1\n", r"bad\.tsv: line 1: duplicate column name\(s\) in header: text"),
    ("tsv", "", r"bad\.tsv: empty file, expected a header row"),
    ("csv", "", r"bad\.csv: empty file, expected a header row"),
    ("tsv", "text\tlabel\n", r"tsv:.*bad\.tsv: no examples"),
    ("csv", "text,label\r\n", r"csv:.*bad\.csv: no examples"),
    ("jsonl", "\n\n", r"jsonl:.*bad\.jsonl: no examples"),
])
def test_file_errors(tmp_path: Path, kind: str, body: str, message: str) -> None:
    path = tmp_path / f"bad.{kind}"
    path.write_bytes(body.encode())
    with pytest.raises(DataError, match=message):
        load_texts(f"{kind}:{path}")


def test_parquet_errors(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"sentence": ["a"], "label": [1]}), path)
    with pytest.raises(DataError, match=r"p\.parquet: missing text column 'text'; columns present: 'sentence'"):
        load_texts(f"parquet:{path}")
    pq.write_table(pa.table({"text": ["a", "b"], "label": [1.0, float("nan")]}), path)
    with pytest.raises(DataError, match=r"p\.parquet: row 2: missing label in column 'label'"):
        load_texts(f"parquet:{path}")
    pq.write_table(pa.table({"text": ["a", None], "label": ["x", "y"]}), path)
    with pytest.raises(DataError, match=r"p\.parquet: row 2: missing text"):
        load_texts(f"parquet:{path}")
    (tmp_path / "fake.parquet").write_text("not parquet")
    with pytest.raises(DataError, match=r"fake\.parquet: cannot read as Parquet"):
        load_texts(f"parquet:{tmp_path / 'fake.parquet'}")


@pytest.mark.parametrize("kind", ["tsv", "csv", "jsonl", "parquet"])
def test_missing_file_and_directory(tmp_path: Path, kind: str) -> None:
    with pytest.raises(DataError, match=rf"nope\.{kind}: file not found"):
        load_texts(f"{kind}:{tmp_path / f'nope.{kind}'}")
    with pytest.raises(DataError, match=r"is a directory"):
        load_texts(f"{kind}:{tmp_path}")


# ---------------------------------------------------------------- load_splits errors


def _tsv(tmp_path: Path, name: str, rows: list[tuple[str, str]]) -> str:
    path = tmp_path / name
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows), encoding="utf-8")
    return f"tsv:{path}"


def test_explicit_dev_and_test(tmp_path: Path) -> None:
    train = _tsv(tmp_path, "train.tsv", [("a", "x"), ("b", "y")])
    dev = _tsv(tmp_path, "dev.tsv", [("c", "y")])
    test = _tsv(tmp_path, "test.tsv", [("d", "x")])
    splits = load_splits(DataConfig(train=train, dev=dev, test=test, test_fraction=0.5))
    assert {name: data.texts for name, data in splits.items()} == {"train": ["a", "b"], "dev": ["c"],
                                                                    "test": ["d"]}


def test_unseen_dev_label(tmp_path: Path) -> None:
    train = _tsv(tmp_path, "train.tsv", [("a", "pos"), ("b", "neg")])
    dev = _tsv(tmp_path, "dev.tsv", [("c", "pos"), ("d", "neutral")])
    with pytest.raises(DataError, match=r"dev\.tsv: dev example 2 has label 'neutral', which never occurs "
                                        r"in train \(tsv:.*train\.tsv\); train labels: neg, pos"):
        load_splits(DataConfig(train=train, dev=dev))


def test_unseen_test_label_after_carving_dev(tmp_path: Path) -> None:
    train = _tsv(tmp_path, "train.tsv", [(str(i), "ab"[i % 2]) for i in range(20)])
    test = _tsv(tmp_path, "test.tsv", [("z", "c")])
    with pytest.raises(DataError, match=r"test example 1 has label 'c'.*train labels: a, b"):
        load_splits(DataConfig(train=train, test=test))


def test_class_too_small_to_stratify(tmp_path: Path) -> None:
    train = _tsv(tmp_path, "train.tsv", [(str(i), "a") for i in range(10)] + [("lonely", "b")])
    with pytest.raises(DataError, match=r"cannot carve a stratified dev split: every label needs at least 2 "
                                        r"examples, these have fewer: 'b' \(1\)"):
        load_splits(DataConfig(train=train))


def test_carved_split_too_small_for_all_labels(tmp_path: Path) -> None:
    train = _tsv(tmp_path, "train.tsv", [(f"{label}{i}", label) for label in "abcd" for i in range(2)])
    with pytest.raises(DataError, match=r"stratified dev split of 1 from 8 examples with 4 labels"):
        load_splits(DataConfig(train=train, validation_fraction=0.1))


def test_empty_train_names_source(tmp_path: Path) -> None:
    train = _tsv(tmp_path, "train.tsv", [])
    with pytest.raises(DataError, match=r"tsv:.*train\.tsv: no examples"):
        load_splits(DataConfig(train=train))


# ---------------------------------------------------------------- hub (faked, no network)


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Replace datasets.load_dataset with an in-memory sst2-like data set; records the calls."""
    import datasets

    calls: list[tuple] = []
    features = datasets.Features({"sentence": datasets.Value("string"), "idx": datasets.Value("int32"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})

    def load_dataset(name: str, config: str | None = None, *, split: str) -> datasets.Dataset:
        calls.append((name, config, split))
        if split == "missing":
            raise ValueError(f'Unknown split "{split}". Should be one of [\'train\', \'validation\'].')
        labels = [-1, -1] if split == "test" else [1, 0]
        return datasets.Dataset.from_dict({"sentence": [f"{split} one ", f"{split} two"], "idx": [0, 1],
                                           "label": labels}, features=features)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_hub_split_defaulting_and_label_names(fake_hub: list[tuple]) -> None:
    data = load_texts("hub:glue:sst2", text_column="sentence")
    assert (data.texts, data.labels) == (["train one", "train two"], ["positive", "negative"])
    load_texts("hub:glue:sst2", text_column="sentence", role="dev")
    load_texts("hub:stanfordnlp/sst2@validation", text_column="sentence", role="train")
    assert load_texts("hub:glue:sst2@test", text_column="sentence", label_column=None).labels is None
    assert fake_hub == [("glue", "sst2", "train"), ("glue", "sst2", "validation"),
                        ("stanfordnlp/sst2", None, "validation"), ("glue", "sst2", "test")]


def test_hub_load_splits_uses_validation_for_dev(fake_hub: list[tuple]) -> None:
    splits = load_splits(DataConfig(train="hub:glue:sst2", dev="hub:glue:sst2", text_column="sentence"))
    assert splits["dev"].texts == ["validation one", "validation two"]
    assert fake_hub == [("glue", "sst2", "train"), ("glue", "sst2", "validation")]


def test_hub_errors(fake_hub: list[tuple]) -> None:
    with pytest.raises(DataError, match=r"hub:glue:sst2@missing \(split 'missing'\): cannot load from the "
                                        r"Hugging Face hub: ValueError: Unknown split"):
        load_texts("hub:glue:sst2@missing", text_column="sentence")
    with pytest.raises(DataError, match=r"missing text column 'text'; columns present: 'sentence', 'idx', "
                                        r"'label'"):
        load_texts("hub:glue:sst2")
    with pytest.raises(DataError, match=r"row 1: label -1 is not one of the 2 classes \(negative, positive\)"):
        load_texts("hub:glue:sst2@test", text_column="sentence")


def test_module_imports_no_heavy_libraries() -> None:
    assert "datasets" not in vars(sources) and "snownlp" not in vars(sources)


def test_an_unreachable_hub_fails_at_once_and_says_how_to_use_local_files(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets
    from huggingface_hub import constants

    from nlp_lstm.data import sources

    monkeypatch.delenv("HF_HUB_OFFLINE")
    probed: list[tuple] = []

    def unreachable(address: tuple, timeout: float) -> None:
        probed.append(address)
        raise OSError("Name or service not known")

    seen: list[bool] = []

    def load_dataset(name: str, config: str | None = None, *, split: str) -> None:
        seen.append(datasets.config.HF_HUB_OFFLINE and constants.HF_HUB_OFFLINE)  # no retries: offline mode
        raise ConnectionError(f"Couldn't reach {name!r} on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(sources.socket, "create_connection", unreachable)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    before = datasets.config.HF_HUB_OFFLINE
    with pytest.raises(DataError, match=r"hub:stanfordnlp/sst2 \(split 'train'\): cannot load from the Hugging Face "
                                        r"hub: .*; the hub cannot be reached from here and 'stanfordnlp/sst2' is not "
                                        r"in the local cache: point the spec at local files instead"):
        load_texts("hub:stanfordnlp/sst2", "sentence")
    assert probed and probed[0][1] == 443 and seen == [True]
    assert datasets.config.HF_HUB_OFFLINE == before  # restored after the call
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    probed.clear()
    assert sources.hub_offline() and probed == []  # the variable alone decides, without a probe
