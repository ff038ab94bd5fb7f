"""The torch side of the data pipeline: dataset, epoch-aware sampler, loader and class weights.

Reproducibility design: the sampler yields ``(epoch, index)`` keys and the dataset seeds each
sample's augmentation from ``(seed, epoch, index)``. A sample's augmentation therefore depends on
neither the number of DataLoader workers, nor whether they persist, nor where an interrupted epoch
resumed, and the main process's global torch RNG stream is left untouched.
"""

from __future__ import annotations

import functools
import math
import operator
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler

from visionyard.errors import DatasetError
from visionyard.training.imagefolder import Sample

_MASK64 = (1 << 64) - 1

# Formats torchvision's native decoders handle (libjpeg-turbo, libpng, libwebp, giflib); about
# 2x faster than PIL for JPEG and 1.2-2x for PNG. Anything else goes through PIL.
_TORCHVISION_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
_READ_MODE_RGB = 3  # torchvision.io.ImageReadMode.RGB.value


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


# --------------------------------------------------------------------------- decoding


@functools.cache
def _torchvision_ops() -> tuple[Callable[..., Tensor], Callable[..., Tensor]] | None:
    """torchvision's native (read_file, decode_image) ops, or None when unavailable.

    The public ``torchvision.io.decode_image`` wraps exactly these ops but, since torchvision
    0.29, emits a DeprecationWarning on every call (its image I/O moves to TorchCodec). Silencing
    it per sample would need ``warnings.catch_warnings()``, which is not thread-safe and resets
    every once-per-location warning registry on each call; calling the ops directly avoids both.
    When a future torchvision drops them, decoding falls back to PIL.
    """
    try:
        import torchvision.io.image  # noqa: F401  (loads the extension that registers the ops)

        return torch.ops.image.read_file, torch.ops.image.decode_image
    except (ImportError, AttributeError, RuntimeError):
        return None


def _from_torchvision(path: str) -> Tensor:
    ops = _torchvision_ops()
    if ops is None:
        raise RuntimeError("torchvision image decoding is not available")
    read_file, decode = ops
    image = decode(read_file(path), _READ_MODE_RGB, True)
    if image.ndim == 4:  # an animated GIF decodes to (frames, C, H, W): keep the first frame
        image = image[0]
    if image.dtype == torch.uint16:  # 16-bit PNG: keep the 8 most significant bits
        image = (image.to(torch.int32) >> 8).to(torch.uint8)
    # The native decoders return an HWC buffer viewed as CHW; one small copy gives every path
    # (and the cache) the same standard contiguous layout.
    return image.contiguous()


def _from_pil(path: str) -> Tensor:
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)  # same orientation as torchvision's decode
        if image.mode.startswith("I;16"):
            # PIL's 16-bit -> RGB conversion clips at 255; scale like the torchvision path.
            gray = (np.array(image, dtype=np.uint16) >> 8).astype(np.uint8)
            array = np.repeat(gray[:, :, None], 3, axis=2)
        else:
            if image.mode in ("P", "PA"):
                # Via RGBA: a palette with transparency warns when converted straight to RGB.
                image = image.convert("RGBA")
            if image.mode != "RGB":
                image = image.convert("RGB")  # L, LA, RGBA, CMYK, ...: alpha is dropped
            array = np.array(image)  # a writable copy; torch warns on read-only arrays
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def decode_rgb(path: str | os.PathLike[str]) -> Tensor:
    """Decode an image file into a uint8 ``(3, H, W)`` RGB tensor.

    Grayscale, palette and alpha images become 3-channel RGB (alpha is dropped), EXIF
    orientation is applied, 16-bit PNGs keep their high byte and animated images their first
    frame. PNG/JPEG/WebP/GIF use torchvision's native decoders, other formats (and any file
    torchvision rejects) use PIL.

    Raises:
        OSError, ValueError, SyntaxError, RuntimeError: from the decoders; the dataset turns
            these into a DatasetError naming the file.
    """
    path = os.fspath(path)
    if os.path.splitext(path)[1].lower() in _TORCHVISION_EXTENSIONS:
        try:
            return _from_torchvision(path)
        except RuntimeError as tv_error:
            try:
                return _from_pil(path)
            except Exception as pil_error:
                raise pil_error from tv_error
    return _from_pil(path)


# --------------------------------------------------------------------------- dataset


class ImageFolderDataset(Dataset[tuple[Tensor, int]]):
    """Images of one split as ``(uint8 CHW RGB tensor after transform, label)`` pairs.

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
    """

    def __init__(
        self,
        root: Path,
        samples: Sequence[Sample],
        transform: Callable[[Tensor], Tensor] | None = None,
        *,
        seed: int = 0,
        cache_decoded: bool = False,
    ) -> None:
        self.root = Path(root)
        self.transform = transform
        self.seed = int(seed)
        self.cache_decoded = cache_decoded
        self._root = str(self.root)
        self._paths = [s.path for s in samples]
        self._labels = [s.label for s in samples]
        self._cache: dict[int, Tensor] = {}

    def __len__(self) -> int:
        return len(self._paths)

    @property
    def labels(self) -> list[int]:
        return list(self._labels)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Tensor, int]:
        if isinstance(key, tuple):
            epoch, index = (operator.index(k) for k in key)
        else:
            epoch, index = 0, operator.index(key)
        if not 0 <= index < len(self._paths):
            raise IndexError(f"index {index} out of range for a dataset of {len(self)} images")

        image = self._cache.get(index) if self.cache_decoded else None
        if image is None:
            image = self._decode(index)
            if self.cache_decoded:
                self._cache[index] = image
        if self.cache_decoded:
            image = image.clone()  # a transform working in place must not alter the cache

        if self.transform is not None:
            image = self._seeded_transform(image, epoch, index)
        return image, self._labels[index]

    def _decode(self, index: int) -> Tensor:
        rel = self._paths[index]
        try:
            return decode_rgb(os.path.join(self._root, rel))
        except Exception as exc:  # decoders raise OSError, RuntimeError, SyntaxError, ...
            raise DatasetError(
                f"Cannot decode image {rel} (dataset root {self._root}): "
                f"{type(exc).__name__}: {exc}. Fix or delete the file (a scan with "
                "image_check='full' finds all such files), or set skip_corrupt_images=true."
            ) from exc

    def _seeded_transform(self, image: Tensor, epoch: int, index: int) -> Tensor:
        assert self.transform is not None
        # Save/seed/restore the CPU generator directly: torch.random.fork_rng(devices=[]) does
        # the same but goes through torch.manual_seed, whose lazy CUDA/XPU/MPS seeding hooks
        # cost ~100 us per call here, versus ~2 us for this.
        generator = torch.default_generator
        state = generator.get_state()
        try:
            generator.manual_seed(sample_seed(self.seed, epoch, index))
            return self.transform(image)
        finally:
            generator.set_state(state)


# --------------------------------------------------------------------------- sampler


class EpochSampler(Sampler[tuple[int, int]]):
    """Yields ``(epoch, dataset index)`` for this rank, reproducibly and resumably.

    The epoch's order comes from a private ``torch.Generator`` seeded with ``seed + epoch``: a
    permutation (``shuffle``), ``range`` (no shuffle) or, with ``weights``, ``num_samples`` draws
    with replacement (balanced sampling). For DDP the order is padded by wrapping around (or
    trimmed with ``drop_last``) to a multiple of ``world_size`` and rank ``r`` takes
    ``order[r::world_size]``, like ``DistributedSampler``: every rank yields the same count, so
    every rank runs the same number of optimizer steps (DDP's gradient all-reduce needs that).
    The first ``k`` samples of every rank together are ``order[:k * world_size]``: with batch
    ``B`` per rank, optimizer step ``s`` of N ranks sees the same images as step ``s`` of one
    process with batch ``N * B``. For training only; evaluation uses :class:`EvalShardSampler`,
    which does not pad (padding would count up to ``world_size - 1`` images twice).

    Call :meth:`set_epoch` before each epoch; ``start`` skips the first ``start`` samples of
    this rank's epoch, so a resumed epoch continues exactly where the interrupted one stopped.
    """

    def __init__(
        self,
        num_samples: int,
        *,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        weights: Sequence[float] | None = None,
        drop_last: bool = False,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}"
            )
        self.num_samples = num_samples
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self._weights: Tensor | None = None
        if weights is not None:
            w = torch.as_tensor(list(weights), dtype=torch.float64)
            if w.numel() != num_samples:
                raise ValueError(f"got {w.numel()} weights for {num_samples} samples")
            if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
                raise ValueError("weights must be finite, non-negative and not all zero")
            self._weights = w
        if drop_last:
            self.per_rank = num_samples // world_size
        else:
            self.per_rank = math.ceil(num_samples / world_size)
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the epoch to yield; ``start`` = samples of this rank's epoch already consumed."""
        if not 0 <= start <= self.per_rank:
            raise ValueError(f"start must be in [0, {self.per_rank}] for this rank, got {start}")
        self.epoch = epoch
        self.start = start

    def _epoch_order(self) -> Tensor:
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        n = self.num_samples
        if self._weights is not None:
            return torch.multinomial(self._weights, n, replacement=True, generator=generator)
        if self.shuffle:
            return torch.randperm(n, generator=generator)
        return torch.arange(n)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = self._epoch_order()
        total = self.per_rank * self.world_size
        if total > order.numel():  # pad by wrapping around (more than once if world_size > n)
            order = order.repeat(math.ceil(total / order.numel()))
        mine = order[:total][self.rank :: self.world_size][self.start :].tolist()
        epoch = self.epoch
        return ((epoch, index) for index in mine)

    def __len__(self) -> int:
        return self.per_rank - self.start


class EvalShardSampler(Sampler[int]):
    """This rank's share of an evaluation split: indices ``rank, rank + world_size, ...``.

    Unlike :class:`EpochSampler` (and ``DistributedSampler``) nothing is padded, so over all ranks
    every image is evaluated exactly once; shards differ in length by at most one (a rank may get
    none when the split has fewer images than there are ranks). That is safe because evaluation
    runs no per-batch collective: the metrics sum/gather their states across ranks once, in
    ``compute()``, and torchmetrics handles uneven shards.
    """

    def __init__(self, num_samples: int, *, rank: int = 0, world_size: int = 1) -> None:
        if num_samples < 0:
            raise ValueError(f"num_samples must be >= 0, got {num_samples}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(
                f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}"
            )
        self.num_samples = num_samples
        self.rank = rank
        self.world_size = world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.num_samples, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.num_samples, self.world_size))


# --------------------------------------------------------------------------- loader


def _init_worker(worker_id: int) -> None:
    # One intra-op thread per worker: N workers each running torch's default thread pool would
    # oversubscribe the cores the main process needs for the training step. (torch's worker loop
    # does this too; stating it here keeps the guarantee independent of that detail.)
    torch.set_num_threads(1)


def _accelerator_available() -> bool:
    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        return bool(accelerator.is_available())
    return torch.cuda.is_available()


def build_loader(
    dataset: Dataset[Any],
    sampler: Sampler[Any],
    *,
    batch_size: int,
    num_workers: int,
    prefetch_factor: int | None,
    persistent_workers: bool,
    pin_memory: bool,
    drop_last: bool = False,
) -> DataLoader[Any]:
    """A DataLoader over ``dataset`` in ``sampler`` order with the default collate.

    ``prefetch_factor`` and ``persistent_workers`` only reach the DataLoader when
    ``num_workers > 0`` (torch rejects them otherwise), so one config works for both.
    ``pin_memory`` is ignored without an accelerator (torch would only warn). The loader gets a
    private generator for its per-iteration worker base seed, which torch otherwise draws from
    the global RNG each time an epoch's iterator is created.
    """
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra["worker_init_fn"] = _init_worker
        extra["persistent_workers"] = persistent_workers
        if prefetch_factor is not None:
            extra["prefetch_factor"] = prefetch_factor
    generator = torch.Generator()
    generator.manual_seed(int(getattr(sampler, "seed", 0)))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        pin_memory=pin_memory and _accelerator_available(),
        drop_last=drop_last,
        generator=generator,
        **extra,
    )


# --------------------------------------------------------------------------- class weights


def _class_counts(
    labels: Sequence[int], num_classes: int, class_names: Sequence[str] | None
) -> Tensor:
    if num_classes < 1:
        raise DatasetError(f"num_classes must be >= 1, got {num_classes}.")
    label_tensor = torch.as_tensor(list(labels), dtype=torch.int64)
    if label_tensor.numel() == 0:
        raise DatasetError("No labels given: the training split is empty; add training images.")
    bad = label_tensor[(label_tensor < 0) | (label_tensor >= num_classes)]
    if bad.numel():
        raise DatasetError(
            f"Labels {sorted(set(bad.tolist()))[:10]} are outside [0, {num_classes}); labels and "
            "the class list disagree — rescan the dataset."
        )
    counts = torch.bincount(label_tensor, minlength=num_classes)
    empty = (counts == 0).nonzero().flatten().tolist()
    if empty:
        names = [class_names[i] if class_names is not None else str(i) for i in empty]
        raise DatasetError(
            f"Class(es) {names} have no training samples, so balanced weights are undefined; "
            "add training images for them (is max_per_class or skip_corrupt_images removing "
            "them?) or turn off class balancing."
        )
    return counts


def balanced_class_weights(
    labels: Sequence[int], num_classes: int, *, class_names: Sequence[str] | None = None
) -> Tensor:
    """Per-class loss weights ``n / (C * count_c)`` (float32): 1.0 for every class when balanced."""
    counts = _class_counts(labels, num_classes, class_names)
    total = int(counts.sum())
    return (total / (num_classes * counts.to(torch.float64))).to(torch.float32)


def balanced_sample_weights(
    labels: Sequence[int], num_classes: int, *, class_names: Sequence[str] | None = None
) -> list[float]:
    """Per-sample weights ``1 / count(label)``, for :class:`EpochSampler` balanced sampling.

    Every class then carries the same total weight, so draws are class-balanced in expectation.
    """
    counts = _class_counts(labels, num_classes, class_names)
    inverse = (1.0 / counts.to(torch.float64)).tolist()
    return [inverse[label] for label in labels]
