"""Tagging speed of one tagger as PyTorch (emission scores, then CRF.decode) and as its ONNX export (one graph
run gives the tags: Viterbi inside it), side by side, and whether the two give the same tags.

The tagger (`--model-dir`, a PyTorch model directory) is exported to ONNX in a temporary folder. Both tag
every sentence of `--data` through the predictors' own path (`predict_tag_ids`: batches of `--batch-size`
sorted by length, padded, results in input order), with the same thread count; the words are encoded once
beforehand, so this times batching and the model. Speeds are the best of `--repeats` passes, in real tokens
(padding excluded) and sentences per second. Then it counts the sentences whose tags differ.

    python scripts/bench_tagger_inference.py --model-dir runs/conll2003_ner/model \\
        --data conll:../shared/data/conll2003/eng.testa
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # as the nlp-lstm command sets it (docs/performance.md#sharing-the-cpu)
import torch  # noqa: E402

from nlp_lstm.export import export_model, load_check_data  # noqa: E402
from nlp_lstm.model_dir import SavedModel, load_model_dir  # noqa: E402
from nlp_lstm.predictor import predict_tag_ids  # noqa: E402
from nlp_lstm.text.features import encode_words  # noqa: E402


def tag(saved: SavedModel, encoded: tuple, batch_size: int, repeats: int) -> tuple[list[list[int]], float]:
    """Every sentence's tag ids, and the fastest pass's seconds."""
    ids, chars, casing = encoded
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tags = predict_tag_ids(saved.model, ids, chars, casing, torch.device("cpu"), batch_size,
                               saved.tokenizer.pad_id)
        best = min(best, time.perf_counter() - start)
    return tags, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", required=True, help="a trained tagger's PyTorch model directory")
    parser.add_argument("--data", default="conll:../shared/data/conll2003/eng.testa",
                        help="tagged sentences to tag, a data spec (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="passes per model; the fastest counts")
    parser.add_argument("--threads", type=int, help="intra-op threads of both (default: torch's, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # before loading: OnnxModel takes torch's thread count

    dataset = load_check_data(args.model_dir, args.data)
    with tempfile.TemporaryDirectory() as tmp:
        models = {"PyTorch": load_model_dir(args.model_dir),
                  "ONNX": load_model_dir(export_model(args.model_dir, "onnx", Path(tmp) / "onnx"))}
        first = models["PyTorch"]
        if first.task != "tagging":
            raise SystemExit(f"{args.model_dir} holds a {first.task} model; this script times taggers")
        encoded = encode_words(first.tokenizer, dataset.sentences, first.char_vocab, first.uses_casing)
        sentences, tokens = len(dataset.sentences), sum(len(s) for s in dataset.sentences)
        decoding = "Viterbi (CRF)" if first.model.crf is not None else "best tag per token"
        print(f"{sentences:,} sentences ({tokens:,} tokens) of {args.data}; batch {args.batch_size}, best of "
              f"{args.repeats}; decoding: {decoding}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
              f"model {args.model_dir}")
        print(f"{'':8} {'tokens/s':>10} {'sentences/s':>12} {'seconds':>8}")
        tags, seconds = {}, {}
        for name, saved in models.items():
            tags[name], seconds[name] = tag(saved, encoded, args.batch_size, args.repeats)
            print(f"{name:8} {tokens / seconds[name]:10,.0f} {sentences / seconds[name]:12,.0f} "
                  f"{seconds[name]:8.3f}", flush=True)
    differ = sum(a != b for a, b in zip(tags["PyTorch"], tags["ONNX"]))
    print(f"ONNX vs PyTorch: {seconds['PyTorch'] / seconds['ONNX']:.2f}x the tokens/s")
    print(f"sentences whose tags differ between PyTorch and ONNX: {differ} of {sentences:,}")


if __name__ == "__main__":
    main()
