"""A linear-chain conditional random field over batch-first emission scores, with optional BIO/BIOES constraints."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

# The score a disallowed start, transition or end gets in the likelihood: exp(-1e4) underflows to 0, so such
# paths carry no probability mass, yet the score stays finite and so do the gradients (-inf would give NaN
# for a gold sequence that breaks a constraint). Decoding uses -inf, so no emission can outweigh it there.
DISALLOWED_SCORE = -1e4

SCHEMES = ("BIO", "BIOES")


class Constraints(NamedTuple):
    """Boolean masks of which tags may start a sequence, follow each tag, and end a sequence."""

    start_allowed: torch.Tensor  # (num_tags,)
    transitions_allowed: torch.Tensor  # (num_tags, num_tags), [from, to]
    end_allowed: torch.Tensor  # (num_tags,)


def _split_tag(name: str, scheme: str) -> tuple[str, str]:
    """'B-PER' -> ('B', 'PER') and 'O' -> ('O', ''); a ValueError for a name the scheme has no place for."""
    if name == "O":
        return "O", ""
    prefix, _, label = name.partition("-")
    prefixes = [p for p in scheme if p != "O"]
    if prefix not in prefixes or not label:
        expected = ", ".join(f"'{p}-'" for p in prefixes)
        raise ValueError(f"expected tag names 'O' or {expected} and a label for scheme {scheme!r}, got {name!r}")
    return prefix, label


def _may_follow(previous: tuple[str, str] | None, tag: tuple[str, str] | None, scheme: str) -> bool:
    """Whether `tag` may come right after `previous` (prefix, label); None is the sequence boundary."""
    open_chunk = previous is not None and previous[0] in ("B", "I")
    if tag is not None and tag[0] in ("I", "E"):  # continues a chunk: only the same label's open chunk
        return open_chunk and previous[1] == tag[1]
    return not open_chunk or scheme == "BIO"  # in BIOES only E-X (or S-X) closes a chunk


def scheme_constraints(tag_names: Sequence[str], scheme: str = "BIO") -> Constraints:
    """The starts, transitions and ends that a BIO or BIOES tagging allows between `tag_names`, for `CRF`.

    BIO: I-X only after B-X or I-X (so never first). BIOES: I-X and E-X only after B-X or I-X; O, B-X and
    S-X only first or after O, E-* or S-*; a sequence ends with O, E-* or S-*.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"expected scheme to be one of {SCHEMES}, got {scheme!r}")
    if not tag_names or len(set(tag_names)) != len(tag_names):
        raise ValueError(f"expected a non-empty list of distinct tag names, got {list(tag_names)!r}")
    tags = [_split_tag(name, scheme) for name in tag_names]
    return Constraints(
        start_allowed=torch.tensor([_may_follow(None, tag, scheme) for tag in tags]),
        transitions_allowed=torch.tensor([[_may_follow(prev, tag, scheme) for tag in tags] for prev in tags]),
        end_allowed=torch.tensor([_may_follow(tag, None, scheme) for tag in tags]),
    )


def viterbi(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor,
            end: torch.Tensor) -> torch.Tensor:
    """The best tag sequence of each sentence: (batch, seq_len, num_tags) emissions, (batch, seq_len) right-padded
    mask, start (num_tags,), transitions (num_tags, num_tags) [from, to] and end (num_tags,) scores ->
    (batch, seq_len) int64 tags; a padded step repeats its sequence's last tag.

    Eager PyTorch and TorchScript alike (CRF.paths compiles it for ONNX export), so it keeps to the ops and
    types both support, and loops only over time steps.
    """
    keep = torch.arange(emissions.size(2), device=emissions.device)  # the backpointer of a padded step
    score = start + emissions[:, 0]  # (batch, num_tags): best score of a path ending in each tag
    backpointers: list[torch.Tensor] = []
    for t in range(1, emissions.size(1)):
        best, previous = (score[:, :, None] + transitions).max(dim=1)  # (batch, num_tags): over `from`
        real = mask[:, t, None]
        score = torch.where(real, best + emissions[:, t], score)
        backpointers.append(torch.where(real, previous, keep))  # (batch, num_tags)
    tag = (score + end).argmax(dim=1)  # (batch,)
    path = [tag]  # last step first
    for t in range(len(backpointers) - 1, -1, -1):
        tag = backpointers[t].gather(1, tag[:, None]).squeeze(1)  # (batch,)
        path.append(tag)
    return torch.stack(path, dim=1).flip(1)  # not path.reverse(): its ONNX export gave wrong paths


@functools.cache
def _scripted_viterbi() -> torch.jit.ScriptFunction:
    """`viterbi` compiled by TorchScript, for the TorchScript-based ONNX exporter."""
    with warnings.catch_warnings():  # torch.jit.script is deprecated, as is the exporter that needs it
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(viterbi)


class CRF(nn.Module):
    """Linear-chain conditional random field over batch-first emission scores.

    The score of tags y_1..y_n for emissions e (seq_len rows of num_tags scores) is
    start_transitions[y_1] + sum_t e[t, y_t] + sum_{t>1} transitions[y_{t-1}, y_t] + end_transitions[y_n],
    and p(y | e) = exp(score(y)) / Z, where the partition function Z sums exp(score) over all
    num_tags ** n sequences. `forward` computes log p(tags | e) with the forward algorithm, `decode` the
    best sequence with Viterbi; both handle the whole batch at once and loop only over time steps.

    Batches are right-padded: mask (batch, seq_len) is True on a sequence's real steps, which come first,
    so mask[:, 0] must be all True. Emissions and tags at padded steps are ignored.

    Args:
        num_tags: number of tags.
        constraints: optional (start_allowed (num_tags,), transitions_allowed (num_tags, num_tags) [from, to],
            end_allowed (num_tags,)) bool masks, e.g. from `scheme_constraints`. Disallowed entries score
            DISALLOWED_SCORE in the likelihood and are never decoded. The masks are buffers, saved with the
            state dict (a CRF built without constraints loads them); None allows everything.
    """

    def __init__(
        self, num_tags: int, constraints: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    ) -> None:
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"expected num_tags to be a positive int, got {num_tags!r}")
        super().__init__()
        self.num_tags = num_tags
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # [from, to]
        self.reset_parameters()
        if constraints is None:
            ones = torch.ones(num_tags, dtype=torch.bool)
            constraints = Constraints(ones, torch.ones(num_tags, num_tags, dtype=torch.bool), ones)
        self._validate_constraints(constraints)
        start_allowed, transitions_allowed, end_allowed = constraints
        self.register_buffer("start_allowed", start_allowed.clone())
        self.register_buffer("transitions_allowed", transitions_allowed.clone())
        self.register_buffer("end_allowed", end_allowed.clone())

    def reset_parameters(self) -> None:
        """Draw every transition score uniformly from [-0.1, 0.1]."""
        for param in (self.start_transitions, self.end_transitions, self.transitions):
            nn.init.uniform_(param, -0.1, 0.1)

    def extra_repr(self) -> str:
        constrained = not (self.start_allowed.all() and self.transitions_allowed.all() and self.end_allowed.all())
        return f"num_tags={self.num_tags}, constrained={constrained}"

    def forward(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Log-likelihood of each sequence: (batch, seq_len, num_tags), (batch, seq_len), (batch, seq_len) -> (batch,).

        It is at most 0; train on the loss -ll.mean() (or -ll.sum()). mask None means no padding. Sums run in the
        transitions' precision, so under bf16 autocast in float32.
        """
        mask = self._validate(emissions, mask, tags)
        emissions = emissions.to(torch.promote_types(emissions.dtype, self.transitions.dtype))  # bf16 autocast: fp32
        tags = tags.masked_fill(~mask, 0)  # padded steps may hold anything, e.g. -100
        start, transitions, end = self._scores(DISALLOWED_SCORE)
        score = self._sequence_score(emissions, tags, mask, start, transitions, end)  # (batch,)
        return score - self._log_partition(emissions, mask, start, transitions, end)

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> list[list[int]]:
        """Viterbi best tags: (batch, seq_len, num_tags), (batch, seq_len) -> batch lists of each one's length."""
        mask = self._validate(emissions, mask)
        paths = viterbi(emissions, mask, *self._scores(float("-inf"))).tolist()
        return [row[:length] for row, length in zip(paths, mask.sum(dim=1).tolist())]

    def paths(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Viterbi best tags as one tensor: (batch, seq_len, num_tags), (batch, seq_len) -> (batch, seq_len) int64,
        a padded step repeating its sequence's last tag.

        Traced (ONNX export), it checks nothing and calls the TorchScript compilation of `viterbi`, whose loops
        become ONNX Loops over the input's length: tracing the eager function would unroll it to the example's.
        """
        if torch.jit.is_tracing():
            return _scripted_viterbi()(emissions, mask, *self._scores(float("-inf")))
        return viterbi(emissions, self._validate(emissions, mask), *self._scores(float("-inf")))

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """P(tag at each step | the sentence), by forward-backward: (batch, seq_len, num_tags), 0 at padded steps.

        The gradient of log Z with respect to the emission scores is exactly these marginals."""
        mask = self._validate(emissions, mask)
        with torch.inference_mode(False), torch.enable_grad():  # also when called under inference_mode
            start, transitions, end = (score.detach() for score in self._scores(DISALLOWED_SCORE))
            scores = emissions.detach().float().clone().requires_grad_(True)
            log_z = self._log_partition(scores, mask.clone(), start, transitions, end)
            (marginals,) = torch.autograd.grad(log_z.sum(), scores)
        return marginals * mask[:, :, None]

    def _scores(self, disallowed: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start (num_tags,), transition (num_tags, num_tags) and end (num_tags,) scores under the constraints."""
        return (
            self.start_transitions.masked_fill(~self.start_allowed, disallowed),
            self.transitions.masked_fill(~self.transitions_allowed, disallowed),
            self.end_transitions.masked_fill(~self.end_allowed, disallowed),
        )

    @staticmethod
    def _sequence_score(
        emissions: torch.Tensor,
        tags: torch.Tensor,
        mask: torch.Tensor,
        start: torch.Tensor,
        transitions: torch.Tensor,
        end: torch.Tensor,
    ) -> torch.Tensor:
        """Score of the given tags: (batch, seq_len, num_tags), (batch, seq_len), (batch, seq_len) -> (batch,)."""
        # index_select, not indexing: its gradient sums repeated indices in a fixed order, where indexing's adds
        # them in parallel on the CPU (a large batch's transition gradient changed from run to run)
        emitted = emissions.gather(2, tags[:, :, None]).squeeze(2).masked_fill(~mask, 0)  # (batch, seq_len)
        pairs = tags[:, :-1] * transitions.size(1) + tags[:, 1:]  # (batch, seq_len - 1): [from, to] flattened
        transitioned = transitions.flatten().index_select(0, pairs.flatten()).view(pairs.shape)
        transitioned = transitioned.masked_fill(~mask[:, 1:], 0)
        last_tags = tags.gather(1, mask.sum(dim=1, keepdim=True) - 1).squeeze(1)  # (batch,)
        return (start.index_select(0, tags[:, 0]) + emitted.sum(dim=1) + transitioned.sum(dim=1)
                + end.index_select(0, last_tags))

    @staticmethod
    def _log_partition(
        emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor
    ) -> torch.Tensor:
        """log Z by the forward algorithm: (batch, seq_len, num_tags), (batch, seq_len) -> (batch,).

        Each step is one (batch, from) @ (from, to) product of probabilities scaled by their row's largest score,
        with autocast off: the same sums as a log-sum-exp over (batch, from, to), in fewer kernels.
        """
        with torch.autocast(emissions.device.type, enabled=False):
            top = transitions.max().detach()  # the shifts cancel exactly, so no gradient flows through them
            exp_transitions = (transitions - top).exp()  # a disallowed transition's exp(-1e4) is 0
            tiny = torch.finfo(emissions.dtype).tiny  # a tag no path reaches: log(tiny), not -inf (NaN gradients)
            score = start + emissions[:, 0]  # (batch, num_tags): log-sum of exp(score) of paths ending in each tag
            for t in range(1, emissions.size(1)):
                shift = score.amax(dim=1, keepdim=True).detach()  # (batch, 1)
                summed = ((score - shift).exp() @ exp_transitions).clamp_min(tiny)  # (batch, to)
                step = summed.log() + (shift + top) + emissions[:, t]
                score = torch.where(mask[:, t, None], step, score)  # (batch, num_tags)
            return torch.logsumexp(score + end, dim=1)

    def _validate(
        self, emissions: torch.Tensor, mask: torch.Tensor | None, tags: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Raise ValueError for inputs `forward` or `decode` cannot use; return the mask (all True for None)."""
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            raise ValueError(
                f"expected emissions of shape (batch, seq_len, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        if not emissions.is_floating_point():
            raise ValueError(f"expected floating-point emissions, got {emissions.dtype}")
        if emissions.size(1) == 0:
            raise ValueError("expected at least one time step, got seq_len 0")
        shape = tuple(emissions.shape[:2])
        if mask is None:
            mask = torch.ones(shape, dtype=torch.bool, device=emissions.device)
        if tuple(mask.shape) != shape:
            raise ValueError(f"expected mask of shape {shape}, got {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            raise ValueError(f"expected mask of dtype torch.bool, got {mask.dtype}")
        if not mask[:, 0].all():
            raise ValueError("expected mask[:, 0] all True (every sequence has a first step), got a False")
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            raise ValueError("expected a right-padded mask (no True after a False), got a True after a False")
        if tags is not None:
            if tuple(tags.shape) != shape:
                raise ValueError(f"expected tags of shape {shape}, got {tuple(tags.shape)}")
            if tags.dtype != torch.long:
                raise ValueError(f"expected tags of dtype torch.int64, got {tags.dtype}")
            bad = tags[mask][(tags[mask] < 0) | (tags[mask] >= self.num_tags)]
            if bad.numel():
                raise ValueError(f"expected tags in [0, {self.num_tags}) at unmasked steps, got {bad[0].item()}")
        return mask

    def _validate_constraints(self, constraints: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> None:
        """Raise ValueError unless `constraints` are three bool masks of the shapes this CRF needs."""
        if len(constraints) != 3:
            fields = ", ".join(Constraints._fields)
            raise ValueError(f"expected constraints ({fields}), got {len(constraints)} items")
        shapes = [(self.num_tags,), (self.num_tags, self.num_tags), (self.num_tags,)]
        for name, allowed, shape in zip(Constraints._fields, constraints, shapes):
            if not isinstance(allowed, torch.Tensor) or allowed.dtype != torch.bool or tuple(allowed.shape) != shape:
                got = f"{allowed.dtype} {tuple(allowed.shape)}" if isinstance(allowed, torch.Tensor) else type(allowed)
                raise ValueError(f"expected {name} a torch.bool tensor of shape {shape}, got {got}")
            if not allowed.any():
                raise ValueError(f"expected {name} to allow at least one tag, got all False")
