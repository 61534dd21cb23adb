"""Tag schemes: spans in every scheme, conversions and their round trips on CoNLL-2003, seqeval as the reference."""

from __future__ import annotations

import doctest
import random
from collections import Counter
from pathlib import Path

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from nlp_lstm.data import tag_schemes
from nlp_lstm.data.conll import TaggedDataset, read_conll
from nlp_lstm.data.tag_schemes import (
    check_scheme,
    convert_sequences,
    convert_tags,
    detect_scheme,
    sequence_spans,
    spans,
    tags_from_spans,
)

# The same entities written in each scheme: (iob1, bio, bioes, spans).
CASES = [
    ([], [], [], []),
    (["O", "O"], ["O", "O"], ["O", "O"], []),
    (["I-PER"], ["B-PER"], ["S-PER"], [("PER", 0, 1)]),
    (["O", "I-LOC", "I-LOC", "I-LOC", "O"], ["O", "B-LOC", "I-LOC", "I-LOC", "O"],
     ["O", "B-LOC", "I-LOC", "E-LOC", "O"], [("LOC", 1, 4)]),
    # adjacent entities of the same type: the only place IOB1 writes B-
    (["I-PER", "B-PER"], ["B-PER", "B-PER"], ["S-PER", "S-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
    (["I-MISC", "I-MISC", "B-MISC", "B-MISC", "I-MISC"], ["B-MISC", "I-MISC", "B-MISC", "B-MISC", "I-MISC"],
     ["B-MISC", "E-MISC", "S-MISC", "B-MISC", "E-MISC"], [("MISC", 0, 2), ("MISC", 2, 3), ("MISC", 3, 5)]),
    # adjacent entities of different types: IOB1 needs no B-
    (["I-LOC", "I-LOC", "I-ORG"], ["B-LOC", "I-LOC", "B-ORG"], ["B-LOC", "E-LOC", "S-ORG"],
     [("LOC", 0, 2), ("ORG", 2, 3)]),
    (["I-ORG", "O", "I-ORG"], ["B-ORG", "O", "B-ORG"], ["S-ORG", "O", "S-ORG"], [("ORG", 0, 1), ("ORG", 2, 3)]),
    # a type with a hyphen: the type is everything after the first "-"
    (["I-ART-OBJ", "I-ART-OBJ"], ["B-ART-OBJ", "I-ART-OBJ"], ["B-ART-OBJ", "E-ART-OBJ"], [("ART-OBJ", 0, 2)]),
]
SCHEME_COLUMNS = {"iob1": 0, "bio": 1, "bioes": 2}


@pytest.fixture(scope="module")
def conll_train(shared_data: Path) -> TaggedDataset:
    return read_conll(shared_data / "conll2003" / "eng.train")


@pytest.fixture(scope="module")
def conll_dev(shared_data: Path) -> TaggedDataset:
    return read_conll(shared_data / "conll2003" / "eng.testa")


def test_docstring_examples_run() -> None:
    assert doctest.testmod(tag_schemes).failed == 0


# ---------------------------------------------------------------- scheme names


@pytest.mark.parametrize("name, expected", [("iob1", "iob1"), ("bio", "bio"), ("iob2", "bio"), ("IOB2", "bio"),
                                            ("bioes", "bioes"), ("BIOES", "bioes")])
def test_scheme_names_and_alias(name: str, expected: str) -> None:
    assert check_scheme(name) == expected


@pytest.mark.parametrize("call", [
    lambda: check_scheme("iobes"),
    lambda: spans(["O"], "iobes"),
    lambda: convert_tags(["O"], "iob1", "iobes"),
    lambda: convert_tags(["O"], "bilou", "bio"),
    lambda: tags_from_spans([], 1, "iobes"),
])
def test_unknown_scheme_names_the_valid_ones(call) -> None:
    with pytest.raises(ValueError, match=r"unknown tag scheme '(iobes|bilou)'; valid schemes: iob1, bio, bioes, "
                                         r"iob2 \(= bio\)"):
        call()


# ---------------------------------------------------------------- spans and conversion


@pytest.mark.parametrize("iob1, bio, bioes, expected", CASES)
def test_spans_equal_across_schemes(iob1: list[str], bio: list[str], bioes: list[str], expected: list) -> None:
    assert spans(iob1, "iob1") == spans(bio, "bio") == spans(bioes, "bioes") == expected


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("source", SCHEME_COLUMNS)
@pytest.mark.parametrize("target", SCHEME_COLUMNS)
def test_convert_between_every_pair(case: tuple, source: str, target: str) -> None:
    assert convert_tags(case[SCHEME_COLUMNS[source]], source, target) == case[SCHEME_COLUMNS[target]]
    assert tags_from_spans(case[3], len(case[0]), target) == case[SCHEME_COLUMNS[target]]


@pytest.mark.parametrize("tags, scheme, expected", [
    # conlleval's reading of sequences that break the scheme's rules
    (["O", "I-PER", "I-PER"], "bio", [("PER", 1, 3)]),                    # I- after O starts an entity
    (["B-PER", "I-LOC"], "bio", [("PER", 0, 1), ("LOC", 1, 2)]),          # a type change starts one
    (["O", "B-MISC", "I-MISC"], "iob1", [("MISC", 1, 3)]),               # B- after O (eng.train's Atlanta)
    (["B-LOC", "I-LOC", "O"], "bioes", [("LOC", 0, 2)]),                 # B-I with no E-
    (["I-LOC", "E-LOC"], "bioes", [("LOC", 0, 2)]),                      # starts with I-
    (["O", "E-LOC", "E-LOC"], "bioes", [("LOC", 1, 2), ("LOC", 2, 3)]),  # E- after O or E- is single
    (["S-PER", "I-PER", "E-PER"], "bioes", [("PER", 0, 1), ("PER", 1, 3)]),
    (["B-PER", "S-PER"], "bioes", [("PER", 0, 1), ("PER", 1, 2)]),
])
def test_invalid_sequences_are_read_like_conlleval(tags: list[str], scheme: str, expected: list) -> None:
    assert spans(tags, scheme) == expected
    assert get_entities(tags) == [(t, start, end - 1) for t, start, end in expected]


@pytest.mark.parametrize("scheme", SCHEME_COLUMNS)
def test_spans_match_seqeval_on_random_sequences(scheme: str) -> None:
    """seqeval's get_entities (conlleval's rules) is the reference, on valid and invalid sequences alike."""
    rng = random.Random(0)
    alphabet = ["O"] + [f"{p}-{t}" for p in tag_schemes.PREFIXES[scheme] for t in ("PER", "LOC")]
    for _ in range(2000):
        tags = [rng.choice(alphabet) for _ in range(rng.randint(0, 8))]
        found = spans(tags, scheme)
        assert [(t, start, end - 1) for t, start, end in found] == get_entities(tags), tags
        # the canonical form in any scheme holds the same spans
        for target in SCHEME_COLUMNS:
            assert spans(convert_tags(tags, scheme, target), target) == found


@pytest.mark.parametrize("tags, scheme, message", [
    (["O", "E-PER"], "bio", r"tag 2 \('E-PER'\) is not valid in the bio scheme: expected O, B-TYPE, I-TYPE"),
    (["S-PER"], "iob1", r"tag 1 \('S-PER'\) is not valid in the iob1 scheme"),
    (["PER"], "bio", r"tag 1 \('PER'\) is not valid"),
    (["B-"], "bioes", r"tag 1 \('B-'\) is not valid in the bioes scheme: expected O, B-TYPE, I-TYPE, E-TYPE, "
                      r"S-TYPE"),
    (["O", "o"], "bio", r"tag 2 \('o'\)"),
    (["BB-PER"], "bio", r"tag 1 \('BB-PER'\)"),
    ([""], "bio", r"tag 1 \(''\)"),
])
def test_tags_a_scheme_lacks_are_errors(tags: list[str], scheme: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spans(tags, scheme)


def test_tags_from_spans_errors() -> None:
    with pytest.raises(ValueError, match=r"overlap"):
        tags_from_spans([("PER", 0, 2), ("LOC", 1, 3)], 3, "bio")
    with pytest.raises(ValueError, match=r"outside a sequence of length 2"):
        tags_from_spans([("PER", 1, 3)], 2, "bio")
    with pytest.raises(ValueError, match=r"empty or outside"):
        tags_from_spans([("PER", 1, 1)], 2, "bio")
    assert tags_from_spans([("LOC", 2, 3), ("LOC", 0, 2)], 3, "iob1") == ["I-LOC", "I-LOC", "B-LOC"]


def test_convert_sequences_names_the_bad_sequence() -> None:
    assert convert_sequences([["I-PER", "B-PER"], []], "iob1", "bioes") == [["S-PER", "S-PER"], []]
    with pytest.raises(ValueError, match=r"sequence 2: tag 1 \('S-PER'\) is not valid in the iob1 scheme"):
        convert_sequences([["O"], ["S-PER"]], "iob1", "bio")


@pytest.mark.parametrize("sequences, expected", [
    ([], "bio"),
    ([["O", "O"]], "bio"),
    ([["B-PER", "I-PER"], ["B-LOC"]], "bio"),
    ([["B-PER", "I-PER"], ["O", "I-LOC"]], "iob1"),
    ([["I-PER", "I-LOC"]], "iob1"),
    ([["B-PER", "E-PER"]], "bioes"),
    ([["I-PER"], ["S-LOC"]], "bioes"),
])
def test_detect_scheme(sequences: list[list[str]], expected: str) -> None:
    assert detect_scheme(sequences) == expected



def detect_token_by_token(sequences: list[list[str]]) -> str:
    """detect_scheme's rule read one tag at a time: the reference for its reading of distinct tag pairs."""
    found = "bio"
    for tags in sequences:
        for prev, tag in zip(["O", *tags], tags):
            prefix, _, type_ = tag.partition("-")
            if prefix in ("E", "S"):
                return "bioes"
            if prefix == "I" and (prev == "O" or prev.partition("-")[2] != type_):
                found = "iob1"
    return found


def test_corpus_readings_agree_with_reading_each_sequence_alone() -> None:
    """detect_scheme, convert_sequences and sequence_spans split each distinct tag once for a whole corpus; that
    gives what reading each sequence (or tag) alone gives, on random corpora of valid and invalid sequences."""
    rng = random.Random(1)
    alphabet = ["O", "O", "O", *(f"{p}-{t}" for p in "BIES" for t in ("PER", "LOC", "B-X"))]
    for _ in range(300):
        corpus = [[rng.choice(alphabet) for _ in range(rng.randint(0, 6))] for _ in range(rng.randint(0, 5))]
        assert detect_scheme(corpus) == detect_token_by_token(corpus) == detect_scheme(iter(corpus)), corpus
        for source in SCHEME_COLUMNS:
            try:
                alone = [spans(tags, source) for tags in corpus]
            except ValueError:
                with pytest.raises(ValueError, match=r"^sequence \d+: tag \d+ "):
                    list(sequence_spans(corpus, source))
                continue
            assert list(sequence_spans(corpus, source)) == alone
            for target in SCHEME_COLUMNS:
                assert convert_sequences(corpus, source, target) == [convert_tags(t, source, target) for t in corpus]
    with pytest.raises(ValueError, match=r"unknown tag scheme 'bilou'"):
        convert_sequences([], "bilou", "bio")  # checked before any sequence is read


# ---------------------------------------------------------------- CoNLL-2003


def test_conll2003_entity_counts_as_iob1_chunks(conll_train: TaggedDataset, conll_dev: TaggedDataset) -> None:
    for dataset, expected in ((conll_train, {"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}),
                              (conll_dev, {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842})):
        counts = Counter(type_ for tags in dataset.tags for type_, _, _ in spans(tags, "iob1"))
        assert counts == expected
        assert detect_scheme(dataset.tags) == "iob1"


def test_conll2003_round_trip_iob1_bio_bioes_bio_iob1(conll_train: TaggedDataset, conll_dev: TaggedDataset) -> None:
    """Every sentence comes back unchanged except the two B-MISC tags that follow no MISC entity.

    IOB1 writes B- only after an entity of the same type, so those two come back as I-MISC (as in
    aidamd/NER's copy); their spans, and the 35 B-MISC tags that do follow a MISC entity, survive.
    """
    changed = []
    for dataset in (conll_train, conll_dev):
        for tokens, iob1 in zip(dataset.sentences, dataset.tags):
            bio = convert_tags(iob1, "iob1", "bio")
            bioes = convert_tags(bio, "bio", "bioes")
            back = convert_tags(convert_tags(bioes, "bioes", "bio"), "bio", "iob1")
            assert spans(iob1, "iob1") == spans(bio, "bio") == spans(bioes, "bioes") == spans(back, "iob1")
            changed += [(tokens[i], old, new) for i, (old, new) in enumerate(zip(iob1, back)) if old != new]
    assert changed == [("Atlanta", "B-MISC", "I-MISC"), ("Urdu-speaking", "B-MISC", "I-MISC")]
    b_tags = Counter(tag for tags in conll_train.tags for tag in tags if tag.startswith("B-"))
    assert b_tags == {"B-MISC": 37, "B-ORG": 24, "B-LOC": 11}


def test_conll2003_b_misc_after_misc_in_every_scheme(conll_train: TaggedDataset) -> None:
    """A B-MISC directly after MISC: two entities in every scheme, and B- again in IOB1."""
    index = next(i for i, tags in enumerate(conll_train.tags)
                 if any(a == "I-MISC" and b == "B-MISC" for a, b in zip(tags, tags[1:])))
    iob1 = conll_train.tags[index]
    position = next(i for i in range(1, len(iob1)) if iob1[i - 1] == "I-MISC" and iob1[i] == "B-MISC")
    bio, bioes = convert_tags(iob1, "iob1", "bio"), convert_tags(iob1, "iob1", "bioes")
    assert bio[position] == "B-MISC" and bioes[position - 1][0] in "ES" and bioes[position][0] in "BS"
    assert convert_tags(bioes, "bioes", "iob1") == iob1
    assert detect_scheme([bio]) == "bio" and detect_scheme([bioes]) == "bioes"
