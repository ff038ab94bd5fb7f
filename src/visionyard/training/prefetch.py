"""Device-side batch preprocessing and host-to-device prefetch.

DataLoader workers produce uint8 NCHW batches (4x smaller than float32 to pin and copy); this module
turns them into normalised float batches on the training device, optionally with cheap batched
augmentation, and on CUDA overlaps the next batch's copy + preprocessing with the current step.

Nothing here synchronises with the host: no `.item()`, no `.cpu()`, no data-dependent Python
branches, so the training loop can run ahead of the GPU.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

from visionyard.errors import ConfigError

__all__ = ["BatchPreprocessor", "DevicePrefetcher"]

# ITU-R 601 luma weights: torchvision's rgb_to_grayscale, which adjust_contrast centres on.
_LUMA = (0.299, 0.587, 0.114)


def _channel_values(name: str, values: Sequence[float]) -> tuple[float, float, float]:
    message = f"{name} must be 3 numbers (one per RGB channel), got {values!r}."
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(message) from exc
    if len(out) != 3:
        raise ConfigError(message)
    return out


class BatchPreprocessor:
    """uint8 NCHW batch (already on the device) -> normalised float batch.

    `(x / 255 - mean) / std` is computed as one fused multiply-add, `x * scale + shift`, with
    per-channel scale/shift tensors prepared once on the device.

    With `gpu_aug`, training batches also get a per-sample random horizontal flip (if
    `gpu_aug_flip`) and per-sample brightness/contrast jitter (factors drawn uniformly from
    [1 - strength, 1 + strength]), all as whole-batch tensor ops. The random draws come from a
    device `torch.Generator` seeded at construction; `state_dict()`/`load_state_dict()` let a
    checkpoint restore it so a resumed run draws the same augmentations.
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        device: torch.device,
        channels_last: bool = False,
        gpu_aug: bool = False,
        gpu_aug_flip: bool = True,
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        brightness: float = 0.2,
        contrast: float = 0.2,
    ) -> None:
        mean3 = _channel_values("mean", mean)
        std3 = _channel_values("std", std)
        if any(not s > 0 for s in std3):
            raise ConfigError(f"std values must all be > 0, got {std3}.")
        for name, value in (("brightness", brightness), ("contrast", contrast)):
            if not 0 <= value <= 1:
                raise ConfigError(f"GPU augmentation {name} must be in [0, 1], got {value!r}.")
        if not dtype.is_floating_point:
            raise ConfigError(f"dtype must be a floating point dtype, got {dtype}.")
        self.device = torch.device(device)
        self.channels_last = channels_last
        self.gpu_aug = gpu_aug
        self.gpu_aug_flip = gpu_aug_flip
        self.dtype = dtype
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        # Kept in float32 even for half/bf16 outputs: the multiply-add runs in float32 and casts
        # once, so scale/shift keep full precision.
        std_t = torch.tensor(std3, dtype=torch.float32).view(1, 3, 1, 1)
        mean_t = torch.tensor(mean3, dtype=torch.float32).view(1, 3, 1, 1)
        self._scale_u8 = (1.0 / (255.0 * std_t)).to(self.device)  # for x in [0, 255]
        self._scale_unit = (1.0 / std_t).to(self.device)  # for x already in [0, 1]
        self._shift = (-mean_t / std_t).to(self.device)
        self._luma = torch.tensor(_LUMA, dtype=torch.float32).view(1, 3, 1, 1).to(self.device)
        self._rows: tuple[Tensor, Tensor] | None = None  # see _row_factors
        self._generator = torch.Generator(device=self.device)
        self._generator.manual_seed(int(seed))

    def state_dict(self) -> dict[str, Any]:
        """RNG state of the augmentation generator (a CPU uint8 tensor; safe to serialise)."""
        return {"generator": self._generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._generator.set_state(state["generator"])

    def __call__(self, images_u8: Tensor, *, train: bool) -> Tensor:
        if images_u8.dtype != torch.uint8 or images_u8.dim() != 4:
            raise TypeError(
                f"BatchPreprocessor expects a uint8 NCHW batch, got {images_u8.dtype} with "
                f"shape {tuple(images_u8.shape)}"
            )
        if train and self.gpu_aug:
            out = self._augment(self._uint8_in_layout(images_u8))
        elif self.device.type == "cpu":
            out = self._normalise_on_cpu(images_u8)
        else:
            # In place on the fresh float copy: an out-of-place addcmul allocates a second
            # batch-sized buffer.
            x_float = self._uint8_in_layout(images_u8).to(torch.float32)
            out = torch.addcmul(self._shift, x_float, self._scale_u8, out=x_float)
        if self.dtype != torch.float32:
            out = out.to(self.dtype)
        if self.channels_last:
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def _normalise_on_cpu(self, images_u8: Tensor) -> Tensor:
        # Measured on one core (docs/benchmarks.md, "Data pipeline"); the collate's batches are
        # channels-last. Broadcasting a per-channel (1, 3, 1, 1) factor over channels-last
        # memory runs element-wise ops 3 values at a time, ~5x slower than over NCHW, and on
        # NCHW torch's CPU addcmul is ~2x slower than a multiply and an add in place.
        if self.channels_last and images_u8.is_contiguous(memory_format=torch.channels_last):
            # Convert in the same memory order (no transposition), then one fused multiply-add
            # over rows of W x 3 values against the per-channel factors repeated W times.
            out = images_u8.to(torch.float32)
            n, c, h, w = out.shape
            rows = out.permute(0, 2, 3, 1).view(n * h, w * c)
            scale, shift = self._row_factors(w)
            torch.addcmul(shift, rows, scale, out=rows)
            return out
        # The float copy into an NCHW buffer transposes a channels-last input as it converts.
        # An NCHW input for a channels-last model changes layout after, as floats: transposing
        # 4-byte elements is faster here than 1-byte ones.
        out = torch.empty(images_u8.shape, dtype=torch.float32)
        return out.copy_(images_u8).mul_(self._scale_u8).add_(self._shift)

    def _row_factors(self, width: int) -> tuple[Tensor, Tensor]:
        """Scale and shift for one row of a channels-last batch: (r, g, b) repeated width times."""
        if self._rows is None or self._rows[0].numel() != 3 * width:
            self._rows = (self._scale_u8.view(3).repeat(width), self._shift.view(3).repeat(width))
        return self._rows

    def _uint8_in_layout(self, images_u8: Tensor) -> Tensor:
        # For the GPU path and batch augmentation: the uint8 input (1 byte/pixel) is the
        # cheapest place on a GPU to change layout, either way (the collate's batches may be
        # channels-last); the element-wise ops that follow preserve it.
        if self.channels_last:
            return images_u8.contiguous(memory_format=torch.channels_last)
        return images_u8.contiguous()

    def _augment(self, x_u8: Tensor) -> Tensor:
        n = x_u8.shape[0]
        gen = self._generator
        # Draw every random number in one call so the generator advances identically whatever
        # options are on: [flip coin, brightness, contrast] per sample.
        r = torch.rand((3, n, 1, 1, 1), device=x_u8.device, generator=gen)
        if self.gpu_aug_flip:
            x_u8 = torch.where(r[0] < 0.5, x_u8.flip(-1), x_u8)
        x = x_u8.to(torch.float32).mul_(1.0 / 255.0)
        if self.brightness > 0:
            factor = 1.0 + self.brightness * (2.0 * r[1] - 1.0)
            x = x.mul_(factor).clamp_(0.0, 1.0)
        if self.contrast > 0:
            factor = 1.0 + self.contrast * (2.0 * r[2] - 1.0)
            grey_mean = (x * self._luma).sum(dim=1, keepdim=True).mean(dim=(2, 3), keepdim=True)
            # blend towards the per-image grey mean, as torchvision's adjust_contrast does
            x = torch.lerp(grey_mean, x, factor).clamp_(0.0, 1.0)
        return torch.addcmul(self._shift, x, self._scale_unit, out=x)  # x is our own buffer


class DevicePrefetcher:
    """Iterates a DataLoader yielding (images, labels) on `device`, normalised by `preprocess`.

    On CUDA the next batch is copied (`non_blocking`, so the loader should pin memory) and
    preprocessed on a side stream while the consumer works on the current one: one batch is
    always in flight. The consumer's stream waits on the side stream before using a batch, and
    `record_stream` tells the caching allocator the batch is used there, so its memory is not
    handed out again before the consumer's kernels finish. Elsewhere it is a plain loop.
    """

    def __init__(
        self,
        loader: Iterable[tuple[Tensor, Tensor]],
        *,
        device: torch.device,
        preprocess: BatchPreprocessor,
        train: bool,
    ) -> None:
        self.loader = loader
        self.device = torch.device(device)
        self.preprocess = preprocess
        self.train = train

    def __len__(self) -> int:
        # An Iterable need not be Sized; the loaders given here are DataLoaders, which are.
        return len(self.loader)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.device.type == "cuda":
            return self._iter_cuda()
        return self._iter_plain()

    def _iter_plain(self) -> Iterator[tuple[Tensor, Tensor]]:
        for images, labels in self.loader:
            # .to() is a no-op (no copy) when the batch is already on the device.
            images = images.to(self.device)
            labels = labels.to(self.device)
            yield self.preprocess(images, train=self.train), labels

    def _iter_cuda(self) -> Iterator[tuple[Tensor, Tensor]]:
        side = torch.cuda.Stream(device=self.device)
        # Once, before the first copy: order the side stream after whatever the consumer has
        # queued so far (model/parameter setup). Not per batch: that would serialise the copy
        # with the previous training step and defeat the overlap.
        side.wait_stream(torch.cuda.current_stream(self.device))
        batches = iter(self.loader)

        def load() -> tuple[Tensor, Tensor] | None:
            try:
                images, labels = next(batches)
            except StopIteration:
                return None
            with torch.cuda.stream(side):
                images = images.to(self.device, non_blocking=True)
                labels = labels.to(self.device, non_blocking=True)
                return self.preprocess(images, train=self.train), labels

        pending = load()
        while pending is not None:
            consumer = torch.cuda.current_stream(self.device)
            consumer.wait_stream(side)
            images, labels = pending
            images.record_stream(consumer)
            labels.record_stream(consumer)
            pending = load()  # queue the next copy before handing this batch out
            yield images, labels
