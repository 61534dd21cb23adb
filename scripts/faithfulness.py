"""Are the attributions faithful? A deletion test: removing the k tokens an attribution ranks highest should lower
the predicted class's probability much more than removing k random tokens.

For each text (with more than --k tokens) and each method, the tokens are ranked by their score for the predicted
label; the top k are deleted (k = 1..K) and the drop in the predicted label's probability is measured. AOPC@K (area
over the perturbation curve) is the mean drop over k = 1..K, averaged over the texts. "random" deletes the first k
of a random order, averaged over --draws seeded orders. Integrated Gradients' completeness error is printed too.
docs/explain.md quotes the table with the command that measured it.

    python scripts/faithfulness.py runs/zh_reviews/model --data runs/zh_reviews/config.toml --split test
    python scripts/faithfulness.py MODEL_DIR --data tsv:../shared/data/sst2/dev.tsv --text-column sentence
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from nlp_lstm.config import load_config
from nlp_lstm.data.sources import load_splits, load_texts
from nlp_lstm.predictor import Predictor, predict_proba_ids


def read_texts(spec: str, text_column: str, split: str) -> list[str]:
    """The texts of a data spec, or of one split (carved as training carves it) of a config file's data."""
    if spec.endswith(".toml"):
        return list(load_splits(load_config(Path(spec)).data)[split].texts)
    return list(load_texts(spec, text_column, None).texts)


def deletion_drops(predictor: Predictor, ids: list[list[int]], labels: list[int], p0: np.ndarray,
                   orders: list[np.ndarray], k_max: int) -> np.ndarray:
    """(n_texts, k_max): the drop in each text's label probability when the first k tokens of its order are
    deleted, k = 1..k_max."""
    variants = []
    for row, order in zip(ids, orders):
        for k in range(1, k_max + 1):
            deleted = set(order[:k].tolist())
            variants.append([t for j, t in enumerate(row) if j not in deleted])
    saved = predictor.saved
    probabilities = predict_proba_ids(saved.model, variants, predictor.device, predictor.batch_size, None,
                                      saved.tokenizer.pad_id)
    rows = np.repeat(np.arange(len(ids)), k_max)
    chosen = probabilities[np.arange(len(variants)), np.asarray(labels)[rows]]
    return p0[:, None] - chosen.reshape(len(ids), k_max)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("--data", required=True, help="a data spec (tsv:dev.tsv), or a config .toml with --split")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--split", default="test", help="with a config file: train, dev or test (default: test)")
    parser.add_argument("--k", type=int, default=5, help="delete up to K tokens (default: 5)")
    parser.add_argument("--limit", type=int, help="the first N texts only")
    parser.add_argument("--draws", type=int, default=5, help="random orders per text (default: 5)")
    parser.add_argument("--steps", type=int, default=50, help="Integrated Gradients steps (default: 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random orders (default: 0)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    predictor = Predictor.load(args.model_dir, args.device)
    saved = predictor.saved
    texts = read_texts(args.data, args.text_column, args.split)[: args.limit]
    all_ids = [row[: saved.max_length or None] for row in saved.tokenizer.encode_batch(texts)]
    keep = [i for i, row in enumerate(all_ids) if len(row) > args.k]
    texts, ids = [texts[i] for i in keep], [all_ids[i] for i in keep]
    print(f"{args.model_dir} on {args.data}" + (f" [{args.split}]" if args.data.endswith(".toml") else "") +
          f": {len(texts):,} texts with more than {args.k} tokens (of {len(all_ids):,})")
    probabilities = predict_proba_ids(saved.model, ids, predictor.device, predictor.batch_size, None,
                                      saved.tokenizer.pad_id)
    labels = probabilities.argmax(1).tolist()
    p0 = probabilities[np.arange(len(ids)), labels]

    curves: dict[str, np.ndarray] = {}
    for method in ("ig", "occlusion"):
        started = time.perf_counter()
        explanations = predictor.explain(texts, method=method, steps=args.steps)
        seconds = time.perf_counter() - started
        orders = [np.argsort(-np.asarray(e.scores), kind="stable") for e in explanations]
        curves[method] = deletion_drops(predictor, ids, labels, p0, orders, args.k).mean(0)
        print(f"{method}: {seconds / len(texts) * 1000:.1f} ms a text", file=sys.stderr)
        if method == "ig":
            deltas = np.array([abs(e.delta) for e in explanations])
            differences = np.array([abs(sum(e.scores) - e.delta) for e in explanations])  # |target(x) - target(base)|
            relative = deltas / np.maximum(1.0, differences)
            print(f"IG completeness ({args.steps} steps): |delta| median {np.median(deltas):.2e}, max "
                  f"{deltas.max():.2e}; |delta| / max(1, |difference|) max {relative.max():.2e}")
    generator = np.random.default_rng(args.seed)
    draws = [deletion_drops(predictor, ids, labels, p0, [generator.permutation(len(row)) for row in ids], args.k)
             for _ in range(args.draws)]
    curves[f"random ({args.draws} draws)"] = np.mean(draws, axis=0).mean(0)

    header = ["method", *(f"AOPC@{k}" for k in range(1, args.k + 1))]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for name, drops in curves.items():
        aopc = np.cumsum(drops) / np.arange(1, args.k + 1)
        print("| " + " | ".join([name, *(f"{v:.3f}" for v in aopc)]) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
