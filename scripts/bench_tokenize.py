"""Tokenizing a large corpus: nlp-lstm's cold path vs `datasets.map(batched=True, num_proc=N)`, side by side.

Both encode the same parquet texts with the same trained tokenizer (the SST-2 recipe's word tokenizer) and
write the ids to disk, each from a fresh cache, with 1 process and with one per core:
  nlp-lstm:        `cached_encode` as a run does it (`data.num_proc`): the texts (a memory-mapped Arrow
                   column) go to the tokenizer's batch encoder 20,000 at a time and the ids into the
                   encode cache (nlp_lstm/data/encode_cache.py). With 1 process the Rust encoder's own
                   threads use the cores; with N, N forked processes each encode a contiguous share.
  datasets.map:    the same batch encoder called from `Dataset.map(batched=True, num_proc=N)` on the
                   parquet file loaded into `datasets`' Arrow cache (loading not timed), ids written to
                   `datasets`' cache file.
In a forked worker the tokenizers library turns its threads off, so N processes share the cores instead
of N threads, and the Python around each batch runs in parallel too.
Rounds alternate between the ways; the best round of each counts.

    python scripts/bench_tokenize.py                     # 1,000,000 texts, num_proc 1 and the core count
    python scripts/bench_tokenize.py --texts 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_memory import write_corpus

from nlp_lstm.data.encode_cache import cached_encode
from nlp_lstm.data.sources import load_texts
from nlp_lstm.text.tokenizers import TextTokenizer


def ours(tokenizer: TextTokenizer, texts: object, cache: Path, num_proc: int) -> float:
    """Seconds for a cold `cached_encode` by `num_proc` processes into a fresh cache folder."""
    os.environ["NLP_LSTM_CACHE"] = str(cache)
    start = time.perf_counter()
    ids = cached_encode(tokenizer, texts, num_proc=num_proc)
    seconds = time.perf_counter() - start
    assert len(ids) == len(texts)
    return seconds


def mapped(tokenizer: TextTokenizer, corpus: Path, cache: Path, num_proc: int | None) -> float:
    """Seconds for `datasets.map(batched=True, num_proc=num_proc)` of the same encoder over the corpus."""
    import datasets

    dataset = datasets.Dataset.from_parquet(str(corpus), cache_dir=str(cache))

    def encode(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
        return {"ids": tokenizer.encode_batch(batch["sentence"])}

    start = time.perf_counter()
    encoded = dataset.map(encode, batched=True, batch_size=20_000, num_proc=num_proc,
                          remove_columns=dataset.column_names)
    seconds = time.perf_counter() - start
    assert len(encoded) == len(dataset)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1_000_000, help="corpus size")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of every way; the best counts")
    args = parser.parse_args()
    import datasets

    datasets.disable_progress_bars()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        corpus = write_corpus(args.texts, Path(tmp) / "corpus.parquet")
        texts = load_texts(f"parquet:{corpus}", "sentence").texts
        tokenizer = TextTokenizer.train(texts, "word", True, 30_000, 1)
        ways = {}
        for n in dict.fromkeys((1, cores)):
            ways[f"nlp-lstm num_proc={n}"] = lambda cache, n=n: ours(tokenizer, texts, cache, n)
            ways[f"datasets.map num_proc={n}"] = lambda cache, n=n: mapped(tokenizer, corpus, cache, n)
        best = dict.fromkeys(ways, float("inf"))
        for _ in range(args.rounds):
            for name, way in ways.items():
                with tempfile.TemporaryDirectory(dir=tmp) as cache:
                    best[name] = min(best[name], way(Path(cache)))
        print(f"{args.texts:,} texts, {cores} cores, best of {args.rounds} rounds")
        base = best["nlp-lstm num_proc=1"]
        for name, seconds in best.items():
            print(f"{name:26} {seconds:7.1f} s  {base / seconds:5.2f}x the speed of nlp-lstm num_proc=1")


if __name__ == "__main__":
    main()
