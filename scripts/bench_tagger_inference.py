"""Tagging speed of one tagger as PyTorch (emission scores, then CRF.decode) and as its ONNX export (one graph
run gives the tags: Viterbi inside it), side by side, and whether the two give the same tags.

The tagger (`--model-dir`, a PyTorch model directory) is exported to ONNX in a temporary folder. Both tag
every sentence of `--data` through the predictors' own path (`predict_tag_ids`: batches of `--batch-size`
sorted by length, padded, results in input order), with the same thread count; the words are encoded once
beforehand, so this times batching and the model. The passes alternate between the two (fairer on a shared
machine); the fastest of `--repeats` counts, in real tokens (padding excluded) and sentences per second.
Then it counts the sentences whose tags differ, and times Viterbi alone on the same batches' emission
scores: CRF.decode, and CRF.paths exported to ONNX by itself (the Loops the tagger's graph holds).

    python scripts/bench_tagger_inference.py --model-dir runs/conll2003_ner/model \\
        --data conll:../shared/data/conll2003/eng.testa
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # as the nlp-lstm command sets it (docs/performance.md#sharing-the-cpu)
import torch  # noqa: E402
from torch import nn  # noqa: E402

from nlp_lstm.data.batching import collate_tagged, sorted_batches  # noqa: E402
from nlp_lstm.export import OPSET, export_model, load_check_data  # noqa: E402
from nlp_lstm.model_dir import SavedModel, load_model_dir  # noqa: E402
from nlp_lstm.models.crf import CRF  # noqa: E402
from nlp_lstm.predictor import predict_tag_ids  # noqa: E402
from nlp_lstm.text.features import encode_words  # noqa: E402


class ViterbiGraph(nn.Module):
    """CRF.paths alone: (batch, seq_len, num_tags) emissions, (batch,) lengths -> (batch, seq_len) tags."""

    def __init__(self, crf: CRF) -> None:
        super().__init__()
        self.crf = crf

    def forward(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.crf.paths(emissions, torch.arange(emissions.size(1))[None, :] < lengths[:, None])


def viterbi_session(crf: CRF, path: Path) -> object:
    """`ViterbiGraph(crf)` exported as the tagger's graph is, on onnxruntime with torch's thread count."""
    import onnxruntime

    axes = {"emissions": {0: "batch", 1: "sequence"}, "lengths": {0: "batch"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ViterbiGraph(crf).eval(), (torch.randn(3, 6, crf.num_tags), torch.tensor([6, 4, 1])),
                          str(path), input_names=["emissions", "lengths"], output_names=["tags"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def fastest(runs: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, object], dict[str, float]]:
    """Each run's result and its fastest time in seconds, the runs taking turns `repeats` times."""
    results, seconds = {}, {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            seconds[name] = min(seconds[name], time.perf_counter() - start)
    return results, seconds


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
        saved = models["PyTorch"]
        if saved.task != "tagging":
            raise SystemExit(f"{args.model_dir} holds a {saved.task} model; this script times taggers")
        ids, chars, casing = encode_words(saved.tokenizer, dataset.sentences, saved.char_vocab, saved.uses_casing)
        sentences, tokens = len(ids), sum(map(len, ids))
        crf = saved.model.crf
        print(f"{sentences:,} sentences ({tokens:,} tokens) of {args.data}; batch {args.batch_size}, best of "
              f"{args.repeats}; decoding: {'Viterbi (CRF)' if crf is not None else 'best tag per token'}; "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {args.model_dir}")
        tags, seconds = fastest({name: lambda m=m: predict_tag_ids(m.model, ids, chars, casing, torch.device("cpu"),
                                                                   args.batch_size, saved.tokenizer.pad_id)
                                 for name, m in models.items()}, args.repeats)
        print(f"{'':8} {'tokens/s':>10} {'sentences/s':>12} {'seconds':>8}")
        for name, time_taken in seconds.items():
            print(f"{name:8} {tokens / time_taken:10,.0f} {sentences / time_taken:12,.0f} {time_taken:8.3f}")
        print(f"ONNX vs PyTorch: {seconds['PyTorch'] / seconds['ONNX']:.2f}x the tokens/s")
        differ = sum(a != b for a, b in zip(tags["PyTorch"], tags["ONNX"]))
        print(f"sentences whose tags differ between PyTorch and ONNX: {differ} of {sentences:,}")
        if crf is not None:
            time_viterbi(saved, (ids, chars, casing), args.batch_size, args.repeats, Path(tmp) / "viterbi.onnx")


def time_viterbi(saved: SavedModel, encoded: tuple, batch_size: int, repeats: int, path: Path) -> None:
    """Print the seconds Viterbi alone takes over the batches' emission scores, in PyTorch and in onnxruntime."""
    ids, chars, casing = encoded
    pick = lambda rows, indices: None if rows is None else [rows[i] for i in indices]  # noqa: E731
    batches = []
    for indices in sorted_batches(list(map(len, ids)), batch_size):
        batch = collate_tagged(pick(ids, indices), indices, None, pick(chars, indices), pick(casing, indices),
                               saved.tokenizer.pad_id)
        with torch.no_grad():
            emissions = saved.model(batch.ids, batch.lengths, batch.chars, batch.casing)
        batches.append((emissions, batch.mask, batch.lengths))
    crf = saved.model.crf
    session = viterbi_session(crf, path)
    _, seconds = fastest({
        "PyTorch": lambda: [crf.decode(emissions, mask) for emissions, mask, _ in batches],
        "ONNX": lambda: [session.run(None, {"emissions": e.numpy(), "lengths": n.numpy()}) for e, _, n in batches]},
        repeats)
    print(f"Viterbi alone on the same {len(batches)} batches' emission scores: PyTorch (CRF.decode) "
          f"{seconds['PyTorch']:.3f} s, ONNX (its Loops) {seconds['ONNX']:.3f} s")


if __name__ == "__main__":
    main()
