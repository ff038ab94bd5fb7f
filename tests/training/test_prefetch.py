"""Batched device-side normalisation/augmentation and the prefetching iterator."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from visionyard.errors import ConfigError
from visionyard.training.prefetch import BatchPreprocessor, DevicePrefetcher

CPU = torch.device("cpu")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def _batch(n: int = 8, h: int = 6, w: int = 5, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)


def _reference(
    x: torch.Tensor, mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD
) -> torch.Tensor:
    m = torch.tensor(mean, dtype=torch.float64).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float64).view(1, 3, 1, 1)
    return (x.double() / 255 - m) / s


# --------------------------------------------------------------------------- BatchPreprocessor


def test_normalises_like_the_textbook_formula() -> None:
    x = _batch()
    out = BatchPreprocessor(MEAN, STD, device=CPU)(x, train=False)
    assert out.dtype == torch.float32
    assert out.shape == x.shape
    assert torch.allclose(out.double(), _reference(x), atol=1e-5)


def test_normalising_leaves_the_input_batch_alone() -> None:
    # The multiply-add runs in place on the float copy, never on the caller's batch.
    for x in (_batch(), _batch().contiguous(memory_format=torch.channels_last)):
        before = x.clone()
        for aug in (False, True):
            for channels_last in (False, True):
                pre = BatchPreprocessor(
                    MEAN, STD, device=CPU, gpu_aug=aug, channels_last=channels_last
                )
                pre(x, train=True)
        assert torch.equal(x, before)


@pytest.mark.parametrize("channels_last_out", [False, True], ids=["to-nchw", "to-cl"])
@pytest.mark.parametrize("channels_last_in", [False, True], ids=["from-nchw", "from-cl"])
@pytest.mark.parametrize("gpu_aug", [False, True], ids=["plain", "aug"])
def test_any_input_layout_gives_the_layout_asked_for(
    channels_last_in: bool, channels_last_out: bool, gpu_aug: bool
) -> None:
    # The loader's collate gives channels-last batches; callers may give NCHW ones. Either
    # way the result is the asked-for layout with the same numbers, and the per-row factors of
    # the channels-last path follow a change of width.
    pre = BatchPreprocessor(MEAN, STD, device=CPU, channels_last=channels_last_out)
    layout = torch.channels_last if channels_last_out else torch.contiguous_format
    for w in (5, 9, 5):
        x = _batch(n=4, h=7, w=w, seed=w)
        if channels_last_in:
            x = x.contiguous(memory_format=torch.channels_last)
        out = pre(x, train=gpu_aug)
        assert out.shape == x.shape
        assert out.is_contiguous(memory_format=layout)
        if not gpu_aug:
            assert torch.allclose(out.double(), _reference(x), atol=1e-5)
    if gpu_aug:  # the augmenting path from either layout: the same draws, the same batch
        x = _batch(n=4, h=7, w=5)
        outs = [
            BatchPreprocessor(MEAN, STD, device=CPU, gpu_aug=True, seed=3)(
                x.contiguous(memory_format=m), train=True
            )
            for m in (torch.contiguous_format, torch.channels_last)
        ]
        assert torch.equal(outs[0], outs[1])


def test_train_without_gpu_aug_is_plain_normalisation() -> None:
    x = _batch()
    pre = BatchPreprocessor(MEAN, STD, device=CPU)
    assert torch.equal(pre(x, train=True), pre(x, train=False))


def test_channels_last_and_dtype() -> None:
    x = _batch()
    out = BatchPreprocessor(MEAN, STD, device=CPU, channels_last=True, dtype=torch.bfloat16)(
        x, train=False
    )
    assert out.dtype == torch.bfloat16
    assert out.is_contiguous(memory_format=torch.channels_last)
    # computed in float32, cast once: within bf16 rounding of the exact value
    assert torch.allclose(out.double(), _reference(x), atol=2e-2)


def test_channels_last_with_gpu_aug() -> None:
    pre = BatchPreprocessor(MEAN, STD, device=CPU, channels_last=True, gpu_aug=True)
    assert pre(_batch(), train=True).is_contiguous(memory_format=torch.channels_last)


def test_eval_batches_are_never_augmented() -> None:
    x = _batch()
    plain = BatchPreprocessor(MEAN, STD, device=CPU)(x, train=False)
    augmenting = BatchPreprocessor(MEAN, STD, device=CPU, gpu_aug=True)
    assert torch.equal(augmenting(x, train=False), plain)


def test_flip_only_aug_flips_some_samples_and_keeps_others() -> None:
    x = _batch(n=64)
    plain = BatchPreprocessor(MEAN, STD, device=CPU)(x, train=False)
    pre = BatchPreprocessor(MEAN, STD, device=CPU, gpu_aug=True, brightness=0.0, contrast=0.0)
    out = pre(x, train=True)
    kept = [torch.allclose(out[i], plain[i], atol=1e-5) for i in range(64)]
    flipped = [torch.allclose(out[i], plain[i].flip(-1), atol=1e-5) for i in range(64)]
    assert all(k or f for k, f in zip(kept, flipped, strict=True))
    assert 10 < sum(flipped) < 54  # a fair per-sample coin, not all-or-nothing


def test_gpu_aug_flip_false_never_flips() -> None:
    x = _batch(n=32)
    plain = BatchPreprocessor(MEAN, STD, device=CPU)(x, train=False)
    pre = BatchPreprocessor(
        MEAN, STD, device=CPU, gpu_aug=True, gpu_aug_flip=False, brightness=0.0, contrast=0.0
    )
    assert torch.allclose(pre(x, train=True), plain, atol=1e-5)


def test_brightness_jitter_is_per_sample() -> None:
    # A mid-grey batch: brightness scales each sample by its own factor in [0.6, 1.4].
    x = torch.full((32, 3, 4, 4), 128, dtype=torch.uint8)
    pre = BatchPreprocessor(
        (0, 0, 0),
        (1, 1, 1),
        device=CPU,
        gpu_aug=True,
        gpu_aug_flip=False,
        brightness=0.4,
        contrast=0.0,
    )
    out = pre(x, train=True)
    per_sample = out.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))  # uniform within
    values = per_sample[:, 0]
    assert values.unique().numel() == 32  # but different across samples
    assert values.min() >= 128 / 255 * 0.6 - 1e-6
    assert values.max() <= 128 / 255 * 1.4 + 1e-6


def test_contrast_jitter_keeps_grey_mean_and_range() -> None:
    x = _batch(n=16, h=8, w=8)
    pre = BatchPreprocessor(
        (0, 0, 0),
        (1, 1, 1),
        device=CPU,
        gpu_aug=True,
        gpu_aug_flip=False,
        brightness=0.0,
        contrast=0.5,
    )
    out = pre(x, train=True)
    assert out.min() >= 0 and out.max() <= 1
    plain = x.float() / 255
    spread_ratio = out.flatten(1).std(dim=1) / plain.flatten(1).std(dim=1)
    assert (spread_ratio > 0.45).all() and (spread_ratio < 1.55).all()
    assert spread_ratio.unique().numel() == 16


def test_aug_rng_is_seeded_and_restorable() -> None:
    x = _batch(n=16)

    def make(seed: int) -> BatchPreprocessor:
        return BatchPreprocessor(MEAN, STD, device=CPU, gpu_aug=True, seed=seed)

    a, b = make(7), make(7)
    assert torch.equal(a(x, train=True), b(x, train=True))
    assert not torch.equal(make(8)(x, train=True), make(7)(x, train=True))

    state = a.state_dict()
    expected = a(x, train=True)
    restored = make(0)
    restored.load_state_dict(state)
    assert torch.equal(restored(x, train=True), expected)


def test_state_dict_survives_weights_only_torch_save(tmp_path: object) -> None:
    pre = BatchPreprocessor(MEAN, STD, device=CPU, gpu_aug=True, seed=3)
    path = f"{tmp_path}/pre.pt"
    torch.save(pre.state_dict(), path)
    other = BatchPreprocessor(MEAN, STD, device=CPU, gpu_aug=True, seed=4)
    other.load_state_dict(torch.load(path, weights_only=True))
    x = _batch()
    assert torch.equal(other(x, train=True), pre(x, train=True))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean": (0.5, 0.5), "std": STD}, "mean must be 3 numbers"),
        ({"mean": MEAN, "std": (0.2, 0.0, 0.2)}, "std values must all be > 0"),
        ({"mean": MEAN, "std": STD, "brightness": 1.5}, "brightness must be in"),
        ({"mean": MEAN, "std": STD, "dtype": torch.int32}, "floating point"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        BatchPreprocessor(device=CPU, **kwargs)


def test_rejects_non_uint8_batches() -> None:
    pre = BatchPreprocessor(MEAN, STD, device=CPU)
    with pytest.raises(TypeError, match="uint8 NCHW"):
        pre(torch.zeros(2, 3, 4, 4), train=False)


# --------------------------------------------------------------------------- DevicePrefetcher


def _loader(n: int = 10, batch_size: int = 4) -> DataLoader:
    images = _batch(n=n, seed=1)
    labels = torch.arange(n)
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=False)


def test_cpu_prefetcher_yields_normalised_batches_in_order() -> None:
    loader = _loader()
    pre = BatchPreprocessor(MEAN, STD, device=CPU)
    prefetcher = DevicePrefetcher(loader, device=CPU, preprocess=pre, train=False)
    assert len(prefetcher) == len(loader) == 3
    seen = list(prefetcher)
    assert [b[1].tolist() for b in seen] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for (images, _), (raw, _) in zip(seen, loader, strict=True):
        assert images.dtype == torch.float32
        assert torch.allclose(images.double(), _reference(raw), atol=1e-5)
    # re-iterable, like the loader itself (one pass per epoch)
    assert sum(1 for _ in prefetcher) == 3


def test_cpu_prefetcher_passes_train_flag() -> None:
    loader = _loader()
    pre = BatchPreprocessor(MEAN, STD, device=CPU, gpu_aug=True, seed=1)
    train = [b[0] for b in DevicePrefetcher(loader, device=CPU, preprocess=pre, train=True)]
    evals = [b[0] for b in DevicePrefetcher(loader, device=CPU, preprocess=pre, train=False)]
    assert any(not torch.equal(t, e) for t, e in zip(train, evals, strict=True))
    for images, (raw, _) in zip(evals, loader, strict=True):
        assert torch.allclose(images.double(), _reference(raw), atol=1e-5)


# --------------------------------------------------------------------------- CUDA


@pytest.mark.gpu
@requires_cuda
def test_cuda_prefetcher_matches_cpu() -> None:
    cuda = torch.device("cuda")
    images = _batch(n=37, h=16, w=16, seed=2)
    labels = torch.arange(37)
    loader = DataLoader(TensorDataset(images, labels), batch_size=8, pin_memory=True)
    pre = BatchPreprocessor(MEAN, STD, device=cuda, channels_last=True)
    prefetcher = DevicePrefetcher(loader, device=cuda, preprocess=pre, train=False)
    got = [(x.cpu(), y.cpu()) for x, y in prefetcher]
    assert len(got) == len(loader) == 5
    assert torch.equal(torch.cat([y for _, y in got]), labels)
    for x, _ in got:
        assert x.dtype == torch.float32
    assert torch.allclose(torch.cat([x for x, _ in got]).double(), _reference(images), atol=1e-5)


@pytest.mark.gpu
@requires_cuda
def test_cuda_aug_generator_state_round_trips() -> None:
    cuda = torch.device("cuda")
    x = _batch(n=16).to(cuda)
    a = BatchPreprocessor(MEAN, STD, device=cuda, gpu_aug=True, seed=5)
    state = a.state_dict()
    first = a(x, train=True)
    b = BatchPreprocessor(MEAN, STD, device=cuda, gpu_aug=True, seed=0)
    b.load_state_dict(state)
    assert torch.equal(b(x, train=True), first)
