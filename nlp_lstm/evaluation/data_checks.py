"""Checks of labelled data: what is wrong with it before a model learns from it.

Texts: exact and normalized duplicates, texts with conflicting labels, dev/test texts that also occur in train
(leaks), label balance and shift between splits, empty and over-long texts, words unknown to train, mixed
scripts. Tagged sentences: the same duplicates and leaks, invalid entity-tag transitions (and the scheme each
split looks like), words seen with many tags, sentence-length outliers, tags missing from train.

`check_texts` and `check_tagged` return one JSON-ready dict: per-split statistics under "splits" and a list of
findings, each of one kind (`KINDS`) with a count, a one-line message and a few examples. `nlp-lstm check-data`
prints it; every training run stores it in metrics.json and its report shows it. The thresholds are the
constants below (docs/data-checks.md).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..data.tag_schemes import PREFIXES, detect_scheme

IMBALANCE_RATIO = 10.0
LABEL_SHIFT = 0.1
UNKNOWN_SHARE = 0.2
MIXED_SHARE = 0.01
AMBIGUOUS_TAGS = 3

KINDS = {
    "duplicate": "an example repeats an earlier one of its split exactly",
    "near_duplicate": "an example repeats an earlier one once case, whitespace and punctuation are ignored",
    "conflicting_labels": "the same text (or sentence) occurs with different labels (or tags)",
    "leak": "a dev or test example also occurs in train (or a test example in dev)",
    "near_leak": "a dev or test example occurs in train once case, whitespace and punctuation are ignored",
    "empty": "an empty text or sentence",
    "long": "a text longer than data.max_length words, which the model truncates",
    "length_outlier": "a sentence far longer than train's (beyond Q3 + 3 IQR of train's lengths)",
    "imbalance": f"the most frequent train label is at least {IMBALANCE_RATIO:g} times the least frequent",
    "label_shift": f"a split's label shares differ from train's by a total variation of {LABEL_SHIFT:g} or more",
    "unseen_labels": "dev or test labels (or tags) that never occur in train",
    "unknown_words": f"a dev or test split with {UNKNOWN_SHARE:.0%} or more of its words unseen in train",
    "mixed_scripts": f"{MIXED_SHARE:.0%} or more of a split's texts mostly in another script than its main one",
    "invalid_transitions": "an entity tag its scheme does not allow after (or before) its neighbour",
    "scheme_mismatch": "dev or test tags look like another entity scheme than train's",
    "ambiguous_words": f"words seen with {AMBIGUOUS_TAGS} or more different tags (entity types for entity tags)",
    "label_errors": "examples whose label the out-of-fold predictions of small models doubt (confident learning)",
}
EXAMPLES = 5  # examples kept per finding
SHOWN_CHARACTERS = 160  # of a text in an example

# a word: one CJK character or kana, a run of letters and digits, or one other visible character
_WORDS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+|[^\w\s]")
_NOT_WORD = re.compile(r"[\W_]+")
_SCRIPT_NAMES = {"CJK": "Han"}


def words(text: str) -> list[str]:
    """A text's words as the checks count them: CJK characters one by one, letter/digit runs, punctuation marks."""
    return _WORDS.findall(text)


def normalized(text: str) -> str:
    """`text` with case, width, whitespace and punctuation ignored: the key of near duplicates."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def main_script(text: str, cache: dict[str, str] | None = None) -> str:
    """The Unicode script most of `text`'s words are written in ("Latin", "Han", "Cyrillic", ...), or "none"; a
    CJK character counts as one word, as `words` splits it."""
    if text.isascii():
        return "Latin" if any(c.isalpha() for c in text) else "none"
    cache = {} if cache is None else cache
    counts: Counter[str] = Counter()
    for word in words(text):
        c = word[0]
        if c.isalpha():
            if c not in cache:
                first = unicodedata.name(c, "UNKNOWN").split(" ")[0]
                cache[c] = _SCRIPT_NAMES.get(first, first.title())
            counts[cache[c]] += 1
    return counts.most_common(1)[0][0] if counts else "none"


def shown_text(text: str) -> str:
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 1] + "…"


def new_finding(kind: str, split: str, count: int, message: str, examples: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "split": split, "count": int(count), "message": message, "examples": examples[:EXAMPLES]}


_SINGULAR = {"repeat": "repeats", "occur": "occurs", "are": "is", "have": "has", "break": "breaks"}


def _plural(count: int, word: str, verb: str = "") -> str:
    """"2 texts repeat", "1 text repeats": a count, its noun and (when given) the verb agreeing with it."""
    phrase = f"{count:,} {word}{'' if count == 1 else 's'}"
    return phrase if not verb else f"{phrase} {verb if count != 1 else _SINGULAR[verb]}"


# ---------------------------------------------------------------- shared by texts and sentences


def _repeats(keys: Sequence[str], indices: Iterable[int]) -> tuple[dict[str, int], list[tuple[int, int]]]:
    """Where each key of `keys` at `indices` first occurs, and (index, first index) of each later occurrence."""
    first: dict[str, int] = {}
    repeats = []
    for index in indices:
        key = keys[index]
        if key in first:
            repeats.append((index, first[key]))
        else:
            first[key] = index
    return first, repeats


def _duplicates(keys: Sequence[str], near_keys: Sequence[str], shown: Sequence[str], split: str, unit: str
                ) -> list[dict[str, Any]]:
    """Exact repeats of an earlier example, then repeats once normalized (not already exact repeats)."""
    findings = []
    first, exact = _repeats(keys, range(len(keys)))
    _, near = _repeats(near_keys, [i for i in sorted(first.values()) if near_keys[i]])
    for kind, repeats, how in (("duplicate", exact, f"exactly ({len(first):,} distinct of {len(keys):,})"),
                               ("near_duplicate", near, "once case, whitespace and punctuation are ignored")):
        if repeats:
            findings.append(new_finding(kind, split, len(repeats),
                                        f"{_plural(len(repeats), unit, 'repeat')} an earlier {unit} {how}",
                                        [{"example": i + 1, "same_as": j + 1, "text": shown[i]} for i, j in repeats]))
    return findings


def _conflicts(keys: Sequence[str], labels: Sequence[str], shown: Sequence[str], split: str, unit: str
               ) -> list[dict[str, Any]]:
    """Distinct examples that occur with more than one label."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    first: dict[str, int] = {}
    for index, (key, label) in enumerate(zip(keys, labels)):
        seen[key][label] += 1
        first.setdefault(key, index)
    conflicting = [key for key, counts in seen.items() if len(counts) > 1]
    if not conflicting:
        return []
    examples = [{"example": first[key] + 1, "text": shown[first[key]], "labels": dict(seen[key].most_common())}
                for key in conflicting]
    return [new_finding("conflicting_labels", split, len(conflicting),
                     f"{_plural(len(conflicting), 'distinct ' + unit, 'occur')} with more than one label", examples)]


def _leaks(splits: dict[str, tuple[Sequence[str], Sequence[str], Sequence[str]]], unit: str
           ) -> list[dict[str, Any]]:
    """dev and test examples that occur in train (and test examples in dev), exactly or once normalized."""
    findings = []
    for name, earlier in (("dev", ("train",)), ("test", ("train", "dev"))):
        if name not in splits:
            continue
        keys, near_keys, shown = splits[name]
        for other in earlier:
            if other not in splits:
                continue
            other_keys, other_near, _ = splits[other]
            exact, near = set(other_keys), set(other_near) - {""}
            found = [i for i, key in enumerate(keys) if key in exact]
            close = [i for i, (key, n) in enumerate(zip(keys, near_keys)) if key not in exact and n in near]
            for kind, rows, how in (("leak", found, "exactly"),
                                    ("near_leak", close, "once case, whitespace and punctuation are ignored")):
                if rows:
                    findings.append(new_finding(
                        kind, name, len(rows), f"{_plural(len(rows), name + ' ' + unit)} of {len(keys):,} "
                                               f"{'also occur' if len(rows) != 1 else 'also occurs'} in {other} {how}",
                        [{"example": i + 1, "text": shown[i], "in": other} for i in rows]))
    return findings


def _label_checks(counts: dict[str, Counter[str]], unit: str) -> list[dict[str, Any]]:
    """Imbalance in train, label shift and unseen labels in dev and test."""
    findings = []
    train = counts["train"]
    if len(train) > 1:
        (most, high), (least, low) = train.most_common()[0], train.most_common()[-1]
        if high >= IMBALANCE_RATIO * low:
            findings.append(new_finding("imbalance", "train", len(train),
                                     f"{most!r} has {high / low:.1f} times the {unit}s of {least!r} "
                                     f"({high:,} against {low:,}); accuracy then favours the majority",
                                     [{"label": label, "count": n} for label, n in train.most_common()]))
    total = sum(train.values())
    for name in ("dev", "test"):
        if name not in counts:
            continue
        theirs = counts[name]
        size = sum(theirs.values())
        unseen = sorted(set(theirs) - set(train))
        if unseen:
            findings.append(new_finding("unseen_labels", name, len(unseen),
                                     f"{name} has labels that never occur in train: {', '.join(unseen[:10])}",
                                     [{"label": label, "count": theirs[label]} for label in unseen]))
        if size and total:
            labels = set(train) | set(theirs)
            shift = 0.5 * sum(abs(train[label] / total - theirs[label] / size) for label in labels)
            if shift >= LABEL_SHIFT:
                findings.append(new_finding(
                    "label_shift", name, 1, f"{name}'s label shares differ from train's by a total variation of "
                                            f"{shift:.2f}",
                    [{"label": label, "train": round(train[label] / total, 4), name: round(theirs[label] / size, 4)}
                     for label in sorted(labels, key=lambda label: -abs(train[label] / total - theirs[label] / size))]))
    return findings


def _unknown_words(vocabulary: set[str], tokens: Iterable[Sequence[str]]) -> tuple[int, int, Counter[str]]:
    """Words counted, those unseen in `vocabulary`, and the unseen ones by frequency (case-folded)."""
    total, unseen = 0, Counter()
    for sentence in tokens:
        total += len(sentence)
        unseen.update(w for w in (w.casefold() for w in sentence) if w not in vocabulary)
    return total, sum(unseen.values()), unseen


def _coverage(tokens: dict[str, list[list[str]]], stats: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Share of dev and test words never seen in train."""
    vocabulary = {w.casefold() for sentence in tokens["train"] for w in sentence}
    findings = []
    for name in ("dev", "test"):
        if name not in tokens:
            continue
        total, unseen, which = _unknown_words(vocabulary, tokens[name])
        share = unseen / total if total else 0.0
        stats[name]["unknown_word_share"] = round(share, 4)
        if share >= UNKNOWN_SHARE:
            findings.append(new_finding("unknown_words", name, unseen,
                                     f"{share:.1%} of {name}'s {total:,} words never occur in train",
                                     [{"word": w, "count": n} for w, n in which.most_common(EXAMPLES)]))
    return findings


def _scripts(name: str, texts: Sequence[str], stats: dict[str, Any], unit: str) -> list[dict[str, Any]]:
    """Each text's main script, counted; texts mostly in another script than the split's main one."""
    cache: dict[str, str] = {}
    scripts = [main_script(text, cache) for text in texts]
    counts = Counter(s for s in scripts if s != "none")
    stats["scripts"] = dict(counts.most_common())
    if len(counts) < 2:
        return []
    main = counts.most_common(1)[0][0]
    others = [i for i, s in enumerate(scripts) if s not in (main, "none")]
    if len(others) < MIXED_SHARE * len(texts):
        return []
    listed = ", ".join(f"{s} {n:,}" for s, n in counts.most_common() if s != main)
    return [new_finding("mixed_scripts", name, len(others),
                     f"{_plural(len(others), unit, 'are')} mostly not in {main}, the split's main script ({listed})",
                     [{"example": i + 1, "script": scripts[i], "text": shown_text(texts[i])} for i in others])]


class _Checks:
    """The checks every split gets (sizes, labels, duplicates, conflicts), then those across splits (leaks,
    labels, unknown words)."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.stats: dict[str, dict[str, Any]] = {}
        self.findings: list[dict[str, Any]] = []
        self.keyed: dict[str, tuple[Sequence[str], Sequence[str], Sequence[str]]] = {}
        self.tokens: dict[str, list[list[str]]] = {}
        self.counts: dict[str, Counter[str]] = {}

    def add_split(self, name: str, source: str, keys: Sequence[str], near: Sequence[str], shown: Sequence[str],
                  tokens: list[list[str]], labels: Sequence[str] | None, counts: Counter[str] | None = None
                  ) -> np.ndarray:
        """Record one split (exact keys, normalized keys, shown texts, words, labels or None; label counts when
        they are not `labels`' own) and check it alone; its lengths in words."""
        self.keyed[name], self.tokens[name] = (keys, near, shown), tokens
        lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        self.stats[name] = {"source": source, "examples": len(keys), "words": int(lengths.sum()),
                            "median_words": float(np.median(lengths)) if len(keys) else 0.0}
        self.findings += _duplicates(keys, near, shown, name, self.unit)
        if labels is not None:
            self.counts[name] = counts if counts is not None else Counter(labels)
            self.stats[name]["labels"] = dict(sorted(self.counts[name].items(), key=lambda item: (-item[1], item[0])))
            self.findings += _conflicts(keys, labels, shown, name, self.unit)
        return lengths

    def across_splits(self, all_label_checks: bool) -> list[dict[str, Any]]:
        """Leaks, unseen labels (and with `all_label_checks` imbalance and label shift), unknown words."""
        findings = _leaks(self.keyed, self.unit)
        if "train" in self.counts:
            labels = _label_checks(self.counts, self.unit)
            findings += labels if all_label_checks else [f for f in labels if f["kind"] == "unseen_labels"]
        return findings + _coverage(self.tokens, self.stats)


# ---------------------------------------------------------------- texts


def _first_rows(splits: dict[str, Any], max_rows: int | None) -> tuple[dict[str, Any], dict[str, int]]:
    """Each split cut to its first `max_rows` examples, and the full size of each split that was cut."""
    cut = {name: len(data) for name, data in splits.items() if max_rows is not None and len(data) > max_rows}
    return {name: data.subset(range(max_rows), data.source) if name in cut else data
            for name, data in splits.items()}, cut


def check_texts(splits: dict[str, Any], max_length: int | None = None, max_rows: int | None = None
                ) -> dict[str, Any]:
    """Statistics and findings of labelled text splits ("train" and any of "dev", "test": TextDatasets), the first
    `max_rows` examples of each when given."""
    splits, cut = _first_rows(splits, max_rows)
    checks = _Checks("text")
    for name, dataset in splits.items():
        texts = list(dataset.texts)
        labels = [str(label) for label in dataset.labels] if dataset.labels is not None else None
        shown = [shown_text(text) for text in texts]
        lengths = checks.add_split(name, dataset.source, texts, [normalized(text) for text in texts], shown,
                                   [words(text) for text in texts], labels)
        stats, findings = checks.stats, checks.findings  # this split's own checks add to the shared list
        empty = [i for i, text in enumerate(texts) if not text.strip()]
        if empty:
            findings.append(new_finding("empty", name, len(empty), f"{_plural(len(empty), 'text', 'are')} empty",
                                     [{"example": i + 1} for i in empty]))
        if max_length:
            long = np.flatnonzero(lengths > max_length).tolist()
            if long:
                findings.append(new_finding(
                    "long", name, len(long), f"{_plural(len(long), 'text', 'have')} more than data.max_length = "
                                             f"{max_length} words (a CJK character counts as one; the longest "
                                             f"{int(lengths.max()):,}); a model reads at most {max_length} tokens",
                    [{"example": i + 1, "words": int(lengths[i]), "text": shown[i]}
                     for i in sorted(long, key=lambda i: -lengths[i])]))
        findings += _scripts(name, texts, stats[name], "text")
    findings = checks.findings + checks.across_splits(all_label_checks=True)
    return {"task": "classification", "splits": checks.stats, "findings": ordered_findings(findings),
            **_cut_note(cut, max_rows)}


# ---------------------------------------------------------------- tagged sentences


def invalid_transitions(tags: Sequence[str], scheme: str, known: dict | None = None) -> list[tuple[int, str]]:
    """(position, why) of each tag that `scheme` (iob1, bio, bioes) does not allow where it stands; `known` keeps
    the verdict on each (previous, tag, next) seen, for the sentences of one corpus."""
    known = {} if known is None else known
    found = []
    for i, key in enumerate(zip([None, *tags[:-1]], tags, [*tags[1:], None])):
        if key[1] == "O":
            continue
        why = known.get(key, False)
        if why is False:
            why = known[key] = _transition_problem(*key, scheme)
        if why is not None:
            found.append((i, why))
    return found


def _transition_problem(before: str | None, tag: str, after: str | None, scheme: str) -> str | None:
    """Why `scheme` does not allow `tag` between `before` and `after` (None: the sentence's start or end), or None."""
    def parsed(t: str | None) -> tuple[str, str]:
        return ("O", "") if t is None or t == "O" else tuple(t.split("-", 1)) if "-" in t else ("?", t)

    (prefix, kind), previous, following = parsed(tag), parsed(before), parsed(after)
    same_before = previous[0] != "O" and previous[1] == kind
    start = "the sentence start" if before is None else before
    if prefix not in PREFIXES[scheme]:
        return f"{tag} has no prefix of the {scheme} scheme"
    if scheme == "bio" and prefix == "I" and not (same_before and previous[0] in "BI"):
        return f"{tag} follows {start}, not B-{kind} or I-{kind}"
    if scheme == "iob1" and prefix == "B" and not same_before:
        return f"{tag} follows {start}; IOB1 puts B- only after an entity of the same type"
    if scheme == "bioes":
        if prefix in "IE" and not (same_before and previous[0] in "BI"):
            return f"{tag} follows {start}, not B-{kind} or I-{kind}"
        if prefix in "BI" and not (following[1] == kind and following[0] in "IE"):
            return f"{tag} is followed by {'the sentence end' if after is None else after}, not I-{kind} or E-{kind}"
    return None


def _joined(tokens: Sequence[str]) -> str:
    """A sentence's tokens as text: characters of a character-level corpus (Chinese) join without spaces."""
    return "".join(tokens) if all(len(t) == 1 for t in tokens) and not "".join(tokens).isascii() else " ".join(tokens)


def _is_entity_tags(tags: Iterable[str]) -> bool:
    return all(t == "O" or (len(t) > 2 and t[1] == "-" and t[0] in "BIES") for t in tags)


def check_tagged(splits: dict[str, Any], scheme: str | None = None, max_rows: int | None = None) -> dict[str, Any]:
    """Statistics and findings of tagged splits ("train" and any of "dev", "test": TaggedDatasets); `scheme` is the
    entity scheme to check transitions against (default: the one train's tags look like)."""
    splits, cut = _first_rows(splits, max_rows)
    checks = _Checks("sentence")
    all_tags = {tag for dataset in splits.values() for sentence in dataset.tags for tag in sentence}
    entity = _is_entity_tags(all_tags)
    train_lengths = np.array([len(s) for s in splits["train"].sentences])
    q1, q3 = np.percentile(train_lengths, [25, 75]) if len(train_lengths) else (0.0, 0.0)
    fence = q3 + 3 * (q3 - q1)
    detected_train = detect_scheme(splits["train"].tags) if entity else None
    scheme = scheme or detected_train
    for name, dataset in splits.items():
        sentences, tags = dataset.sentences, dataset.tags
        lengths = checks.add_split(name, dataset.source, ["\u241f".join(s) for s in sentences],
                                   [normalized(" ".join(s)) for s in sentences],
                                   [shown_text(_joined(s)) for s in sentences], [list(s) for s in sentences],
                                   [" ".join(t) for t in tags], Counter(tag for sentence in tags for tag in sentence))
        stats, findings, shown = checks.stats, checks.findings, checks.keyed[name][2]  # shared, as in check_texts
        empty = np.flatnonzero(lengths == 0).tolist()
        if empty:
            findings.append(new_finding("empty", name, len(empty),
                                        f"{_plural(len(empty), 'sentence', 'have')} no tokens",
                                        [{"example": i + 1} for i in empty]))
        outliers = np.flatnonzero(lengths > fence).tolist() if len(train_lengths) else []
        if outliers:
            findings.append(new_finding(
                "length_outlier", name, len(outliers),
                f"{_plural(len(outliers), 'sentence', 'have')} more than {fence:.0f} tokens (train's Q3 + 3 IQR; the "
                f"longest {int(lengths.max()):,}): often sentences that were never split",
                [{"example": i + 1, "tokens": int(lengths[i]), "text": shown[i]}
                 for i in sorted(outliers, key=lambda i: -lengths[i])]))
        if entity:
            detected = detect_scheme(tags)
            stats[name]["scheme"] = detected
            if name != "train" and detected != detected_train and detected != "bio":
                findings.append(new_finding("scheme_mismatch", name, 1,
                                         f"{name}'s tags look like {detected}, train's like {detected_train}", []))
            known: dict = {}
            invalid = [(i, position, why) for i, sentence in enumerate(tags)
                       for position, why in invalid_transitions(sentence, scheme, known)]
            if invalid:
                findings.append(new_finding(
                    "invalid_transitions", name, len(invalid),
                    f"{_plural(len(invalid), 'tag', 'break')} the {scheme} scheme (read as conlleval reads them)",
                    [{"example": i + 1, "token": p + 1, "word": sentences[i][p], "why": why} for i, p, why in invalid]))
        findings += _ambiguous(name, sentences, tags, entity)
    findings = checks.findings + checks.across_splits(all_label_checks=False)
    return {"task": "tagging", "scheme": scheme, "splits": checks.stats, "findings": ordered_findings(findings),
            **_cut_note(cut, max_rows)}


def _ambiguous(name: str, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], entity: bool
               ) -> list[dict[str, Any]]:
    """Words seen with AMBIGUOUS_TAGS or more different tags (entity types, with O, for entity tags)."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    pairs = Counter(itertools.chain.from_iterable(map(zip, sentences, tags)))  # (word, tag): count
    for (word, tag), count in pairs.items():
        seen[word][tag.split("-", 1)[1] if entity and tag != "O" else tag] += count
    ambiguous = [word for word, counts in seen.items() if len(counts) >= AMBIGUOUS_TAGS]
    if not ambiguous:
        return []
    ambiguous.sort(key=lambda word: (-len(seen[word]), -sum(seen[word].values()), word))
    what = "entity types (or O)" if entity else "tags"
    return [new_finding("ambiguous_words", name, len(ambiguous),
                     f"{_plural(len(ambiguous), 'word', 'occur')} with {AMBIGUOUS_TAGS} or more {what}",
                     [{"word": word, "tags": dict(seen[word].most_common())} for word in ambiguous])]


# ---------------------------------------------------------------- output


def _cut_note(cut: dict[str, int], max_rows: int | None) -> dict[str, Any]:
    return {"checked_first": {name: max_rows for name in cut}, "split_sizes": cut} if cut else {}


def findings_line(result: dict[str, Any]) -> str:
    """One line naming each finding's kind, split and count, or that there are none."""
    if not result["findings"]:
        return "data checks: no problems found"
    found = ", ".join(f"{f['kind']} {f['count']:,} ({f['split']})" for f in result["findings"])
    return f"data checks: {found}"


def ordered_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings in the order of KINDS, then of the splits."""
    kinds, splits = list(KINDS), ["train", "dev", "test"]
    return sorted(findings, key=lambda f: (kinds.index(f["kind"]), splits.index(f["split"])
                                           if f["split"] in splits else 3))


def example_line(example: dict[str, Any]) -> str:
    """One example of a finding, on one line."""
    parts = []
    if "example" in example:
        parts.append(f"#{example['example']}")
    if "same_as" in example:
        parts.append(f"= #{example['same_as']}")
    if "token" in example:
        parts.append(f"token {example['token']} ({example['word']}): {example['why']}")
    for key in ("label", "word", "script", "in"):
        if key in example and "token" not in example:
            parts.append(f"{key} {example[key]!r}" if key != "in" else f"in {example[key]}")
    for key in ("labels", "tags"):
        if key in example:
            parts.append(", ".join(f"{label} ×{n}" for label, n in example[key].items()))
    for key in ("count", "words", "tokens"):
        if key in example:
            parts.append(f"{example[key]:,} {key if key != 'count' else 'times'}")
    if "given" in example:
        parts.append(f"labelled {example['given']!r}, predicted {example['predicted']!r} "
                     f"(p(given) = {example['probability_given']:.3f})")
    if "text" in example:
        parts.append(repr(example["text"]))
    return " ".join(parts)


def format_checks(result: dict[str, Any], examples: int = 2) -> str:
    """The terminal summary: each split's size and labels, then each finding with a few examples."""
    lines = []
    for name, split in result["splits"].items():
        labels = split.get("labels") or {}
        total = sum(labels.values())
        shares = ", ".join(f"{label} {n / total:.0%}" for label, n in list(labels.items())[:6]) if total else ""
        more = f", … ({len(labels)} labels)" if len(labels) > 6 else ""
        extra = f"; {split['unknown_word_share']:.1%} of words unseen in train" if "unknown_word_share" in split else ""
        unit = "sentences" if result.get("task") == "tagging" else "texts"
        lines.append(f"{name}: {split['examples']:,} {unit} ({split['source']}); {shares}{more}{extra}")
    findings = result["findings"]
    if not findings:
        lines.append("no problems found")
        return "\n".join(lines)
    lines.append(f"{_plural(len(findings), 'finding')}:")
    for finding in findings:
        lines.append(f"  {finding['kind']} [{finding['split']}]: {finding['message']}")
        lines += [f"      {example_line(e)}" for e in finding["examples"][:examples]]
    return "\n".join(lines)


def problem_kinds(result: dict[str, Any], kinds: Iterable[str] | None = None) -> list[str]:
    """The kinds of `result`'s findings, restricted to `kinds` when given."""
    wanted = set(KINDS if kinds is None else kinds)
    return sorted({f["kind"] for f in result["findings"] if f["kind"] in wanted}, key=list(KINDS).index)
