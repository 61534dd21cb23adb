"""Tagger report sections: headline with sentence-bootstrap intervals, per-type (or per-tag) table,
tag confusion, errors by span length, unknown words, example sentences with gold and predicted
spans side by side, and token attributions of a few predictions. Reads predictions.jsonl rows {"tokens", "gold",
"predicted"} (the data's scheme)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..data.tag_schemes import Span, detect_scheme, spans
from ..errors import DataError
from . import plots
from .explanations import tagging_why_section
from .gates import gate_section
from .render import Block, Section
from .run_files import Run
from .sections import (
    Builders,
    accuracy_by,
    data_section,
    f4,
    font_note,
    length_bucket,
    split_warnings,
    training_section,
    truncate,
)
from .uncertainty import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, sentence_bootstrap_intervals

N_EXAMPLES = 8
EXAMPLE_MAX_TOKENS = 40  # examples are drawn from sentences up to this long, so a table row stays readable
MAX_CONFUSIONS = 15
FULL_MATRIX_UP_TO = 12  # tag sets up to this size also get the whole confusion matrix as a table
SPAN_LENGTHS = ("1", "2", "3", "4", "5+")
SENTENCE_EDGES = (10, 25, 50, 100)
TAGGING_PLOTS = ("per_class_f1", "confusion_matrix", "training_curves", "length_histogram", "label_distribution",
                 "gates_1", "gates_2")


def tagging_sections(run: Run, font: str | None) -> tuple[list[Section], dict[str, Any], Builders]:
    """Every tagger section but provenance, the summary for report.json, and the plots to draw."""
    metrics, split = run.metrics, run.split
    final = metrics[split]
    sentences, gold, predicted = _read_predictions(run.folder / "predictions.jsonl", run.predictions)
    data = metrics.get("data", {})
    entity = "entity_report" in final
    scheme = (data.get("scheme") or detect_scheme(gold)) if entity else None
    gold_spans = [set(spans(tags, scheme)) for tags in gold] if scheme else []
    pred_spans = [set(spans(tags, scheme)) for tags in predicted] if scheme else []
    counts = {"correct": [sum(g == p for g, p in zip(gs, ps)) for gs, ps in zip(gold, predicted)],
              "tokens": [len(tags) for tags in gold]}
    if scheme:
        counts.update(true_pos=[len(g & p) for g, p in zip(gold_spans, pred_spans)],
                      gold=[len(g) for g in gold_spans], predicted=[len(p) for p in pred_spans])
    intervals = sentence_bootstrap_intervals(counts)
    unknown = _unknown_words(run.tokenizer, sentences)

    headline_rows = [["token accuracy", f4(final["accuracy"]), f4(intervals["accuracy"]["low"]),
                      f4(intervals["accuracy"]["high"])]]
    if scheme:
        headline_rows += [[f"entity {title}", f4(final[name]), f4(intervals[name]["low"]), f4(intervals[name]["high"])]
                          for name, title in (("precision", "precision"), ("recall", "recall"), ("f1", "F1"))]
    headline_rows.append(["macro F1 over tags", f4(final["macro_f1"]), "", ""])
    for baseline, scores in final.get("baselines", {}).items():
        headline_rows += [[f"{baseline.replace('_', ' ')} baseline: {key.replace('_', ' ')}", f4(value), "", ""]
                          for key, value in scores.items()]
    headline: list[Block] = [
        ("p", f"Final split: {split} ({len(gold):,} sentences, {sum(counts['tokens']):,} tokens). 95% intervals: "
              f"percentile bootstrap over sentences, {BOOTSTRAP_RESAMPLES:,} resamples of predictions.jsonl, "
              f"seed {BOOTSTRAP_SEED}." + (" Entities are exact spans (type and both boundaries), scored as "
                                            "conlleval does." if scheme else "")),
        *split_warnings(metrics, split),
        ("table", ["metric", "value", "95% CI low", "95% CI high"], headline_rows)]
    unseen = (data.get("unseen_tags") or {}).get(split)
    if unseen:
        headline.append(("p", f"Tags in {split} that training never had (they count as errors): {', '.join(unseen)}"))

    if scheme:
        report = final["entity_report"]
        names = [name for name in report if not name.endswith(" avg")]
        per_title, per_kind = "Per-type metrics", "entity type"
    else:
        report = final["classification_report"]
        names = [str(tag) for tag in final["confusion_matrix"]["labels"]]
        per_title, per_kind = "Per-tag metrics", "tag"
    averages = [name for name in report if name.endswith(" avg")]
    per_rows = [[name, f4(report[name]["precision"]), f4(report[name]["recall"]), f4(report[name]["f1-score"]),
                 str(int(report[name]["support"]))] for name in [*names, *averages]]

    tags = [str(tag) for tag in final["confusion_matrix"]["labels"]]
    matrix = final["confusion_matrix"]["matrix"]
    confusion: list[Block] = [("p", "Rows: gold tag; columns: predicted tag (token counts). The most frequent "
                                    "confusions, with their share of the gold tag's tokens:"),
                              ("table", ["gold", "predicted", "tokens", "share of gold"], _confusions(tags, matrix))]
    if len(tags) <= FULL_MATRIX_UP_TO:
        confusion.append(("table", ["gold \\ predicted", *tags],
                          [[tag, *(str(c) for c in row)] for tag, row in zip(tags, matrix)]))
    confusion.append(("img", "confusion_matrix", "Tag confusion matrix"))

    training_blocks, training_plots = training_section(run.history, metrics.get("best_epoch"), metrics.get("ensemble"))
    data_blocks, data_plots = data_section(
        data, f"{len(data.get('labels', tags))} tags the model predicts; entity scheme of the data: "
              f"{scheme or 'none (not entity tags)'}; vocabulary size: {data.get('vocab_size', 'unknown')}", "tokens")
    examples, n_wrong = _examples(sentences, gold, predicted, scheme, _character_input(run.tokenizer.parent))
    joiner = "" if _character_input(run.tokenizer.parent) else " "
    gate_blocks, gate_plots = gate_section(run.tokenizer.parent, [joiner.join(tokens) for tokens in sentences])
    sections: list[Section] = [
        ("Headline metrics", headline),
        (per_title, [("table", [per_kind, "precision", "recall", "F1", "support"], per_rows),
                     ("img", "per_class_f1", f"F1 by {per_kind}"), *font_note(font, names)]),
        ("Tag confusion", confusion),
        ("Training curves", training_blocks),
        ("Errors by span length" if scheme else "Accuracy by sentence length",
         _span_length_blocks(gold_spans, pred_spans) if scheme else _sentence_length_blocks(gold, predicted)),
        ("Unknown words", _unknown_blocks(unknown, gold, predicted, gold_spans, pred_spans)),
        ("Example sentences", [
            ("p", f"{n_wrong:,} of {len(gold):,} sentences have at least one wrong tag; the first {len(examples)} "
                  f"of up to {EXAMPLE_MAX_TOKENS} tokens are shown. " +
                  ("Entities are written TYPE[words]." if scheme else "Words are written word/TAG; ✗ marks a "
                                                                       "wrong tag.")),
            ("table", ["#", "gold", "predicted"], examples) if examples else ("p", "No sentence has an error.")]),
        ("Why: token attributions", tagging_why_section(run.tokenizer.parent, sentences, gold, predicted, scheme)),
        ("Inside the LSTM", gate_blocks),
        ("Data", data_blocks),
    ]
    builders: Builders = {
        "per_class_f1": lambda: plots.bar_chart(names, [report[name]["f1-score"] for name in names],
                                                f"F1 by {per_kind}", "F1"),
        "confusion_matrix": lambda: plots.confusion_heatmaps(tags, matrix),
        **training_plots,
        **data_plots,
        **gate_plots,
    }
    summary: dict[str, Any] = {
        "task": "tagging", "split": split, "n_sentences": len(gold), "n_tokens": sum(counts["tokens"]),
        "scheme": scheme, "baselines": final.get("baselines", {}),
        "final_split_chose_the_epoch": bool(metrics.get("final_split_chose_the_epoch")),
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED, "confidence": 0.95, "unit": "sentence",
                      **{name: {"estimate": final[name], **interval} for name, interval in intervals.items()}},
        "sentences_with_errors": n_wrong}
    return sections, summary, builders


def _read_predictions(path: Path, rows: list[dict[str, Any]]
                      ) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    sentences, gold, predicted = [], [], []
    for number, row in enumerate(rows, start=1):
        try:
            tokens, g, p = ([str(t) for t in row[key]] for key in ("tokens", "gold", "predicted"))
        except (KeyError, TypeError):
            raise DataError(f"{path}: row {number}: expected an object with lists 'tokens', 'gold' and 'predicted'") \
                from None
        if not len(tokens) == len(g) == len(p):
            raise DataError(f"{path}: row {number}: {len(tokens)} tokens but {len(g)} gold and {len(p)} predicted tags")
        sentences.append(tokens)
        gold.append(g)
        predicted.append(p)
    return sentences, gold, predicted


def _confusions(tags: list[str], matrix: list[list[int]]) -> list[list[str]]:
    pairs = [(count, gold, pred) for gold, row in zip(tags, matrix) for pred, count in zip(tags, row)
             if gold != pred and count]
    rows = []
    for count, gold, pred in sorted(pairs, key=lambda item: (-item[0], item[1], item[2]))[:MAX_CONFUSIONS]:
        total = sum(matrix[tags.index(gold)])
        rows.append([gold, pred, f"{count:,}", f"{count / total:.1%}"])
    return rows


def _span_bucket(span: Span) -> str:
    length = span[2] - span[1]
    return str(length) if length < 5 else "5+"


def _span_length_blocks(gold_spans: list[set[Span]], pred_spans: list[set[Span]]) -> list[Block]:
    """Recall of gold spans and precision of predicted spans by span length, and what went wrong with the rest."""
    found = {bucket: [0, 0] for bucket in SPAN_LENGTHS}  # gold spans: [total, found]
    right = {bucket: [0, 0] for bucket in SPAN_LENGTHS}  # predicted spans: [total, correct]
    kinds = {"wrong type, same boundaries": 0, "overlapping, wrong boundaries": 0, "missed (no overlap)": 0,
             "spurious (no overlap with a gold entity)": 0}
    for gold, pred in zip(gold_spans, pred_spans):
        for span in gold:
            found[_span_bucket(span)][0] += 1
            found[_span_bucket(span)][1] += span in pred
            if span not in pred:
                same = any(p[1:] == span[1:] for p in pred)
                overlap = any(p[1] < span[2] and span[1] < p[2] for p in pred)
                kinds["wrong type, same boundaries" if same else "overlapping, wrong boundaries" if overlap
                      else "missed (no overlap)"] += 1
        for span in pred:
            right[_span_bucket(span)][0] += 1
            right[_span_bucket(span)][1] += span in gold
            kinds["spurious (no overlap with a gold entity)"] += not any(g[1] < span[2] and span[1] < g[2]
                                                                         for g in gold)
    rows = [[bucket, f"{found[bucket][0]:,}", f4(found[bucket][1] / found[bucket][0]) if found[bucket][0] else "",
             f"{right[bucket][0]:,}", f4(right[bucket][1] / right[bucket][0]) if right[bucket][0] else ""]
            for bucket in SPAN_LENGTHS]
    return [("p", "Span length in tokens. Recall: share of gold entities of that length predicted exactly; "
                  "precision: share of predicted entities of that length that are gold entities."),
            ("table", ["span length", "gold entities", "recall", "predicted entities", "precision"], rows),
            ("p", "The gold entities not found, and the predicted ones that overlap no gold entity:"),
            ("table", ["error", "entities"], [[name, f"{count:,}"] for name, count in kinds.items()])]


def _sentence_length_blocks(gold: list[list[str]], predicted: list[list[str]]) -> list[Block]:
    keys, correct = [], []
    for g, p in zip(gold, predicted):
        bucket = length_bucket(max(len(g), 1), SENTENCE_EDGES)
        keys += [bucket] * len(g)
        correct += [a == b for a, b in zip(g, p)]
    order = [length_bucket(high, SENTENCE_EDGES) for high in SENTENCE_EDGES] + [f"{SENTENCE_EDGES[-1] + 1}+"]
    return [("p", "Token accuracy of the sentences in each length bucket (tokens)."),
            ("table", ["sentence length", "tokens", "token accuracy"], accuracy_by(keys, correct, order))]


def _unknown_words(path: Path, sentences: list[list[str]]) -> list[list[bool]] | None:
    """For each token, whether the model's vocabulary lacks it (None without the model's tokenizer)."""
    from ..text.tokenizers import TextTokenizer

    if not path.is_file():
        return None
    tokenizer = TextTokenizer.load(path)
    return [[k == tokenizer.unk_id for k in ids] for ids in tokenizer.encode_words_batch(sentences)]


def _unknown_blocks(unknown: list[list[bool]] | None, gold: list[list[str]], predicted: list[list[str]],
                    gold_spans: list[set[Span]], pred_spans: list[set[Span]]) -> list[Block]:
    if unknown is None:
        return [("p", "The model's tokenizer.json was not found: no breakdown by unknown words.")]
    keys, correct = [], []
    for flags, g, p in zip(unknown, gold, predicted):
        keys += ["unknown" if flag else "in vocabulary" for flag in flags]
        correct += [a == b for a, b in zip(g, p)]
    n_unknown = keys.count("unknown")
    blocks: list[Block] = [
        ("p", f"{n_unknown:,} of {len(keys):,} tokens ({n_unknown / max(len(keys), 1):.2%}) are not in the model's "
              f"vocabulary (training words, plus any pretrained words it added; after the model's lowercasing "
              f"and digit mapping, if any); character features, where the "
              f"model has them, still see their spelling."),
        ("table", ["words", "tokens", "token accuracy"], accuracy_by(keys, correct, ["in vocabulary", "unknown"]))]
    if gold_spans:
        span_keys, found = [], []
        for flags, gold, pred in zip(unknown, gold_spans, pred_spans):
            for span in gold:
                span_keys.append("with an unknown word" if any(flags[span[1]:span[2]]) else "all words known")
                found.append(span in pred)
        blocks += [("p", "Recall of gold entities with and without an unknown word:"),
                   ("table", ["entities", "count", "recall"],
                    accuracy_by(span_keys, found, ["all words known", "with an unknown word"]))]
    return blocks


def _character_input(model_dir: Path) -> bool:
    """Whether the model tags single characters (Chinese NER), as its config.json says; False without one."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and (config.get("tagging") or {}).get("input") == "characters"


def _examples(sentences: list[list[str]], gold: list[list[str]], predicted: list[list[str]],
              scheme: str | None, characters: bool) -> tuple[list[list[str]], int]:
    """Rows (number, gold, predicted) of the first sentences with an error, and how many sentences have one."""
    wrong = [k for k, (g, p) in enumerate(zip(gold, predicted)) if g != p]
    chosen = [k for k in wrong if len(sentences[k]) <= EXAMPLE_MAX_TOKENS][:N_EXAMPLES]
    rows = []
    for k in chosen:
        tokens = sentences[k]
        joiner = "" if characters else " "
        if scheme:
            rows.append([str(k + 1), truncate(_bracketed(tokens, spans(gold[k], scheme), joiner), 400),
                         truncate(_bracketed(tokens, spans(predicted[k], scheme), joiner), 400)])
        else:
            rows.append([str(k + 1), truncate(" ".join(f"{t}/{g}" for t, g in zip(tokens, gold[k])), 400),
                         truncate(" ".join(f"{t}/{p}" + ("" if p == g else "✗")
                                           for t, g, p in zip(tokens, gold[k], predicted[k])), 400)])
    return rows, len(wrong)


def _bracketed(tokens: list[str], entities: list[Span], joiner: str) -> str:
    """The sentence with each entity written TYPE[words], as `nlp-lstm predict` writes them."""
    pieces, position = [], 0
    for kind, start, end in entities:
        pieces += tokens[position:start]
        pieces.append(f"{kind}[{joiner.join(tokens[start:end])}]")
        position = end
    pieces += tokens[position:]
    return " ".join(pieces) if joiner else _join_cjk(pieces)


def _join_cjk(pieces: list[str]) -> str:
    # character-level Chinese: characters run together, a bracketed entity is set off by spaces
    out = ""
    for piece in pieces:
        out += piece if len(piece) == 1 else f" {piece} "
    return " ".join(out.split())
