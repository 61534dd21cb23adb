"""Which weights to keep at the end of training: the best dev epoch, or something less tuned to dev.

Trains one model per seed exactly as `nlp-lstm train --data SPEC` does (dev and test both carved out of the
training data, 10% each, so that no split the defaults were tuned on takes part), keeps the weights of every
epoch, and scores on dev and on the carved test split the weights each way of choosing would keep:

- best: the epoch with the best dev score (what training does);
- smoothed: the epoch whose dev score averaged with its neighbours' (a window of 3) is best;
- average-K: the mean of the weights of the best epoch and the K-1 epochs before it (checkpoint averaging);
- last-K: the mean of the weights of the last K epochs;
- following-K: the mean of the weights of the best epoch and the up to K-1 epochs after it (with patience 2,
  the epochs training ran on to see that dev stopped improving).

With `--test SPEC` the held-back split is that file instead (SST-2's training phrases share sentences, so a
test split carved from them is no test: give GLUE's dev sentences).

    python scripts/selection_study.py --data conll:../shared/data/conll2003/eng.train --task tag \\
        --set data.tag_column=3 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from nlp_lstm.config import config_with_overrides
from nlp_lstm.tasks import prepare
from nlp_lstm.training.trainer import Trainer, mean_state

State = dict[str, torch.Tensor]


def smoothed_best(scores: list[float], window: int = 3) -> int:
    """The index whose score averaged over a centred window (cut at the ends) is highest; the first such."""
    half = window // 2
    smooth = [statistics.fmean(scores[max(0, k - half):k + half + 1]) for k in range(len(scores))]
    return max(range(len(scores)), key=lambda k: (smooth[k], -k))


def strategies(scores: list[float]) -> dict[str, Callable[[list[State]], State]]:
    """Each way of choosing, as a function of the per-epoch states."""
    best = max(range(len(scores)), key=lambda k: (scores[k], -k))
    chosen: dict[str, Callable[[list[State]], State]] = {
        "best": lambda states: states[best],
        "smoothed": lambda states: states[smoothed_best(scores)],
    }
    for k in (2, 3):
        chosen[f"average-{k}"] = lambda states, k=k: mean_state(states[max(0, best - k + 1):best + 1])
        chosen[f"last-{k}"] = lambda states, k=k: mean_state(states[-k:])
        chosen[f"following-{k}"] = lambda states, k=k: mean_state(states[best:best + k])
    return chosen


def train_keeping_states(prepared: Any) -> tuple[Trainer, list[State]]:
    """Train as a run does and return the trainer with the weights of every epoch."""
    trainer = Trainer(prepared.model, prepared.training, torch.device("cpu"), prepared.task, None,
                      progress=False, verbose=False)
    states: list[State] = []

    def keep(row: dict[str, Any]) -> None:
        states.append({k: v.detach().clone() for k, v in trainer.model.state_dict().items()})

    trainer.fit(prepared.encoded["train"], prepared.encoded["dev"], on_epoch_end=keep)
    return trainer, states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the training data spec, as for `nlp-lstm train --data`")
    parser.add_argument("--task", choices=["classification", "tagging", "tag"], default="classification")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--test", help="a held-back split to score on instead of one carved out of --data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    task = "tagging" if args.task == "tag" else args.task
    table: dict[str, dict[str, list[float]]] = {}
    for seed in args.seeds:
        data = {"train": args.data, **({"test": args.test, "test_fraction": 0.0} if args.test else
                                       {"test_fraction": 0.1})}
        config = config_with_overrides({"task": task, "data": data},
                                       [*args.set, f"training.seed={seed}", "training.baselines=false",
                                        "training.average_last=1"],
                                       source="selection_study")
        started = time.perf_counter()
        prepared = prepare(config)
        metric = prepared.training.metric
        trainer, states = train_keeping_states(prepared)
        scores = []
        for state in states:
            trainer.model.load_state_dict(state)
            scores.append(trainer.evaluate(prepared.encoded["dev"])[0][metric])
        print(f"seed {seed}: {len(states)} epochs in {time.perf_counter() - started:.0f} s; dev {metric} by epoch "
              + " ".join(f"{s:.4f}" for s in scores), flush=True)
        for name, choose in strategies(scores).items():
            trainer.model.load_state_dict(choose(states))
            row = table.setdefault(name, {"dev": [], "test": []})
            for split in ("dev", "test"):
                row[split].append(trainer.evaluate(prepared.encoded[split])[0][metric])
            print(f"  {name}: dev {row['dev'][-1]:.4f}  test {row['test'][-1]:.4f}", flush=True)
    spread = (lambda v: f"{statistics.fmean(v):.4f} ± {statistics.stdev(v):.4f}") if len(args.seeds) > 1 else (
        lambda v: f"{v[0]:.4f}")
    print(f"\n| weights kept | dev {metric} | test {metric} |\n|---|---|---|")
    for name, row in table.items():
        print(f"| {name} | {spread(row['dev'])} | {spread(row['test'])} |")


if __name__ == "__main__":
    main()
