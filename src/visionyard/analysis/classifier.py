"""A run's checkpoint as a ready classifier: the model rebuilt from the run's architecture, the
checkpoint's safetensors weights loaded strictly, the run's image processor in front.

Preprocessing is the image processor's, exactly what ``transformers.pipeline`` applies to the
exported model, so a checkpoint and its export agree on every image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from safetensors.torch import load_model
from torch import nn

from visionyard.analysis.checkpoints import CheckpointInfo, architecture_dir, resolve_checkpoint
from visionyard.errors import CheckpointError, ModelLoadError
from visionyard.training.checkpoint_files import WEIGHTS_FILE
from visionyard.training.hf_quiet import quiet_transformers


@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    probability: float


@dataclass
class Classifier:
    model: nn.Module  # in eval mode, on `device`
    processor: Any
    class_names: list[str]
    checkpoint: CheckpointInfo
    device: torch.device

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        batch = self.processor(images=[img.convert("RGB") for img in images], return_tensors="pt")
        pixels: torch.Tensor = batch["pixel_values"]
        return pixels.to(self.device)

    @torch.inference_mode()
    def probabilities(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Softmax over classes, float32 on the CPU, one row per image."""
        logits: torch.Tensor = self.model(pixel_values=pixel_values.to(self.device)).logits
        return logits.float().softmax(dim=-1).cpu()

    def predict(self, images: Sequence[Image.Image], top_k: int = 5) -> list[list[Prediction]]:
        probs = self.probabilities(self.pixel_values(images))
        k = max(1, min(top_k, probs.shape[1]))
        values, indices = probs.topk(k, dim=1)
        return [
            [
                Prediction(self.class_names[i], i, float(p))
                for p, i in zip(row_p.tolist(), row_i.tolist(), strict=True)
            ]
            for row_p, row_i in zip(values, indices, strict=True)
        ]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _class_names(config: Any) -> list[str]:
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label.get(i, id2label.get(str(i), ""))) for i in range(len(id2label))]
    if not names or any(not name for name in names):
        raise ModelLoadError(
            "the run's model config has no complete id2label map; it was not made by Visionyard"
        )
    return names


def load_classifier(
    run_dir: Path, checkpoint: str = "best", device: torch.device | str | None = None
) -> Classifier:
    """The run's checkpoint `checkpoint` (best, last, epoch_N) as a :class:`Classifier`."""
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

    run_dir = Path(run_dir)
    info = resolve_checkpoint(run_dir, checkpoint)
    arch = architecture_dir(run_dir)
    target = torch.device(device) if device is not None else default_device()
    try:
        with quiet_transformers():
            config = AutoConfig.from_pretrained(arch, trust_remote_code=False)
            model = AutoModelForImageClassification.from_config(config, trust_remote_code=False)
            processor = AutoImageProcessor.from_pretrained(arch, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot rebuild the run's model from {arch}: {exc}") from None
    try:
        load_model(model, str(info.path / WEIGHTS_FILE), strict=True, device=str(target))
    except (RuntimeError, ValueError, OSError) as exc:
        raise CheckpointError(
            f"checkpoint {info.name!r} does not fit the run's model ({exc}); the run folder "
            "was changed after training"
        ) from None
    model.to(target).eval()
    return Classifier(
        model=model,
        processor=processor,
        class_names=_class_names(config),
        checkpoint=info,
        device=target,
    )
