"""A checkpoint's model as ONNX, checked against PyTorch on the run's real validation images.

The graph takes ``pixel_values`` (batch, 3, H, W; the batch dimension is dynamic) exactly as
the run's image processor makes them, and returns ``logits``. It is exported with the dynamo
exporter (``torch.onnx.export(dynamo=True)``) as one self-contained file.

Validation runs onnxruntime (CPU) and the PyTorch model on up to :data:`VALIDATION_IMAGES` val
images of the run's dataset, spread over its classes. The export passes when the largest
absolute logit difference is at most :data:`LOGIT_TOLERANCE` and both pick the same top-1 class
on every image; otherwise :class:`~visionyard.errors.ExportError` is raised and no file claims
validity. When the dataset cannot be read (moved, deleted, its classes changed), the model is
still exported but its report says ``validated: false`` with the reason: the file is useful, and
nothing pretends it was checked.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from visionyard.analysis.classifier import Classifier
from visionyard.analysis.val_split import batches, load_val_split, spread
from visionyard.errors import DatasetError, ExportError

#: the largest absolute difference between ONNX and PyTorch logits that passes. Float32 graph
#: rewrites (fused convolutions, reordered sums) differ by ~1e-6 on small models; a wrong graph
#: differs by whole units.
LOGIT_TOLERANCE = 1e-3
#: how many validation images the check runs (at most)
VALIDATION_IMAGES = 64
_BATCH = 16


@dataclass(frozen=True)
class OnnxValidation:
    """What ``onnx_validation.json`` records."""

    validated: bool
    reason: str | None  # why it was not validated (None when it was)
    images: int
    max_abs_logit_diff: float | None
    top1_agreement: float | None
    tolerance: float
    opset: int
    onnxruntime_version: str
    onnx_version: str
    torch_version: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _LogitsOnly(nn.Module):
    """The classifier as the graph exposes it: pixel_values in, logits out (a Hugging Face
    model returns an output object, which would export as a tuple of optional fields)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.model(pixel_values=pixel_values).logits
        return logits


def export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    """Write `model` as ONNX to `path` atomically (a temporary name, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex}")
    wrapper = _LogitsOnly(model).eval()
    try:
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                wrapper,
                (example.cpu(),),
                str(tmp),
                dynamo=True,
                external_data=False,
                input_names=["pixel_values"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
            )
        os.replace(tmp, path)
    except Exception as exc:  # the exporter raises many kinds; each means "not exportable"
        tmp.unlink(missing_ok=True)
        if isinstance(exc, ExportError):
            raise
        raise ExportError(
            f"the model cannot be exported to ONNX ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no details'}); export without ONNX "
            "(--no-onnx) to get the Hugging Face folder"
        ) from None


def _opset(path: Path) -> int:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    onnx.checker.check_model(model)
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def validate_onnx(classifier: Classifier, path: Path, run_dir: Path) -> OnnxValidation:
    """Compare the ONNX file with the PyTorch model on the run's val images; ExportError when
    they disagree beyond the tolerance."""
    import onnx
    import onnxruntime as ort

    versions = {
        "tolerance": LOGIT_TOLERANCE,
        "opset": _opset(path),
        "onnxruntime_version": ort.__version__,
        "onnx_version": onnx.__version__,
        "torch_version": torch.__version__,
    }
    try:
        split = load_val_split(run_dir, classifier.class_names)
    except DatasetError as exc:
        return OnnxValidation(
            validated=False,
            reason=f"the run's validation images cannot be read: {exc}",
            images=0,
            max_abs_logit_diff=None,
            top1_agreement=None,
            **versions,
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    samples = spread(split.samples, VALIDATION_IMAGES)
    max_diff, agree, seen = 0.0, 0, 0
    for images, _labels in batches(split, samples, _BATCH):
        pixels = classifier.pixel_values(images)
        with torch.inference_mode():
            reference = classifier.model(pixel_values=pixels).logits.float().cpu()
        (ours,) = session.run(["logits"], {"pixel_values": pixels.cpu().numpy()})
        onnx_logits = torch.from_numpy(ours).float()
        if onnx_logits.shape != reference.shape:
            raise ExportError(
                f"the ONNX model returns logits of shape {tuple(onnx_logits.shape)}, PyTorch "
                f"{tuple(reference.shape)}; the export is wrong, use --no-onnx"
            )
        max_diff = max(max_diff, float((onnx_logits - reference).abs().max()))
        agree += int((onnx_logits.argmax(dim=1) == reference.argmax(dim=1)).sum())
        seen += len(images)
    result = OnnxValidation(
        validated=True,
        reason=None,
        images=seen,
        max_abs_logit_diff=max_diff,
        top1_agreement=agree / seen,
        **versions,
    )
    if not max_diff <= LOGIT_TOLERANCE or agree != seen:  # `not <=` also catches NaN
        raise ExportError(
            f"the ONNX model disagrees with PyTorch on the run's validation images: largest "
            f"logit difference {max_diff:.3g} (tolerance {LOGIT_TOLERANCE:g}), same top-1 class "
            f"on {agree} of {seen} images (all must agree); the ONNX file was not kept. Export "
            "without ONNX (--no-onnx), or report the model's architecture as an exporter bug"
        )
    return result
