"""Calibration: a reliability diagram over equal-width confidence bins, and its ECE.

A sample's confidence is its top predicted probability; it falls in bin ``i`` when
``i/n <= confidence < (i+1)/n`` (the last bin also takes a confidence of exactly 1). Each bin
reports its count, mean confidence and accuracy (null when empty), and

    ECE = sum over bins of count/N * |accuracy - mean confidence|

the top-label expected calibration error with the L1 norm, the definition of ``ece`` in
`visionyard.training.metrics` (15 bins there too).
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_BINS = 15


def reliability(
    confidences: np.ndarray, correct: np.ndarray, n_bins: int = DEFAULT_BINS
) -> dict[str, Any]:
    """{"ece", "n_bins", "bins": [{"lower", "upper", "count", "confidence", "accuracy"}]}."""
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(correct, dtype=np.float64)
    index = np.clip(np.floor(conf * n_bins).astype(np.int64), 0, n_bins - 1)
    total = len(conf)
    bins: list[dict[str, Any]] = []
    ece = 0.0
    for i in range(n_bins):
        members = index == i
        count = int(members.sum())
        mean_conf = float(conf[members].mean()) if count else None
        accuracy = float(hits[members].mean()) if count else None
        if count and mean_conf is not None and accuracy is not None:
            ece += count / total * abs(accuracy - mean_conf)
        bins.append(
            {
                "lower": i / n_bins,
                "upper": (i + 1) / n_bins,
                "count": count,
                "confidence": mean_conf,
                "accuracy": accuracy,
            }
        )
    return {"ece": ece, "n_bins": n_bins, "bins": bins}
