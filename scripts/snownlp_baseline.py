"""Compare a zh-reviews run with snownlp's own sentiment classifier on the same test texts.

snownlp's `SnowNLP(text).sentiments > 0.5` is its naive Bayes model trained on ALL of these reviews,
test split included, so its score here is optimistic: it has seen every test text. `--retrain` also
trains snownlp's classifier (same segmentation, stop words and naive Bayes) on the run's training
split only, the fair comparison.

    python scripts/snownlp_baseline.py runs/zh_reviews [--retrain]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score


def shipped_predictions(texts: list[str]) -> list[str]:
    """snownlp's own `SnowNLP(text).sentiments > 0.5`, as positive / negative."""
    from snownlp import SnowNLP

    return ["positive" if SnowNLP(text).sentiments > 0.5 else "negative" for text in texts]


def retrained_predictions(config_path: Path, texts: list[str]) -> list[str]:
    """snownlp's classifier retrained on the training split of the run with this config.toml."""
    classifier = retrained_snownlp(config_path)
    return ["positive" if classifier.classify(text) > 0.5 else "negative" for text in texts]


def retrained_snownlp(config_path: Path) -> Any:
    """snownlp's sentiment classifier trained from scratch on the training split of a zh-reviews run."""
    from snownlp.sentiment import Sentiment

    from nlp_lstm.config import load_config
    from nlp_lstm.data.sources import load_splits

    train = load_splits(load_config(config_path).data)["train"]
    classifier = Sentiment()
    classifier.train([t for t, y in zip(train.texts, train.labels) if y == "negative"],
                     [t for t, y in zip(train.texts, train.labels) if y == "positive"])
    return classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run directory of recipes/sentiment/zh_reviews.toml")
    parser.add_argument("--retrain", action="store_true",
                        help="also score snownlp's classifier retrained on the run's training split only")
    args = parser.parse_args()
    path = args.run_dir / "predictions.jsonl"
    if not path.is_file():
        sys.exit(f"{path} not found: train recipes/sentiment/zh_reviews.toml first")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if {row["gold"] for row in rows} - {"positive", "negative"}:
        sys.exit(f"{path}: labels are not positive/negative; is this a zh-reviews run?")

    gold = [row["gold"] for row in rows]
    ours = [row["predicted"] for row in rows]
    texts = [row["text"] for row in rows]
    snow = shipped_predictions(texts)
    print(f"{len(rows):,} test reviews from {path}")
    print(f"{'model':52} {'accuracy':>9} {'macro F1':>9}")
    models = [("nlp-lstm BiLSTM (this run)", ours), ("snownlp sentiments > 0.5 (saw the test set)", snow)]
    if args.retrain:
        models.append(("snownlp retrained on this run's train split",
                       retrained_predictions(args.run_dir / "config.toml", texts)))
    for name, predicted in models:
        print(f"{name:52} {accuracy_score(gold, predicted):9.4f} {f1_score(gold, predicted, average='macro'):9.4f}")


if __name__ == "__main__":
    main()
