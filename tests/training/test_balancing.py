"""Tests for visionyard.training.balancing: class-balanced loss weights and their input checks."""

from __future__ import annotations

import pytest
import torch

from visionyard.errors import DatasetError
from visionyard.training.balancing import balanced_class_weights, balanced_sample_weights


def test_balanced_class_weights() -> None:
    weights = balanced_class_weights([0] * 90 + [1] * 10, 2)
    assert weights.dtype == torch.float32
    assert weights.tolist() == pytest.approx([100 / 180, 100 / 20])
    assert balanced_class_weights([0, 1, 2], 3).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_class_weights_reject_empty_class_and_bad_labels() -> None:
    with pytest.raises(DatasetError, match=r"\['cat'\] have no training samples"):
        balanced_class_weights([0, 0, 2], 3, class_names=["ant", "cat", "dog"])
    with pytest.raises(DatasetError, match=r"\['1'\] have no training samples"):
        balanced_sample_weights([0, 2], 3)
    with pytest.raises(DatasetError, match=r"outside \[0, 2\)"):
        balanced_class_weights([0, 1, 2], 2)
