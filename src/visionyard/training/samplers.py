"""The order of samples per epoch and rank: resumable, reproducible, sharded for DDP.

:class:`EpochSampler` orders training (shuffled or class-balanced, padded to equal shards);
:class:`EvalShardSampler` splits an evaluation set without padding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor
from torch.utils.data import Sampler


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, dataset index)`` for this rank, reproducibly and resumably.

    The epoch's order comes from a private ``torch.Generator`` seeded with ``seed + epoch``: a
    permutation (``shuffle``), ``range`` (no shuffle) or, with ``weights``, ``num_samples`` draws
    with replacement (balanced sampling). For DDP the order is padded by wrapping around (or
    trimmed with ``drop_last``) to a multiple of ``world_size`` and rank ``r`` takes
    ``order[r::world_size]``, like ``DistributedSampler``: every rank yields the same count, so
    every rank runs the same number of optimizer steps (DDP's gradient all-reduce needs that).
    The first ``k`` samples of every rank together are ``order[:k * world_size]``: with batch
    ``B`` per rank, optimizer step ``s`` of N ranks sees the same images as step ``s`` of one
    process with batch ``N * B``. For training only; evaluation uses :class:`EvalShardSampler`,
    which does not pad (padding would count up to ``world_size - 1`` images twice).

    Call :meth:`set_epoch` before each epoch; ``start`` skips the first ``start`` samples of
    this rank's epoch, so a resumed epoch continues exactly where the interrupted one stopped.
    """

    def __init__(
        self,
        num_samples: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        weights: Sequence[float] | None = None,
        drop_last: bool = False,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}"
            )
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self._weights: Tensor | None = None
        if weights is not None:
            w = torch.as_tensor(list(weights), dtype=torch.float64)
            if w.numel() != num_samples:
                raise ValueError(f"got {w.numel()} weights for {num_samples} samples")
            if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
                raise ValueError("weights must be finite, non-negative and not all zero")
            self._weights = w
        if drop_last:
            self.per_rank = num_samples // world_size
        else:
            self.per_rank = math.ceil(num_samples / world_size)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch to yield; ``start`` = samples of this rank's epoch already consumed."""
        if not 0 <= start <= self.per_rank:
            raise ValueError(f"start must be in [0, {self.per_rank}] for this rank, got {start}")
        self.epoch = epoch
        self.start = start

    def _epoch_order(self) -> Tensor:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        n = self.num_samples
        if self._weights is not None:
            return torch.multinomial(self._weights, n, replacement=True, generator=generator)
        if self.shuffle:
            return torch.randperm(n, generator=generator)
        return torch.arange(n)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self._epoch_order()
        total = self.per_rank * self.world_size
        if total > order.numel():  # pad by wrapping around (more than once if world_size > n)
            order = order.repeat(math.ceil(total / order.numel()))
        mine = order[:total][self.rank :: self.world_size][self.start :].tolist()
        epoch = self.epoch
        return ((epoch, index) for index in mine)

    def __len__(self) -> int:
        return self.per_rank - self.start


class EvalShardSampler(Sampler[int]):
    """This rank's share of an evaluation split: indices ``rank, rank + world_size, ...``.

    Unlike :class:`EpochSampler` (and ``DistributedSampler``) nothing is padded, so over all ranks
    every image is evaluated exactly once; shards differ in length by at most one (a rank may get
    none when the split has fewer images than there are ranks). That is safe because evaluation
    runs no per-batch collective: the metrics sum/gather their states across ranks once, in
    ``compute()``, and torchmetrics handles uneven shards.
    """

    def __init__(self, num_samples: int, *, rank: int = 0, world_size: int = 1) -> None:
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}"
            )
        self.num_samples = num_samples
        self.rank = rank
        self.world_size = world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.num_samples, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.num_samples, self.world_size))
