"""Peak resident memory (max RSS) of `nlp-lstm train` runs on SST-2 and CoNLL-2003, each in its own process.

Each run is the recipe as shipped on the local data beside the repository (../shared/data), with one
epoch capped at --max-steps optimizer steps, then the dev (and test) scoring and the report: loading
the data, the tokenizer, the word vectors, training batches and scoring all happen, so the peak is that of
a full run. The GloVe recipes also hold the 400,000 GloVe vectors while building the embedding.

    python scripts/bench_memory.py                 # all four recipes
    python scripts/bench_memory.py --max-steps 100 --only sst2
    python scripts/bench_memory.py --set training.keep_freed_memory=true
    python scripts/bench_memory.py --million       # 1,000,000 then 2,000,000 texts, each cold then warm
    python scripts/bench_memory.py --million --texts 1000000 4000000

--million writes, for each size, a parquet file of that many texts built from the SST-2 training phrases
(half of them two phrases joined, so lengths vary: 14 tokens on average) and trains a classifier on it
twice with a fresh tokenization cache (nlp_lstm/data/encode_cache.py): the first run tokenizes, the
second loads. It ends with how much the anonymous peak grew per extra million texts: bounded memory
means that number stays small (the per-text arrays: lengths, labels, the sampler's order).
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


def peak_rss(argv: list[str]) -> tuple[float, float, float, int]:
    """Max RSS and peak anonymous RSS in MB, wall seconds and exit status of `python -m nlp_lstm ARGV`, run
    from the repository root. Max RSS also counts mapped file pages (memory-mapped texts and ids), which
    the kernel can drop and read again; anonymous memory is what the process alone holds (sampled every
    20 ms from /proc, so a shorter spike can be missed)."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "nlp_lstm", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    anon_kb = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        anon_kb = max(anon_kb, _rss_anon_kb(process.pid))
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(process.stderr.read().decode(errors="replace"), file=sys.stderr)
    # ru_maxrss is in KB on Linux
    return usage.ru_maxrss / 1024, anon_kb / 1024, time.perf_counter() - start, process.returncode


def _rss_anon_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("RssAnon:")), 0)
    except OSError:  # the process just ended
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-steps", type=int, default=300, help="optimizer steps of the one epoch")
    parser.add_argument("--only", choices=sorted(RUNS), action="append", help="run only these (repeatable)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every recipe, e.g. training.keep_freed_memory=true (repeatable)")
    parser.add_argument("--million", action="store_true", help="corpora of millions of texts instead of the recipes")
    parser.add_argument("--texts", type=int, nargs="+", default=[1_000_000, 2_000_000],
                        help="with --million: the corpus sizes, run one after another (default 1,000,000 2,000,000)")
    args = parser.parse_args()
    if args.million:
        million(args.texts, args.max_steps)
        return
    print(f"{'recipe':22} {'peak RSS MB':>12} {'anonymous MB':>13} {'seconds':>8}  (limit {LIMIT_MB:,} MB)")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or RUNS:
            recipe, *sets = RUNS[name]
            argv = ["train", recipe, *sets, "--set", "training.epochs=1", "--set",
                    f"training.max_steps={args.max_steps}", "--set", 'training.device="cpu"',
                    *(arg for override in args.overrides for arg in ("--set", override)),
                    "--output", str(Path(tmp) / name), "--no-progress"]
            mb, anon, seconds, code = peak_rss(argv)
            verdict = "failed" if code else ("ok" if mb < LIMIT_MB else "OVER")
            print(f"{name:22} {mb:12,.0f} {anon:13,.0f} {seconds:8.1f}  {verdict}", flush=True)


def write_corpus(count: int, path: Path) -> Path:
    """A parquet file (columns sentence, label) of `count` texts from the SST-2 training phrases, half of them
    two phrases joined, so lengths vary: 14 tokens on average."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [line.split("\t") for line in (DATA / "sst2" / "train.tsv").read_text().splitlines()[1:]]
    rng = random.Random(0)
    texts, labels = [], []
    for _ in range(count):
        first, second = rng.choice(rows), rng.choice(rows)
        texts.append(f"{first[0]} {second[0]}" if rng.random() < 0.5 else first[0])
        labels.append(first[1])
    pq.write_table(pa.table({"sentence": texts, "label": labels}), path)
    return path


def million(counts: list[int], max_steps: int) -> None:
    """Peak RSS, peak anonymous memory and seconds of two training runs per corpus size, cold tokenization
    cache then warm, and how much the anonymous peak grows per extra million texts."""
    print(f"classifier embedding 64, hidden 64, one epoch capped at {max_steps} steps, dev = SST-2 dev")
    print(f"{'texts':>10} {'run':11} {'peak RSS MB':>12} {'anonymous MB':>13} {'seconds':>8}")
    anonymous: dict[str, list[tuple[int, float]]] = {"cold cache": [], "warm cache": []}
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = write_corpus(count, Path(tmp) / "corpus.parquet")
            os.environ["NLP_LSTM_CACHE"] = str(Path(tmp) / "cache")
            for name in anonymous:
                argv = ["train", "recipes/sentiment/sst2.toml", "--set", f"data.train=parquet:{corpus}", "--set",
                        f"data.dev=tsv:{DATA / 'sst2' / 'dev.tsv'}", "--set", "model.embedding_dim=64", "--set",
                        "model.hidden_size=64", "--set", "training.epochs=1", "--set",
                        f"training.max_steps={max_steps}", "--set", 'training.device="cpu"', "--output",
                        str(Path(tmp) / name.replace(" ", "_")), "--no-progress"]
                mb, anon, seconds, code = peak_rss(argv)
                anonymous[name].append((count, anon))
                print(f"{count:10,} {name:11} {mb:12,.0f} {anon:13,.0f} {seconds:8.1f}  {'failed' if code else 'ok'}",
                      flush=True)
    if len(counts) > 1:
        for name, points in anonymous.items():
            (low, low_mb), (high, high_mb) = min(points), max(points)
            print(f"{name}: anonymous peak {high_mb - low_mb:+,.0f} MB from {low:,} to {high:,} texts, "
                  f"{(high_mb - low_mb) / ((high - low) / 1e6):+,.0f} MB per extra million")


if __name__ == "__main__":
    main()
