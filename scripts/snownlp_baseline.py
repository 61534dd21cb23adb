"""Compare a zh-reviews run with snownlp's own sentiment classifier on the same test texts.

snownlp's `SnowNLP(text).sentiments > 0.5` is its naive Bayes model trained on ALL of these reviews,
test split included, so its score here is optimistic: it has seen every test text.

    python scripts/snownlp_baseline.py runs/zh_reviews
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a run directory of recipes/sentiment/zh_reviews.toml")
    args = parser.parse_args()
    path = args.run_dir / "predictions.jsonl"
    if not path.is_file():
        sys.exit(f"{path} not found: train recipes/sentiment/zh_reviews.toml first")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if {row["gold"] for row in rows} - {"positive", "negative"}:
        sys.exit(f"{path}: labels are not positive/negative; is this a zh-reviews run?")

    from snownlp import SnowNLP

    gold = [row["gold"] for row in rows]
    ours = [row["predicted"] for row in rows]
    snow = ["positive" if SnowNLP(row["text"]).sentiments > 0.5 else "negative" for row in rows]
    print(f"{len(rows):,} test reviews from {path}")
    print(f"{'model':44} {'accuracy':>9} {'macro F1':>9}")
    rows = (("nlp-lstm BiLSTM (this run)", ours), ("snownlp sentiments > 0.5 (saw the test set)", snow))
    for name, predicted in rows:
        print(f"{name:44} {accuracy_score(gold, predicted):9.4f} {f1_score(gold, predicted, average='macro'):9.4f}")


if __name__ == "__main__":
    main()
