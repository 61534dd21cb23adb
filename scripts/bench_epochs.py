"""Seconds per training epoch of a recipe at another commit and in this checkout, side by side.

Checks out `--against` into a temporary git worktree and trains the recipe there and here in turn, `--rounds`
times each, alternating so that the machine's drift falls on both sides alike. Each run is `nlp-lstm train
RECIPE --set training.epochs=N --set training.patience=0 --set training.baselines=false` from the repository
root (so the recipes' relative data paths resolve), each side with its own code and its own copy of the
recipe; `--set` values go to both sides and `--here-set` values to this checkout only (e.g. a setting the
other commit does not have). Training seconds are each epoch's `train_seconds` in the run's history.jsonl
(dev scoring excluded); a run's seconds are the whole command's, from start to exit (imports, reading and
checking the data, training, scoring, the report).

    python scripts/bench_epochs.py --against e954f1a                       # the CoNLL-2003 recipe
    python scripts/bench_epochs.py --against e954f1a --here-set training.precision=fp32
    python scripts/bench_epochs.py --against e954f1a --recipe recipes/sentiment/sst2.toml \\
        --set data.train=tsv:../shared/data/sst2/train.tsv --set data.dev=tsv:../shared/data/sst2/dev.tsv
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# the checkout's package first on the path, so an editable install of this one does not shadow it
LAUNCH = "import sys; sys.path.insert(0, sys.argv.pop(1)); from nlp_lstm.cli import main; sys.exit(main())"


def epoch_seconds(root: Path, recipe: str, settings: list[str], out: Path) -> tuple[list[float], float]:
    """Train `recipe` with the code in `root`; the training seconds of each epoch, from its history.jsonl, and the
    whole command's seconds."""
    sets = [arg for value in settings for arg in ("--set", value)]
    command = [sys.executable, "-c", LAUNCH, str(root), "train", str(root / recipe), *sets, "--no-progress",
               "--output", str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    history = out / "history.jsonl"  # unrounded seconds; the epoch lines print tenths
    seconds = ([json.loads(line)["train_seconds"] for line in history.read_text(encoding="utf-8").splitlines()]
               if done.returncode == 0 and history.exists() else [])
    if not seconds:
        raise SystemExit(f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stdout[-2000:]}"
                         f"{done.stderr[-2000:]}")
    return seconds, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="the commit to compare with (any git revision)")
    parser.add_argument("--recipe", default="recipes/tagging/conll2003_ner.toml", help="relative to the root")
    parser.add_argument("--rounds", type=int, default=4, help="runs on each side, alternating")
    parser.add_argument("--epochs", type=int, default=2, help="epochs each run trains")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="both sides")
    parser.add_argument("--here-set", action="append", default=[], metavar="KEY=VALUE", help="this checkout only")
    args = parser.parse_args()

    settings = [f"training.epochs={args.epochs}", "training.patience=0", "training.baselines=false", *args.set]
    seconds: dict[str, list[float]] = {args.against: [], "here": []}
    walls: dict[str, list[float]] = {args.against: [], "here": []}
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(other), args.against], cwd=REPO_ROOT,
                       check=True)
        try:
            for round_ in range(1, args.rounds + 1):
                for name, root, extra in ((args.against, other, []), ("here", REPO_ROOT, args.here_set)):
                    run, wall = epoch_seconds(root, args.recipe, settings + extra, Path(tmp) / f"{name}-{round_}")
                    seconds[name] += run
                    walls[name].append(wall)
                    print(f"round {round_} {name}: " + ", ".join(f"{value:.2f}" for value in run) + " s/epoch"
                          f"; {wall:.1f} s the run", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=REPO_ROOT, check=False)
    theirs, ours = (statistics.median(seconds[name]) for name in (args.against, "here"))
    print(f"median s/epoch: {args.against} {theirs:.2f}, here {ours:.2f} "
          f"(fastest {min(seconds[args.against]):.2f} and {min(seconds['here']):.2f})")
    print(f"here is {theirs / ours:.2f}x as fast per epoch")
    theirs, ours = (statistics.median(walls[name]) for name in (args.against, "here"))
    print(f"median s a run: {args.against} {theirs:.1f}, here {ours:.1f}; here is {theirs / ours:.2f}x as fast a run")


if __name__ == "__main__":
    main()
