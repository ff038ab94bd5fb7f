"""Per-sample image transforms derived from a Transformers image processor.

The dataset hands us uint8 CHW RGB tensors; every transform here takes and returns uint8 CHW
tensors of one fixed size, so DataLoader workers ship 1 byte per pixel and normalisation happens
later, batched, on the training device (`visionyard.training.prefetch.BatchPreprocessor`).

`processor_spec` reads what a processor does (resize, crop, mean/std, resampling filter) into a
small frozen `ProcessorSpec`; `build_eval_transform` replays exactly that resize/crop with
torchvision, so the engine's evaluation sees the same pixels that `transformers.pipeline` feeds the
exported model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

from visionyard.errors import ConfigError, ModelLoadError
from visionyard.training.config import TRAIN_PRESETS

__all__ = [
    "TRAIN_PRESETS",
    "ProcessorSpec",
    "build_eval_transform",
    "build_train_transform",
    "processor_spec",
]


@dataclass(frozen=True)
class ProcessorSpec:
    """What an image processor does, in terms torchvision can replay on uint8 tensors.

    `mean`/`std` apply to pixels scaled to [0, 1] (x / 255): a processor that rescales by another
    factor, or not at all, is folded into them so `(x / 255 - mean) / std` equals its output.
    `resize` is None only for processors with `do_resize=False` whose center crop fixes the size.
    """

    height: int
    width: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize: tuple[int, int] | int | None
    center_crop: tuple[int, int] | None
    interpolation: InterpolationMode


# PIL.Image.Resampling values, as stored in preprocessor_config.json's `resample`.
# NEAREST maps to NEAREST_EXACT because that is what PIL's nearest does (and what Transformers'
# own torchvision backend maps it to). Tensors cannot be resized with BOX or HAMMING, so those fall
# back to antialiased BILINEAR, the closest filter that works on tensors.
_PIL_TO_TV: dict[int, InterpolationMode] = {
    0: InterpolationMode.NEAREST_EXACT,
    1: InterpolationMode.LANCZOS,
    2: InterpolationMode.BILINEAR,
    3: InterpolationMode.BICUBIC,
    4: InterpolationMode.BILINEAR,
    5: InterpolationMode.BILINEAR,
}
_TENSOR_MODES = {
    InterpolationMode.NEAREST,
    InterpolationMode.NEAREST_EXACT,
    InterpolationMode.BILINEAR,
    InterpolationMode.BICUBIC,
    InterpolationMode.LANCZOS,
}

# ConvNeXt's processor switches from "resize then crop" to "warp to a square" at this size.
_CONVNEXT_WARP_FROM = 384
_CONVNEXT_DEFAULT_CROP_PCT = 224 / 256


def _missing(processor: Any, attribute: str, detail: str = "") -> ModelLoadError:
    name = type(processor).__name__
    extra = f" ({detail})" if detail else ""
    return ModelLoadError(
        f"Image processor {name} has no usable `{attribute}`{extra}; Visionyard cannot derive a "
        f"fixed-size input pipeline from it. Fix `{attribute}` in the model's "
        "preprocessor_config.json or pick a model whose processor resizes to a fixed size."
    )


def _size_fields(processor: Any, attribute: str) -> dict[str, int]:
    """Read a size attribute (dict, Transformers `SizeDict`, int or (h, w)) as a plain dict."""
    value = getattr(processor, attribute, None)
    if value is None:
        return {}
    if isinstance(value, bool):
        raise _missing(processor, attribute, f"got {value!r}")
    if isinstance(value, int):
        # Legacy configs stored a bare int; Transformers reads it as a square unless the class
        # sets default_to_square=False (then it is the shortest edge).
        if getattr(processor, "default_to_square", True):
            return {"height": value, "width": value}
        return {"shortest_edge": value}
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return {"height": int(value[0]), "width": int(value[1])}
    try:
        # Mapping, or SizeDict (iterates as (key, value) pairs of its non-None fields).
        pairs = dict(value) if isinstance(value, Mapping) else dict(iter(value))
        return {str(k): int(v) for k, v in pairs.items() if v is not None}
    except (TypeError, ValueError) as exc:
        raise _missing(processor, attribute, f"unrecognised value {value!r}") from exc


def _hw(fields: Mapping[str, int]) -> tuple[int, int] | None:
    if "height" in fields and "width" in fields:
        return (fields["height"], fields["width"])
    return None


def _interpolation(processor: Any) -> InterpolationMode:
    resample = getattr(processor, "resample", None)
    if resample is None:
        return InterpolationMode.BILINEAR  # Transformers' default when none is configured
    if isinstance(resample, InterpolationMode):
        return resample if resample in _TENSOR_MODES else InterpolationMode.BILINEAR
    if isinstance(resample, str):
        try:
            mode = InterpolationMode(resample.lower())
        except ValueError as exc:
            raise _missing(processor, "resample", f"unknown filter {resample!r}") from exc
        return mode if mode in _TENSOR_MODES else InterpolationMode.BILINEAR
    try:
        return _PIL_TO_TV[int(resample)]
    except (KeyError, TypeError, ValueError) as exc:
        raise _missing(processor, "resample", f"unknown filter {resample!r}") from exc


def _three(processor: Any, attribute: str, value: Any) -> tuple[float, float, float]:
    if isinstance(value, (int, float)):
        return (float(value),) * 3
    try:
        values = tuple(float(v) for v in value)
    except TypeError as exc:
        raise _missing(processor, attribute, f"got {value!r}") from exc
    if len(values) == 1:
        values = values * 3
    if len(values) != 3:
        raise _missing(processor, attribute, f"expected 3 channel values, got {len(values)}")
    return values


def _normalisation(processor: Any) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Fold the processor's rescale + normalise into mean/std for pixels in [0, 1].

    On x in [0, 255] the processor computes y = (x * r - o - m) / (s * t): r the rescale factor
    (1 without do_rescale), o EfficientNet's rescale_offset (1 or 0), m/s its mean/std (0/1
    without do_normalize), t EfficientNet's extra include_top division by std (else 1). We compute
    y = (x / 255 - M) / S; equating the two gives M = (o + m) / (255 r), S = s * t / (255 r).
    """
    do_rescale = bool(getattr(processor, "do_rescale", True))
    rescale = float(getattr(processor, "rescale_factor", None) or 1 / 255) if do_rescale else 1.0
    offset = 1.0 if do_rescale and getattr(processor, "rescale_offset", False) else 0.0
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    if getattr(processor, "do_normalize", True):
        for attribute in ("image_mean", "image_std"):
            if getattr(processor, attribute, None) is None:
                raise _missing(processor, attribute, "do_normalize is true")
        mean = _three(processor, "image_mean", processor.image_mean)
        std = _three(processor, "image_std", processor.image_std)
    if getattr(processor, "include_top", False):
        if getattr(processor, "image_std", None) is None:
            raise _missing(processor, "image_std", "include_top is true")
        top = _three(processor, "image_std", processor.image_std)
        std = tuple(s * t for s, t in zip(std, top, strict=True))
    if any(not s > 0 for s in std) or not rescale > 0:
        raise _missing(processor, "image_std", f"std and rescale_factor must be > 0, got {std}")
    scale = 255.0 * rescale
    out_mean = tuple((offset + m) / scale for m in mean)
    out_std = tuple(s / scale for s in std)
    # tuple() of a generator types as tuple[float, ...]; mean and std have three items each.
    return out_mean, out_std  # type: ignore[return-value]


def _geometry(processor: Any) -> tuple[tuple[int, int] | int | None, tuple[int, int] | None]:
    """(resize, center_crop) as the processor applies them, class-specific rules included."""
    name = type(processor).__name__
    do_resize = bool(getattr(processor, "do_resize", True))
    do_crop = bool(getattr(processor, "do_center_crop", False))
    crop: tuple[int, int] | None = None
    if do_crop:
        crop = _hw(_size_fields(processor, "crop_size"))
        if crop is None:
            raise _missing(processor, "crop_size", "do_center_crop is true; need height and width")

    resize: tuple[int, int] | int | None = None
    if do_resize:
        size = _size_fields(processor, "size")
        if not size:
            raise _missing(processor, "size")
        crop_pct = getattr(processor, "crop_pct", None)
        if name.startswith("ConvNext") and "shortest_edge" in size:
            # ConvNextImageProcessor.resize: below 384 it keeps the aspect ratio, resizes the
            # shortest edge to int(s / crop_pct) and crops (s, s); from 384 up it warps to (s, s).
            s = size["shortest_edge"]
            if s < _CONVNEXT_WARP_FROM:
                pct = float(crop_pct) if crop_pct else _CONVNEXT_DEFAULT_CROP_PCT
                resize = int(s / pct)
                crop = _merge_crops(processor, (s, s), crop)
            else:
                resize = (s, s)
            return resize, crop
        if name.startswith("PoolFormer") and crop_pct is not None:
            # PoolFormerImageProcessor.resize: scale the target by 1 / crop_pct first.
            pct = float(crop_pct)
            if "shortest_edge" in size:
                resize = int(size["shortest_edge"] / pct)
            elif (hw := _hw(size)) is not None:
                h, w = hw
                resize = int(h / pct) if h == w else (int(h / pct), int(w / pct))
            else:
                raise _missing(processor, "size", f"got keys {sorted(size)}")
            return resize, crop
        if (hw := _hw(size)) is not None:
            resize = hw
        elif set(size) == {"shortest_edge"}:
            resize = size["shortest_edge"]
        else:
            raise _missing(
                processor,
                "size",
                f"keys {sorted(size)} give variable output sizes; "
                "need height+width or shortest_edge",
            )
    return resize, crop


def _merge_crops(
    processor: Any, first: tuple[int, int], second: tuple[int, int] | None
) -> tuple[int, int]:
    """ConvNeXt's own crop followed by an explicit do_center_crop: keep the smaller one.

    Two nested center crops equal one crop of the inner size up to a one-pixel offset; a second
    crop larger than the first would pad, which a single crop cannot express.
    """
    if second is None:
        return first
    if second[0] > first[0] or second[1] > first[1]:
        raise _missing(
            processor,
            "crop_size",
            f"crop {second} is larger than the {first} crop ConvNeXt's resize already made",
        )
    return second


def processor_spec(processor: Any) -> ProcessorSpec:
    """Describe a Transformers image processor (PIL or torchvision backend, 4.x or 5.x)."""
    resize, crop = _geometry(processor)
    if crop is not None:
        height, width = crop
    elif isinstance(resize, tuple):
        height, width = resize
    elif resize is None:
        # do_resize=False and no crop: the processor passes images through at their own size,
        # which cannot be batched. Images that already have the model's size are unchanged by a
        # resize to `size`, so resizing to it keeps agreement wherever the processor itself works.
        hw = _hw(_size_fields(processor, "size"))
        if hw is None:
            raise _missing(processor, "size", "do_resize and do_center_crop are both off")
        resize = hw
        height, width = hw
    else:
        raise _missing(
            processor,
            "crop_size",
            f"it resizes only the shortest edge to {resize} and does not center-crop, so its "
            "outputs have variable size",
        )
    if height <= 0 or width <= 0:
        raise _missing(processor, "size", f"non-positive output size {height}x{width}")
    mean, std = _normalisation(processor)
    return ProcessorSpec(
        height=height,
        width=width,
        mean=mean,
        std=std,
        resize=resize,
        center_crop=crop,
        interpolation=_interpolation(processor),
    )


# torchvision ships no type information, so its Transform base class is Any to mypy.
class CenterCropFloor(v2.Transform):  # type: ignore[misc]
    """Center crop with Transformers' offset rounding: top = (H - h) // 2.

    torchvision's CenterCrop rounds the offset half-to-even, which lands one pixel away from
    Transformers (and PIL-backend processors) whenever H - h is odd. Smaller images are padded
    with zeros on both sides first, split as Transformers does.
    """

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = (int(size[0]), int(size[1]))

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not isinstance(inpt, Tensor):
            return inpt
        crop_h, crop_w = self.size
        height, width = inpt.shape[-2:]
        if crop_h > height or crop_w > width:
            pad_w = max(crop_w - width, 0)
            pad_h = max(crop_h - height, 0)
            inpt = F.pad(inpt, [pad_w // 2, pad_h // 2, (pad_w + 1) // 2, (pad_h + 1) // 2], fill=0)
            height, width = inpt.shape[-2:]
        return F.crop(inpt, (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w)

    def extra_repr(self) -> str:
        return f"size={self.size}"


def _eval_steps(spec: ProcessorSpec) -> list[v2.Transform]:
    steps: list[v2.Transform] = []
    if spec.resize is not None:
        size = [spec.resize] if isinstance(spec.resize, int) else list(spec.resize)
        steps.append(v2.Resize(size, interpolation=spec.interpolation, antialias=True))
    if spec.center_crop is not None:
        steps.append(CenterCropFloor(spec.center_crop))
    return steps


def build_eval_transform(spec: ProcessorSpec) -> Callable[[Tensor], Tensor]:
    """uint8 CHW -> uint8 CHW (spec.height, spec.width), exactly the processor's resize/crop."""
    transform: Callable[[Tensor], Tensor] = v2.Compose(_eval_steps(spec))
    return transform


def build_train_transform(
    spec: ProcessorSpec, *, preset: str = "standard", color_jitter: float = 0.0
) -> Callable[[Tensor], Tensor]:
    """uint8 CHW -> augmented uint8 CHW (spec.height, spec.width) for training."""
    if preset not in TRAIN_PRESETS:
        raise ConfigError(
            f"Unknown augmentation preset {preset!r}; choose one of: {', '.join(TRAIN_PRESETS)}."
        )
    valid = isinstance(color_jitter, (int, float)) and math.isfinite(color_jitter)
    if not valid or color_jitter < 0:
        raise ConfigError(
            f"cpu_color_jitter must be a finite number >= 0 (0 disables it), got {color_jitter!r}."
        )
    size = [spec.height, spec.width]
    steps: list[v2.Transform]
    if preset == "none":
        steps = _eval_steps(spec)
    elif preset == "light":
        steps = [
            v2.RandomResizedCrop(
                size,
                scale=(0.7, 1.0),
                ratio=(0.9, 1.1),
                interpolation=spec.interpolation,
                antialias=True,
            )
        ]
    else:
        steps = [
            v2.RandomResizedCrop(
                size, scale=(0.08, 1.0), interpolation=spec.interpolation, antialias=True
            ),
            v2.RandomHorizontalFlip(),
        ]
        if preset == "strong":
            steps.append(v2.TrivialAugmentWide())
    if color_jitter > 0:
        cj = float(color_jitter)
        steps.append(
            v2.ColorJitter(brightness=cj, contrast=cj, saturation=cj, hue=min(cj / 4, 0.1))
        )
    transform: Callable[[Tensor], Tensor] = v2.Compose(steps)
    return transform
