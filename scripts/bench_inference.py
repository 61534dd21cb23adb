"""Inference speed of one classifier as PyTorch, ONNX (onnxruntime) and int8 (dynamic quantization), side by side.

The model is the default sentiment recipe's (recipes/sentiment/zh_reviews.toml: embedding 128, BiLSTM
hidden 128): `--model-dir` of a trained run (e.g. runs/zh_reviews/model from `make run`), or else the
recipe trained here for one epoch. It is exported to ONNX and int8 in a temporary folder, then each of
the three runs in this process, with the same thread count:

  throughput  real tokens/s (padding excluded) labelling all 17,363 reviews of the corpus (bulk
              inference) in batches of 256 sorted by length, results restored to input order (the
              predictors' own batching); the texts are tokenized once beforehand, so this times the model.
              (On the 1,737 test reviews alone, batches of 256 span wide length ranges: 45% padding.)
  latency     p50 / p99 of `Predictor.predict_proba([text])` for 1,000 test reviews one at a time:
              tokenizing, batching and the model, as a service answering one request;
  accuracy    on the test reviews, and how often the export agrees with the PyTorch model.

    python scripts/bench_inference.py                                  # trains the recipe for 1 epoch first
    python scripts/bench_inference.py --model-dir runs/zh_reviews/model
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nlp_lstm.config import load_config
from nlp_lstm.data.sources import load_splits, load_texts
from nlp_lstm.export import export_model
from nlp_lstm.predictor import Predictor, predict_proba_ids
from nlp_lstm.runs import train

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "sentiment" / "zh_reviews.toml"


def throughput(predictor: Predictor, ids: list[list[int]], repeats: int) -> float:
    """Best real tokens/s over `repeats` passes at batch 256."""
    saved = predictor.saved
    tokens = sum(min(len(s), saved.max_length) for s in ids)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        predict_proba_ids(saved.model, ids, predictor.device, 256, saved.max_length, saved.tokenizer.pad_id)
        best = max(best, tokens / (time.perf_counter() - start))
    return best


def latency(predictor: Predictor, texts: list[str]) -> np.ndarray:
    """Milliseconds per single-text prediction (after 20 warm-up calls)."""
    for text in texts[:20]:
        predictor.predict_proba([text])
    times = np.empty(len(texts))
    for i, text in enumerate(texts):
        start = time.perf_counter()
        predictor.predict_proba([text])
        times[i] = (time.perf_counter() - start) * 1000
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", help="a trained zh-reviews model directory (default: train the recipe "
                                            "for one epoch here)")
    parser.add_argument("--latency-texts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2, help="throughput passes; the best one counts")
    args = parser.parse_args()

    config = load_config(RECIPE)
    test = load_splits(config.data)["test"]
    corpus = load_texts(config.data.train, label_column=None)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = Path(args.model_dir) if args.model_dir else None
        if model_dir is None:
            config.training.epochs, config.training.device = 1, "cpu"
            print("training recipes/sentiment/zh_reviews.toml for 1 epoch ...", flush=True)
            with contextlib.redirect_stdout(io.StringIO()):
                model_dir = train(config, Path(tmp) / "run", progress=False).run_dir / "model"
        exports = {"PyTorch": model_dir, "ONNX": export_model(model_dir, "onnx", Path(tmp) / "onnx"),
                   "int8": export_model(model_dir, "int8", Path(tmp) / "int8")}
        predictors = {name: Predictor.load(path, "cpu") for name, path in exports.items()}
        tokenizer = predictors["PyTorch"].saved.tokenizer
        ids = tokenizer.encode_batch(corpus.texts)
        test_ids = tokenizer.encode_batch(test.texts)
        lengths = np.array([min(len(s), config.data.max_length) for s in ids])
        gold = np.array(test.labels)
        labels = predictors["PyTorch"].labels
        print(f"throughput on {len(ids):,} reviews ({lengths.sum():,} tokens, mean {lengths.mean():.1f}, at most "
              f"{lengths.max()}); latency on {min(args.latency_texts, len(test)):,} and accuracy on {len(test):,} "
              f"test reviews; torch {torch.__version__}, {torch.get_num_threads()} threads; model {model_dir}")
        print(f"{'':8} {'tokens/s (batch 256)':>21} {'p50 ms':>7} {'p99 ms':>7} {'accuracy':>9} {'agrees':>7}")
        reference = None
        rows = {}
        for name, predictor in predictors.items():
            speed = throughput(predictor, ids, args.repeats)
            times = latency(predictor, list(test.texts[: args.latency_texts]))
            saved = predictor.saved
            predicted = predict_proba_ids(saved.model, test_ids, predictor.device, 256, saved.max_length,
                                          saved.tokenizer.pad_id).argmax(1)
            reference = predicted if reference is None else reference
            accuracy = float(np.mean(np.array(labels)[predicted] == gold))
            rows[name] = (speed, accuracy)
            print(f"{name:8} {speed:21,.0f} {np.percentile(times, 50):7.2f} {np.percentile(times, 99):7.2f} "
                  f"{accuracy:9.4f} {np.mean(predicted == reference):7.2%}", flush=True)
        for name in ("ONNX", "int8"):
            print(f"{name} vs PyTorch: throughput {rows[name][0] / rows['PyTorch'][0]:.2f}x, accuracy "
                  f"{rows[name][1] - rows['PyTorch'][1]:+.4f}")


if __name__ == "__main__":
    main()
