"""The DataLoaders of one run: :func:`build_loader`, and :class:`DataPipeline`, which wires the
dataset index, transforms, samplers, loaders and device prefetch into the batches the runner
iterates. Per-epoch, resumable, rank-aware.

Under torchrun (DDP) ``batch_size`` is per process: each rank loads ``batch_size`` images per
micro-batch from its own shard of the training order, so the global batch is ``world_size x
batch_size``. Training shards are padded to equal length (equal step counts on every rank);
val/test shards are not (every image counted once).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Literal, TypedDict

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from visionyard.training.balancing import balanced_class_weights, balanced_sample_weights
from visionyard.training.config import TrainConfig
from visionyard.training.dataset_index import DatasetIndex
from visionyard.training.distributed import DistContext
from visionyard.training.hostmem import keep_large_buffers_in_heap
from visionyard.training.image_dataset import ImageFolderDataset
from visionyard.training.prefetch import BatchPreprocessor, DevicePrefetcher
from visionyard.training.samplers import EpochSampler, EvalShardSampler
from visionyard.training.transforms import (
    build_eval_transform,
    build_train_transform,
    processor_spec,
)
from visionyard.training.workers import choose_num_workers

Batches = Iterator[tuple[Tensor, Tensor]]


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


def collate_images(samples: list[tuple[Tensor, int]]) -> tuple[Tensor, Tensor]:
    """``(uint8 CHW image, label)`` samples -> (uint8 NCHW-shaped batch, int64 labels).

    The batch takes the memory order of its first sample. A resize of a whole (or partially
    decoded) image leaves channels-last memory (torch's uint8 resize kernels write HWC), and a
    centre crop of it a view in that order; such samples are stacked as HWC into a
    channels-last batch, copying rows as they are, where making each sample contiguous first
    cost a transposing copy (~0.1 ms an image at 224 px, docs/benchmarks.md) that a
    channels-last model's batch then undid. Samples in CHW order (the resize of a crop view)
    give a contiguous batch as before. `BatchPreprocessor` converts either into the model's
    layout as it converts to float. In a worker process `default_collate` stacks into shared
    memory, so the batch crosses to the main process without another copy.
    """
    images = [image for image, _ in samples]
    labels = default_collate([label for _, label in samples])
    if images[0].stride(0) == 1:  # channels innermost: HWC memory
        hwc = default_collate([image.permute(1, 2, 0) for image in images])
        return hwc.permute(0, 3, 1, 2), labels
    return default_collate(images), labels


class LoaderOptions(TypedDict):
    """The DataLoader settings every loader of a run shares (`build_loader`'s keywords)."""

    num_workers: int
    prefetch_factor: int | None
    persistent_workers: bool
    pin_memory: bool


def build_loader(
    dataset: Dataset[tuple[Tensor, int]],
    sampler: Sampler[Any],
    *,
    batch_size: int,
    num_workers: int,
    prefetch_factor: int | None,
    persistent_workers: bool,
    pin_memory: bool,
    drop_last: bool = False,
) -> DataLoader[Any]:
    """A DataLoader over ``dataset`` in ``sampler`` order, batched by :func:`collate_images`.

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
        collate_fn=collate_images,
        generator=generator,
        **extra,
    )


class DataPipeline:
    def __init__(
        self,
        cfg: TrainConfig,
        index: DatasetIndex,
        processor: Any,
        *,
        device: torch.device,
        ctx: DistContext,
    ) -> None:
        self.index = index
        self.device = device
        if device.type == "cpu":
            # Batch-sized float tensors (the normalised batch, then the model's activations)
            # would otherwise be fresh, page-faulting mmap memory at every step.
            keep_large_buffers_in_heap()
        self.batch_size = cfg.batch_size
        spec = processor_spec(processor)
        train_tf = build_train_transform(
            spec, preset=cfg.train_preset, color_jitter=cfg.cpu_color_jitter
        )
        eval_tf = build_eval_transform(spec)
        root = index.root
        self.train_set = ImageFolderDataset(
            root,
            index.splits["train"],
            train_tf,
            seed=cfg.seed,
            cache_decoded=cfg.cache_images,
            scaled_decode=cfg.jpeg_scaled_decode,
        )
        weights = None
        if cfg.balanced_sampling:
            weights = balanced_sample_weights(self.train_set.labels, len(index.classes))
        self.train_sampler = EpochSampler(
            len(self.train_set),
            shuffle=True,
            seed=cfg.seed,
            rank=ctx.rank,
            world_size=ctx.world_size,
            weights=weights,
        )
        pin = cfg.pin_memory if cfg.pin_memory is not None else device.type == "cuda"
        self.workers = choose_num_workers(cfg.num_workers, device)
        loader_kwargs: LoaderOptions = {
            "num_workers": self.workers.count,
            "prefetch_factor": cfg.prefetch_factor,
            "persistent_workers": cfg.persistent_workers,
            "pin_memory": pin,
        }
        self.train_loader = build_loader(
            self.train_set, self.train_sampler, batch_size=cfg.batch_size, **loader_kwargs
        )
        self.eval_loaders: dict[Literal["val", "test"], DataLoader[Any]] = {}
        for split in ("val", "test"):
            if split not in index.splits:
                continue
            dataset = ImageFolderDataset(
                root, index.splits[split], eval_tf, seed=cfg.seed, cache_decoded=cfg.cache_images
            )
            # Unpadded shards: over all ranks each image is evaluated (and counted) exactly once.
            sampler = EvalShardSampler(len(dataset), rank=ctx.rank, world_size=ctx.world_size)
            self.eval_loaders[split] = build_loader(
                dataset, sampler, batch_size=cfg.batch_size, **loader_kwargs
            )
        self.train_preprocess = BatchPreprocessor(
            spec.mean,
            spec.std,
            device=device,
            channels_last=cfg.channels_last is True,
            gpu_aug=cfg.gpu_batch_aug,
            gpu_aug_flip=cfg.train_preset in ("standard", "strong"),
            seed=cfg.seed,
        )
        self.eval_preprocess = BatchPreprocessor(
            spec.mean, spec.std, device=device, channels_last=cfg.channels_last is True
        )
        self._epoch_len = len(self.train_sampler)

    @property
    def train_batches(self) -> int:
        """Micro-batches in one full epoch on this rank (the same on every rank)."""
        return math.ceil(self._epoch_len / self.batch_size)

    @property
    def has_test(self) -> bool:
        return "test" in self.eval_loaders

    def train_batches_from(self, epoch: int, start_batch: int) -> Batches:
        self.train_sampler.set_epoch(epoch, start=start_batch * self.batch_size)
        return iter(
            DevicePrefetcher(
                self.train_loader, device=self.device, preprocess=self.train_preprocess, train=True
            )
        )

    def _eval(self, split: Literal["val", "test"]) -> Batches:
        return iter(
            DevicePrefetcher(
                self.eval_loaders[split],
                device=self.device,
                preprocess=self.eval_preprocess,
                train=False,
            )
        )

    def val_batches(self) -> Batches:
        return self._eval("val")

    def test_batches(self) -> Batches:
        return self._eval("test")

    def balanced_class_weights(self) -> Tensor:
        return balanced_class_weights(self.train_set.labels, len(self.index.classes))

    def preprocess_state(self) -> dict[str, Any]:
        return self.train_preprocess.state_dict()

    def load_preprocess_state(self, state: dict[str, Any] | None) -> None:
        if state:
            self.train_preprocess.load_state_dict(state)


def build_pipeline(
    cfg: TrainConfig,
    index: DatasetIndex,
    processor: Any,
    *,
    device: torch.device,
    ctx: DistContext,
) -> DataPipeline:
    return DataPipeline(cfg, index, processor, device=device, ctx=ctx)
