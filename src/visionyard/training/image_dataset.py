"""The torch Dataset of one split: decoded images, transformed with per-sample seeds.

Reproducibility design: the sampler (``samplers.py``) yields ``(epoch, index)`` keys and the
dataset seeds each sample's augmentation from ``(seed, epoch, index)``. A sample's augmentation
therefore depends on neither the number of DataLoader workers, nor whether they persist, nor where
an interrupted epoch resumed, and the main process's global torch RNG stream is left untouched.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from visionyard.errors import DatasetError
from visionyard.training import jpeg_crop
from visionyard.training.dataset_index import Sample
from visionyard.training.decoding import decode_rgb

_MASK64 = (1 << 64) - 1
_JPEG_EXTENSIONS = (".jpg", ".jpeg")
_T = TypeVar("_T")


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Seed (0 <= s < 2**64) of the augmentation randomness of sample ``index`` in ``epoch``.

    Chained splitmix64 (a bijection on 64-bit ints) rather than ``seed + epoch * n + index``,
    whose sums collide across seeds and epochs.
    """
    x = _splitmix64(seed & _MASK64)
    x = _splitmix64(x ^ (epoch & _MASK64))
    return _splitmix64(x ^ (index & _MASK64))


class ImageFolderDataset(Dataset[tuple[Tensor, int]]):
    """Images of one split as ``(uint8 CHW RGB tensor after transform, label)`` pairs.

    With a transform, an image's memory layout is whatever the transform leaves, which for a
    resize is channels-last (HWC memory viewed as CHW): the batch collate (``loaders``) stacks
    samples in that layout, and a copy per sample here would only be undone there.

    Keys are ``(epoch, index)`` tuples (from :class:`EpochSampler`) or plain ints (epoch 0). The
    transform runs with the global torch RNG temporarily seeded from ``(seed, epoch, index)`` and
    restored afterwards, so random torch-based transforms (torchvision ``v2``) give the same
    result for the same key in any process. Transforms drawing from Python's ``random`` or NumPy
    are not covered. Not safe to call from several threads at once (the global generator is
    shared); DataLoader workers are processes, which is fine.

    ``cache_decoded=True`` keeps every decoded, pre-transform image in memory after its first
    use, which pays off for small datasets whose decode dominates a step. Each DataLoader worker
    process holds its own cache (memory = workers x dataset), and the caches survive epochs only
    with ``persistent_workers=True`` (or ``num_workers=0``).

    ``partial_decode`` (without the cache): a transform that starts with a ``RandomResizedCrop``
    draws the crop from the JPEG's header and decodes only that rectangle (``jpeg_crop``); the
    result is the same tensor the full decode gives, for less decoding. ``scaled_decode``
    (opt-in, with partial decoding) also decodes such a crop at 1/2, 1/4 or 1/8 of the size
    when the reduced crop still covers the crop's output size: less decoding and a smaller
    resize on large photos, for pixels close to but not those of the full-size decode.
    """

    def __init__(
        self,
        root: Path,
        samples: Sequence[Sample],
        transform: Callable[[Tensor], Tensor] | None = None,
        *,
        seed: int = 0,
        cache_decoded: bool = False,
        partial_decode: bool = True,
        scaled_decode: bool = False,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.seed = int(seed)
        self.cache_decoded = cache_decoded
        self._root = str(self.root)
        self._paths = [s.path for s in samples]
        self._labels = [s.label for s in samples]
        self._cache: dict[int, Tensor] = {}
        # Public so that a benchmark can compare both paths on one dataset; the cache keeps
        # whole decoded images, so it needs the full decode.
        self.partial_decode = partial_decode and not cache_decoded
        self.scaled_decode = scaled_decode
        self._crop_first = _leading_random_crop(transform)

    def __len__(self) -> int:
        return len(self._paths)

    @property
    def labels(self) -> list[int]:
        return list(self._labels)

    def jpeg_decoding(self) -> str | None:
        """How this split's JPEGs are decoded, for the run's log; None when it has none."""
        if not any(path.lower().endswith(_JPEG_EXTENSIONS) for path in self._paths):
            return None
        if self.cache_decoded:
            return "whole files, once (cache_images keeps them decoded)"
        if not self.partial_decode:
            return "whole files (partial decoding is off)"
        if not jpeg_crop.available():
            return f"whole files: {jpeg_crop.NOT_BUILT}"
        if self._crop_first is None:
            return "whole files (the transform does not start with a random crop)"
        if self.scaled_decode:
            return (
                "only each sample's random crop (partial decoding), at 1/2, 1/4 or 1/8 of the "
                "size where the crop allows (jpeg_scaled_decode)"
            )
        return "only each sample's random crop (partial decoding)"

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Tensor, int]:
        if isinstance(key, tuple):
            epoch, index = (operator.index(k) for k in key)
        else:
            epoch, index = 0, operator.index(key)
        if not 0 <= index < len(self._paths):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} images")

        if (
            self.partial_decode
            and self._crop_first is not None
            and self._paths[index].lower().endswith(_JPEG_EXTENSIONS)
        ):
            cropped = self._seeded(epoch, index, partial(self._decode_crop_transform, index))
            if cropped is not None:
                return cropped, self._labels[index]

        image = self._cache.get(index) if self.cache_decoded else None
        if image is None:
            image = self._decode(index)
            if self.cache_decoded:
                self._cache[index] = image
        if self.cache_decoded:
            image = image.clone()  # a transform working in place must not alter the cache

        if self.transform is not None:
            image = self._seeded(epoch, index, partial(self.transform, image))
        return image, self._labels[index]

    def _decode(self, index: int) -> Tensor:
        rel = self._paths[index]
        try:
            # Without the decoder's HWC -> CHW copy when a transform follows: the crop/resize
            # reads the channels-last view directly, faster than copy + resize.
            return decode_rgb(os.path.join(self._root, rel), contiguous=self.transform is None)
        except Exception as exc:  # decoders raise OSError, RuntimeError, SyntaxError, ...
            raise DatasetError(
                f"Cannot decode image {rel} (dataset root {self._root}): "
                f"{type(exc).__name__}: {exc}. Fix or delete the file (a scan with "
                "image_check='full' finds all such files), or set skip_corrupt_images=true."
            ) from exc

    def _decode_crop_transform(self, index: int) -> Tensor | None:
        """The transform's random crop drawn from the JPEG header, only that part decoded, then
        the rest of the transform; None when this file needs the full decode."""
        assert self._crop_first is not None
        crop, rest = self._crop_first
        try:
            with open(os.path.join(self._root, self._paths[index]), "rb") as file:
                data = file.read()
        except OSError:
            return None  # the full decode reports it
        header = jpeg_crop.read_header(data)
        if header is None:
            return None
        # The same random draws RandomResizedCrop makes on the decoded image: it only reads the
        # size, which a meta tensor has without pixels.
        size_only = torch.empty((3, header.height, header.width), dtype=torch.uint8, device="meta")
        box = crop.make_params([size_only])
        reduce = 1
        if self.scaled_decode:
            out_height, out_width = crop.size
            reduce = jpeg_crop.reduction_for(box["height"], box["width"], out_height, out_width)
        try:
            pixels = jpeg_crop.decode_crop(data, header, **box, reduce=reduce)
        except (ValueError, RuntimeError):
            # libjpeg found something amiss, or a damaged header claims a size that cannot be
            # allocated: the full decode decides what the file is (and names it if unreadable).
            return None
        image = F.resize(
            pixels, crop.size, interpolation=crop.interpolation, antialias=crop.antialias
        )
        return rest(image)

    def _seeded(self, epoch: int, index: int, work: Callable[[], _T]) -> _T:
        """``work()`` with the global torch RNG seeded for this sample, then restored."""
        # Save/seed/restore the CPU generator directly: torch.random.fork_rng(devices=[]) does
        # the same but goes through torch.manual_seed, whose lazy CUDA/XPU/MPS seeding hooks
        # cost ~100 us per call here, versus ~2 us for this.
        generator = torch.default_generator
        state = generator.get_state()
        try:
            generator.manual_seed(sample_seed(self.seed, epoch, index))
            return work()
        finally:
            generator.set_state(state)


def _leading_random_crop(
    transform: Callable[[Tensor], Tensor] | None,
) -> tuple[v2.RandomResizedCrop, Callable[[Tensor], Tensor]] | None:
    """(the crop, the steps after it) when ``transform`` is a ``v2.Compose`` starting with a
    ``RandomResizedCrop`` (every random-crop train preset) and the partial decoder is built."""
    if not jpeg_crop.available() or not isinstance(transform, v2.Compose):
        return None
    steps = list(transform.transforms)
    if not steps or type(steps[0]) is not v2.RandomResizedCrop:
        return None
    if not hasattr(steps[0], "make_params"):  # torchvision < 0.21 named it _get_params
        return None
    rest: Callable[[Tensor], Tensor] = v2.Compose(steps[1:]) if len(steps) > 1 else v2.Identity()
    return steps[0], rest
