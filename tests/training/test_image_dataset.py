"""Tests for visionyard.training.image_dataset: decode errors, indexing, seeded transforms,
partial JPEG decoding."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from tests.training.imagefiles import AUGMENT, make_split, noise, save
from torchvision.transforms import InterpolationMode, v2

from visionyard.errors import DatasetError
from visionyard.training import jpeg_crop
from visionyard.training.dataset_index import Sample
from visionyard.training.decoding import decode_rgb
from visionyard.training.image_dataset import ImageFolderDataset, sample_seed
from visionyard.training.imagefolder import scan_dataset
from visionyard.training.transforms import ProcessorSpec, build_train_transform


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


def test_augmented_photos_match_augmenting_the_contiguous_decode(tmp_path: Path) -> None:
    # The dataset decodes without the layout copy when a transform follows; the crops it
    # returns must be exactly those of the same seeded transform on the standard decode (in
    # whichever layout the resize wrote: the collate stacks them as they are).
    photos = [
        save(tmp_path, f"train/a/{i}.jpg", Image.fromarray(noise(75, 100, 3, i)), quality=90)
        for i in range(3)
    ]
    photos.append(save(tmp_path, "train/a/p.png", Image.fromarray(noise(75, 100, 3, 9))))
    augment = v2.Compose([v2.RandomResizedCrop(32, antialias=True), v2.RandomHorizontalFlip()])
    dataset = ImageFolderDataset(tmp_path, photos, augment, seed=3)
    for i, sample in enumerate(photos):
        for epoch in range(3):
            image, _ = dataset[(epoch, i)]
            assert image.shape == (3, 32, 32)
            torch.manual_seed(sample_seed(3, epoch, i))
            expected = augment(decode_rgb(tmp_path / sample.path))
            assert torch.equal(image, expected), (sample.path, epoch)


def test_truncated_jpeg_with_a_transform_still_names_the_file(tmp_path: Path) -> None:
    good = save(tmp_path, "train/a/x.jpg", Image.fromarray(noise(40, 40, 3)), quality=90)
    path = tmp_path / good.path
    path.write_bytes(path.read_bytes()[:200])
    dataset = ImageFolderDataset(tmp_path, [good], AUGMENT)
    with pytest.raises(DatasetError, match=r"Cannot decode image train/a/x\.jpg"):
        dataset[0]


def _mixed_photos(root: Path) -> list[Sample]:
    """JPEGs of every kind the partial decoder meets, and files it must leave to the full one."""
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise
    photo = Image.fromarray(noise(75, 100, 3, 1))
    return [
        save(root, "train/a/plain.jpg", photo, quality=90),
        save(root, "train/a/progressive.JPEG", photo, quality=90, progressive=True),
        save(root, "train/a/turned.jpg", photo, quality=90, exif=exif),
        save(root, "train/a/grey.jpg", photo.convert("L"), quality=90),
        save(root, "train/a/cmyk.jpg", photo.convert("CMYK"), quality=90),  # full decode
        save(root, "train/a/small.jpg", Image.fromarray(noise(20, 30, 3, 2)), quality=90),
        save(root, "train/a/lossless.png", photo),  # not a JPEG: full decode
    ]


@pytest.mark.skipif(
    not jpeg_crop.available(), reason="the partial JPEG decoder is not built (test_jpeg_crop.py)"
)
@pytest.mark.parametrize("preset", ["light", "standard", "strong"])
def test_partial_decoding_gives_the_samples_of_the_full_decode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: str
) -> None:
    photos = _mixed_photos(tmp_path)
    spec = ProcessorSpec(
        height=24,
        width=32,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        resize=None,
        center_crop=(24, 32),
        interpolation=InterpolationMode.BICUBIC,  # the crop's own filter, as the model asks
    )
    augment = build_train_transform(spec, preset=preset, color_jitter=0.3)
    partial = ImageFolderDataset(tmp_path, photos, augment, seed=5)
    full = ImageFolderDataset(tmp_path, photos, augment, seed=5, partial_decode=False)
    decoded_parts = []
    real_decode_crop = jpeg_crop.decode_crop

    def counting_decode_crop(*args: object, **kwargs: object) -> torch.Tensor:
        decoded_parts.append(args[1])
        return real_decode_crop(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jpeg_crop, "decode_crop", counting_decode_crop)
    before = torch.random.get_rng_state()
    for epoch in range(4):
        for i, sample in enumerate(photos):
            image, label = partial[(epoch, i)]
            expected, _ = full[(epoch, i)]
            assert torch.equal(image, expected), (sample.path, epoch)
    assert torch.equal(torch.random.get_rng_state(), before)
    # Every JPEG it can crop went the partial way, each epoch; CMYK and PNG did not.
    assert len(decoded_parts) == 4 * 5


def test_partial_decoding_is_off_with_the_decoded_cache_or_without_a_random_crop(
    tmp_path: Path,
) -> None:
    photos = _mixed_photos(tmp_path)[:1]
    assert not ImageFolderDataset(tmp_path, photos, AUGMENT, cache_decoded=True).partial_decode
    centre = v2.Compose([v2.Resize(8, antialias=True), v2.CenterCrop(8)])
    dataset = ImageFolderDataset(tmp_path, photos, centre)
    assert dataset._crop_first is None
    assert torch.equal(dataset[0][0], centre(decode_rgb(tmp_path / photos[0].path)))


def test_the_log_says_how_jpegs_are_decoded(tmp_path: Path) -> None:
    photos = _mixed_photos(tmp_path)
    pngs = [p for p in photos if p.path.endswith(".png")]
    assert ImageFolderDataset(tmp_path, pngs, AUGMENT).jpeg_decoding() is None  # no JPEGs
    cached = ImageFolderDataset(tmp_path, photos, AUGMENT, cache_decoded=True)
    assert cached.jpeg_decoding() == "whole files, once (cache_images keeps them decoded)"
    off = ImageFolderDataset(tmp_path, photos, AUGMENT, partial_decode=False)
    assert off.jpeg_decoding() == "whole files (partial decoding is off)"
    if not jpeg_crop.available():
        built = ImageFolderDataset(tmp_path, photos, AUGMENT).jpeg_decoding()
        assert built is not None and "apt-get install libjpeg-dev" in built
        return
    resize = v2.Compose([v2.Resize(8, antialias=True)])
    assert ImageFolderDataset(tmp_path, photos, resize).jpeg_decoding() == (
        "whole files (the transform does not start with a random crop)"
    )
    assert ImageFolderDataset(tmp_path, photos, AUGMENT).jpeg_decoding() == (
        "only each sample's random crop (partial decoding)"
    )


def _gradient_photo(height: int, width: int, seed: int) -> Image.Image:
    """Smooth colour gradients under fine grain: what a reduced decode must keep."""
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    base = torch.stack([x / width, y / height, (x + y) / (width + height)], dim=-1)
    grain = torch.from_numpy(noise(height, width, 3, seed)).float() / 255
    return Image.fromarray(((0.8 * base + 0.2 * grain) * 255).to(torch.uint8).numpy())


@pytest.mark.skipif(
    not jpeg_crop.available(), reason="the partial JPEG decoder is not built (test_jpeg_crop.py)"
)
def test_scaled_decoding_is_close_to_the_full_decode_and_reduces_large_crops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    photos = [
        save(tmp_path, f"train/a/{i}.jpg", _gradient_photo(450, 600, i), quality=90)
        for i in range(4)
    ]
    augment = v2.Compose(
        [v2.RandomResizedCrop(32, scale=(0.2, 1.0), antialias=True), v2.RandomHorizontalFlip()]
    )
    scaled = ImageFolderDataset(tmp_path, photos, augment, seed=2, scaled_decode=True)
    full = ImageFolderDataset(tmp_path, photos, augment, seed=2, partial_decode=False)
    assert "jpeg_scaled_decode" in (scaled.jpeg_decoding() or "")
    reductions = []
    real_decode_crop = jpeg_crop.decode_crop

    def recording_decode_crop(*args: object, **kwargs: object) -> torch.Tensor:
        reductions.append(kwargs["reduce"])
        return real_decode_crop(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jpeg_crop, "decode_crop", recording_decode_crop)
    before = torch.random.get_rng_state()
    for epoch in range(3):
        for i in range(len(photos)):
            image, _ = scaled[(epoch, i)]
            expected, _ = full[(epoch, i)]
            assert image.shape == expected.shape == (3, 32, 32)
            assert torch.equal(image, scaled[(epoch, i)][0])  # deterministic per sample
            # The same crop (the same random draws), through a reduced decode: close to the
            # full-size pixels, not equal to them.
            error = (image.float() - expected.float()).abs()
            assert error.mean() < 3.0 and error.max() <= 16, (epoch, i, error.mean(), error.max())
    assert torch.equal(torch.random.get_rng_state(), before)
    # Crops of 0.2-1 of a 600x450 photo are 200-450 px tall, many of 8x the 32-px output.
    assert len(reductions) == 12 * 2  # each sample decoded twice above
    assert set(reductions) <= {2, 4, 8} and 8 in reductions
