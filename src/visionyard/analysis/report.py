"""The evaluation report of one checkpoint on one split, stored with the run.

What a report holds (``REPORT_VERSION`` 1; every image path is relative to the dataset root):

- ``checkpoint`` (name, epoch, step, saved_at), ``split``, ``num_samples``, ``class_names``
  (label-index order) and ``file_list_sha256`` of the split's (path, size) pairs: two reports
  are comparable image for image when it matches;
- ``accuracy``, ``macro_f1`` and ``top_k`` accuracies, ``per_class`` precision / recall / F1 /
  support and the ``confusion`` matrix (rows true, columns predicted) as counts and normalised
  per row, all with the definitions of `visionyard.training.metrics`;
- ``calibration``: the reliability diagram and its ECE (``calibration.py``);
- ``images``: the images the lists below refer to by position, each ``{path, split}``;
- ``mistakes``: the most confident wrong predictions, most confident first;
- ``label_issues``: likely label errors found by confident learning (``label_issues.py``), with
  the note saying which images were checked and why.

Saving and reading reports back is ``report_store.py``'s (torch-free, for the dashboard).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from visionyard.analysis.calibration import reliability
from visionyard.analysis.checkpoints import CheckpointInfo
from visionyard.analysis.classifier import Classifier, load_classifier
from visionyard.analysis.label_issues import METHOD, OUT_OF_SAMPLE_NOTE, find_issues
from visionyard.analysis.predictions import SplitPredictions, predict_split
from visionyard.analysis.report_store import REPORT_VERSION, check_split, save_report
from visionyard.analysis.val_split import labelled_split
from visionyard.errors import DatasetError, NotFoundError
from visionyard.training.dataset_index import Sample

MAX_MISTAKES = 24
MAX_LABEL_ISSUES = 50
DEFAULT_TOPK = (1, 5)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's zero_division=0, as metrics.py)."""
    return np.where(den > 0, num / np.maximum(den, 1), 0.0)


def _class_metrics(
    confusion: np.ndarray, class_names: Sequence[str]
) -> tuple[list[dict[str, Any]], float]:
    """The per-class table, and the macro F1 over the classes present in the targets or the
    predictions (torchmetrics' and scikit-learn's default macro average)."""
    cm = confusion.astype(np.float64)
    tp, support, predicted = cm.diagonal(), cm.sum(axis=1), cm.sum(axis=0)
    precision, recall = _ratio(tp, predicted), _ratio(tp, support)
    f1 = _ratio(2 * tp, support + predicted)
    seen = (support + predicted) > 0
    table = [
        {
            "class": name,
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    ]
    return table, float(f1[seen].mean()) if seen.any() else 0.0


def _top_k(probs: np.ndarray, labels: np.ndarray, topk: Sequence[int]) -> list[dict[str, Any]]:
    """Top-k accuracies for k = 1 and each requested k below the class count (k >= the class
    count is always 1, and left out as in the training metrics)."""
    n_classes = probs.shape[1]
    ks = sorted({1, *(k for k in topk if 1 < k < n_classes)})
    # Ranks by descending probability; a stable sort breaks ties by class index.
    order = np.argsort(-probs, axis=1, kind="stable")
    hits = order == labels[:, None]
    return [{"k": k, "accuracy": float(hits[:, :k].any(axis=1).mean())} for k in ks]


def build_report(
    predictions: SplitPredictions,
    class_names: Sequence[str],
    checkpoint: CheckpointInfo,
    split: str,
    topk: Sequence[int] = DEFAULT_TOPK,
) -> dict[str, Any]:
    """The report (a JSON-ready dict) of `predictions` made by `checkpoint` on `split`."""
    probs, labels = predictions.probs, predictions.labels
    n, n_classes = len(labels), len(class_names)
    if n == 0:
        raise DatasetError(f"the {split} split has no images to evaluate; add some")
    predicted = probs.argmax(axis=1)
    confidence = probs[np.arange(n), predicted]
    correct = predicted == labels

    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    rows = confusion.sum(axis=1, keepdims=True)
    normalized = np.where(rows > 0, confusion / np.maximum(rows, 1), 0.0)
    per_class, macro_f1 = _class_metrics(confusion, class_names)

    images: list[dict[str, str]] = []
    image_of: dict[int, int] = {}

    def image(i: int) -> int:
        if i not in image_of:
            image_of[i] = len(images)
            images.append({"path": predictions.paths[i], "split": split})
        return image_of[i]

    wrong = np.flatnonzero(~correct)
    # Most confident first; a stable sort keeps the split's order among equal confidences.
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")][:MAX_MISTAKES]
    mistakes = [
        {
            "image": image(int(i)),
            "path": predictions.paths[i],
            "true": class_names[labels[i]],
            "predicted": class_names[predicted[i]],
            "confidence": float(confidence[i]),
            "true_probability": float(probs[i, labels[i]]),
        }
        for i in wrong
    ]

    issues = find_issues(labels, probs)
    issue_items = [
        {
            "image": image(i),
            "path": predictions.paths[i],
            "given": class_names[labels[i]],
            "suggested": class_names[predicted[i]],
            "quality": float(issues.quality[i]),
            "given_probability": float(probs[i, labels[i]]),
            "suggested_probability": float(confidence[i]),
        }
        for i in issues.indices[:MAX_LABEL_ISSUES]
    ]

    return {
        "version": REPORT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "checkpoint": {
            "name": checkpoint.name,
            "epoch": checkpoint.epoch,
            "step": checkpoint.step,
            "saved_at": checkpoint.saved_at,
        },
        "split": split,
        "num_samples": n,
        "file_list_sha256": predictions.file_list_sha256,
        "class_names": list(class_names),
        "accuracy": float(correct.mean()),
        "macro_f1": macro_f1,
        "top_k": _top_k(probs, labels, topk),
        "per_class": per_class,
        "confusion": {"counts": confusion.tolist(), "normalized": normalized.tolist()},
        "calibration": reliability(confidence, correct),
        "images": images,
        "mistakes": mistakes,
        "label_issues": {
            "method": METHOD,
            "note": OUT_OF_SAMPLE_NOTE,
            "count": len(issues.indices),
            "items": issue_items,
        },
    }


def report_for_classifier(
    classifier: Classifier,
    dataset_root: Path,
    samples: Sequence[Sample],
    split: str,
    topk: Sequence[int] = DEFAULT_TOPK,
) -> dict[str, Any]:
    """The report of an already loaded classifier (the trainer passes its in-memory model)."""
    predictions = predict_split(classifier, dataset_root, samples)
    return build_report(predictions, classifier.class_names, classifier.checkpoint, split, topk)


def _run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotFoundError(f"{path} cannot be read ({exc}); is {run_dir} a run folder?") from None
    if not isinstance(config, dict) or not isinstance(config.get("root"), str):
        raise NotFoundError(f"{path} names no dataset root; is {run_dir} a run folder?")
    return config


def _skipped_at_training(run_dir: Path) -> set[str]:
    """The images the run left out as unreadable (dataset.json), left out here too."""
    try:
        fingerprint = json.loads((run_dir / "dataset.json").read_text(encoding="utf-8"))
        return {str(entry[0]) for entry in fingerprint.get("skipped") or []}
    except (
        OSError,
        UnicodeDecodeError,
        json.JSONDecodeError,
        AttributeError,
        IndexError,
        TypeError,
    ):
        return set()


def split_samples(
    dataset_root: Path, split: str, class_names: Sequence[str], skipped: Collection[str] = ()
) -> list[Sample]:
    """The images of `split` labelled in the run's class order, without those the run left out
    as unreadable; DatasetError when the dataset's classes are no longer the run's."""
    samples = labelled_split(dataset_root, split, class_names)
    if samples is None:
        raise NotFoundError(f"the dataset at {dataset_root} has no {split}/ split")
    return [s for s in samples if s.path not in skipped]


def evaluate_checkpoint(
    run_dir: Path,
    checkpoint: str = "best",
    split: str = "val",
    device: torch.device | str | None = None,
    *,
    dataset_root: Path | None = None,
    save: bool = True,
) -> dict[str, Any]:
    """Evaluate the run's `checkpoint` on `split` of its dataset (``root`` in config.json, or
    `dataset_root`), store the report in the run folder (with `save`) and return it."""
    run_dir = Path(run_dir)
    check_split(split)
    config = _run_config(run_dir)
    root = Path(dataset_root) if dataset_root is not None else Path(config["root"]).expanduser()
    classifier = load_classifier(run_dir, checkpoint, device)
    samples = split_samples(root, split, classifier.class_names, _skipped_at_training(run_dir))
    topk = [k for k in config.get("eval_topk") or DEFAULT_TOPK if isinstance(k, int)]
    report = report_for_classifier(classifier, root, samples, split, topk)
    if save:
        save_report(run_dir, report)
    return report
