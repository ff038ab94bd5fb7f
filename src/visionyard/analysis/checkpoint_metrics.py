"""The metrics a checkpoint's model card shows: its own, never another checkpoint's.

``results.json`` is the run's final evaluation of its *best* checkpoint (on test when the
dataset has a test split, else val), so it describes ``best`` only. Any other checkpoint
(``last``, ``epoch_N``), and ``best`` of a run that has no results.json yet, is evaluated here on
the run's val split, with the same metric code the trainer uses (loss: plain cross-entropy).
When that split cannot be read, the card has no metrics and says why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from visionyard.analysis.classifier import Classifier
from visionyard.analysis.val_split import batches, load_val_split
from visionyard.errors import DatasetError
from visionyard.training.metrics import ClassificationMetrics
from visionyard.training.runreader import RESULTS_FILE

_BATCH = 32


@dataclass(frozen=True)
class CardMetrics:
    source: str  # for people: where the numbers come from
    metrics: dict[str, Any] = field(default_factory=dict)  # split -> {metric: value}
    per_class: list[dict[str, Any]] = field(default_factory=list)


def _from_results(run_dir: Path) -> CardMetrics | None:
    try:
        results = json.loads((run_dir / RESULTS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(results, dict) or not isinstance(results.get("val"), dict):
        return None
    evaluated = {s: results[s] for s in ("val", "test") if isinstance(results.get(s), dict)}
    split = "test" if "test" in evaluated else "val"
    per_class = evaluated[split].get("per_class")
    return CardMetrics(
        source=f"results.json: the run's final evaluation of this checkpoint (per class: {split})",
        metrics={s: dict(e.get("scalars") or {}) for s, e in evaluated.items()},
        per_class=list(per_class) if isinstance(per_class, list) else [],
    )


@torch.inference_mode()
def _evaluate_on_val(classifier: Classifier, run_dir: Path) -> CardMetrics:
    split = load_val_split(run_dir, classifier.class_names)
    names = classifier.class_names
    metrics = ClassificationMetrics(len(names), names)
    for images, labels in batches(split, split.samples, _BATCH):
        logits = classifier.model(pixel_values=classifier.pixel_values(images)).logits
        logits = logits.float().cpu()
        target = torch.tensor(labels, dtype=torch.long)
        metrics.update(logits, target, F.cross_entropy(logits, target))
    result = metrics.compute().to_json()
    return CardMetrics(
        source=f"evaluated at export on the run's val split ({result['num_samples']} images)",
        metrics={"val": result["scalars"]},
        per_class=result["per_class"],
    )


def checkpoint_metrics(classifier: Classifier, run_dir: Path) -> CardMetrics:
    run_dir = Path(run_dir)
    if classifier.checkpoint.name == "best":
        recorded = _from_results(run_dir)
        if recorded is not None:
            return recorded
    try:
        return _evaluate_on_val(classifier, run_dir)
    except DatasetError as exc:
        return CardMetrics(source=f"none: the run's val images cannot be read ({exc})")
