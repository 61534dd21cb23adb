import itertools

import pytest
import torch
from conftest import gradients_on_two_threads

from nlp_lstm.models.crf import CRF, DISALLOWED_SCORE, Constraints, scheme_constraints

BIO_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES_TAGS = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]


def make_crf(num_tags, constraints=None, seed=0):
    """A float64 CRF with transition scores large enough that the brute-force checks are not trivial."""
    torch.manual_seed(seed)
    crf = CRF(num_tags, constraints).double()
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_()
    return crf


def random_batch(num_tags, lengths, seed):
    """Emissions (batch, seq_len, num_tags) and a right-padded mask; padded steps hold huge emissions."""
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(len(lengths), max(lengths), num_tags, generator=generator, dtype=torch.float64)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    emissions[~mask] = 1e6  # must be ignored
    return emissions, mask


def brute_force_score(crf, emissions, tags):
    """Score of one sequence, term by term: emissions (length, num_tags), tags a tuple of ints."""
    start = torch.where(crf.start_allowed, crf.start_transitions, DISALLOWED_SCORE)
    transitions = torch.where(crf.transitions_allowed, crf.transitions, DISALLOWED_SCORE)
    end = torch.where(crf.end_allowed, crf.end_transitions, DISALLOWED_SCORE)
    score = start[tags[0]] + end[tags[-1]]
    for t, tag in enumerate(tags):
        score = score + emissions[t, tag]
        if t > 0:
            score = score + transitions[tags[t - 1], tag]
    return score


def all_scores(crf, emissions, length):
    """Every tag sequence of the first `length` steps of emissions (seq_len, num_tags), and its score."""
    sequences = list(itertools.product(range(crf.num_tags), repeat=length))
    return sequences, torch.stack([brute_force_score(crf, emissions, tags) for tags in sequences])


def is_valid(names, scheme):
    """Whether a sequence of tag names is well formed, checked chunk by chunk (independently of the CRF)."""
    open_label = None  # the label of the chunk the previous tag left open, if any
    for name in names:
        prefix, label = (name, None) if name == "O" else name.split("-", 1)
        if prefix in ("I", "E") and label != open_label:
            return False
        if scheme == "BIOES" and prefix in ("O", "B", "S") and open_label is not None:
            return False
        open_label = label if prefix in ("B", "I") else None
    return scheme == "BIO" or open_label is None


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("num_tags", [3, 4])
def test_log_likelihood_equals_brute_force_with_mixed_lengths(seed, num_tags):
    crf = make_crf(num_tags, seed=seed)
    lengths = [4, 1, 3, 2]
    emissions, mask = random_batch(num_tags, lengths, seed)
    tags = torch.randint(num_tags, mask.shape, generator=torch.Generator().manual_seed(seed))
    tags[~mask] = -100  # padded steps may hold an ignore index
    log_likelihood = crf(emissions, tags, mask)
    assert log_likelihood.shape == (len(lengths),)
    for row, length in enumerate(lengths):
        _, scores = all_scores(crf, emissions[row], length)
        gold = brute_force_score(crf, emissions[row], tags[row, :length].tolist())
        torch.testing.assert_close(log_likelihood[row], gold - scores.logsumexp(0))


@pytest.mark.parametrize("length", [1, 2, 3])
def test_probabilities_of_all_sequences_sum_to_one(length):
    num_tags, seq_len = 3, 3
    crf = make_crf(num_tags)
    sequences = list(itertools.product(range(num_tags), repeat=length))
    emissions, mask = random_batch(num_tags, [length, seq_len], seed=1)
    emissions = emissions[:1].expand(len(sequences), -1, -1)
    mask = mask[:1].expand(len(sequences), -1)
    tags = torch.zeros(len(sequences), seq_len, dtype=torch.long)
    tags[:, :length] = torch.tensor(sequences)
    torch.testing.assert_close(crf(emissions, tags, mask).exp().sum(), torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("num_tags", [3, 4])
def test_decode_equals_brute_force_argmax_with_mixed_lengths(seed, num_tags):
    crf = make_crf(num_tags, seed=seed)
    lengths = [3, 4, 1, 2]
    emissions, mask = random_batch(num_tags, lengths, seed)
    paths = crf.decode(emissions, mask)
    for row, length in enumerate(lengths):
        sequences, scores = all_scores(crf, emissions[row], length)
        assert paths[row] == list(sequences[scores.argmax()])


def test_decode_without_mask_returns_full_length_paths():
    crf = make_crf(3)
    assert [len(path) for path in crf.decode(torch.randn(2, 5, 3, dtype=torch.float64))] == [5, 5]


def test_paths_pad_with_each_sequence_s_last_tag():
    crf = make_crf(4, seed=1)
    emissions, mask = random_batch(4, [5, 2, 1], seed=1)
    paths = crf.paths(emissions, mask)
    assert paths.dtype == torch.int64 and paths.shape == (3, 5)
    for row, path in zip(paths.tolist(), crf.decode(emissions, mask)):
        assert row == path + [path[-1]] * (5 - len(path))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.trace, as the ONNX exporter uses it
@pytest.mark.parametrize("tag_names, scheme", [(BIO_TAGS, "BIO"), (BIOES_TAGS, "BIOES")])
def test_traced_paths_decode_any_length_as_decode_does(tag_names, scheme):
    """Tracing (what the ONNX export does) keeps Viterbi's loops: a trace made at length 4 decodes other lengths."""
    crf = make_crf(len(tag_names), scheme_constraints(tag_names, scheme), seed=2).float()
    example = random_batch(len(tag_names), [4, 2], seed=0)
    with torch.no_grad():
        traced = torch.jit.trace_module(crf, {"paths": (example[0].float(), example[1])}, check_trace=False).paths
    for seed, lengths in enumerate([[7, 3, 1, 7], [1], [2, 1], [30, 29, 12]]):
        emissions, mask = random_batch(len(tag_names), lengths, seed)
        emissions = emissions.float()
        got = traced(emissions, mask)
        assert got.shape == mask.shape
        assert [row[:n] for row, n in zip(got.tolist(), lengths)] == crf.decode(emissions, mask)


def test_likelihood_and_decode_of_an_empty_batch():
    crf = CRF(3)
    emissions = torch.zeros(0, 2, 3)
    assert crf(emissions, torch.zeros(0, 2, dtype=torch.long)).shape == (0,)
    assert crf.decode(emissions) == []


@pytest.mark.parametrize(
    "names, scheme",
    [
        (["O", "I-PER"], "BIO"),
        (["I-PER"], "BIO"),
        (["B-PER", "I-LOC"], "BIO"),
        (["I-PER", "I-PER"], "BIOES"),
        (["O", "E-PER"], "BIOES"),
        (["B-PER", "O"], "BIOES"),
        (["B-PER"], "BIOES"),
        (["B-PER", "I-PER"], "BIOES"),
        (["S-PER", "I-PER"], "BIOES"),
    ],
)
def test_scheme_constraints_forbid_ill_formed_sequences(names, scheme):
    assert not is_valid(names, scheme)
    tag_names = sorted(set(names) | {"O"})
    start, transitions, end = scheme_constraints(tag_names, scheme)
    ids = [tag_names.index(name) for name in names]
    allowed = start[ids[0]] and end[ids[-1]] and all(transitions[a, b] for a, b in zip(ids, ids[1:]))
    assert not allowed


@pytest.mark.parametrize("tag_names, scheme", [(BIO_TAGS, "BIO"), (BIOES_TAGS, "BIOES")])
def test_scheme_constraints_allow_exactly_the_well_formed_sequences(tag_names, scheme):
    start, transitions, end = scheme_constraints(tag_names, scheme)
    assert start.dtype == transitions.dtype == end.dtype == torch.bool
    for length in (1, 2, 3):
        for ids in itertools.product(range(len(tag_names)), repeat=length):
            allowed = start[ids[0]] and end[ids[-1]] and all(transitions[a, b] for a, b in zip(ids, ids[1:]))
            assert bool(allowed) == is_valid([tag_names[i] for i in ids], scheme), [tag_names[i] for i in ids]


def test_bio_constraints_as_a_table():
    start, transitions, end = scheme_constraints(["O", "B-PER", "I-PER"], "BIO")
    assert start.tolist() == [True, True, False]
    assert end.tolist() == [True, True, True]
    assert transitions.tolist() == [[True, True, False], [True, True, True], [True, True, True]]


@pytest.mark.parametrize(
    "tag_names, scheme, favoured",
    [
        (BIO_TAGS, "BIO", ["O", "I-PER", "I-LOC"]),
        (BIO_TAGS, "BIO", ["I-LOC", "B-PER", "I-LOC"]),
        (BIOES_TAGS, "BIOES", ["E-PER", "O", "B-PER"]),
        (BIOES_TAGS, "BIOES", ["B-PER", "S-PER", "I-PER", "O"]),
    ],
)
@pytest.mark.parametrize("strength", [10.0, 1e5])
def test_constrained_decode_never_yields_an_invalid_sequence(tag_names, scheme, favoured, strength):
    crf = make_crf(len(tag_names), scheme_constraints(tag_names, scheme))
    emissions = torch.full((1, len(favoured), len(tag_names)), -strength, dtype=torch.float64)
    for t, name in enumerate(favoured):
        emissions[0, t, tag_names.index(name)] = strength
    (path,) = crf.decode(emissions)
    assert is_valid([tag_names[i] for i in path], scheme)
    assert not is_valid(favoured, scheme)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("tag_names, scheme", [(BIO_TAGS, "BIO"), (BIOES_TAGS, "BIOES")])
def test_constrained_crf_equals_brute_force_over_valid_sequences(seed, tag_names, scheme):
    crf = make_crf(len(tag_names), scheme_constraints(tag_names, scheme), seed=seed)
    lengths = [3, 1, 2]
    emissions, mask = random_batch(len(tag_names), lengths, seed)
    paths = crf.decode(emissions, mask)
    for row, length in enumerate(lengths):
        sequences, scores = all_scores(crf, emissions[row], length)
        valid = torch.tensor([is_valid([tag_names[i] for i in tags], scheme) for tags in sequences])
        assert paths[row] == list(sequences[scores.masked_fill(~valid, float("-inf")).argmax()])
        batch = torch.zeros(int(valid.sum()), emissions.size(1), dtype=torch.long)
        batch[:, :length] = torch.tensor([tags for tags, ok in zip(sequences, valid) if ok])
        rows = batch.size(0)
        log_likelihood = crf(emissions[row : row + 1].expand(rows, -1, -1), batch, mask[row : row + 1].expand(rows, -1))
        torch.testing.assert_close(log_likelihood, scores[valid] - scores[valid].logsumexp(0))
        torch.testing.assert_close(log_likelihood.exp().sum(), torch.tensor(1.0, dtype=torch.float64))


@pytest.mark.parametrize("gold", [["B-PER", "I-PER", "O"], ["O", "I-PER", "I-LOC"]])
def test_gradients_are_finite_under_constraints_even_for_an_invalid_gold_sequence(gold):
    crf = CRF(len(BIO_TAGS), scheme_constraints(BIO_TAGS, "BIO"))
    emissions = torch.randn(2, 3, len(BIO_TAGS), requires_grad=True)
    tags = torch.tensor([[BIO_TAGS.index(name) for name in gold]] * 2)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    loss = -crf(emissions, tags, mask).mean()
    assert torch.isfinite(loss)
    loss.backward()
    for grad in (emissions.grad, crf.start_transitions.grad, crf.transitions.grad, crf.end_transitions.grad):
        assert grad is not None and torch.isfinite(grad).all()
    assert crf.transitions.grad.abs().sum() > 0
    assert (crf.transitions.grad[~crf.transitions_allowed] == 0).all()  # masked scores do not depend on them


def test_log_likelihood_stays_exact_and_finite_when_emissions_differ_by_hundreds():
    """Scores far apart (a confident model) underflow exp() in float32; log Z must not turn -inf or NaN."""
    crf = make_crf(len(BIO_TAGS), scheme_constraints(BIO_TAGS, "BIO"), seed=1)
    emissions, mask = random_batch(len(BIO_TAGS), [3, 2], seed=1)
    emissions[:, :, 2] += 300.0  # I-PER, which cannot follow O, far above every other tag
    emissions[0, 1, 0] -= 300.0
    tags = torch.tensor([[0, 0, 0], [1, 2, 0]])
    expected = []
    for row, length in enumerate([3, 2]):
        sequences, scores = all_scores(crf, emissions[row], length)
        expected.append(brute_force_score(crf, emissions[row], tags[row, :length].tolist()) - scores.logsumexp(0))
    single = crf.float()
    scores32 = emissions.float().requires_grad_(True)
    log_likelihood = single(scores32, tags, mask)
    torch.testing.assert_close(log_likelihood.double(), torch.stack(expected), rtol=1e-5, atol=1e-3)
    (-log_likelihood.sum()).backward()
    assert torch.isfinite(scores32.grad).all() and torch.isfinite(single.transitions.grad).all()


@pytest.mark.parametrize(("tag_names", "scheme"), [(None, None), (BIO_TAGS, "BIO"), (BIOES_TAGS, "BIOES")])
def test_gradients_equal_those_of_brute_force_enumeration(tag_names, scheme):
    """The backward algorithm's gradients of the log-likelihood, for every input and parameter, against autograd
    through the log-sum-exp of every sequence's score."""
    num_tags = len(tag_names) if tag_names else 3
    crf = make_crf(num_tags, scheme_constraints(tag_names, scheme) if tag_names else None, seed=2)
    lengths = [4, 1, 3]
    emissions, mask = random_batch(num_tags, lengths, seed=2)
    emissions = (emissions * 2).requires_grad_(True)
    tags = torch.randint(0, num_tags, (3, 4), generator=torch.Generator().manual_seed(2))
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)  # a different upstream gradient per sequence
    (crf(emissions, tags, mask) * weights).sum().backward()
    params = [crf.start_transitions, crf.transitions, crf.end_transitions]
    got = [emissions.grad, *(param.grad for param in params)]
    emissions.grad = None
    crf.zero_grad()
    total = 0
    for row, length in enumerate(lengths):
        _, scores = all_scores(crf, emissions[row], length)
        gold = brute_force_score(crf, emissions[row], tags[row, :length].tolist())
        total = total + weights[row] * (gold - scores.logsumexp(0))
    expected = torch.autograd.grad(total, [emissions, *params])
    for name, a, b in zip(["emissions", "start", "transitions", "end"], got, expected):
        torch.testing.assert_close(a, b, msg=name)


def test_log_partition_passes_gradcheck():
    crf = make_crf(len(BIOES_TAGS), scheme_constraints(BIOES_TAGS, "BIOES"), seed=3)
    emissions, mask = random_batch(len(BIOES_TAGS), [5, 2, 4], seed=3)
    emissions = emissions.masked_fill(~mask[:, :, None], 0.0).requires_grad_(True)
    start, transitions, end = (score.detach().requires_grad_(True) for score in crf._scores(DISALLOWED_SCORE))
    assert torch.autograd.gradcheck(lambda *x: CRF._log_partition(x[0], mask, *x[1:]),
                                     (emissions, start, transitions, end))


def test_gradients_are_the_same_on_every_run_of_a_large_batch():
    """Repeated (from, to) pairs are summed in a fixed order; indexing's gradient adds them in parallel on the CPU
    once a batch holds enough of them, and a batch of 1,024 sentences gave a different gradient on every run."""
    crf = CRF(len(BIO_TAGS))
    generator = torch.Generator().manual_seed(0)
    emissions = torch.randn(1024, 40, len(BIO_TAGS), generator=generator)
    tags = torch.randint(0, len(BIO_TAGS), (1024, 40), generator=generator)
    weights = torch.randn(1024, generator=generator)
    grads = gradients_on_two_threads(crf, lambda crf: (crf(emissions, tags) * weights).sum())
    assert all(torch.equal(a, b) for grad in grads[1:] for a, b in zip(grads[0], grad))


def test_log_likelihood_under_bf16_autocast_is_computed_in_float32():
    crf = CRF(len(BIO_TAGS), scheme_constraints(BIO_TAGS, "BIO"))
    emissions = torch.randn(3, 6, len(BIO_TAGS)).bfloat16()  # what a linear layer gives under autocast
    tags = torch.tensor([[1, 2, 0, 0, 3, 4]] * 3)
    mask = torch.arange(6)[None, :] < torch.tensor([6, 4, 1])[:, None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = crf(emissions, tags, mask)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, crf(emissions.float(), tags, mask))


def test_training_the_transitions_raises_the_likelihood_and_learns_the_pattern():
    torch.manual_seed(0)
    crf = CRF(3)
    tags = torch.tensor([[0, 1, 2, 0, 1], [0, 1, 2, 0, 0]])  # the second sequence has 3 real steps
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    emissions = torch.zeros(2, 5, 3)  # the CRF must learn the sequences from its transitions alone
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.1)
    initial = crf(emissions, tags, mask).mean().item()
    for _ in range(100):
        optimizer.zero_grad()
        loss = -crf(emissions, tags, mask).mean()
        loss.backward()
        optimizer.step()
    assert -loss.item() > initial + 2
    assert crf.decode(emissions, mask) == [[0, 1, 2, 0, 1], [0, 1, 2]]


def test_state_dict_round_trip_keeps_the_constraints(tmp_path):
    crf = make_crf(len(BIOES_TAGS), scheme_constraints(BIOES_TAGS, "BIOES"))
    torch.save(crf.state_dict(), tmp_path / "crf.pt")
    loaded = CRF(len(BIOES_TAGS)).double()
    loaded.load_state_dict(torch.load(tmp_path / "crf.pt"))
    for name in Constraints._fields:
        assert torch.equal(getattr(loaded, name), getattr(crf, name))
    emissions = torch.randn(4, 6, len(BIOES_TAGS), dtype=torch.float64)
    assert loaded.decode(emissions) == crf.decode(emissions)
    assert "constrained=True" in repr(loaded) and "constrained=False" in repr(CRF(len(BIOES_TAGS)))


def test_repr_shows_the_hyperparameters():
    assert repr(CRF(5)) == "CRF(num_tags=5, constrained=False)"


EMISSIONS = torch.zeros(2, 3, 4)
TAGS = torch.zeros(2, 3, dtype=torch.long)
MASK = torch.ones(2, 3, dtype=torch.bool)


@pytest.mark.parametrize(
    "emissions, tags, mask, match",
    [
        (torch.zeros(2, 3), TAGS, MASK, r"expected emissions of shape \(batch, seq_len, 4\), got \(2, 3\)"),
        (torch.zeros(2, 3, 5), TAGS, MASK, r"expected emissions of shape \(batch, seq_len, 4\), got \(2, 3, 5\)"),
        (torch.zeros(2, 3, 4, dtype=torch.long), TAGS, MASK, "expected floating-point emissions, got torch.int64"),
        (torch.zeros(2, 0, 4), TAGS[:, :0], MASK[:, :0], "expected at least one time step, got seq_len 0"),
        (EMISSIONS, TAGS, MASK[:, :2], r"expected mask of shape \(2, 3\), got \(2, 2\)"),
        (EMISSIONS, TAGS, MASK.long(), "expected mask of dtype torch.bool, got torch.int64"),
        (EMISSIONS, TAGS, torch.tensor([[True] * 3, [False] * 3]), r"expected mask\[:, 0\] all True"),
        (EMISSIONS, TAGS, torch.tensor([[True, False, True]] * 2), "expected a right-padded mask"),
        (EMISSIONS, TAGS[:1], MASK, r"expected tags of shape \(2, 3\), got \(1, 3\)"),
        (EMISSIONS, TAGS.int(), MASK, "expected tags of dtype torch.int64, got torch.int32"),
        (EMISSIONS, torch.tensor([[0, 4, 0], [0, 0, 0]]), MASK, r"expected tags in \[0, 4\) at unmasked steps, got 4"),
        (
            EMISSIONS,
            torch.tensor([[0, -1, 0], [0, 0, 0]]),
            MASK,
            r"expected tags in \[0, 4\) at unmasked steps, got -1",
        ),
    ],
)
def test_forward_rejects_bad_inputs(emissions, tags, mask, match):
    with pytest.raises(ValueError, match=match):
        CRF(4)(emissions, tags, mask)


def test_decode_rejects_a_bad_mask():
    with pytest.raises(ValueError, match=r"expected mask\[:, 0\] all True"):
        CRF(4).decode(EMISSIONS, torch.tensor([[True] * 3, [False] * 3]))
    with pytest.raises(ValueError, match=r"expected a right-padded mask"):
        CRF(4).paths(EMISSIONS, torch.tensor([[True] * 3, [True, False, True]]))


@pytest.mark.parametrize("num_tags", [0, -1, 2.0, True])
def test_constructor_rejects_a_bad_num_tags(num_tags):
    with pytest.raises(ValueError, match=f"expected num_tags to be a positive int, got {num_tags!r}"):
        CRF(num_tags)


@pytest.mark.parametrize(
    "constraints, match",
    [
        ((torch.ones(3, dtype=torch.bool),) * 2, r"expected constraints \(start_allowed, .*\), got 2 items"),
        (
            (torch.ones(3, dtype=torch.bool), torch.ones(3, 3), torch.ones(3, dtype=torch.bool)),
            r"expected transitions_allowed a torch.bool tensor of shape \(3, 3\), got torch.float32 \(3, 3\)",
        ),
        (
            (torch.ones(4, dtype=torch.bool), torch.ones(3, 3, dtype=torch.bool), torch.ones(3, dtype=torch.bool)),
            r"expected start_allowed a torch.bool tensor of shape \(3,\), got torch.bool \(4,\)",
        ),
        (
            (torch.ones(3, dtype=torch.bool), torch.ones(3, 3, dtype=torch.bool), [True] * 3),
            r"expected end_allowed a torch.bool tensor of shape \(3,\), got <class 'list'>",
        ),
        (
            (torch.ones(3, dtype=torch.bool), torch.ones(3, 3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)),
            "expected end_allowed to allow at least one tag, got all False",
        ),
    ],
)
def test_constructor_rejects_bad_constraints(constraints, match):
    with pytest.raises(ValueError, match=match):
        CRF(3, constraints)


@pytest.mark.parametrize(
    "tag_names, scheme, match",
    [
        (["O", "B-PER"], "IOB1", r"expected scheme to be one of \('BIO', 'BIOES'\), got 'IOB1'"),
        ([], "BIO", r"expected a non-empty list of distinct tag names, got \[\]"),
        (["O", "O"], "BIO", r"expected a non-empty list of distinct tag names, got \['O', 'O'\]"),
        (["O", "E-PER"], "BIO", r"expected tag names 'O' or 'B-', 'I-' and a label for scheme 'BIO', got 'E-PER'"),
        (["O", "B-"], "BIOES", r"expected tag names 'O' or 'B-', 'I-', 'E-', 'S-' and a label .*, got 'B-'"),
        (["PER"], "BIO", "got 'PER'"),
    ],
)
def test_scheme_constraints_reject_bad_input(tag_names, scheme, match):
    with pytest.raises(ValueError, match=match):
        scheme_constraints(tag_names, scheme)


def test_marginals_match_brute_force_enumeration():
    import itertools

    torch.manual_seed(0)
    crf = CRF(3)
    emissions, mask = torch.randn(2, 4, 3), torch.tensor([[True] * 4, [True, True, False, False]])
    marginals = crf.marginals(emissions, mask)
    for b in range(2):
        n = int(mask[b].sum())
        expected = torch.zeros(n, 3)
        paths = list(itertools.product(range(3), repeat=n))
        scores = torch.stack([crf._sequence_score(emissions[b:b + 1, :n], torch.tensor([p]), mask[b:b + 1, :n],
                                                  crf.start_transitions, crf.transitions, crf.end_transitions)[0]
                              for p in paths])
        weights = torch.softmax(scores, dim=0)
        for path, weight in zip(paths, weights):
            for t, tag in enumerate(path):
                expected[t, tag] += weight
        torch.testing.assert_close(marginals[b, :n], expected.detach(), atol=1e-5, rtol=1e-5)
        assert marginals[b, n:].abs().sum() == 0
