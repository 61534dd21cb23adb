"""Peak resident memory (max RSS) of `nlp-lstm train` runs on SST-2 and CoNLL-2003, each in its own process.

Each run is the recipe as shipped on the local data beside the repository (../shared/data), with one
epoch capped at --max-steps optimizer steps, then the dev (and test) scoring and the report: loading
the data, the tokenizer, the word vectors, training batches and scoring all happen, so the peak is that of
a full run. The GloVe recipes also hold the 400,000 GloVe vectors while building the embedding.

    python scripts/bench_memory.py                 # all four recipes
    python scripts/bench_memory.py --max-steps 100 --only sst2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SST2 = ["--set", f"data.train=tsv:{DATA / 'sst2' / 'train.tsv'}", "--set", f"data.dev=tsv:{DATA / 'sst2' / 'dev.tsv'}"]
RUNS = {
    "sst2": ["recipes/sentiment/sst2.toml", *SST2],
    "sst2_glove": ["recipes/sentiment/sst2_glove.toml", *SST2],
    "conll2003_ner": ["recipes/tagging/conll2003_ner.toml"],
    "conll2003_ner_glove": ["recipes/tagging/conll2003_ner_glove.toml"],
}
LIMIT_MB = 1500


def peak_rss(argv: list[str]) -> tuple[float, float, int]:
    """Max RSS in MB, wall seconds and exit status of `python -m nlp_lstm ARGV`, run from the repository root."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "nlp_lstm", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(process.stderr.read().decode(errors="replace"), file=sys.stderr)
    return usage.ru_maxrss / 1024, time.perf_counter() - start, process.returncode  # ru_maxrss is in KB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-steps", type=int, default=300, help="optimizer steps of the one epoch")
    parser.add_argument("--only", choices=sorted(RUNS), action="append", help="run only these (repeatable)")
    args = parser.parse_args()
    print(f"{'recipe':22} {'peak RSS MB':>12} {'seconds':>8}  (limit {LIMIT_MB:,} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or RUNS:
            recipe, *sets = RUNS[name]
            argv = ["train", recipe, *sets, "--set", "training.epochs=1", "--set",
                    f"training.max_steps={args.max_steps}", "--set", 'training.device="cpu"',
                    "--output", str(Path(tmp) / name), "--no-progress"]
            mb, seconds, code = peak_rss(argv)
            verdict = "failed" if code else ("ok" if mb < LIMIT_MB else "OVER")
            print(f"{name:22} {mb:12,.0f} {seconds:8.1f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
