"""Token attributions for people: terminal lines, JSON rows, one self-contained HTML page with each token highlighted
(green: it raised the explained label's score, red: it lowered it), and the report's "Why" section."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..attributions import Explanation
from ..errors import ConfigError
from ..io import atomic_write_text
from .render import Block, Section, render_html

OUTPUT_SUFFIXES = (".html", ".json", ".jsonl")
WHY_EXAMPLES = 3  # correct predictions, and as many of the most confident mistakes
WHY_MAX_TOKENS = 60  # longer texts are left out of the report: IG's cost grows with the length


def check_output(path: str | Path) -> str:
    """The format of an --output path, from its extension: html, json or jsonl."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ConfigError(f"--output {path}: expected a path ending in {', '.join(OUTPUT_SUFFIXES)} (HTML page, one "
                          f"JSON array, or JSON lines); without --output the scores are printed")
    return suffix[1:]


def _score(value: float) -> str:
    return f"{value:+.3f}"


def scored_tokens(explanation: Explanation) -> str:
    """The tokens with their signed scores on one line: `great(+0.412) movie(-0.020)`."""
    return " ".join(f"{token}({_score(score)})" for token, score in zip(explanation.tokens, explanation.scores))


def summary(explanation: Explanation) -> str:
    """What was explained, how, and the model's view of it, in one line."""
    e = explanation
    what = e.label if e.probability is None else f"{e.label} (probability {e.probability:.4f})"
    if e.focus is not None:
        start, end = e.focus
        what = f"{e.joiner.join(e.tokens[start:end])} (tokens {start}-{end - 1}): {what}"
    how = f"{e.method} on the {e.target}" + ("" if e.delta is None else
                                              f", {e.steps} steps, completeness delta {e.delta:+.2e}")
    return f"{what}; predicted {e.predicted}; {how}"


def terminal_lines(explanation: Explanation) -> list[str]:
    """Two lines for a terminal: the summary, then the tokens with their scores."""
    return [summary(explanation), "  " + scored_tokens(explanation)]


def explanation_row(explanation: Explanation) -> dict[str, Any]:
    """An explanation as a JSON-ready dict (an item of --output explain.json, a line of explain.jsonl)."""
    e = explanation
    row: dict[str, Any] = {"text": e.text, "label": e.label, "predicted": e.predicted, "probability": e.probability,
                           "method": e.method, "target": e.target, "delta": e.delta, "steps": e.steps,
                           "tokens": e.tokens,
                           "scores": [round(s, 6) for s in e.scores]}
    if e.spans is not None:
        row["spans"] = [list(span) for span in e.spans]
    if e.focus is not None:
        row["focus"] = list(e.focus)
    return row


def _mark(text: str, score: float, largest: float, focus: bool) -> str:
    """One token as a coloured span: its colour's depth is its share of the text's largest |score|."""
    strength = 0.0 if largest == 0 else min(1.0, abs(score) / largest)
    colour = "0,150,60" if score >= 0 else "215,40,40"
    outline = ";outline:2px solid #333" if focus else ""
    return (f'<span class="tok" style="background:rgba({colour},{0.65 * strength:.2f}){outline}" '
            f'title="{_score(score)}">{html.escape(text)}</span>')


def highlighted(explanation: Explanation) -> str:
    """The text as HTML, each token highlighted by its score: the original text with its spacing where the tokenizer
    gave each token's characters, else the tokens joined."""
    e = explanation
    largest = max((abs(s) for s in e.scores), default=0.0)
    focus = range(*e.focus) if e.focus is not None else range(0)
    spans = e.spans
    if spans is not None and all(a < b and b <= c for (a, b), (c, _) in zip(spans, spans[1:] + [(len(e.text), 0)])):
        parts, done = [], 0
        for k, ((start, end), score) in enumerate(zip(spans, e.scores)):
            parts += [html.escape(e.text[done:start]), _mark(e.text[start:end], score, largest, k in focus)]
            done = end
        parts.append(html.escape(e.text[done:]))
        return f'<p class="explained">{"".join(parts)}</p>'
    marks = [_mark(t, s, largest, k in focus) for k, (t, s) in enumerate(zip(e.tokens, e.scores))]
    return f'<p class="explained">{html.escape(e.joiner).join(marks)}</p>'


LEGEND = ("Green: the token raised the explained label's score; red: it lowered it. A colour's depth is the token's "
          "share of the largest |score| in its text; hover over a token for its score.")


def explanation_blocks(explanation: Explanation, heading: str | None = None) -> list[Block]:
    """A paragraph saying what is explained, then the highlighted text (its scored tokens in Markdown)."""
    line = summary(explanation) if heading is None else f"{heading}: {summary(explanation)}"
    return [("p", line), ("html", highlighted(explanation), scored_tokens(explanation))]


def explanations_page(title: str, explanations: Sequence[Explanation]) -> str:
    """One self-contained HTML page: the legend, then each text highlighted."""
    sections: list[Section] = [("How to read this", [("p", LEGEND)])]
    sections += [(f"Text {k}", explanation_blocks(e)) for k, e in enumerate(explanations, start=1)]
    return render_html(title, sections, {})


def write_explanations(path: str | Path, explanations: Sequence[Explanation], title: str) -> None:
    """Write explanations as an HTML page, a JSON array or JSON lines, by the extension of `path`."""
    kind = check_output(path)
    if kind == "html":
        text = explanations_page(title, explanations)
    elif kind == "json":
        text = "[\n" + ",\n".join(json.dumps(explanation_row(e), ensure_ascii=False) for e in explanations) + "\n]\n"
    else:
        text = "".join(json.dumps(explanation_row(e), ensure_ascii=False) + "\n" for e in explanations)
    atomic_write_text(path, text)


def why_section(model_dir: Path, predictions: list[dict[str, Any]], count: int = WHY_EXAMPLES) -> list[Block]:
    """The report's "Why" blocks: token attributions of the `count` most confident correct predictions and the
    `count` most confident mistakes of the final split, among texts of 3 to WHY_MAX_TOKENS tokens."""
    from ..predictor import Predictor

    try:
        predictor = Predictor.load(model_dir, "cpu")
        lengths = [len(ids) for ids in predictor.saved.tokenizer.encode_batch([str(r["text"]) for r in predictions])]
    except Exception as err:  # a missing or unreadable model: the report goes on without this section
        return [("p", f"No attributions: the model in {model_dir} could not be loaded ({type(err).__name__}: {err}).")]
    by_confidence = sorted((row for row, n in zip(predictions, lengths) if 3 <= n <= WHY_MAX_TOKENS),
                           key=lambda row: -float(row["confidence"]))
    correct = [row for row in by_confidence if str(row["gold"]) == str(row["predicted"])][:count]
    mistakes = [row for row in by_confidence if str(row["gold"]) != str(row["predicted"])][:count]
    explanations = predictor.explain([str(row["text"]) for row in correct + mistakes])
    blocks: list[Block] = [("p", f"Which tokens made the model say what it said (docs/explain.md): the {count} most "
                                 f"confident correct predictions and the {count} most confident mistakes of the final "
                                 f"split, among texts of 3 to {WHY_MAX_TOKENS} tokens, each explained for its "
                                 f"predicted label. {LEGEND}")]
    for k, (row, explanation) in enumerate(zip(correct + mistakes, explanations)):
        kind = "Correct" if k < len(correct) else "Mistake"
        blocks += explanation_blocks(explanation, f"{kind} (gold {row['gold']})")
    if not explanations:
        blocks.append(("p", f"No text of 3 to {WHY_MAX_TOKENS} tokens to explain."))
    return blocks


def tagging_why_section(model_dir: Path, sentences: list[list[str]], gold: list[list[str]],
                        predicted: list[list[str]], scheme: str | None, count: int = WHY_EXAMPLES) -> list[Block]:
    """The tagger report's "Why" blocks: the first `count` sentences of 3 to WHY_MAX_TOKENS tokens whose first
    predicted entity is right and the first `count` whose first predicted entity is wrong, each explained for that
    entity; without entity tags, the first tag of sentences tagged all right and the first wrong tag of others."""
    from ..data.tag_schemes import spans
    from ..predictor import TagPredictor

    try:
        predictor = TagPredictor.load(model_dir, "cpu")
    except Exception as err:  # a missing or unreadable model: the report goes on without this section
        return [("p", f"No attributions: the model in {model_dir} could not be loaded ({type(err).__name__}: {err}).")]
    chosen: dict[bool, list[tuple[int, int | None, tuple[int, int]]]] = {True: [], False: []}
    for k, (tokens, g, p) in enumerate(zip(sentences, gold, predicted)):
        if not 3 <= len(tokens) <= WHY_MAX_TOKENS:
            continue
        if scheme:
            found = spans(p, scheme)
            if not found:
                continue
            right, token, focus = found[0] in spans(g, scheme), None, found[0][1:]
        else:
            wrong = [j for j, (a, b) in enumerate(zip(g, p)) if a != b]
            right, token = not wrong, wrong[0] if wrong else 0
            focus = (token, token + 1)
        if len(chosen[right]) < count:
            chosen[right].append((k, token, focus))
        if len(chosen[True]) == len(chosen[False]) == count:
            break
    blocks: list[Block] = [("p", f"Which words made the model tag what it tagged (docs/explain.md): the first {count} "
                                 f"sentences of 3 to {WHY_MAX_TOKENS} tokens whose first predicted "
                                 f"{'entity' if scheme else 'tag'} is right, and the first {count} where it is wrong, "
                                 f"each explained for that prediction's emission scores (the outlined tokens). "
                                 f"{LEGEND}")]
    for right in (True, False):
        for k, token, (start, end) in chosen[right]:
            explanation = predictor.explain([sentences[k]], token=token, entity=None if token is not None else 0)[0]
            blocks += explanation_blocks(explanation, f"{'Correct' if right else 'Mistake'} (gold "
                                                      f"{' '.join(gold[k][start:end])})")
    if len(blocks) == 1:
        blocks.append(("p", f"No sentence of 3 to {WHY_MAX_TOKENS} tokens to explain."))
    return blocks
