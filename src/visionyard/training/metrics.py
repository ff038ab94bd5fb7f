"""Evaluation metrics for single-label image classification, built on torchmetrics.

``ClassificationMetrics`` accumulates device-side states over an evaluation pass and turns them
into an ``EvalResult`` (scalars, per-class table, confusion matrix) in ``compute()``.

Scalar definitions (the names, their order and which way is better are registered in
`visionyard.training.metric_registry`; ``scalar_metric_names`` expands them for a class count):

- ``loss``: sample-weighted mean of the batch-mean losses passed to ``update`` (NaN if none was).
- ``acc@1``: micro accuracy, correct / total.
- ``balanced_acc``: mean recall over the classes that occur in the evaluation targets
  (scikit-learn's ``balanced_accuracy_score``). A class that is only ever *predicted* has no recall
  and is left out, so a stray prediction cannot drag this below acc@1 on a balanced set.
- ``acc@K`` (1 < K < num_classes): micro top-K accuracy. K >= num_classes is always 1.0 and is
  skipped (see ``skipped_topk``), not an error.
- ``precision_macro`` / ``recall_macro`` / ``f1_macro``: unweighted mean over the classes that occur
  in the targets *or* the predictions (torchmetrics' ``average="macro"``, which drops classes with
  tp + fp + fn == 0; equal to scikit-learn with its default ``labels`` and ``zero_division=0``).
  A ratio whose denominator is zero counts as 0 (a class predicted but never present has recall 0;
  a class present but never predicted has precision 0).
- ``auroc_macro``: one-vs-rest ROC AUC on softmax probabilities, averaged over the classes for which
  it is defined (at least one positive and one negative sample). Classes absent from the targets
  are left out; if no class qualifies the value is NaN. With every class present this equals
  scikit-learn's ``roc_auc_score(multi_class="ovr", average="macro")``.
- ``kappa``: Cohen's kappa from the confusion matrix; NaN when chance agreement is 1 (undefined).
- ``ece``: top-label expected calibration error, L1 norm, ``ece_bins`` equal-width bins
  (torchmetrics ``MulticlassCalibrationError``).

Per-class precision / recall / F1 use the same zero-denominator rule (0.0); ``support`` is the
row sum of the confusion matrix.

Hot-path rule: ``update`` runs once per evaluation batch and never synchronises with the host (no
``.item()``, no ``bincount`` — CUDA's bincount reads the max back to size its output — no
data-dependent Python branches on device values). Everything is accumulated in float32 or
integer counts regardless of the logits' dtype, so bf16/fp16 autocast outputs are safe.

Distributed: all states are torchmetrics states, so ``compute()`` all-reduces / all-gathers them
when a process group is initialised. Every rank must call ``compute()`` (it is a collective).
Shards may be uneven, and a rank may have seen no batch at all: the sums add up and the gathered
score lists are concatenated, so each sample counts once whatever rank evaluated it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAUROC, MulticlassCalibrationError

from visionyard.errors import ConfigError
from visionyard.training.metric_registry import scalar_names

__all__ = [
    "ClassificationMetrics",
    "EvalResult",
    "is_improvement",
    "scalar_metric_names",
    "skipped_topk",
]


def _validated_topk(topk: Sequence[int]) -> list[int]:
    ks: list[int] = []
    for k in topk:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(
                f"eval_topk: {k!r} is not a positive integer; use values like [1, 5]."
            )
        if k not in ks:
            ks.append(k)
    return sorted(ks)


def skipped_topk(num_classes: int, topk: Sequence[int]) -> list[int]:
    """The requested k values that are not reported because k >= num_classes (trivially 1.0)."""
    return [k for k in _validated_topk(topk) if k >= num_classes]


def _reported_topk(num_classes: int, topk: Sequence[int]) -> list[int]:
    return [k for k in _validated_topk(topk) if 1 < k < num_classes]


def scalar_metric_names(num_classes: int, topk: Sequence[int]) -> list[str]:
    """Names of every scalar in ``EvalResult.scalars``, in a stable display order (the
    registry's: `visionyard.training.metric_registry`)."""
    return scalar_names(_reported_topk(num_classes, topk))


def is_improvement(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """True if ``value`` beats ``best`` by more than ``min_delta`` in direction ``mode``.

    A non-finite value (NaN, ±inf — e.g. an undefined AUROC or a diverged loss) never improves.
    With no best yet (``None`` or a non-finite leftover) any finite value improves.
    """
    if mode not in ("min", "max"):
        raise ConfigError(f"monitor_mode: {mode!r} is not valid; use 'min' or 'max'.")
    if not (min_delta >= 0.0 and math.isfinite(min_delta)):
        raise ConfigError(f"min_delta: {min_delta!r} must be a finite number >= 0.")
    if not math.isfinite(value):
        return False
    if best is None or not math.isfinite(best):
        return True
    if mode == "max":
        return value > best + min_delta
    return value < best - min_delta


def _json_float(x: float) -> float | None:
    # JSON has no NaN/Infinity; null marks an undefined value (same rule as events.jsonl).
    return x if math.isfinite(x) else None


@dataclass
class EvalResult:
    """What one evaluation pass produced. Values are plain Python numbers (host side)."""

    scalars: dict[str, float]
    per_class: list[dict[str, Any]]
    confusion: list[list[int]]
    num_samples: int

    def to_json(self) -> dict[str, Any]:
        """A strictly valid JSON object: non-finite floats become ``null``."""
        return {
            "scalars": {k: _json_float(v) for k, v in self.scalars.items()},
            "per_class": [
                {k: (_json_float(v) if isinstance(v, float) else v) for k, v in row.items()}
                for row in self.per_class
            ],
            "confusion": [list(row) for row in self.confusion],
            "num_samples": self.num_samples,
        }


class _Counts(Metric):
    """Sum-reduced counters: confusion matrix, top-k hits and the loss total.

    Written here rather than using ``MulticlassConfusionMatrix`` because that one counts with
    ``torch.bincount``, which synchronises with the host on CUDA; ``scatter_add_`` does not, and it
    is deterministic under ``torch.use_deterministic_algorithms``.
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    confmat: Tensor
    topk_correct: Tensor
    loss_sum: Tensor
    loss_count: Tensor

    def __init__(self, num_classes: int, ks: Sequence[int], loss_dtype: torch.dtype) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.ks = list(ks)
        self.add_state("confmat", torch.zeros(num_classes * num_classes, dtype=torch.long), "sum")
        self.add_state("topk_correct", torch.zeros(len(self.ks), dtype=torch.long), "sum")
        self.add_state("loss_sum", torch.zeros((), dtype=loss_dtype), "sum")
        self.add_state("loss_count", torch.zeros((), dtype=torch.long), "sum")

    def update(self, probs: Tensor, target: Tensor, loss: Tensor | None) -> None:
        batch = target.shape[0]
        pred = probs.argmax(dim=1)
        self.confmat.scatter_add_(0, target * self.num_classes + pred, torch.ones_like(target))
        if self.ks:
            top = probs.topk(max(self.ks), dim=1).indices
            hits = top.eq(target.unsqueeze(1))
            # hits has at most one True per row, so the cumulative sum at column k-1 is 1 exactly
            # when the target is among the top k.
            # (Column slicing with Python ints: building an index tensor would be a blocking
            # host-to-device copy.)
            cum = hits.cumsum(dim=1)
            self.topk_correct += torch.stack([cum[:, k - 1] for k in self.ks], dim=1).sum(dim=0)
        if loss is not None:
            loss = loss.detach().to(device=self.loss_sum.device, dtype=self.loss_sum.dtype)
            self.loss_sum += loss.reshape(()) * batch
            self.loss_count += batch

    def compute(self) -> dict[str, Tensor]:
        return {
            "confmat": self.confmat.reshape(self.num_classes, self.num_classes),
            "topk_correct": self.topk_correct,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
        }


def _safe_ratio(num: Tensor, den: Tensor) -> Tensor:
    """num / den elementwise with 0 where den == 0 (scikit-learn's zero_division=0)."""
    return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))


def _mean_or_nan(values: Tensor, mask: Tensor) -> float:
    return float(values[mask].mean()) if bool(mask.any()) else math.nan


class ClassificationMetrics:
    """Accumulates evaluation metrics batch by batch; see the module docstring for definitions."""

    def __init__(
        self,
        num_classes: int,
        class_names: Sequence[str],
        *,
        topk: Sequence[int] = (1, 5),
        device: torch.device | str = "cpu",
        ece_bins: int = 15,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ConfigError(
                f"num_classes={num_classes!r}: a classifier needs at least 2 classes; "
                "add class folders to the dataset."
            )
        if len(class_names) != num_classes:
            raise ConfigError(
                f"class_names has {len(class_names)} entries but num_classes={num_classes}; "
                "pass one name per class in label-index order."
            )
        if isinstance(ece_bins, bool) or not isinstance(ece_bins, int) or ece_bins < 1:
            raise ConfigError(f"ece_bins={ece_bins!r} must be an integer >= 1.")
        self.num_classes = num_classes
        self.class_names = [str(n) for n in class_names]
        self.device = torch.device(device)
        self.topk = _reported_topk(num_classes, topk)
        self.skipped_topk = skipped_topk(num_classes, topk)
        self.names = scalar_metric_names(num_classes, topk)
        # float64 keeps a long sum of losses exact enough; MPS has no float64.
        loss_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self._counts = _Counts(num_classes, self.topk, loss_dtype).to(self.device)
        # validate_args=False: torchmetrics' input validation reads values back to the host.
        # thresholds=None keeps exact scores (N x C float32 per rank until compute) so AUROC is
        # exact rather than binned.
        self._auroc = MulticlassAUROC(
            num_classes, average=None, thresholds=None, validate_args=False
        ).to(self.device)
        self._ece = MulticlassCalibrationError(
            num_classes, n_bins=ece_bins, norm="l1", validate_args=False
        ).to(self.device)

    @torch.no_grad()
    def update(self, logits: Tensor, target: Tensor, loss: Tensor | None = None) -> None:
        """Add one batch: ``logits`` (B, C) in any float dtype, ``target`` (B,) class indices,
        ``loss`` the batch *mean* loss (a 0-dim tensor, weighted by B here). No host sync."""
        if logits.ndim != 2 or logits.shape[1] != self.num_classes:
            raise ValueError(
                f"logits must have shape (batch, {self.num_classes}), got {tuple(logits.shape)}"
            )
        if target.ndim != 1 or target.shape[0] != logits.shape[0]:
            raise ValueError(
                f"target must have shape ({logits.shape[0]},), got {tuple(target.shape)}"
            )
        if logits.shape[0] == 0:
            return
        target = target.to(device=self.device, dtype=torch.long, non_blocking=True)
        if target.device.type == "cpu":
            # Range check only where it costs no device sync; on CUDA a bad label trips
            # scatter_add_'s device-side assert instead.
            lo, hi = int(target.min()), int(target.max())
            if lo < 0 or hi >= self.num_classes:
                raise ValueError(
                    f"target labels must lie in [0, {self.num_classes - 1}], got range [{lo}, {hi}]"
                )
        # Softmax in float32 whatever the autocast dtype: bf16 probabilities are too coarse for
        # AUROC ranking and calibration bins. Passing probabilities (not logits) also stops
        # torchmetrics from guessing whether values in [0, 1] are already probabilities.
        probs = logits.detach().to(device=self.device, dtype=torch.float32).softmax(dim=1)
        self._counts.update(probs, target, loss)
        self._auroc.update(probs, target)
        self._ece.update(probs, target)

    def reset(self) -> None:
        """Clear all accumulated state for the next evaluation pass."""
        self._counts.reset()
        self._auroc.reset()
        self._ece.reset()

    def _add_empty_batch(self) -> None:
        """Give the list-state metrics one empty, correctly shaped batch.

        A DDP rank whose eval shard is empty (fewer images than ranks) would otherwise enter the
        all-gather with a placeholder of the wrong rank and dtype (torchmetrics pads an empty list
        with a 1-D float tensor), which aborts gloo and can hang NCCL.
        """
        probs = torch.empty(0, self.num_classes, device=self.device)
        target = torch.empty(0, dtype=torch.long, device=self.device)
        self._auroc.update(probs, target)
        self._ece.update(probs, target)

    def compute(self) -> EvalResult:
        """Synchronise (across ranks if distributed) and derive every metric. Collective in DDP."""
        if self._auroc.update_count == 0:
            self._add_empty_batch()
        with warnings.catch_warnings():
            # An empty pass (or a rank that got no batch) is legal: states are zeros, and this rank
            # must still join the collective sync, so silence torchmetrics' "compute before update".
            warnings.filterwarnings(
                "ignore", message=r".*was called before the ``update`` method", category=UserWarning
            )
            counts = self._counts.compute()
        confmat = counts["confmat"].cpu()
        n = int(confmat.sum())

        cm = confmat.to(torch.float64)
        tp = cm.diagonal()
        support = cm.sum(dim=1)
        predicted = cm.sum(dim=0)
        precision = _safe_ratio(tp, predicted)
        recall = _safe_ratio(tp, support)
        f1 = _safe_ratio(2 * tp, support + predicted)
        seen = (support + predicted) > 0  # tp + fp + fn > 0

        s: dict[str, float] = {}
        loss_count = int(counts["loss_count"])
        s["loss"] = float(counts["loss_sum"]) / loss_count if loss_count else math.nan
        s["acc@1"] = float(tp.sum()) / n if n else math.nan
        s["balanced_acc"] = _mean_or_nan(recall, support > 0)
        # torchmetrics squeezes one-element results to 0-dim; undo that.
        topk_correct = counts["topk_correct"].reshape(-1).cpu()
        for i, k in enumerate(self.topk):
            s[f"acc@{k}"] = int(topk_correct[i]) / n if n else math.nan
        s["precision_macro"] = _mean_or_nan(precision, seen)
        s["recall_macro"] = _mean_or_nan(recall, seen)
        s["f1_macro"] = _mean_or_nan(f1, seen)
        s["auroc_macro"] = self._auroc_macro(support, n)
        s["kappa"] = self._kappa(tp, support, predicted, n)
        s["ece"] = float(self._ece.compute()) if n else math.nan

        per_class = [
            {
                "class": name,
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(self.class_names)
        ]
        if set(s) != set(self.names):
            # Reported names come from the registry: a metric computed here but not registered
            # would silently vanish from results, charts and the monitor_metric choices.
            raise RuntimeError(
                f"computed but not registered: {sorted(set(s) - set(self.names))}; registered "
                f"but not computed: {sorted(set(self.names) - set(s))}. Every metric needs a "
                "MetricSpec in visionyard.training.metric_registry.METRICS and its computation in "
                "ClassificationMetrics.compute"
            )
        scalars = {name: s[name] for name in self.names}
        return EvalResult(
            scalars=scalars,
            per_class=per_class,
            confusion=confmat.tolist(),
            num_samples=n,
        )

    def _auroc_macro(self, support: Tensor, n: int) -> float:
        if n == 0:
            # Nothing was gathered on any rank (n is global); skipping is consistent everywhere.
            return math.nan
        with warnings.catch_warnings():
            # torchmetrics warns and scores 0.0 for a class with no positives (or no
            # negatives); we mask those classes out below instead, so the warning is noise.
            warnings.filterwarnings(
                "ignore", message=r"No (positive|negative) samples in targets", category=UserWarning
            )
            per_class = self._auroc.compute().detach().cpu().to(torch.float64)
        defined = (support > 0) & (support < n) & ~torch.isnan(per_class)
        return _mean_or_nan(per_class, defined)

    @staticmethod
    def _kappa(tp: Tensor, support: Tensor, predicted: Tensor, n: int) -> float:
        if n == 0:
            return math.nan
        observed = float(tp.sum()) / n
        expected = float((support * predicted).sum()) / (n * n)
        if expected >= 1.0:
            return math.nan  # both raters used a single identical class: kappa is 0/0
        return (observed - expected) / (1.0 - expected)
