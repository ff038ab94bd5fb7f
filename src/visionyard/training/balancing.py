"""Class balance from the train labels: per-class loss weights (``class_weights="balanced"``)
and per-sample draw weights (``balanced_sampling``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from visionyard.errors import DatasetError


def _class_counts(
    labels: Sequence[int], num_classes: int, class_names: Sequence[str] | None
) -> Tensor:
    if num_classes < 1:
        raise DatasetError(f"num_classes must be >= 1, got {num_classes}.")
    label_tensor = torch.as_tensor(list(labels), dtype=torch.int64)
    if label_tensor.numel() == 0:
        raise DatasetError("No labels given: the training split is empty; add training images.")
    bad = label_tensor[(label_tensor < 0) | (label_tensor >= num_classes)]
    if bad.numel():
        raise DatasetError(
            f"Labels {sorted(set(bad.tolist()))[:10]} are outside [0, {num_classes}); labels and "
            "the class list disagree — rescan the dataset."
        )
    counts = torch.bincount(label_tensor, minlength=num_classes)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        names = [class_names[i] if class_names is not None else str(i) for i in empty]
        raise DatasetError(
            f"Class(es) {names} have no training samples, so balanced weights are undefined; "
            "add training images for them (is max_per_class or skip_corrupt_images removing "
            "them?) or turn off class balancing."
        )
    return counts


def balanced_class_weights(
    labels: Sequence[int], num_classes: int, *, class_names: Sequence[str] | None = None
) -> Tensor:
    """Per-class loss weights ``n / (C * count_c)`` (float32): 1.0 for every class when balanced."""
    counts = _class_counts(labels, num_classes, class_names)
    total = int(counts.sum())
    return (total / (num_classes * counts.to(torch.float64))).to(torch.float32)


def balanced_sample_weights(
    labels: Sequence[int], num_classes: int, *, class_names: Sequence[str] | None = None
) -> list[float]:
    """Per-sample weights ``1 / count(label)``, for :class:`EpochSampler` balanced sampling.

    Every class then carries the same total weight, so draws are class-balanced in expectation.
    """
    counts = _class_counts(labels, num_classes, class_names)
    inverse = (1.0 / counts.to(torch.float64)).tolist()
    return [inverse[label] for label in labels]
