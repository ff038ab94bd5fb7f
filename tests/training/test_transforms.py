"""Transforms derived from real Transformers image processors (both backends)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F
from transformers import (
    AutoImageProcessor,
    BitImageProcessor,
    CLIPImageProcessor,
    ConvNextImageProcessor,
    DeiTImageProcessor,
    EfficientNetImageProcessor,
    PoolFormerImageProcessor,
    ViTImageProcessor,
)
from transformers.models.convnext.image_processing_pil_convnext import ConvNextImageProcessorPil
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

from visionyard.errors import ConfigError, ModelLoadError
from visionyard.training.transforms import (
    TRAIN_PRESETS,
    CenterCropFloor,
    ProcessorSpec,
    build_eval_transform,
    build_train_transform,
    processor_spec,
)

HALF = [0.5, 0.5, 0.5]
ODD_SIZES = [(37, 53), (53, 37), (17, 240), (301, 299)]


def _random_images(seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in ODD_SIZES]


def _engine_pixels(spec: ProcessorSpec, image: Image.Image) -> torch.Tensor:
    """What the engine feeds the model: eval transform in the worker, then batched normalise."""
    u8 = build_eval_transform(spec)(F.pil_to_tensor(image))
    assert u8.dtype == torch.uint8
    mean = torch.tensor(spec.mean).view(3, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1)
    return (u8.float() / 255 - mean) / std


def _max_diff_vs_processor(processor: object, spec: ProcessorSpec) -> float:
    worst = 0.0
    for image in _random_images():
        reference = processor(images=[image], return_tensors="pt").pixel_values[0]  # type: ignore
        ours = _engine_pixels(spec, image)
        assert ours.shape == reference.shape
        worst = max(worst, (ours - reference).abs().max().item())
    return worst


# --------------------------------------------------------------------------- processor_spec


def test_vit_spec_is_exact_resize_without_crop() -> None:
    spec = processor_spec(ViTImageProcessor(size={"height": 40, "width": 24}))
    assert (spec.height, spec.width) == (40, 24)
    assert spec.resize == (40, 24)
    assert spec.center_crop is None
    assert spec.interpolation is InterpolationMode.BILINEAR
    assert spec.mean == pytest.approx((0.5, 0.5, 0.5))
    assert spec.std == pytest.approx((0.5, 0.5, 0.5))


@pytest.mark.parametrize("cls", [ConvNextImageProcessor, ConvNextImageProcessorPil])
def test_convnext_below_384_resizes_by_crop_pct_then_crops(cls: type) -> None:
    spec = processor_spec(cls(size={"shortest_edge": 224}))  # default crop_pct 0.875
    assert spec.resize == int(224 / 0.875) == 256
    assert spec.center_crop == (224, 224)
    assert (spec.height, spec.width) == (224, 224)
    assert spec.interpolation is InterpolationMode.BICUBIC


def test_convnext_from_384_warps_to_square_without_crop() -> None:
    spec = processor_spec(ConvNextImageProcessor(size={"shortest_edge": 384}))
    assert spec.resize == (384, 384)
    assert spec.center_crop is None


@pytest.mark.parametrize("processor", [BitImageProcessor(), CLIPImageProcessor()])
def test_shortest_edge_plus_center_crop(processor: object) -> None:
    spec = processor_spec(processor)
    assert spec.resize == 224
    assert spec.center_crop == (224, 224)
    assert spec.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))


def test_do_normalize_false_means_zero_mean_unit_std() -> None:
    spec = processor_spec(ViTImageProcessor(do_normalize=False))
    assert spec.mean == (0.0, 0.0, 0.0)
    assert spec.std == (1.0, 1.0, 1.0)


def test_rescale_factor_is_folded_into_mean_and_std() -> None:
    # No rescale: the processor normalises raw 0..255 values. In [0, 1] terms mean/std shrink
    # by 255 so `(x / 255 - mean) / std` gives the same numbers.
    spec = processor_spec(ViTImageProcessor(do_rescale=False, image_mean=HALF, image_std=HALF))
    assert spec.mean == pytest.approx((0.5 / 255,) * 3)
    assert spec.std == pytest.approx((0.5 / 255,) * 3)
    raw = ViTImageProcessor(size={"height": 16, "width": 16}, do_rescale=False)
    assert _max_diff_vs_processor(raw, processor_spec(raw)) < 1e-3  # outputs reach ~510 here


def test_do_resize_false_with_crop_only_crops() -> None:
    processor = CLIPImageProcessor(do_resize=False, crop_size={"height": 20, "width": 30})
    spec = processor_spec(processor)
    assert spec.resize is None
    assert spec.center_crop == (20, 30)
    out = build_eval_transform(spec)(torch.zeros(3, 37, 53, dtype=torch.uint8))
    assert out.shape == (3, 20, 30)


def test_do_resize_false_without_crop_uses_size_for_fixed_batches() -> None:
    processor = ViTImageProcessor(do_resize=False, size={"height": 37, "width": 53})
    spec = processor_spec(processor)
    assert (spec.height, spec.width) == (37, 53)
    # Images already at the model size pass through both pipelines unchanged.
    image = _random_images()[0]
    reference = processor(images=[image], return_tensors="pt").pixel_values[0]
    assert torch.allclose(_engine_pixels(spec, image), reference, atol=1e-6)


@pytest.mark.parametrize(
    ("resample", "mode"),
    [
        (0, InterpolationMode.NEAREST_EXACT),
        (1, InterpolationMode.LANCZOS),
        (2, InterpolationMode.BILINEAR),
        (3, InterpolationMode.BICUBIC),
        (4, InterpolationMode.BILINEAR),  # BOX: not available for tensors
    ],
)
def test_resample_maps_to_tensor_interpolation(resample: int, mode: InterpolationMode) -> None:
    assert processor_spec(ViTImageProcessor(resample=resample)).interpolation is mode


def test_processors_loaded_from_disk_both_backends(tmp_path: Path) -> None:
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0).save_pretrained(tmp_path)
    for backend in ("torchvision", "pil"):
        loaded = AutoImageProcessor.from_pretrained(tmp_path, backend=backend)
        spec = processor_spec(loaded)
        assert (spec.height, spec.width) == (32, 32)
        assert spec.resize == 32 and spec.center_crop == (32, 32)


# --------------------------------------------------------------------------- unknown layouts


def test_variable_size_layout_names_class_and_attribute() -> None:
    processor = ViTImageProcessor()
    processor.size = {"longest_edge": 500}
    with pytest.raises(ModelLoadError, match=r"ViTImageProcessor.*`size`.*longest_edge"):
        processor_spec(processor)


def test_missing_size_names_class_and_attribute() -> None:
    processor = ViTImageProcessor()
    processor.size = None
    with pytest.raises(ModelLoadError, match=r"ViTImageProcessor has no usable `size`"):
        processor_spec(processor)


def test_crop_without_crop_size_is_reported() -> None:
    processor = ViTImageProcessor(do_center_crop=True)
    with pytest.raises(ModelLoadError, match=r"`crop_size`"):
        processor_spec(processor)


def test_shortest_edge_without_crop_is_variable_size() -> None:
    processor = CLIPImageProcessor(do_center_crop=False)
    with pytest.raises(ModelLoadError, match=r"CLIPImageProcessor.*`crop_size`.*variable size"):
        processor_spec(processor)


def test_normalize_without_mean_is_reported() -> None:
    processor = ViTImageProcessor()
    processor.image_mean = None
    with pytest.raises(ModelLoadError, match=r"`image_mean`"):
        processor_spec(processor)


# --------------------------------------------------------------------------- eval == processor


@pytest.mark.parametrize(
    ("processor", "tolerance"),
    [
        # Transformers' default (torchvision) backend runs the same kernels: agreement is exact
        # up to float rounding (measured ~6e-8).
        (
            ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=HALF, image_std=HALF),
            1e-5,
        ),
        (ConvNextImageProcessor(size={"shortest_edge": 32}, image_mean=HALF, image_std=HALF), 1e-5),
        (ConvNextImageProcessor(size={"shortest_edge": 64}, crop_pct=1.0), 1e-5),
        (ConvNextImageProcessor(size={"shortest_edge": 384}), 1e-5),
        (
            CLIPImageProcessor(size={"shortest_edge": 50}, crop_size={"height": 41, "width": 40}),
            1e-5,
        ),
        # class-specific rules: crop_pct scaling, EfficientNet's offset and double std division
        (
            PoolFormerImageProcessor(
                size={"height": 50, "width": 60}, crop_size={"height": 40, "width": 44}
            ),
            1e-5,
        ),
        (EfficientNetImageProcessor(size={"height": 40, "width": 40}), 1e-5),
        (
            EfficientNetImageProcessor(
                size={"height": 40, "width": 40}, rescale_offset=True, include_top=False
            ),
            1e-5,
        ),
        (DeiTImageProcessor(), 1e-5),
        # The PIL backend resamples with PIL: off by at most one uint8 level (measured 0.0078
        # with std 0.5, i.e. 1/255/0.5).
        (ViTImageProcessorPil(size={"height": 32, "width": 32}), 0.05),
        (ConvNextImageProcessorPil(size={"shortest_edge": 32}), 0.05),
    ],
    ids=[
        "vit",
        "convnext-crop",
        "convnext-pct1",
        "convnext-warp",
        "clip-odd-crop",
        "poolformer",
        "efficientnet",
        "efficientnet-offset",
        "deit",
        "vit-pil",
        "convnext-pil",
    ],
)
def test_eval_transform_matches_processor(processor: object, tolerance: float) -> None:
    diff = _max_diff_vs_processor(processor, processor_spec(processor))
    assert diff < tolerance, f"max abs diff {diff}"


def test_center_crop_uses_floor_offsets_like_transformers() -> None:
    image = torch.arange(7 * 7, dtype=torch.uint8).view(1, 7, 7).expand(3, 7, 7).clone()
    ours = CenterCropFloor((4, 4))(image)
    # (7 - 4) / 2 = 1.5: Transformers floors to 1, torchvision rounds to 2.
    assert torch.equal(ours, image[:, 1:5, 1:5])
    assert not torch.equal(ours, v2.CenterCrop(4)(image))


def test_center_crop_pads_small_images() -> None:
    image = torch.full((3, 2, 3), 200, dtype=torch.uint8)
    out = CenterCropFloor((5, 6))(image)
    assert out.shape == (3, 5, 6)
    assert int(out.sum()) == 200 * 3 * 2 * 3  # the image survives, the rest is zero padding
    assert torch.equal(out[:, 1:3, 1:4], image)


# --------------------------------------------------------------------------- train presets


SPEC = processor_spec(ViTImageProcessor(size={"height": 24, "width": 32}))


@pytest.mark.parametrize("preset", list(TRAIN_PRESETS))
@pytest.mark.parametrize("color_jitter", [0.0, 0.4])
def test_train_presets_output_fixed_size_uint8(preset: str, color_jitter: float) -> None:
    transform = build_train_transform(SPEC, preset=preset, color_jitter=color_jitter)
    torch.manual_seed(0)
    for h, w in ODD_SIZES:
        image = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
        out = transform(image)
        assert out.dtype == torch.uint8
        assert out.shape == (3, 24, 32)


def test_none_preset_is_the_eval_transform() -> None:
    image = torch.randint(0, 256, (3, 37, 53), dtype=torch.uint8)
    train = build_train_transform(SPEC, preset="none")
    assert torch.equal(train(image), build_eval_transform(SPEC)(image))


def test_light_preset_never_flips_and_standard_does() -> None:
    light = build_train_transform(SPEC, preset="light")
    standard = build_train_transform(SPEC, preset="standard")
    assert not any(isinstance(t, v2.RandomHorizontalFlip) for t in light.transforms)
    assert any(isinstance(t, v2.RandomHorizontalFlip) for t in standard.transforms)
    assert any(
        isinstance(t, v2.TrivialAugmentWide)
        for t in build_train_transform(SPEC, preset="strong").transforms
    )


def test_color_jitter_appends_color_jitter_with_capped_hue() -> None:
    transform = build_train_transform(SPEC, preset="light", color_jitter=0.8)
    jitter = transform.transforms[-1]
    assert isinstance(jitter, v2.ColorJitter)
    assert jitter.brightness == pytest.approx((0.2, 1.8))
    assert jitter.hue == pytest.approx((-0.1, 0.1))


def test_train_transform_is_seeded_by_torch_rng() -> None:
    transform = build_train_transform(SPEC, preset="strong", color_jitter=0.3)
    image = torch.randint(0, 256, (3, 64, 48), dtype=torch.uint8)
    torch.manual_seed(123)
    first = transform(image)
    torch.manual_seed(123)
    assert torch.equal(first, transform(image))


def test_transforms_pickle_for_spawned_workers() -> None:
    for transform in (build_eval_transform(SPEC), build_train_transform(SPEC, preset="strong")):
        clone = pickle.loads(pickle.dumps(transform))
        image = torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
        assert clone(image).shape == (3, 24, 32)


def test_unknown_preset_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"'heavy'.*none, light, standard, strong"):
        build_train_transform(SPEC, preset="heavy")


@pytest.mark.parametrize("value", [-0.1, float("nan")])
def test_bad_color_jitter_is_a_config_error(value: float) -> None:
    with pytest.raises(ConfigError, match="cpu_color_jitter"):
        build_train_transform(SPEC, color_jitter=value)
