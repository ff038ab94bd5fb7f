"""Classifying uploaded images with a run's checkpoint: called in a worker thread, never on the
event loop (a forward pass, and a first load, take from milliseconds to seconds).

One test runs at a time per dashboard: a second waits for the first, which bounds the memory
that activations and gradients (Grad-CAM) take to one batch's.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from visionyard.dashboard.model_testing.cache import ModelCache
from visionyard.dashboard.model_testing.uploads import UploadedImage
from visionyard.dashboard.schemas.model_testing import (
    ImageResultOut,
    ModelTestOut,
    PredictionOut,
    SaliencyOut,
)
from visionyard.errors import InvalidRequestError

if TYPE_CHECKING:  # torch is imported when the first model loads, not with the dashboard
    from visionyard.analysis.classifier import Classifier

# PNG keeps the overlay exact; above this many pixels it would run to tens of megabytes.
_PNG_MAX_PIXELS = 4_000_000

_one_at_a_time = threading.Lock()


def test_images(
    cache: ModelCache,
    run_id: int,
    run_dir: Path,
    images: Sequence[UploadedImage],
    *,
    checkpoint: str,
    top_k: int,
    saliency: bool,
    target: str | None,
) -> ModelTestOut:
    with _one_at_a_time:
        classifier = cache.get(run_dir, checkpoint)
        target_index = _target_index(classifier.class_names, target)
        predictions = classifier.predict([item.image for item in images], top_k=top_k)
        results = []
        for item, top in zip(images, predictions, strict=True):
            explained = target_index if target_index is not None else top[0].index
            results.append(
                ImageResultOut(
                    filename=item.filename,
                    width=item.size[0],
                    height=item.size[1],
                    predictions=[
                        PredictionOut(label=p.label, index=p.index, probability=p.probability)
                        for p in top
                    ],
                    saliency=_saliency(classifier, item, explained) if saliency else None,
                )
            )
    info = classifier.checkpoint
    return ModelTestOut(
        run_id=run_id,
        checkpoint=info.name,
        epoch=info.epoch,
        step=info.step,
        device=str(classifier.device),
        results=results,
    )


def _target_index(class_names: list[str], target: str | None) -> int | None:
    if target is None:
        return None
    if target not in class_names:
        shown = ", ".join(class_names[:20]) + (" ..." if len(class_names) > 20 else "")
        raise InvalidRequestError(
            f"the model has no class {target!r} to explain; its classes are {shown}",
            fields=[{"field": "target", "message": "not one of the model's classes"}],
        )
    return class_names.index(target)


def _saliency(classifier: Classifier, item: UploadedImage, target: int) -> SaliencyOut:
    from visionyard.analysis.saliency import grad_cam, overlay

    cam = grad_cam(classifier, item.image, target)
    picture = overlay(item.image, cam.heatmap)
    buffer = io.BytesIO()
    if picture.width * picture.height <= _PNG_MAX_PIXELS:
        picture.save(buffer, format="PNG", compress_level=3)
        media = "image/png"
    else:
        picture.save(buffer, format="JPEG", quality=90)
        media = "image/jpeg"
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return SaliencyOut(
        label=classifier.class_names[target],
        layer=cam.layer,
        overlay=f"data:{media};base64,{encoded}",
    )
