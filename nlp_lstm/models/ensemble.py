"""Seed ensembles: members of one spec trained under different seeds, predicting as one model.

A classifier ensemble averages its members' probabilities; a tagger ensemble averages their emission scores
and, with a CRF, their transition scores, then decodes once (Viterbi over the averaged scores).
"""

from __future__ import annotations

import torch
from torch import nn

from .classifier import BiLSTMClassifier
from .crf import CRF
from .tagger import BiLSTMTagger, decode_emissions


class Members(nn.Module):
    """Models of one spec held together; the first member's layers stand for the ensemble's shapes (output
    size, vocabulary) where code looks them up."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    @property
    def output(self) -> nn.Linear:
        return self.members[0].output

    @property
    def embedding(self) -> nn.Embedding:
        return self.members[0].embedding


class ClassifierEnsemble(Members):
    """Classifiers whose `forward` gives the log of their mean probabilities: softmax of it is that mean."""

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(batch, seq_len) ids, (batch,) lengths -> (batch, num_classes) log mean probabilities."""
        probabilities = torch.stack([torch.softmax(member(ids, lengths), dim=-1) for member in self.members])
        return probabilities.mean(dim=0).log()


class TaggerEnsemble(Members):
    """Taggers whose `forward` gives their mean emission scores, decoded with the mean of their CRFs."""

    def __init__(self, members: list[BiLSTMTagger]) -> None:
        super().__init__(members)
        first = members[0].crf
        self.crf = None
        if first is not None:
            self.crf = CRF(first.num_tags, (first.start_allowed, first.transitions_allowed, first.end_allowed))
            with torch.no_grad():
                for name in ("start_transitions", "end_transitions", "transitions"):
                    getattr(self.crf, name).copy_(torch.stack([getattr(m.crf, name) for m in members]).mean(dim=0))

    @property
    def char_cnn(self) -> nn.Module | None:
        return self.members[0].char_cnn

    @property
    def casing(self) -> nn.Module | None:
        return self.members[0].casing

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
                casing: torch.Tensor | None = None) -> torch.Tensor:
        """The members' mean (batch, seq_len, num_tags) emission scores."""
        return torch.stack([member(ids, lengths, chars, casing) for member in self.members]).mean(dim=0)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag ids of each sentence: Viterbi with the mean CRF, else the best tag of each token."""
        return decode_emissions(emissions, mask, self.crf)


def ensemble(members: list[nn.Module]) -> nn.Module:
    """One model of the trained `members` (all classifiers or all taggers of one spec and sizes)."""
    if all(isinstance(m, BiLSTMClassifier) for m in members):
        return ClassifierEnsemble(members)
    if all(isinstance(m, BiLSTMTagger) for m in members):
        return TaggerEnsemble(members)
    raise ValueError("an ensemble's members are all classifiers or all taggers")
