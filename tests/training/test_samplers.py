"""Tests for visionyard.training.samplers: deterministic, sharded, resumable, balanced."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from visionyard.training.balancing import balanced_sample_weights
from visionyard.training.samplers import EpochSampler


def test_sampler_is_deterministic_and_independent_of_global_rng() -> None:
    a = EpochSampler(50, shuffle=True, seed=3)
    torch.manual_seed(0)
    first = list(a)
    torch.manual_seed(1)
    assert list(EpochSampler(50, shuffle=True, seed=3)) == first
    assert all(epoch == 0 for epoch, _ in first)
    assert sorted(i for _, i in first) == list(range(50))
    assert [i for _, i in first] != list(range(50))

    a.set_epoch(1)
    second = list(a)
    assert all(epoch == 1 for epoch, _ in second)
    assert [i for _, i in second] != [i for _, i in first]

    assert [i for _, i in EpochSampler(5, shuffle=False)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("n", [10, 11])
def test_sharding_two_ranks(n: int) -> None:
    ranks = [EpochSampler(n, shuffle=True, seed=5, rank=r, world_size=2) for r in range(2)]
    parts = [[i for _, i in s] for s in ranks]
    assert len(parts[0]) == len(parts[1]) == len(ranks[0]) == -(-n // 2)
    if n % 2 == 0:
        assert sorted(parts[0] + parts[1]) == list(range(n))  # each index exactly once
    else:
        assert set(parts[0] + parts[1]) == set(range(n))  # padded by one repeated index
        assert len(parts[0] + parts[1]) == n + 1


def test_sharding_drop_last_trims() -> None:
    ranks = [
        EpochSampler(11, shuffle=True, seed=5, rank=r, world_size=3, drop_last=True)
        for r in range(3)
    ]
    parts = [[i for _, i in s] for s in ranks]
    assert [len(p) for p in parts] == [3, 3, 3]
    flat = [i for p in parts for i in p]
    assert len(set(flat)) == 9


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    world_size=st.integers(1, 4),
    data=st.data(),
    shuffle=st.booleans(),
    weighted=st.booleans(),
    drop_last=st.booleans(),
    epoch=st.integers(0, 5),
)
def test_resume_yields_the_tail_of_the_full_epoch(
    n: int,
    world_size: int,
    data: st.DataObject,
    shuffle: bool,
    weighted: bool,
    drop_last: bool,
    epoch: int,
) -> None:
    rank = data.draw(st.integers(0, world_size - 1))
    weights = [float(i % 3 + 1) for i in range(n)] if weighted else None

    def make() -> EpochSampler:
        return EpochSampler(
            n,
            shuffle=shuffle,
            seed=11,
            rank=rank,
            world_size=world_size,
            weights=weights,
            drop_last=drop_last,
        )

    full = make()
    full.set_epoch(epoch)
    items = list(full)
    assert len(items) == len(full)
    start = data.draw(st.integers(0, len(items)))
    resumed = make()
    resumed.set_epoch(epoch, start=start)
    assert list(resumed) == items[start:]
    assert len(resumed) == len(items) - start


def test_set_epoch_rejects_start_past_the_end() -> None:
    sampler = EpochSampler(10, shuffle=False, world_size=2)
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        sampler.set_epoch(0, start=6)


def test_balanced_weights_draw_minority_much_more_often() -> None:
    labels = [0] * 95 + [1] * 5
    weights = balanced_sample_weights(labels, 2)
    assert weights[0] == pytest.approx(1 / 95)
    assert weights[-1] == pytest.approx(1 / 5)
    draws = Counter()
    sampler = EpochSampler(len(labels), shuffle=True, seed=0, weights=weights)
    for epoch in range(10):
        sampler.set_epoch(epoch)
        draws.update(labels[i] for _, i in sampler)
    share = draws[1] / sum(draws.values())
    assert 0.4 < share < 0.6  # 5% of the data, about half of the draws


def test_sampler_validates_arguments() -> None:
    with pytest.raises(ValueError, match="rank"):
        EpochSampler(10, shuffle=True, rank=2, world_size=2)
    with pytest.raises(ValueError, match="3 weights for 4 samples"):
        EpochSampler(4, shuffle=True, weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="not all zero"):
        EpochSampler(2, shuffle=True, weights=[0.0, 0.0])
