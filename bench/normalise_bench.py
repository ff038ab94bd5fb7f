"""Normalising a uint8 batch on the CPU: Visionyard's BatchPreprocessor vs the formula it replaced.

The data pipeline's last step turns a 64x3x224x224 uint8 batch into `(x/255 - mean)/std` floats
on the training device. On the CPU that is part of the data cost (~0.1-0.2 ms an image). This
times, side by side in one process on one thread, per batch:

  visionyard   `BatchPreprocessor(...)(batch, train=False)`: from a channels-last batch to
               channels-last output, a float copy in that order and one multiply-add over rows
               of W x 3 values; otherwise a float copy into NCHW, multiply and add in place,
               then the layout change if channels-last is asked for.
  addcmul      the first code: layout change on the uint8 batch first, float copy, one
               in-place `torch.addcmul` with per-channel broadcasting (the GPU path).

for NCHW and channels-last output, from an NCHW uint8 batch and from a channels-last one (what
the loader's collate gives when the samples were resized whole, e.g. partially decoded crops).
Rounds alternate the two; the report gives the median milliseconds per batch and the median of
per-round ratios (addcmul / visionyard: > 1 means Visionyard is faster). Batch-sized buffers
stay in the heap as in the pipeline (`hostmem`).

    python bench/normalise_bench.py
    python bench/normalise_bench.py --batch-size 16 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from visionyard.training.hostmem import keep_large_buffers_in_heap
from visionyard.training.prefetch import BatchPreprocessor

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def former(channels_last: bool) -> Callable[[Tensor], Tensor]:
    std = torch.tensor(STD).view(1, 3, 1, 1)
    scale = 1.0 / (255.0 * std)
    shift = -torch.tensor(MEAN).view(1, 3, 1, 1) / std

    def normalise(batch: Tensor) -> Tensor:
        if channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        x = batch.to(torch.float32)
        return torch.addcmul(shift, x, scale, out=x)

    return normalise


def timed(fn: Callable[[Tensor], Tensor], batch: Tensor, repeats: int) -> float:
    """Median seconds of one call over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--repeats", type=int, default=9, help="calls per contender per round")
    args = parser.parse_args(argv)
    if min(args.batch_size, args.size, args.rounds, args.repeats) < 1:
        parser.error("--batch-size, --size, --rounds and --repeats must be at least 1")

    torch.set_num_threads(1)
    keep_large_buffers_in_heap()
    shape = (args.batch_size, 3, args.size, args.size)
    batch = torch.randint(
        0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    print(f"batch {tuple(shape)} uint8, 1 thread, {args.rounds} rounds x {args.repeats} calls")
    print(
        f"{'input -> output':<32}{'visionyard ms':>15}{'addcmul ms':>12}{'addcmul/visionyard':>20}"
    )
    cases = [(i, o) for i in (False, True) for o in (False, True)]
    nchw_batch = batch
    for cl_in, channels_last in cases:
        batch = nchw_batch.contiguous(memory_format=torch.channels_last) if cl_in else nchw_batch
        ours = BatchPreprocessor(MEAN, STD, device=torch.device("cpu"), channels_last=channels_last)
        theirs = former(channels_last)
        expected = theirs(batch)
        got = ours(batch, train=False)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)  # the same numbers
        assert got.is_contiguous(memory_format=torch.channels_last) == channels_last
        mine, old, ratios = [], [], []
        for r in range(args.rounds):
            pair = [("v", partial(ours, train=False)), ("a", theirs)]
            seconds = {}
            for name, fn in pair if r % 2 == 0 else pair[::-1]:
                seconds[name] = timed(fn, batch, args.repeats)
            mine.append(seconds["v"])
            old.append(seconds["a"])
            ratios.append(seconds["a"] / seconds["v"])
        layout = " -> ".join("channels-last" if cl else "NCHW" for cl in (cl_in, channels_last))
        print(
            f"{layout:<32}{statistics.median(mine) * 1e3:>15.2f}"
            f"{statistics.median(old) * 1e3:>12.2f}{statistics.median(ratios):>19.2f}x"
            f"   (rounds {min(ratios):.2f}-{max(ratios):.2f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
