"""Training steps of a tagger whose vocabulary holds pretrained words no training sentence has: the optimizer
holding the embedding rows training reaches (what the Trainer does) against the whole table, side by side.

The model is `nlp-lstm train --data DATA --task tag` with the defaults (GloVe 6B 50d with its 100,000 most
frequent words that training lacks added, character CNN, CRF); each round trains it from the same initial
weights and seed for --steps steps both ways, in turn, in this one process, and times them. Both ways must end
with the same weights, bit for bit: the rows after the largest training id never get a gradient, and AdamW
without weight decay leaves them as they are.

    python scripts/bench_embedding_rows.py
    python scripts/bench_embedding_rows.py --steps 300 --rounds 5 --set model.extend_vocab=200000
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from nlp_lstm.config import config_with_overrides
from nlp_lstm.tasks import prepare
from nlp_lstm.training.trainer import Trainer

REPO_ROOT = Path(__file__).resolve().parent.parent
CONLL = REPO_ROOT.parent / "shared" / "data" / "conll2003" / "eng.train"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=f"conll:{CONLL}", help="training data spec (default CoNLL-2003 eng.train)")
    parser.add_argument("--tag-column", type=int, default=3, help="conll column of the tags")
    parser.add_argument("--steps", type=int, default=150, help="training steps each way, each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides")
    args = parser.parse_args()

    raw = {"task": "tagging", "data": {"train": args.data, "tag_column": args.tag_column, "validation_fraction": 0.0},
           "training": {"epochs": 1, "max_steps": args.steps, "baselines": False, "device": "cpu"}}
    prepared = prepare(config_with_overrides(raw, args.set))
    table = prepared.model.embedding.weight
    initial = {name: tensor.clone() for name, tensor in prepared.model.state_dict().items()}
    seconds: dict[str, list[float]] = {"rows": [], "whole": []}
    final: dict[str, dict[str, torch.Tensor]] = {}
    for round_ in range(1, args.rounds + 1):
        for way in seconds:
            prepared.model.load_state_dict(initial)
            trainer = Trainer(prepared.model, prepared.training, torch.device("cpu"), prepared.task,
                              progress=False, verbose=False)
            if way == "whole":
                trainer._optimize_trained_rows = lambda train: None  # the optimizer keeps the whole table
            torch.manual_seed(prepared.training.seed)
            start = time.perf_counter()
            trainer.fit(prepared.encoded["train"], None)
            seconds[way].append(time.perf_counter() - start)
            held = trainer.optimizer.param_groups[0]["params"][0].size(0)
            final[way] = {name: tensor.clone() for name, tensor in prepared.model.state_dict().items()}
            print(f"round {round_} {way:5}: {1000 * seconds[way][-1] / args.steps:6.1f} ms a step "
                  f"(the optimizer holds {held:,} of {table.size(0):,} embedding rows)", flush=True)
    same = all(torch.equal(final["rows"][name], final["whole"][name]) for name in final["rows"])
    rows, whole = statistics.median(seconds["rows"]), statistics.median(seconds["whole"])
    print(f"median ms a step: rows training reaches {1000 * rows / args.steps:.1f}, whole table "
          f"{1000 * whole / args.steps:.1f}; same weights both ways: {'yes' if same else 'NO'}")
    print(f"rows training reaches: {whole / rows:.2f}x as fast per step")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
