"""Tests for visionyard.training.loaders: the DataLoader options, workers and mid-epoch resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from tests.training.imagefiles import AUGMENT, make_split, noise, save

from visionyard.training.image_dataset import ImageFolderDataset
from visionyard.training.loaders import build_loader, collate_images
from visionyard.training.samplers import EpochSampler


def collect(loader: torch.utils.data.DataLoader, sampler: EpochSampler, epochs: int) -> list:
    batches = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        batches.extend((images.clone(), labels.clone()) for images, labels in loader)
    return batches


def test_build_loader_single_process_accepts_worker_options(tmp_path: Path) -> None:
    dataset = ImageFolderDataset(tmp_path, make_split(tmp_path, 5))
    sampler = EpochSampler(len(dataset), shuffle=False)
    loader = build_loader(
        dataset,
        sampler,
        batch_size=2,
        num_workers=0,
        prefetch_factor=2,
        persistent_workers=True,
        pin_memory=True,  # pin_memory is a no-op here, without a warning
    )
    before = torch.get_rng_state()
    batches = list(loader)
    assert torch.equal(torch.get_rng_state(), before)  # no base-seed draw from the global RNG
    assert [b[0].shape for b in batches] == [(2, 3, 16, 16), (2, 3, 16, 16), (1, 3, 16, 16)]
    assert batches[0][0].dtype == torch.uint8
    assert batches[0][1].dtype == torch.int64
    assert torch.cat([b[1] for b in batches]).tolist() == [0, 1, 0, 1, 0]

    dropped = build_loader(
        dataset,
        sampler,
        batch_size=2,
        num_workers=0,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory=False,
        drop_last=True,
    )
    assert len(list(dropped)) == 2


def test_collate_stacks_samples_of_any_layout_into_a_channels_last_batch() -> None:
    g = torch.Generator().manual_seed(0)
    resized = torch.randint(0, 256, (4, 5, 3), dtype=torch.uint8, generator=g).permute(2, 0, 1)
    contiguous = torch.randint(0, 256, (3, 4, 5), dtype=torch.uint8, generator=g)
    # A centre crop of a channels-last decode: a strided view into a larger image.
    decoded = torch.randint(0, 256, (9, 8, 3), dtype=torch.uint8, generator=g).permute(2, 0, 1)
    cropped = decoded[:, 2:6, 1:6]
    images, labels = collate_images([(resized, 1), (contiguous, 0), (cropped, 2)])
    assert images.shape == (3, 3, 4, 5)
    assert images.dtype == torch.uint8
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(images, torch.stack([resized, contiguous, cropped]))
    assert labels.dtype == torch.int64
    assert labels.tolist() == [1, 0, 2]
    # The first sample decides: a centre crop of a channels-last image is in HWC order too;
    # CHW samples (the resize of a crop view) give an NCHW batch.
    images, _ = collate_images([(cropped, 2), (resized, 1)])
    assert images.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(images, torch.stack([cropped, resized]))
    images, _ = collate_images([(contiguous, 0), (resized, 1), (cropped, 2)])
    assert images.is_contiguous()
    assert torch.equal(images, torch.stack([contiguous, resized, cropped]))


def two_shuffled_epochs(dataset: ImageFolderDataset, num_workers: int) -> list:
    """The batches of 3 of two epochs in a seeded shuffled order, from a loader of its own."""
    sampler = EpochSampler(len(dataset), shuffle=True, seed=4)
    loader = build_loader(
        dataset,
        sampler,
        batch_size=3,
        num_workers=num_workers,
        prefetch_factor=2,
        persistent_workers=True,
        pin_memory=False,
    )
    return collect(loader, sampler, epochs=2)


def test_workers_give_the_same_batches_as_the_main_process(tmp_path: Path) -> None:
    samples = make_split(tmp_path, 10)
    single, multi = (
        two_shuffled_epochs(
            ImageFolderDataset(tmp_path, samples, AUGMENT, seed=1, cache_decoded=True), workers
        )
        for workers in (0, 2)
    )
    assert len(single) == len(multi) == 8
    for (xs, ys), (xm, ym) in zip(single, multi, strict=True):
        # A worker's batch crosses to the main process in the collate's layout.
        assert xm.stride() == xs.stride()
        assert torch.equal(xs, xm)
        assert torch.equal(ys, ym)
    assert not torch.equal(single[0][0], single[4][0][:3])  # epoch 2 is augmented differently


def test_mid_epoch_resume_through_the_loader(tmp_path: Path) -> None:
    samples = make_split(tmp_path, 9)
    dataset = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=2)
    sampler = EpochSampler(len(dataset), shuffle=True, seed=6)
    loader = build_loader(
        dataset,
        sampler,
        batch_size=2,
        num_workers=0,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory=False,
    )
    sampler.set_epoch(3)
    full = torch.cat([x for x, _ in loader])
    sampler.set_epoch(3, start=4)  # two batches of two were consumed before the interruption
    tail = torch.cat([x for x, _ in loader])
    assert torch.equal(tail, full[4:])


class _ThreadCount(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        # An (image, label) pair like the image datasets', the label being the thread count.
        return torch.zeros((3, 1, 1), dtype=torch.uint8), torch.get_num_threads()


def test_workers_run_single_threaded() -> None:
    sampler = EpochSampler(4, shuffle=False)
    loader = build_loader(
        _ThreadCount(),
        sampler,
        batch_size=2,
        num_workers=2,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory=False,
    )
    assert torch.cat([labels for _, labels in loader]).tolist() == [1, 1, 1, 1]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_pin_memory_pins_batches_on_cuda_machines(tmp_path: Path) -> None:
    dataset = ImageFolderDataset(tmp_path, make_split(tmp_path, 4))
    loader = build_loader(
        dataset,
        EpochSampler(4, shuffle=False),
        batch_size=2,
        num_workers=2,
        prefetch_factor=2,
        persistent_workers=False,
        pin_memory=True,
    )
    images, labels = next(iter(loader))
    assert images.is_pinned()
    assert labels.is_pinned()


def test_workers_decode_jpeg_crops_as_the_main_process_decodes_whole_files(
    tmp_path: Path,
) -> None:
    # Partial JPEG decoding in worker processes (each imports the extension) gives the batches
    # the main process gets by decoding whole files.
    samples = [
        save(tmp_path, f"train/c{i % 2}/{i:03d}.jpg", Image.fromarray(noise(40, 52, 3, i)))
        for i in range(10)
    ]
    whole, partial = (
        two_shuffled_epochs(
            ImageFolderDataset(tmp_path, samples, AUGMENT, seed=1, partial_decode=partial), workers
        )
        for workers, partial in ((0, False), (2, True))
    )
    assert len(whole) == len(partial) == 8
    for (xw, yw), (xp, yp) in zip(whole, partial, strict=True):
        # The crops' channels-last batches survive the trip from the workers (shared memory).
        assert xp.is_contiguous(memory_format=torch.channels_last)
        assert torch.equal(xw, xp)
        assert torch.equal(yw, yp)
