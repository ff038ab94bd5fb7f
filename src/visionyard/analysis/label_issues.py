"""Likely label errors in an evaluated split, by confident learning (cleanlab).

Confident learning estimates, from predicted probabilities and the given labels, how often each
class is labelled as each other class, and flags the images whose given label the model
contradicts most confidently (``find_label_issues``, pruning by noise rate). The flagged images
are ranked by their label quality score, the probability the model gives the given label
(``self_confidence``): the lowest first.

This needs out-of-sample probabilities: a model that was trained on an image has fit its label,
wrong or not. A report therefore looks only at the split it evaluates (val or test), never at
train; see ``OUT_OF_SAMPLE_NOTE``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHOD = (
    "confident learning: cleanlab.filter.find_label_issues(filter_by='prune_by_noise_rate'), "
    "ranked by cleanlab.rank.get_label_quality_scores(method='self_confidence')"
)
OUT_OF_SAMPLE_NOTE = (
    "Only this split's images are checked. The model never trained on them, so its "
    "probabilities here are out-of-sample, which confident learning needs. Training images are "
    "not checked: the model fit their labels, mislabelled ones included, so its in-sample "
    "probabilities would hide most errors. To check them, train a run whose val/ holds them, "
    "or cross-validate."
)


@dataclass(frozen=True)
class LabelIssues:
    indices: list[int]  # flagged samples, most likely wrong first
    quality: np.ndarray  # (n,) label quality score of every sample, in [0, 1]


def find_issues(labels: np.ndarray, probs: np.ndarray) -> LabelIssues:
    """Flag likely label errors among `labels` (n,) given out-of-sample `probs` (n, C)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    # Rows renormalised in float64: float32 softmax rows can miss 1 by more than cleanlab allows.
    probs = probs / probs.sum(axis=1, keepdims=True)
    quality = get_label_quality_scores(labels, probs, method="self_confidence")
    # n_jobs=1: no worker processes (the dashboard computes reports in a thread).
    ranked = find_label_issues(labels, probs, return_indices_ranked_by="self_confidence", n_jobs=1)
    return LabelIssues(indices=[int(i) for i in ranked], quality=np.asarray(quality))
