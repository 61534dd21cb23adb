"""Token attributions: Integrated Gradients adds up to the change in the target from the baseline (completeness),
occlusion is the probability drop recomputed by hand, every kind of model directory explains, and the CLI, the
estimators and the report show the scores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_error, run_cli

from nlp_lstm import ConfigError, DataError, Predictor, TextClassifier, attributions
from nlp_lstm.attributions import class_score, integrated_gradients
from nlp_lstm.data.batching import collate_tagged
from nlp_lstm.estimators import SequenceTagger
from nlp_lstm.evaluation.explanations import explanation_row, highlighted, tagging_why_section
from nlp_lstm.model_dir import load_model_dir, save_model_dir
from nlp_lstm.models.ensemble import ensemble
from nlp_lstm.predictor import TagPredictor, predict_proba_ids, predict_tag_ids
from nlp_lstm.text.features import encode_words

TEXTS = ["a gorgeous , witty , seductive movie .", "the plot is nothing but boilerplate clichés from start to finish",
         "it 's not a bad film , just a dull one", "unflinchingly bleak and desperate", "好看"]
SENTENCE = "EU rejects German call to boycott British lamb .".split()
STEPS = 50


def tolerance(difference: float) -> float:
    """docs/explain.md's completeness tolerance at 50 steps."""
    return 1e-2 * max(1.0, abs(difference))


def baseline_difference(model: torch.nn.Module, ids: list[int], label: int) -> float:
    """target(text) - target(all-padding baseline), straight from the model."""
    with torch.no_grad():
        lengths = torch.tensor([len(ids)])
        scores = model(torch.tensor([ids, [0] * len(ids)]), lengths.repeat(2))[:, label]
    return float(scores[0] - scores[1])


def test_ig_scores_add_up_to_the_logit_difference_from_the_padding_baseline(classifier_dir: Path) -> None:
    predictor = Predictor.load(classifier_dir, "cpu")
    explanations = predictor.explain(TEXTS, steps=STEPS)
    assert [e.method for e in explanations] == ["ig"] * len(TEXTS) and explanations[0].target == "logit"
    differences = []
    for text, e in zip(TEXTS, explanations):
        ids = predictor.saved.tokenizer.encode(text)
        assert len(e.tokens) == len(e.scores) == len(ids)
        difference = baseline_difference(predictor.saved.model, ids, predictor.labels.index(e.label))
        assert abs(sum(e.scores) - difference) <= tolerance(difference), (text, sum(e.scores), difference)
        assert abs(e.delta) <= tolerance(difference)
        differences.append(abs(difference))
    assert max(differences) > 0.1  # a model whose logits move, so the check can fail
    assert explanations[0].tokens[:3] == ["a", "gorgeous", ","] and explanations[-1].tokens == ["好", "看"]
    probabilities = predictor.predict_proba(TEXTS)
    assert [e.predicted for e in explanations] == [predictor.labels[k] for k in probabilities.argmax(1)]


def test_ig_takes_more_steps_until_completeness_holds(classifier_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_model_dir(classifier_dir).model
    ids = torch.tensor([load_model_dir(classifier_dir).tokenizer.encode(TEXTS[1])])
    extra = (torch.tensor([ids.size(1)]), 1)

    def sharp(model: torch.nn.Module, ids: torch.Tensor, lengths: torch.Tensor, label: int) -> torch.Tensor:
        return torch.exp(20 * class_score(model, ids, lengths, label))  # far from linear along the path

    with torch.no_grad():
        difference = float(sharp(model, ids, *extra) - sharp(model, torch.zeros_like(ids), *extra))
    monkeypatch.setattr(attributions, "MAX_STEPS", 1)
    scores, delta, steps = integrated_gradients(sharp, model, ids, extra, 0, 1)
    assert steps == 1 and abs(delta) > tolerance(difference)  # one step is not enough here
    monkeypatch.undo()
    scores, delta, steps = integrated_gradients(sharp, model, ids, extra, 0, 1)
    assert steps in (4, 16, 64, 256) and abs(scores.sum() - difference) <= tolerance(difference)
    assert delta == pytest.approx(scores.sum() - difference, abs=1e-4)


def test_a_chosen_label_is_explained_and_its_scores_change_sign(classifier_dir: Path) -> None:
    predictor = Predictor.load(classifier_dir, "cpu")
    first, second = (predictor.explain(TEXTS[:1], label=label)[0] for label in predictor.labels)
    assert first.label == predictor.labels[0] and second.label == predictor.labels[1]
    assert first.probability + second.probability == pytest.approx(1, abs=1e-5)
    # two classes: the logits' difference is what matters, so the two explanations lean opposite ways
    assert np.corrcoef(first.scores, second.scores)[0, 1] < 0


def test_occlusion_is_the_drop_in_probability_when_a_token_becomes_unk(classifier_dir: Path) -> None:
    predictor = Predictor.load(classifier_dir, "cpu")
    e = predictor.explain(TEXTS[:2], method="occlusion")[1]
    assert e.method == "occlusion" and e.target == "probability" and e.delta is None
    ids = predictor.saved.tokenizer.encode(TEXTS[1])
    k = predictor.labels.index(e.label)
    for position in (0, 3, len(ids) - 1):
        occluded = ids[:position] + [predictor.saved.tokenizer.unk_id] + ids[position + 1:]
        p = predict_proba_ids(predictor.saved.model, [ids, occluded], torch.device("cpu"))[:, k]
        assert e.scores[position] == pytest.approx(p[0] - p[1], abs=1e-6)
    assert max(abs(s) for s in e.scores) > 1e-4


def test_an_ensemble_is_explained_on_its_log_mean_probability(classifier_dir: Path, tmp_path: Path) -> None:
    saved = load_model_dir(classifier_dir)
    other = load_model_dir(classifier_dir).model
    with torch.no_grad():
        for parameter in other.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05, alpha=1.0)
    saved.model = ensemble([saved.model, other]).eval()
    saved.config["ensemble"] = {"members": 2}
    save_model_dir(tmp_path / "ensemble", saved)
    predictor = Predictor.load(tmp_path / "ensemble", "cpu")
    for text, e in zip(TEXTS[:2], predictor.explain(TEXTS[:2])):
        assert e.target == "log mean probability"
        ids = predictor.saved.tokenizer.encode(text)
        difference = baseline_difference(predictor.saved.model, ids, predictor.labels.index(e.label))
        assert abs(sum(e.scores) - difference) <= tolerance(difference)
    assert len(predictor.explain(TEXTS[:1], method="occlusion")[0].scores) == 8


def test_int8_and_onnx_directories_fall_back_to_occlusion_and_refuse_ig(classifier_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from nlp_lstm.export import export_model

    expected = Predictor.load(classifier_dir, "cpu").explain(TEXTS, method="occlusion")
    for kind, name in (("onnx", "an ONNX graph"), ("int8", "an int8 model")):
        predictor = Predictor.load(export_model(classifier_dir, kind, tmp_path / kind), "cpu")
        got = predictor.explain(TEXTS)
        assert [e.method for e in got] == ["occlusion"] * len(TEXTS)
        if kind == "onnx":  # the same graph: the same scores
            for a, b in zip(got, expected):
                np.testing.assert_allclose(a.scores, b.scores, atol=1e-4)
        with pytest.raises(ConfigError, match=f"method 'ig' needs gradients, and this is {name}"):
            predictor.explain(TEXTS[:1], method="ig")


def test_tagger_ig_explains_a_token_tag_and_an_entity_on_the_emission_scores(tagger_dir: Path) -> None:
    predictor = TagPredictor.load(tagger_dir, "cpu")
    saved = predictor.saved
    tags = predictor.predict([SENTENCE])[0]
    assert tags.entities, "the fixture tagger finds entities in this sentence"
    ids, chars, casing = encode_words(saved.tokenizer, [SENTENCE], saved.char_vocab, saved.uses_casing)
    batch = collate_tagged(ids, [0], None, chars, casing)
    with torch.no_grad():
        emissions = saved.model(batch.ids, batch.lengths, batch.chars, batch.casing)[0]
        baseline = saved.model(torch.zeros_like(batch.ids), batch.lengths, batch.chars, batch.casing)[0]
    predicted = emissions.argmax(-1)  # the CRF's path may differ; the explanation uses the decoded tags
    kind, start, end = tags.entities[0]
    e = predictor.explain([SENTENCE])[0]  # default: the first entity
    assert (e.label, e.focus, e.target, e.probability) == (kind, (start, end), "emission score", None)
    model_tags = predict_tag_ids(saved.model, ids, chars, casing, torch.device("cpu"))[0]  # the decoded tags
    difference = float(sum(emissions[p, model_tags[p]] - baseline[p, model_tags[p]] for p in range(start, end)))
    assert abs(sum(e.scores) - difference) <= tolerance(difference)
    token = predictor.explain([SENTENCE], token=2, label=saved.labels[int(predicted[2])])[0]
    assert token.focus == (2, 3) and token.label == saved.labels[int(predicted[2])]
    difference = float(emissions[2, predicted[2]] - baseline[2, predicted[2]])
    assert abs(sum(token.scores) - difference) <= tolerance(difference)
    occluded = predictor.explain([SENTENCE], token=2, label=token.label, method="occlusion")[0]
    unk = collate_tagged([ids[0][:1] + [saved.tokenizer.unk_id] + ids[0][2:]], [0], None, chars, casing)
    with torch.no_grad():  # token 1 becomes <unk>; its characters and casing stay
        without = saved.model(unk.ids, unk.lengths, unk.chars, unk.casing)[0]
    assert occluded.scores[1] == pytest.approx(float(emissions[2, predicted[2]] - without[2, predicted[2]]), abs=1e-5)
    assert occluded.method == "occlusion" and max(map(abs, occluded.scores)) > 1e-3


def test_bad_requests_name_what_was_wrong(classifier_dir: Path, tagger_dir: Path) -> None:
    predictor = Predictor.load(classifier_dir, "cpu")
    with pytest.raises(ConfigError, match="label 'maybe' is not one of this model's labels: 0, 1"):
        predictor.explain(TEXTS[:1], label="maybe")
    with pytest.raises(DataError, match="text 2 has no tokens to explain"):
        predictor.explain(["good", "  "])
    with pytest.raises(ConfigError, match="'method' parameter must be one of ig, occlusion. Got 'shap'"):
        predictor.explain(TEXTS[:1], method="shap")
    with pytest.raises(ConfigError, match="'steps' parameter must be an int >= 1. Got 0"):
        predictor.explain(TEXTS[:1], steps=0)
    tagger = TagPredictor.load(tagger_dir, "cpu")
    with pytest.raises(ConfigError, match=r"token 10 is out of range: sentence 1 has 9 tokens \(0 to 8\)"):
        tagger.explain([SENTENCE], token=10)
    with pytest.raises(ConfigError, match="entity 7 is out of range: sentence 1 has"):
        tagger.explain([SENTENCE], entity=7)
    with pytest.raises(ConfigError, match="tag 'B-FOO' is not one of this model's tags"):
        tagger.explain([SENTENCE], token=0, label="B-FOO")
    with pytest.raises(ConfigError, match="give the token too"):
        tagger.explain([SENTENCE], label="O")
    with pytest.raises(DataError, match="sentence 1 has no tokens to explain"):
        tagger.explain([[]])


def test_the_estimators_explain_through_the_predictors(classifier_dir: Path, tagger_dir: Path) -> None:
    got = TextClassifier.load(classifier_dir, "cpu").explain(TEXTS[:2], method="occlusion")
    expected = Predictor.load(classifier_dir, "cpu").explain(TEXTS[:2], method="occlusion")
    assert [e.scores for e in got] == [e.scores for e in expected]
    assert TextClassifier.load(classifier_dir, "cpu").explain(TEXTS[:1], label=1)[0].label == "1"  # a class as fit
    e = SequenceTagger.load(tagger_dir, "cpu").explain([SENTENCE], token=0)[0]
    assert e.focus == (0, 1) and e.tokens == SENTENCE
    with pytest.raises(ValueError, match=r"X\[0\] must be a list of strings"):
        SequenceTagger.load(tagger_dir, "cpu").explain(["EU rejects"])


def test_html_keeps_the_text_and_colours_tokens_by_sign(classifier_dir: Path) -> None:
    e = Predictor.load(classifier_dir, "cpu").explain(["It's  <b>great</b>, 好看!"])[0]
    page = highlighted(e)
    assert re.sub(r"<[^>]+>", "", page).replace("&lt;", "<").replace("&gt;", ">").replace(
        "&#x27;", "'") == e.text  # the original text, spacing included, escaped
    for token, score in zip(e.tokens, e.scores):
        colour = "0,150,60" if score >= 0 else "215,40,40"
        assert re.search(rf'rgba\({colour},[\d.]+\)" title="{re.escape(f"{score:+.3f}")}"', page), token
    row = explanation_row(e)
    assert json.loads(json.dumps(row))["tokens"] == e.tokens and len(row["spans"]) == len(e.tokens)


def test_cli_prints_writes_json_and_html(classifier_dir: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "explain", classifier_dir, TEXTS[0], "--method", "occlusion")
    assert code == 0
    lines = out.splitlines()
    assert re.match(r"^[01] \(probability [\d.]+\); predicted [01]; occlusion on the probability$", lines[0]), out
    assert lines[1].startswith("  a(") and "gorgeous(" in lines[1]
    code, out, _ = run_cli(capsys, "explain", classifier_dir, *TEXTS[:2], "--output", tmp_path / "e.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()]
    assert code == 0 and [r["text"] for r in rows] == TEXTS[:2] and rows[0]["method"] == "ig"
    assert json.loads((tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()[1])["tokens"][-1] == "finish"
    code, _, _ = run_cli(capsys, "explain", classifier_dir, TEXTS[0], "--output", tmp_path / "e.json")
    assert code == 0 and json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))[0]["text"] == TEXTS[0]
    chinese = "这部电影很好看，演员也不错"
    code, out, _ = run_cli(capsys, "explain", classifier_dir, chinese, "--output", tmp_path / "e.html")
    page = (tmp_path / "e.html").read_text(encoding="utf-8")
    assert code == 0 and "1 explanations written" in out
    assert page.count('class="tok"') == len(chinese) and "电</span>" in page and "，" in page
    assert "http" not in page and "<script" not in page  # self-contained


def test_cli_errors_are_one_line(classifier_dir: Path, tagger_dir: Path, tmp_path: Path, capsys) -> None:
    assert_error(capsys, ["explain", classifier_dir, "good", "--label", "2"], "label '2' is not one of")
    assert_error(capsys, ["explain", classifier_dir, ""], "text 1 has no tokens to explain")
    assert_error(capsys, ["explain", classifier_dir, "good", "--output", tmp_path / "e.txt"],
                 "--output", "expected a path ending in .html, .json, .jsonl")
    assert_error(capsys, ["explain", classifier_dir, "good", "--steps", "0"], "'--steps' option must be an int >= 1")
    assert_error(capsys, ["explain", classifier_dir, "good", "--token", "0"], "this model is a classifier")
    assert_error(capsys, ["explain", classifier_dir], "nothing to explain")
    assert_error(capsys, ["explain", tagger_dir, " ".join(SENTENCE), "--token", "9"], "token 9 is out of range")
    code, out, _ = run_cli(capsys, "explain", tagger_dir, " ".join(SENTENCE), "--token", "6")
    assert code == 0 and out.startswith("British (tokens 6-6): ")


def test_the_report_has_a_why_section(classifier_run: Path) -> None:
    report = (classifier_run / "report.md").read_text(encoding="utf-8")
    why = report[report.index("## Why: token attributions"):report.index("## Inside the LSTM")]
    assert why.count("Correct (gold ") == 3 and 1 <= why.count("Mistake (gold ") <= 3
    assert re.search(r"\w\(\+\d\.\d{3}\) ", why) and "completeness delta" in why
    page = (classifier_run / "report.html").read_text(encoding="utf-8")
    assert page.count('<p class="explained">') == why.count(" (gold ")


def test_the_tagger_report_explains_right_and_wrong_entities(tagger_dir: Path) -> None:
    report = (tagger_dir.parent / "report.md").read_text(encoding="utf-8")
    why = report[report.index("## Why: token attributions"):report.index("## Inside the LSTM")]
    assert re.search(r"^(Correct|Mistake) \(gold [^)]*\): .+ \(tokens \d+-\d+\): [A-Z]+; predicted ", why, re.M), why
    assert "emission score" in why


def test_without_entity_tags_the_why_section_explains_the_first_wrong_tag(tagger_dir: Path) -> None:
    sentences = [SENTENCE, SENTENCE[:5], ["Peter", "Blackburn", "visited", "Brussels"]]
    gold = [["O"] * len(s) for s in sentences]
    predicted = [list(g) for g in gold]
    predicted[1][3] = "NN"  # sentence 2: token 3 is wrong
    blocks = tagging_why_section(tagger_dir, sentences, gold, predicted, None, count=2)
    lines = [block[1] for block in blocks if block[0] == "p"][1:]
    assert [line.split(":")[0] for line in lines] == ["Correct (gold O)", "Correct (gold O)", "Mistake (gold O)"]
    assert "(tokens 0-0)" in lines[0] and "(tokens 3-3)" in lines[2] and lines[2].split(": ")[1].startswith("call ")
