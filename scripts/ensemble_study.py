"""How much a seed ensemble adds, and which way of combining taggers is better, from a finished `--seeds` run.

The seed runs of `nlp-lstm train CONFIG --seeds N` are the members: this scores each member and their ensemble
on the run's dev split (and test, where there is one), with the splits rebuilt from the runs' config. Taggers
are combined both ways the ensemble could work: mean emission and CRF transition scores decoded by Viterbi
(what `training.n_ensemble` does), and mean per-token marginals (forward-backward) decoded by Viterbi under
the tag scheme's constraints.

    python scripts/ensemble_study.py runs/conll2003_ner --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch
from torch import nn

from nlp_lstm.config import load_config
from nlp_lstm.model_dir import load_model_dir
from nlp_lstm.models.crf import CRF
from nlp_lstm.models.ensemble import ensemble
from nlp_lstm.runs import member_configs
from nlp_lstm.tasks import prepare


class MarginalEnsemble(nn.Module):
    """Taggers combined by their mean marginals: `forward` gives log mean P(tag), `decode` a Viterbi over it
    that only the constraints (no learned transitions) restrict."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        first = members[0].crf
        self.crf = CRF(first.num_tags, (first.start_allowed, first.transitions_allowed, first.end_allowed))
        for param in self.crf.parameters():
            nn.init.zeros_(param)

    def forward(self, ids, lengths, chars=None, casing=None):  # noqa: ANN001, ANN201 (the tagger's signature)
        mask = torch.arange(ids.size(1), device=ids.device)[None, :] < lengths[:, None]
        marginals = [m.crf.marginals(m(ids, lengths, chars, casing), mask) for m in self.members]
        return torch.stack(marginals).mean(dim=0).clamp_min(1e-12).log()

    def decode(self, emissions, mask):  # noqa: ANN001, ANN201
        return self.crf.decode(emissions, mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("seeds_dir", type=Path, help="a --seeds run directory (seed-K/ subfolders)")
    parser.add_argument("--seeds", type=int, nargs="+", help="which seed-K runs to combine (default: all)")
    args = parser.parse_args()
    runs = sorted((run for run in args.seeds_dir.glob("seed-*") if (run / "model").is_dir()),
                  key=lambda run: int(run.name.split("-")[1]))
    runs = [run for run in runs if args.seeds is None or int(run.name.split("-")[1]) in args.seeds]
    config = member_configs(load_config(runs[0] / "config.toml"))[0]
    prepared = prepare(config)
    device = torch.device("cpu")
    members = []
    for run in runs:
        saved = load_model_dir(run / "model", device)
        if saved.tokenizer.vocab != prepared.saved.tokenizer.vocab:
            raise SystemExit(f"{run}: its vocabulary differs from the one the config gives now")
        members.append(saved.model)
    metric = prepared.training.metric
    combined = {"ensemble (mean scores)": ensemble(members).eval()}
    if config.task == "tagging" and members[0].crf is not None:
        combined["ensemble (mean marginals)"] = MarginalEnsemble(members).eval()
    print(f"{len(members)} members from {args.seeds_dir}; metric {metric}")
    for split in ("dev", "test"):
        if split not in prepared.encoded:
            continue
        scores = [prepared.task.evaluate(m, prepared.encoded[split], device)[0][metric] for m in members]
        print(f"{split}: members {', '.join(f'{s:.4f}' for s in scores)}  mean {statistics.mean(scores):.4f}"
              + (f" ± {statistics.stdev(scores):.4f}" if len(scores) > 1 else ""))
        for name, model in combined.items():
            print(f"{split}: {name} {prepared.task.evaluate(model, prepared.encoded[split], device)[0][metric]:.4f}")


if __name__ == "__main__":
    main()
