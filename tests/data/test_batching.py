import pytest
import torch

from nlp_lstm.data.batching import BucketBatchSampler, collate, sorted_batches


def test_collate_pads_after_each_sequence_and_truncates():
    batch = collate([[5, 6, 7], [8], [9, 10, 11, 12, 13]], index=[4, 0, 2], labels=[1, 0, 1], pad_id=0, max_length=4)
    assert batch.ids.tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [9, 10, 11, 12]]
    assert batch.lengths.tolist() == [3, 1, 4]
    assert batch.index.tolist() == [4, 0, 2]
    assert batch.labels.tolist() == [1, 0, 1]
    assert batch.mask.tolist()[1] == [True, False, False, False]


def test_collate_turns_an_empty_text_into_one_padding_token():
    batch = collate([[], [3, 4]], index=[0, 1], pad_id=0)
    assert batch.ids.tolist() == [[0, 0], [3, 4]]
    assert batch.lengths.tolist() == [1, 2]
    assert collate([[]], index=[0]).ids.shape == (1, 1)


def lengths_of_real_texts(n=2000):
    generator = torch.Generator().manual_seed(1)
    return (torch.randint(1, 120, (n,), generator=generator)).tolist()


def test_bucket_sampler_covers_every_index_once_per_epoch():
    lengths = lengths_of_real_texts()
    sampler = BucketBatchSampler(lengths, batch_size=32, seed=0)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(len(b) <= 32 for b in batches)


def test_bucket_sampler_is_deterministic_per_seed_and_epoch():
    lengths = lengths_of_real_texts()
    a, b = BucketBatchSampler(lengths, 32, seed=3), BucketBatchSampler(lengths, 32, seed=3)
    assert list(a) == list(b)
    a.set_epoch(1)
    first = list(a)
    a.set_epoch(2)
    assert list(a) != first
    assert list(BucketBatchSampler(lengths, 32, seed=4)) != list(b)


def test_bucket_sampler_sorts_each_shuffled_pool_stably_and_shuffles_the_batches():
    lengths = lengths_of_real_texts(1000)
    for batch_size, pool_batches in ((32, 3), (7, 5), (64, 50)):
        sampler = BucketBatchSampler(lengths, batch_size, seed=2, pool_batches=pool_batches)
        sampler.set_epoch(4)
        # the definition, written out: shuffle, cut into pools, stable-sort each pool by length, cut into
        # batches, shuffle the batches (the same generator draws, in the same order)
        generator = torch.Generator().manual_seed(2 * 100_003 + 4)
        order = torch.randperm(len(lengths), generator=generator).tolist()
        pool_size = batch_size * pool_batches
        expected = []
        for start in range(0, len(order), pool_size):
            pool = sorted(order[start : start + pool_size], key=lambda i: lengths[i])  # sorted() is stable
            expected += [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
        shuffled = [expected[b] for b in torch.randperm(len(expected), generator=generator).tolist()]
        assert list(sampler) == shuffled


@pytest.mark.parametrize("batch_size, pool_batches", [(0, 50), (32, 0), (-1, 3)])
def test_bucket_sampler_refuses_sizes_below_one(batch_size: int, pool_batches: int) -> None:
    with pytest.raises(ValueError, match="must be positive ints"):
        BucketBatchSampler([3, 1, 2], batch_size, pool_batches=pool_batches)


def test_bucket_sampler_groups_similar_lengths():
    lengths = lengths_of_real_texts()

    def padding_share(batches):
        padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
        return 1 - sum(lengths) / padded

    bucketed = padding_share(list(BucketBatchSampler(lengths, 32, seed=0)))
    order = torch.randperm(len(lengths), generator=torch.Generator().manual_seed(0)).tolist()
    random = padding_share([order[i : i + 32] for i in range(0, len(order), 32)])
    assert bucketed < 0.1 < random


def test_sorted_batches_are_longest_first_and_cover_all():
    lengths = [3, 9, 1, 7, 7, 2]
    batches = sorted_batches(lengths, 4)
    assert [lengths[i] for i in batches[0]] == [9, 7, 7, 3]
    assert sorted(i for b in batches for i in b) == list(range(6))


def test_sorted_batches_cut_where_a_long_text_would_pad_many_short_ones():
    lengths = [10] * 31 + [200]
    batches = sorted_batches(lengths, 256)
    assert [[lengths[i] for i in b] for b in batches] == [[200], [10] * 31]  # not 32 rows padded to 200
    assert sorted_batches([12, 11, 10, 12], 256) == [[0, 3, 1, 2]]  # similar lengths stay together
    assert sorted(len(b) for b in sorted_batches([5] * 10, 4)) == [2, 4, 4]  # batch_size still caps the rows
    assert sorted_batches([], 8) == [] and sorted_batches([3], 8) == [[0]]


def test_token_batches_fill_a_budget_of_padded_tokens_and_cover_every_index_once():
    lengths = lengths_of_real_texts(3000)
    sampler = BucketBatchSampler(lengths, batch_size=32, seed=0, batch_tokens=1000)
    sampler.set_epoch(3)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    padded = [len(b) * max(lengths[i] for i in b) for b in batches]
    assert max(padded) <= 1000
    # short texts travel in many rows, long ones in few: rows fall as lengths grow
    short = [len(b) for b in batches if max(lengths[i] for i in b) <= 20]
    long = [len(b) for b in batches if min(lengths[i] for i in b) >= 100]
    assert min(short) > 32 > max(long)
    # a pool's batches are full but for the last one: adding the next text of its pool would pass the budget
    assert sum(padded) / (len(batches) * 1000) > 0.8


def test_token_batches_keep_texts_longer_than_the_budget_and_the_ranks_share():
    lengths = [5, 500, 3, 700, 4, 6]
    assert sorted(map(sorted, BucketBatchSampler(lengths, 4, batch_tokens=100))) == [[0, 2, 4, 5], [1], [3]]
    ranks = [list(BucketBatchSampler(lengths, 4, batch_tokens=100, rank=r, world_size=2)) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == 2  # a long text travels with another: each rank has a row
    assert sorted(i for rank in ranks for b in rank for i in b) == list(range(6))


def test_token_batches_are_deterministic_per_seed_and_epoch():
    lengths = lengths_of_real_texts()
    a, b = (BucketBatchSampler(lengths, 32, seed=3, batch_tokens=2048) for _ in range(2))
    assert list(a) == list(b)
    a.set_epoch(1)
    assert list(a) != list(b)
