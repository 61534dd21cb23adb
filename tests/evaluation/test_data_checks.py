"""Data checks on slices of real data (SST-2 dev sentences, CoNLL-2003 sentences), with problems planted in them."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from nlp_lstm.data.conll import TaggedDataset
from nlp_lstm.data.sources import TextDataset
from nlp_lstm.data.tag_schemes import convert_tags
from nlp_lstm.evaluation.data_checks import (
    check_tagged,
    check_texts,
    findings_line,
    format_checks,
    invalid_transitions,
    main_script,
    normalized,
    problem_kinds,
    shown_text,
    words,
)
from tests.conftest import SHARED_DATA, sentence_blocks


def _sst2_dev() -> tuple[list[str], list[str]]:
    with open(SHARED_DATA / "sst2" / "dev.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [row["sentence"] for row in rows], [row["label"] for row in rows]


def _by_kind(result: dict, kind: str, split: str) -> dict:
    found = [f for f in result["findings"] if f["kind"] == kind and f["split"] == split]
    assert len(found) == 1, (kind, split, [(f["kind"], f["split"]) for f in result["findings"]])
    return found[0]


def _splits() -> dict[str, TextDataset]:
    texts, labels = _sst2_dev()
    return {"train": TextDataset(texts[:400], labels[:400], "train"),
            "dev": TextDataset(texts[400:600], labels[400:600], "dev"),
            "test": TextDataset(texts[600:800], labels[600:800], "test")}


def test_real_slices_hold_none_of_the_planted_problems() -> None:
    result = check_texts(_splits(), max_length=256)
    # 400 training sentences know too few words: a fifth of dev's and test's are new, and nothing else is found
    found = [(f["kind"], f["split"]) for f in result["findings"]]
    assert found == [("unknown_words", "dev"), ("unknown_words", "test")]
    assert 0.2 < result["splits"]["dev"]["unknown_word_share"] < 0.3
    assert result["splits"]["train"]["examples"] == 400
    assert result["splits"]["train"]["scripts"] == {"Latin": 400}
    alone = check_texts({"train": _splits()["train"]})
    assert alone["findings"] == [] and findings_line(alone) == "data checks: no problems found"


def test_every_planted_text_problem_is_found_with_its_count_and_examples() -> None:
    splits = _splits()
    train, dev, test = (list(splits[name].texts) for name in ("train", "dev", "test"))
    train_labels, dev_labels, test_labels = (list(splits[name].labels) for name in ("train", "dev", "test"))
    flip = {"0": "1", "1": "0"}
    planted = [  # (text, label) appended to train: rows 401 ...
        (train[4], train_labels[4]),                                     # 401: duplicate of #5
        ("  " + train[6].upper().replace(" .", "!!!") + " ", train_labels[6]),  # 402: near duplicate of #7
        (train[8], flip[train_labels[8]]),                               # 403: #9 again, other label
        ("", "1"),                                                       # 404: empty
        (" ".join(train[:30]), "1"),                                     # 405: long
        *[(f"Это предложение номер {k} на русском языке.", "0") for k in range(5)],  # 406-410: Cyrillic
    ]
    train += [text for text, _ in planted]
    train_labels += [label for _, label in planted]
    dev[10] = train[20]                             # dev #11 leaks train #21
    test[3] = "  " + train[30].lower() + "  ..."   # test #4 near-leaks train #31
    test[5] = dev[50]                               # test #6 leaks dev #51
    test_labels[7] = "neutral"                      # a label train never has
    result = check_texts({"train": TextDataset(train, train_labels, "train"),
                          "dev": TextDataset(dev, dev_labels, "dev"),
                          "test": TextDataset(test, test_labels, "test")}, max_length=100)

    duplicate = _by_kind(result, "duplicate", "train")
    # the planted copy and the conflicting copy both repeat an earlier text exactly
    assert duplicate["count"] == 2
    assert [(e["example"], e["same_as"]) for e in duplicate["examples"]] == [(401, 5), (403, 9)]
    near = _by_kind(result, "near_duplicate", "train")
    assert (near["count"], near["examples"][0]["example"], near["examples"][0]["same_as"]) == (1, 402, 7)
    conflict = _by_kind(result, "conflicting_labels", "train")
    assert conflict["count"] == 1 and conflict["examples"][0]["example"] == 9
    assert sorted(conflict["examples"][0]["labels"].values()) == [1, 1]
    assert _by_kind(result, "empty", "train")["examples"] == [{"example": 404}]
    long = _by_kind(result, "long", "train")
    assert long["count"] == 1 and long["examples"][0]["example"] == 405 and long["examples"][0]["words"] > 100
    mixed = _by_kind(result, "mixed_scripts", "train")
    assert mixed["count"] == 5 and {e["script"] for e in mixed["examples"]} == {"Cyrillic"}
    assert result["splits"]["train"]["scripts"]["Cyrillic"] == 5
    leak = _by_kind(result, "leak", "dev")
    assert leak["count"] == 1 and leak["examples"][0] == {"example": 11, "text": shown_text(train[20]), "in": "train"}
    test_leaks = [f for f in result["findings"] if f["split"] == "test" and f["kind"] in ("leak", "near_leak")]
    assert {(f["kind"], f["examples"][0]["example"], f["examples"][0]["in"]) for f in test_leaks} == {
        ("near_leak", 4, "train"), ("leak", 6, "dev")}
    unseen = _by_kind(result, "unseen_labels", "test")
    assert unseen["examples"] == [{"label": "neutral", "count": 1}]
    assert problem_kinds(result) == ["duplicate", "near_duplicate", "conflicting_labels", "leak", "near_leak",
                                     "empty", "long", "unseen_labels", "unknown_words", "mixed_scripts"]
    assert problem_kinds(result, ["leak", "imbalance"]) == ["leak"]
    summary = format_checks(result)
    assert "duplicate [train]: 2 texts repeat an earlier text exactly" in summary
    assert "#401 = #5" in summary


def test_imbalance_label_shift_and_unknown_words_are_found() -> None:
    texts, labels = _sst2_dev()
    positive = [t for t, label in zip(texts, labels) if label == "1"]
    negative = [t for t, label in zip(texts, labels) if label == "0"]
    train = TextDataset(positive[:300] + negative[:20], ["1"] * 300 + ["0"] * 20, "train")
    dev = TextDataset(positive[300:310] + negative[20:110], ["1"] * 10 + ["0"] * 90, "dev")
    test = TextDataset(["这本书写得很好，值得一读。", "质量太差了，不推荐购买。"], ["1", "0"], "test")
    result = check_texts({"train": train, "dev": dev, "test": test})
    imbalance = _by_kind(result, "imbalance", "train")
    assert "15.0 times" in imbalance["message"]
    shift = _by_kind(result, "label_shift", "dev")
    assert "0.84" in shift["message"]  # |300/320 - 10/100| = 0.8375
    unknown = _by_kind(result, "unknown_words", "test")
    assert result["splits"]["test"]["unknown_word_share"] > 0.8 and unknown["count"] > 10
    mixed = [f for f in result["findings"] if f["kind"] == "mixed_scripts"]
    assert mixed == []  # each split is in one script


def test_words_normalization_and_scripts() -> None:
    assert words("Don't stop, 2024!") == ["Don", "'", "t", "stop", ",", "2024", "!"]
    assert words("很好的书 ok") == ["很", "好", "的", "书", "ok"]
    assert normalized("  Hello,   WORLD!! ") == normalized("hello world") == "helloworld"
    assert normalized("好 书。") == normalized("好书") == "好书"
    assert main_script("a great film") == "Latin"
    assert main_script("很好 iPhone") == "Han"
    assert main_script("Привет мир") == "Cyrillic"
    assert main_script("1234 !!") == "none"


def test_runs_cap_each_split_at_max_rows() -> None:
    splits = _splits()
    result = check_texts(splits, max_rows=150)
    assert result["splits"]["train"]["examples"] == 150
    assert result["checked_first"] == {"train": 150, "dev": 150, "test": 150}
    assert result["split_sizes"] == {"train": 400, "dev": 200, "test": 200}


# ---------------------------------------------------------------- tagged


def _conll(start: int, stop: int, path: Path = SHARED_DATA / "conll2003" / "eng.train") -> TaggedDataset:
    sentences, tags = [], []
    for block in sentence_blocks(path)[start:stop]:
        rows = [line.split() for line in block.split("\n")]
        sentences.append([row[0] for row in rows])
        tags.append([row[3] for row in rows])
    return TaggedDataset(sentences, tags, f"{path.name}[{start}:{stop}]")


def test_invalid_transitions_per_scheme() -> None:
    assert invalid_transitions(["O", "I-PER", "I-PER", "O"], "bio") == [
        (1, "I-PER follows O, not B-PER or I-PER")]
    assert invalid_transitions(["B-PER", "I-LOC"], "bio")[0][0] == 1
    assert invalid_transitions(["B-PER", "I-PER", "B-PER"], "bio") == []
    assert invalid_transitions(["I-PER", "B-PER", "O", "B-LOC"], "iob1") == [
        (3, "B-LOC follows O; IOB1 puts B- only after an entity of the same type")]
    assert invalid_transitions(["B-PER", "E-PER", "S-LOC", "O"], "bioes") == []
    assert [p for p, _ in invalid_transitions(["B-PER", "O", "I-LOC", "E-LOC", "S-PER", "E-PER"], "bioes")] == [
        0, 2, 5]
    assert invalid_transitions(["B-PER", "S-PER"], "bio")[0][1] == "S-PER has no prefix of the bio scheme"
    assert invalid_transitions(["I-PER"], "bio") == [(0, "I-PER follows the sentence start, not B-PER or I-PER")]
    assert invalid_transitions(["B-PER"], "bioes") == [(0, "B-PER is followed by the sentence end, not I-PER or E-PER")]
    # a verdict kept for a (previous, tag, next) seen in one sentence is the one another sentence would get
    rng = random.Random(0)
    alphabet = ["O", "X", *(f"{p}-{t}" for p in "BIES" for t in ("PER", "LOC"))]
    corpus = [[rng.choice(alphabet) for _ in range(rng.randint(0, 6))] for _ in range(500)]
    for scheme in ("iob1", "bio", "bioes"):
        known: dict = {}
        shared = [invalid_transitions(tags, scheme, known) for tags in corpus]
        assert shared == [invalid_transitions(tags, scheme) for tags in corpus]
        assert known


def test_every_planted_tagging_problem_is_found() -> None:
    train, dev = _conll(0, 300), _conll(0, 80, SHARED_DATA / "conll2003" / "eng.testa")
    clean = check_tagged({"train": train, "dev": dev})
    assert clean["scheme"] == "iob1"
    assert {f["kind"] for f in clean["findings"]} <= {"duplicate", "leak", "ambiguous_words", "near_duplicate",
                                                          "unknown_words"}

    sentences, tags = [list(s) for s in train.sentences], [list(t) for t in train.tags]
    sentences.append(sum(sentences[:12], []))  # 301: a document that was never split into sentences
    tags.append(sum(tags[:12], []))
    sentences.append(list(sentences[40]))  # 302: sentence 41 again with other tags
    tags.append(["I-ORG"] * len(tags[40]))
    entity = next(i for i, t in enumerate(tags) if t[0] == "O" and "I-PER" in t)
    position = tags[entity].index("I-PER")
    tags[entity][position] = "B-PER"  # after O: IOB1 allows B- only after the same type
    dev_sentences, dev_tags = [list(s) for s in dev.sentences], [list(t) for t in dev.tags]
    dev_sentences[5], dev_tags[5] = list(sentences[60]), list(tags[60])  # dev 6 leaks train 61
    dev_tags[7] = ["I-FOO"] * len(dev_tags[7])  # an entity type train never has
    result = check_tagged({"train": TaggedDataset(sentences, tags, "train"),
                           "dev": TaggedDataset(dev_sentences, dev_tags, "dev")})
    outlier = _by_kind(result, "length_outlier", "train")
    assert [e["example"] for e in outlier["examples"]] == [301]
    conflict = _by_kind(result, "conflicting_labels", "train")
    assert conflict["examples"][0]["example"] == 41
    invalid = _by_kind(result, "invalid_transitions", "train")
    assert (entity + 1, position + 1) in {(e["example"], e["token"]) for e in invalid["examples"]}
    leak = _by_kind(result, "leak", "dev")
    assert 6 in {e["example"] for e in leak["examples"]}
    unseen = _by_kind(result, "unseen_labels", "dev")
    assert unseen["examples"] == [{"label": "I-FOO", "count": len(dev_tags[7])}]
    assert findings_line(result).startswith("data checks: ")


def test_a_split_in_another_scheme_is_a_mismatch_and_its_tags_are_checked_in_trains() -> None:
    train, dev = _conll(0, 200), _conll(0, 50, SHARED_DATA / "conll2003" / "eng.testa")
    bioes = TaggedDataset(dev.sentences, [convert_tags(t, "iob1", "bioes") for t in dev.tags], "dev")
    result = check_tagged({"train": train, "dev": bioes})
    assert result["splits"]["dev"]["scheme"] == "bioes"
    assert "look like bioes, train's like iob1" in _by_kind(result, "scheme_mismatch", "dev")["message"]
    assert _by_kind(result, "invalid_transitions", "dev")["count"] > 0  # E-/S- are not iob1 tags


def test_plain_tags_have_no_scheme_and_ambiguous_words_are_counted() -> None:
    sentences = [["the", "run", "was", "long"], ["I", "run", "fast"], ["a", "run", "home"]]
    tags = [["DET", "NOUN", "AUX", "ADJ"], ["PRON", "VERB", "ADV"], ["DET", "X", "NOUN"]]
    result = check_tagged({"train": TaggedDataset(sentences, tags, "pos")})
    assert result["scheme"] is None and "scheme" not in result["splits"]["train"]
    ambiguous = _by_kind(result, "ambiguous_words", "train")
    assert ambiguous["examples"] == [{"word": "run", "tags": {"NOUN": 1, "VERB": 1, "X": 1}}]


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_converted_conll_is_valid_in_its_scheme(scheme: str) -> None:
    train = _conll(0, 300)
    converted = TaggedDataset(train.sentences, [convert_tags(t, "iob1", scheme) for t in train.tags], scheme)
    result = check_tagged({"train": converted})
    assert result["scheme"] == scheme
    assert not [f for f in result["findings"] if f["kind"] == "invalid_transitions"]
