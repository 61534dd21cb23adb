"""Wall time of a multi-seed run, one seed after another vs `--jobs`, side by side in one run.

Both train the same recipe under the same seeds with `nlp_lstm.seeds.train_seeds`:
  sequential: one process, all of torch's threads, seeds one after another;
  jobs:       `--jobs N` worker processes at once, each with its share of the threads.
It prints both wall times, the ratio, and whether the per-seed dev scores agree. Run it on a quiet
machine: another busy process distorts both numbers.

    python scripts/bench_seed_jobs.py                               # zh-reviews, 2 seeds, 300 steps each
    python scripts/bench_seed_jobs.py --recipe recipes/sentiment/sst2.toml \\
        --set 'data.train="tsv:../shared/data/sst2/train.tsv"' --set 'data.dev="tsv:../shared/data/sst2/dev.tsv"'
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

import torch

from nlp_lstm.config import load_config
from nlp_lstm.seeds import train_seeds


def timed(config, seeds: int, jobs: int, output: Path) -> tuple[float, list[float]]:
    """Seconds for the whole multi-seed run and each seed's dev accuracy."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = train_seeds(config, seeds, output, progress=False, jobs=jobs)
    return time.perf_counter() - started, [run.metrics["dev"]["accuracy"] for run in result.runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="recipes/sentiment/zh_reviews.toml")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300, help="training steps per seed")
    args = parser.parse_args()
    config = load_config(args.recipe, [*args.set, f"training.max_steps={args.steps}", "training.device=cpu"])
    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        sequential, dev_sequential = timed(config, args.seeds, 1, Path(tmp) / "sequential")
        parallel, dev_parallel = timed(config, args.seeds, args.jobs, Path(tmp) / "jobs")
    print(f"{args.recipe}: {args.seeds} seeds x {args.steps} steps")
    print(f"sequential, {threads} thread(s): {sequential:7.1f} s  dev {', '.join(f'{a:.4f}' for a in dev_sequential)}")
    print(f"--jobs {args.jobs}, {max(1, threads // args.jobs)} thread(s) each: {parallel:7.1f} s  "
          f"dev {', '.join(f'{a:.4f}' for a in dev_parallel)}")
    print(f"speedup of --jobs {args.jobs}: {sequential / parallel:.2f}x")


if __name__ == "__main__":
    main()
