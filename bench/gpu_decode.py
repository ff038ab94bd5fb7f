"""A training loader that decodes JPEGs on the training device, for bench/gpu.py.

DataLoader workers only read file bytes (no decode, no resize); the main process hands each
batch's bytes to `torchvision.io.decode_jpeg(list, device=...)` (nvJPEG, batched, on CUDA) and
augments the whole batch on the device: a RandomResizedCrop per image (scale 0.08-1, ratio 3/4-4/3,
as the `standard` preset) done for all images by one `roi_align` call, a per-image horizontal flip
and normalisation. On CUDA the next batch is decoded and augmented on a side stream while the
current one trains (the DevicePrefetcher's pattern).

A bench-first implementation: if it earns its keep it moves into the package as a pipeline option.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

__all__ = ["FileBytes", "GpuDecodeLoader", "random_resized_boxes"]


class FileBytes(Dataset[tuple[Tensor, int]]):
    """(raw file bytes as a uint8 tensor, label) per image."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int]) -> None:
        self.paths = [str(p) for p in paths]
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        with open(self.paths[index], "rb") as f:
            data = f.read()
        return torch.frombuffer(bytearray(data), dtype=torch.uint8), self.labels[index]


def _collate(items: list[tuple[Tensor, int]]) -> tuple[list[Tensor], Tensor]:
    return [data for data, _ in items], torch.tensor([label for _, label in items])


def random_resized_boxes(
    heights: Tensor,
    widths: Tensor,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    attempts: int = 10,
) -> Tensor:
    """RandomResizedCrop's crop boxes for a batch, drawn at once: (N, 4) float x1, y1, x2, y2.

    As torchvision: up to `attempts` (area, aspect) draws per image, the first that fits wins;
    an image with none falls back to a centre crop of the whole image clamped to `ratio`."""
    n = heights.shape[0]
    h = heights.to(torch.float64)[:, None]
    w = widths.to(torch.float64)[:, None]
    area = (
        h * w * torch.empty(n, attempts, dtype=torch.float64).uniform_(*scale, generator=generator)
    )
    log_r = torch.empty(n, attempts, dtype=torch.float64).uniform_(
        math.log(ratio[0]), math.log(ratio[1]), generator=generator
    )
    aspect = torch.exp(log_r)
    cw = torch.sqrt(area * aspect).round()
    ch = torch.sqrt(area / aspect).round()
    fits = (cw > 0) & (ch > 0) & (cw <= w) & (ch <= h)
    first = torch.argmax(fits.to(torch.int8), dim=1, keepdim=True)  # first fitting attempt
    ok = fits.gather(1, first).squeeze(1)
    cw = cw.gather(1, first).squeeze(1)
    ch = ch.gather(1, first).squeeze(1)
    h, w = h.squeeze(1), w.squeeze(1)
    # fallback: the whole image, its aspect clamped to the allowed range
    in_ratio = w / h
    fw = torch.where(in_ratio < ratio[0], w, torch.where(in_ratio > ratio[1], h * ratio[1], w))
    fh = torch.where(in_ratio < ratio[0], w / ratio[0], h)
    cw = torch.where(ok, cw, fw.round())
    ch = torch.where(ok, ch, fh.round())
    u = torch.rand(2, n, dtype=torch.float64, generator=generator)
    x1 = torch.where(ok, torch.floor(u[0] * (w - cw + 1)), ((w - cw) / 2).floor())
    y1 = torch.where(ok, torch.floor(u[1] * (h - ch + 1)), ((h - ch) / 2).floor())
    return torch.stack([x1, y1, x1 + cw, y1 + ch], dim=1).to(torch.float32)


class GpuDecodeLoader:
    """Iterates (normalised float images, labels) on `device`, decoded and augmented there."""

    def __init__(
        self,
        dataset: FileBytes,
        *,
        batch_size: int,
        size: tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        device: torch.device,
        num_workers: int,
        channels_last: bool,
        seed: int = 0,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.size = size
        self.device = device
        self.channels_last = channels_last
        self.generator = torch.Generator().manual_seed(seed)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._scale = (1.0 / (255.0 * std_t)).to(device)
        self._shift = (-mean_t / std_t).to(device)
        extra = {"persistent_workers": True, "prefetch_factor": 4} if num_workers > 0 else {}
        self.loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
            num_workers=num_workers,
            collate_fn=_collate,
            **extra,
        )

    def __len__(self) -> int:
        return len(self.loader)

    def _decode(self, data: list[Tensor]) -> list[Tensor]:
        from torchvision.io import ImageReadMode, decode_jpeg

        with warnings.catch_warnings():
            # torchvision 0.29 deprecates its decoders in favour of TorchCodec; still the API here
            warnings.simplefilter("ignore", DeprecationWarning)
            out = decode_jpeg(data, mode=ImageReadMode.RGB, device=self.device)
        return out if isinstance(out, list) else [out]

    def prepare(self, data: list[Tensor], labels: Tensor) -> tuple[Tensor, Tensor]:
        """One batch of file bytes -> the augmented, normalised device batch."""
        from torchvision.ops import roi_align

        images = self._decode(data)
        heights = torch.tensor([im.shape[-2] for im in images])
        widths = torch.tensor([im.shape[-1] for im in images])
        if bool((heights == heights[0]).all() and (widths == widths[0]).all()):
            batch = torch.stack(images)
        else:  # pad into one tensor; each crop box stays inside its own image
            batch = images[0].new_zeros((len(images), 3, int(heights.max()), int(widths.max())))
            for i, im in enumerate(images):
                batch[i, :, : im.shape[-2], : im.shape[-1]] = im
        boxes = random_resized_boxes(heights, widths, self.generator)
        rois = torch.cat([torch.arange(len(images), dtype=torch.float32)[:, None], boxes], dim=1)
        flips = torch.rand(len(images), generator=self.generator) < 0.5
        # bilinear crop + resize of every image in one kernel; sampling_ratio=2 averages 2x2
        # samples per output pixel, which smooths the downscale as an antialiased resize does
        x = roi_align(
            batch.float(),
            rois.to(self.device, non_blocking=True),
            output_size=self.size,
            spatial_scale=1.0,
            sampling_ratio=2,
            aligned=True,
        )
        flips = flips.to(self.device, non_blocking=True).view(-1, 1, 1, 1)
        x = torch.where(flips, x.flip(-1), x)
        x = torch.addcmul(self._shift, x, self._scale)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, labels.to(self.device, non_blocking=True)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        if self.device.type != "cuda":
            for data, labels in self.loader:
                yield self.prepare(data, labels)
            return
        side = torch.cuda.Stream(device=self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        batches = iter(self.loader)

        def load() -> tuple[Tensor, Tensor] | None:
            try:
                data, labels = next(batches)
            except StopIteration:
                return None
            with torch.cuda.stream(side):
                return self.prepare(data, labels)

        pending = load()
        while pending is not None:
            consumer = torch.cuda.current_stream(self.device)
            consumer.wait_stream(side)
            images, labels = pending
            images.record_stream(consumer)
            labels.record_stream(consumer)
            pending = load()
            yield images, labels
