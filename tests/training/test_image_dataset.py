"""Tests for training.image_dataset: decoding, seeded transforms, sampler, loader, weights."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision.transforms import v2

from visionyard.errors import DatasetError
from visionyard.training.image_dataset import (
    EpochSampler,
    ImageFolderDataset,
    balanced_class_weights,
    balanced_sample_weights,
    build_loader,
    decode_rgb,
    sample_seed,
)
from visionyard.training.imagefolder import Sample, scan_dataset


def noise(h: int, w: int, channels: int, seed: int = 0) -> np.ndarray:
    shape = (h, w) if channels == 1 else (h, w, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def save(root: Path, rel: str, image: Image.Image, **kwargs: object) -> Sample:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return Sample(path=rel, label=0, size=path.stat().st_size)


def make_split(root: Path, n: int, size: int = 16, num_classes: int = 2) -> list[Sample]:
    samples = []
    for i in range(n):
        rel = f"train/c{i % num_classes}/{i:03d}.png"
        sample = save(root, rel, Image.fromarray(noise(size, size, 3, i)))
        samples.append(Sample(sample.path, i % num_classes, sample.size))
    return samples


AUGMENT = v2.Compose([v2.RandomResizedCrop(8, antialias=True), v2.RandomHorizontalFlip()])


# --------------------------------------------------------------------------- decoding


def test_grayscale_rgba_palette_and_pil_formats_become_rgb_uint8_chw(tmp_path: Path) -> None:
    gray = noise(8, 6, 1, 1)
    rgba = noise(8, 6, 4, 2)
    rgb = noise(8, 6, 3, 3)
    palette = Image.fromarray(rgb).convert("P")
    palette.info["transparency"] = 0  # palette transparency: PIL warns if converted naively
    samples = [
        save(tmp_path, "gray.png", Image.fromarray(gray)),
        save(tmp_path, "rgba.png", Image.fromarray(rgba)),
        save(tmp_path, "palette.png", palette, transparency=0),
        save(tmp_path, "rgb.bmp", Image.fromarray(rgb)),  # PIL path
        save(tmp_path, "gray.tiff", Image.fromarray(gray)),  # PIL path
        save(tmp_path, "rgba.webp", Image.fromarray(rgba), lossless=True),
        save(tmp_path, "rgb.gif", Image.fromarray(rgb)),
        save(tmp_path, "rgb.jpg", Image.fromarray(rgb), quality=95),
    ]
    dataset = ImageFolderDataset(tmp_path, samples)
    images = {s.path: dataset[i][0] for i, s in enumerate(samples)}
    for path, image in images.items():
        assert image.dtype == torch.uint8, path
        assert image.shape == (3, 8, 6), path
        assert image.is_contiguous(), path

    gray_rgb = torch.from_numpy(gray).expand(3, 8, 6)
    assert torch.equal(images["gray.png"], gray_rgb)
    assert torch.equal(images["gray.tiff"], gray_rgb)
    assert torch.equal(images["rgba.png"], torch.from_numpy(rgba[:, :, :3]).permute(2, 0, 1))
    assert torch.equal(images["rgba.webp"], torch.from_numpy(rgba[:, :, :3]).permute(2, 0, 1))
    assert torch.equal(images["rgb.bmp"], torch.from_numpy(rgb).permute(2, 0, 1))
    palette_rgb = np.array(palette.convert("RGBA"))[:, :, :3]
    expected_palette = torch.from_numpy(palette_rgb).permute(2, 0, 1)
    assert torch.equal(images["palette.png"], expected_palette)


def test_sixteen_bit_png_keeps_high_byte(tmp_path: Path) -> None:
    values = np.array([[0, 255, 256, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    image = decode_rgb(path)
    assert image.dtype == torch.uint8
    assert image.shape == (3, 1, 4)
    assert image[0].tolist() == [[0, 0, 1, 255]]


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.fromarray(np.full((4, 4, 3), v, dtype=np.uint8)) for v in (40, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    image = decode_rgb(path)
    assert image.shape == (3, 4, 4)
    assert int(image.float().mean()) in range(35, 46)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = noise(4, 6, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    path = tmp_path / "rot.png"
    Image.fromarray(pixels).save(path, exif=exif)
    assert decode_rgb(path).shape == (3, 6, 4)


def test_decode_error_names_the_relative_path(tmp_path: Path) -> None:
    (tmp_path / "train" / "a").mkdir(parents=True)
    for name in ("broken.png", "broken.bmp"):
        (tmp_path / "train" / "a" / name).write_bytes(b"not an image at all")
    samples = [Sample("train/a/broken.png", 0, 19), Sample("train/a/broken.bmp", 0, 19)]
    dataset = ImageFolderDataset(tmp_path, samples)
    for i, sample in enumerate(samples):
        with pytest.raises(DatasetError) as info:
            dataset[i]
        message = str(info.value)
        assert f"Cannot decode image {sample.path}" in message
        assert "UnidentifiedImageError" in message
    missing = ImageFolderDataset(tmp_path, [Sample("train/a/gone.jpg", 0, 1)])
    with pytest.raises(DatasetError, match=r"train/a/gone\.jpg.*FileNotFoundError"):
        missing[0]


def test_index_out_of_range(tmp_path: Path) -> None:
    dataset = ImageFolderDataset(tmp_path, make_split(tmp_path, 2))
    with pytest.raises(IndexError):
        dataset[2]
    with pytest.raises(IndexError):
        dataset[(0, -1)]


def test_works_on_scanned_index(tmp_path: Path) -> None:
    make_split(tmp_path, 4)
    for i in range(2):
        save(tmp_path, f"val/c{i}/v.png", Image.fromarray(noise(16, 16, 3, 99)))
    index = scan_dataset(tmp_path)
    dataset = ImageFolderDataset(index.root, index.splits["train"])
    assert dataset.labels == [0, 0, 1, 1]
    image, label = dataset[3]
    assert label == 1
    assert image.shape == (3, 16, 16)


# --------------------------------------------------------------------------- seeded transforms


def test_seeded_transform_is_reproducible_and_leaves_global_rng_alone(tmp_path: Path) -> None:
    samples = make_split(tmp_path, 4)
    first = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=7)
    second = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=7)

    torch.manual_seed(123)
    before = torch.get_rng_state()
    out = first[(3, 2)][0]
    assert torch.equal(torch.get_rng_state(), before)

    torch.manual_seed(999)  # a different global stream does not matter
    assert torch.equal(second[(3, 2)][0], out)
    assert out.shape == (3, 8, 8)
    assert torch.equal(first[1][0], first[(0, 1)][0])  # a plain int key means epoch 0

    # Different epochs (and seeds) give different augmentations of the same image.
    per_epoch = [first[(e, 2)][0] for e in range(6)]
    assert sum(not torch.equal(per_epoch[0], other) for other in per_epoch[1:]) >= 4
    other_seed = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=8)
    assert any(not torch.equal(other_seed[(e, 2)][0], per_epoch[e]) for e in range(6))


def test_sample_seed_separates_keys() -> None:
    seeds = {sample_seed(s, e, i) for s in range(3) for e in range(20) for i in range(200)}
    assert len(seeds) == 3 * 20 * 200
    assert all(0 <= s < 2**64 for s in seeds)
    assert sample_seed(1, 2, 3) == sample_seed(1, 2, 3)


def test_cache_decoded_skips_disk_and_survives_in_place_transforms(tmp_path: Path) -> None:
    samples = make_split(tmp_path, 2)

    def in_place(image: torch.Tensor) -> torch.Tensor:
        return image.zero_()

    cached = ImageFolderDataset(tmp_path, samples, in_place, cache_decoded=True)
    plain = ImageFolderDataset(tmp_path, samples)
    expected = plain[0][0]
    assert cached[0][0].sum() == 0
    (tmp_path / samples[0].path).unlink()  # served from memory now
    cached.transform = None
    assert torch.equal(cached[0][0], expected)
    with pytest.raises(DatasetError):
        plain[0]


# --------------------------------------------------------------------------- sampler


def test_sampler_is_deterministic_and_independent_of_global_rng() -> None:
    a = EpochSampler(50, shuffle=True, seed=3)
    torch.manual_seed(0)
    first = list(a)
    torch.manual_seed(1)
    assert list(EpochSampler(50, shuffle=True, seed=3)) == first
    assert all(epoch == 0 for epoch, _ in first)
    assert sorted(i for _, i in first) == list(range(50))
    assert [i for _, i in first] != list(range(50))

    a.set_epoch(1)
    second = list(a)
    assert all(epoch == 1 for epoch, _ in second)
    assert [i for _, i in second] != [i for _, i in first]

    assert [i for _, i in EpochSampler(5, shuffle=False)] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("n", [10, 11])
def test_sharding_two_ranks(n: int) -> None:
    ranks = [EpochSampler(n, shuffle=True, seed=5, rank=r, world_size=2) for r in range(2)]
    parts = [[i for _, i in s] for s in ranks]
    assert len(parts[0]) == len(parts[1]) == len(ranks[0]) == -(-n // 2)
    if n % 2 == 0:
        assert sorted(parts[0] + parts[1]) == list(range(n))  # each index exactly once
    else:
        assert set(parts[0] + parts[1]) == set(range(n))  # padded by one repeated index
        assert len(parts[0] + parts[1]) == n + 1


def test_sharding_drop_last_trims() -> None:
    ranks = [
        EpochSampler(11, shuffle=True, seed=5, rank=r, world_size=3, drop_last=True)
        for r in range(3)
    ]
    parts = [[i for _, i in s] for s in ranks]
    assert [len(p) for p in parts] == [3, 3, 3]
    flat = [i for p in parts for i in p]
    assert len(set(flat)) == 9


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    world_size=st.integers(1, 4),
    data=st.data(),
    shuffle=st.booleans(),
    weighted=st.booleans(),
    drop_last=st.booleans(),
    epoch=st.integers(0, 5),
)
def test_resume_yields_the_tail_of_the_full_epoch(
    n: int,
    world_size: int,
    data: st.DataObject,
    shuffle: bool,
    weighted: bool,
    drop_last: bool,
    epoch: int,
) -> None:
    rank = data.draw(st.integers(0, world_size - 1))
    weights = [float(i % 3 + 1) for i in range(n)] if weighted else None

    def make() -> EpochSampler:
        return EpochSampler(
            n,
            shuffle=shuffle,
            seed=11,
            rank=rank,
            world_size=world_size,
            weights=weights,
            drop_last=drop_last,
        )

    full = make()
    full.set_epoch(epoch)
    items = list(full)
    assert len(items) == len(full)
    start = data.draw(st.integers(0, len(items)))
    resumed = make()
    resumed.set_epoch(epoch, start=start)
    assert list(resumed) == items[start:]
    assert len(resumed) == len(items) - start


def test_set_epoch_rejects_start_past_the_end() -> None:
    sampler = EpochSampler(10, shuffle=False, world_size=2)
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        sampler.set_epoch(0, start=6)


def test_balanced_weights_draw_minority_much_more_often() -> None:
    labels = [0] * 95 + [1] * 5
    weights = balanced_sample_weights(labels, 2)
    assert weights[0] == pytest.approx(1 / 95)
    assert weights[-1] == pytest.approx(1 / 5)
    draws = Counter()
    sampler = EpochSampler(len(labels), shuffle=True, seed=0, weights=weights)
    for epoch in range(10):
        sampler.set_epoch(epoch)
        draws.update(labels[i] for _, i in sampler)
    share = draws[1] / sum(draws.values())
    assert 0.4 < share < 0.6  # 5% of the data, about half of the draws


def test_balanced_class_weights() -> None:
    weights = balanced_class_weights([0] * 90 + [1] * 10, 2)
    assert weights.dtype == torch.float32
    assert weights.tolist() == pytest.approx([100 / 180, 100 / 20])
    assert balanced_class_weights([0, 1, 2], 3).tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_class_weights_reject_empty_class_and_bad_labels() -> None:
    with pytest.raises(DatasetError, match=r"\['cat'\] have no training samples"):
        balanced_class_weights([0, 0, 2], 3, class_names=["ant", "cat", "dog"])
    with pytest.raises(DatasetError, match=r"\['1'\] have no training samples"):
        balanced_sample_weights([0, 2], 3)
    with pytest.raises(DatasetError, match=r"outside \[0, 2\)"):
        balanced_class_weights([0, 1, 2], 2)


# --------------------------------------------------------------------------- loader


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


def test_workers_give_the_same_batches_as_the_main_process(tmp_path: Path) -> None:
    samples = make_split(tmp_path, 10)
    results = []
    for num_workers in (0, 2):
        dataset = ImageFolderDataset(tmp_path, samples, AUGMENT, seed=1, cache_decoded=True)
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
        results.append(collect(loader, sampler, epochs=2))
    single, multi = results
    assert len(single) == len(multi) == 8
    for (xs, ys), (xm, ym) in zip(single, multi, strict=True):
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

    def __getitem__(self, key: tuple[int, int]) -> int:
        return torch.get_num_threads()


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
    assert torch.cat(list(loader)).tolist() == [1, 1, 1, 1]


def test_sampler_validates_arguments() -> None:
    with pytest.raises(ValueError, match="rank"):
        EpochSampler(10, shuffle=True, rank=2, world_size=2)
    with pytest.raises(ValueError, match="3 weights for 4 samples"):
        EpochSampler(4, shuffle=True, weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="not all zero"):
        EpochSampler(2, shuffle=True, weights=[0.0, 0.0])


def test_png_bytes_roundtrip_matches_pil(tmp_path: Path) -> None:
    # torchvision's decoder (PNG path) and PIL agree exactly on lossless data.
    pixels = noise(5, 7, 3, 42)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    (tmp_path / "x.png").write_bytes(buf.getvalue())
    (tmp_path / "x.bmp").write_bytes(b"")
    Image.fromarray(pixels).save(tmp_path / "x.bmp")
    assert torch.equal(decode_rgb(tmp_path / "x.png"), decode_rgb(tmp_path / "x.bmp"))


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
