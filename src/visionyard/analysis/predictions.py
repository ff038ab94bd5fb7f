"""A classifier's predicted probabilities on every image of one split.

Images are decoded as training decodes them (``decoding.decode_rgb``: EXIF orientation, RGB,
16-bit PNGs' high byte) and preprocessed by the run's image processor, what
``transformers.pipeline`` applies to the exported model, so a report agrees with the export.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from visionyard.analysis.classifier import Classifier
from visionyard.errors import DatasetError
from visionyard.training.dataset_index import Sample
from visionyard.training.decoding import decode_rgb

DEFAULT_BATCH_SIZE = 64


@dataclass(frozen=True)
class SplitPredictions:
    paths: list[str]  # POSIX paths relative to the dataset root, in the split's order
    labels: np.ndarray  # (n,) int64, the given labels
    probs: np.ndarray  # (n, C) float32 softmax
    file_list_sha256: str  # of the (path, size) pairs: equal for two reports on the same files


def _image(root: Path, rel: str) -> Image.Image:
    try:
        pixels = decode_rgb(os.path.join(root, rel))
    except Exception as exc:  # decoders raise OSError, RuntimeError, SyntaxError, ...
        raise DatasetError(
            f"cannot decode image {rel} (dataset root {root}): {type(exc).__name__}: {exc}; fix "
            "or delete the file"
        ) from exc
    return Image.fromarray(pixels.permute(1, 2, 0).numpy())


def file_list_sha256(samples: Sequence[Sample]) -> str:
    digest = hashlib.sha256()
    for sample in sorted(samples, key=lambda s: s.path):
        digest.update(f"{sample.path}\0{sample.size}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def predict_split(
    classifier: Classifier,
    root: Path,
    samples: Sequence[Sample],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> SplitPredictions:
    """Softmax probabilities of `classifier` for each of `samples` (under ``root``), in batches."""
    chunks: list[torch.Tensor] = []
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            batch = samples[start : start + batch_size]
            images = [_image(root, s.path) for s in batch]
            chunks.append(classifier.probabilities(classifier.pixel_values(images)))
    n_classes = len(classifier.class_names)
    probs = torch.cat(chunks).numpy() if chunks else np.zeros((0, n_classes), np.float32)
    return SplitPredictions(
        paths=[s.path for s in samples],
        labels=np.array([s.label for s in samples], dtype=np.int64),
        probs=probs.astype(np.float32),
        file_list_sha256=file_list_sha256(samples),
    )
