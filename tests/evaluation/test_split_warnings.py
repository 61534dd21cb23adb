"""A classifier that never predicts a class, and a headline on the split that chose the epoch, are said
plainly in metrics.json and the report."""

from nlp_lstm.evaluation.metrics import classification_metrics
from nlp_lstm.evaluation.sections import split_warnings


def test_labels_the_model_never_predicts_are_listed_in_label_order() -> None:
    metrics = classification_metrics(["b", "a", "c", "a"], ["a", "a", "a", "a"], ["a", "b", "c"])
    assert metrics["never_predicted"] == ["b", "c"]
    assert classification_metrics(["a", "b"], ["b", "a"], ["a", "b"])["never_predicted"] == []


def test_the_report_warns_about_the_split_and_the_missing_class() -> None:
    metrics = {"task": "classification", "final_split_chose_the_epoch": True, "dev": {"never_predicted": ["neg"]}}
    texts = [text for _, text in split_warnings(metrics, "dev")]
    assert texts == ["There is no test split: these scores are on dev, the split that chose the best epoch, so they "
                     "are optimistic.",
                     "The model never predicts neg on dev: compare it with the majority-class baseline."]
    assert split_warnings({"task": "classification", "test": {"never_predicted": []}}, "test") == []
