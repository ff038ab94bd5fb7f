"""``max_per_class``: a seeded, per-class random subset of the train split. val and test are
never subsampled, so metrics stay comparable across runs."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from visionyard.errors import DatasetError
from visionyard.training.dataset_index import Sample


def class_caps(max_per_class: int | Sequence[int], classes: list[str]) -> list[int]:
    """One cap per class, in ``classes`` order, from an int (all classes) or a list."""
    if isinstance(max_per_class, (bool, str)):
        raise DatasetError(
            f"max_per_class={max_per_class!r} must be a positive integer or a list of them."
        )
    if isinstance(max_per_class, int):
        caps = [max_per_class] * len(classes)
    else:
        caps = list(max_per_class)
        if len(caps) != len(classes):
            raise DatasetError(
                f"max_per_class has {len(caps)} entries but the dataset has {len(classes)} "
                f"classes; give one cap per class in this order: {classes}."
            )
    for name, cap in zip(classes, caps, strict=True):
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise DatasetError(
                f"max_per_class entry for class {name!r} is {cap!r}; each cap must be an "
                "integer >= 1."
            )
    return caps


def subsample_train(
    train: list[Sample], classes: list[str], caps: list[int], seed: int
) -> tuple[list[Sample], dict[str, Any]]:
    """The kept train samples (in their scan order) and the record of how they were chosen."""
    by_class: list[list[Sample]] = [[] for _ in classes]
    for sample in train:
        by_class[sample.label].append(sample)
    kept: list[Sample] = []
    for name, samples, cap in zip(classes, by_class, caps, strict=True):
        if len(samples) <= cap:
            kept.extend(samples)
            continue
        # One RNG per class (string seeds hash deterministically, unlike hash()): a class's
        # choice does not depend on the other classes or on the order they are visited.
        rng = random.Random(f"visionyard-subsample:{seed}:{name}")
        chosen = sorted(rng.sample(range(len(samples)), cap))
        kept.extend(samples[i] for i in chosen)
    info = {
        "max_per_class": caps[0] if len(set(caps)) == 1 else caps,
        "seed": seed,
        "train_counts_before": {
            name: len(samples) for name, samples in zip(classes, by_class, strict=True)
        },
    }
    return kept, info
