"""Seeding, RNG capture/restore, env.json capture (no secrets) and config hashing."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from visionyard.errors import ConfigError
from visionyard.training.confighash import config_hash
from visionyard.training.repro import (
    capture_rng_state,
    environment_info,
    restore_rng_state,
    seed_everything,
)


def _draws() -> tuple[list[float], list[float], torch.Tensor, torch.Tensor]:
    return (
        [random.random() for _ in range(3)],
        np.random.rand(3).tolist(),
        torch.rand(5),
        torch.randn(2, 2),
    )


def _assert_same(a: tuple, b: tuple) -> None:  # type: ignore[type-arg]
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])


@pytest.fixture
def restore_determinism() -> Iterator[None]:
    """seed_everything(deterministic=True) flips process-wide switches: put them back."""
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    yield
    torch.use_deterministic_algorithms(saved[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[1], saved[2]
    if saved[3] is None:
        os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
    else:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = saved[3]


def test_seeding_twice_gives_identical_draws() -> None:
    seed_everything(1234)
    first = _draws()
    seed_everything(1234)
    second = _draws()
    _assert_same(first, second)
    seed_everything(1235)
    assert _draws()[0] != first[0]


@pytest.mark.usefixtures("restore_determinism")
def test_deterministic_mode_sets_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    seed_everything(7, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    seed_everything(7, deterministic=False)
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.deterministic


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, True, "3"])
def test_bad_seed_is_a_config_error(seed: object) -> None:
    with pytest.raises(ConfigError, match="seed must be an integer"):
        seed_everything(seed)  # type: ignore[arg-type]


def test_capture_draw_restore_draw_is_identical() -> None:
    seed_everything(99)
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    np.random.standard_normal()  # and in numpy's
    json_state, tensor_state = capture_rng_state()
    expected = _draws()
    _draws()  # move every stream on

    # Round-trip through the same serialisation a checkpoint uses.
    json_state = json.loads(json.dumps(json_state))
    buffer = io.BytesIO()
    torch.save(tensor_state, buffer)
    buffer.seek(0)
    tensor_state = torch.load(buffer, weights_only=True)

    restore_rng_state(json_state, tensor_state)
    _assert_same(expected, _draws())
    assert tensor_state["torch"].dtype == torch.uint8
    assert tensor_state["cuda"] == [] or torch.cuda.is_available()


def test_restore_rejects_malformed_state() -> None:
    from visionyard.errors import CheckpointError

    json_state, tensor_state = capture_rng_state()
    del json_state["numpy"]
    with pytest.raises(CheckpointError, match="RNG state is malformed"):
        restore_rng_state(json_state, tensor_state)


def test_environment_info_is_complete_json_and_secret_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "hf_TOPSECRETvalue0123456789"
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("VISIONYARD_API_KEY", secret + "2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setattr(
        sys, "argv", ["main.py", "--hf-token", secret + "3", "--api-key=" + secret + "4", "-v"]
    )

    info = environment_info(seed=42, devices=["cpu"])
    text = json.dumps(info)  # must be JSON-serialisable as is

    assert secret not in text
    assert "HF_TOKEN" not in info["env"] and "VISIONYARD_API_KEY" not in info["env"]
    assert info["env"]["HF_HUB_OFFLINE"] == "1" and info["env"]["OMP_NUM_THREADS"] == "2"
    assert info["argv"] == ["main.py", "--hf-token", "***", "--api-key=***", "-v"]
    assert info["seed"] == 42 and info["devices"] == ["cpu"]
    for package in ("torch", "torchvision", "transformers", "torchmetrics", "safetensors",
                    "numpy", "pillow", "visionyard"):  # fmt: skip
        assert info["versions"][package], package
    assert info["python"]["version"].startswith(f"{sys.version_info.major}.")
    assert info["cuda"]["available"] == torch.cuda.is_available()
    assert info["torch_num_threads"] == torch.get_num_threads()
    assert info["timestamp_utc"].endswith("Z")
    assert set(info["git"]) == {"cwd", "visionyard"}


def test_git_section_for_the_source_tree_and_a_plain_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not inside any git work tree
    info = environment_info(seed=0)
    assert info["git"]["cwd"] is None
    source = info["git"]["visionyard"]
    import visionyard

    if (Path(visionyard.__file__).resolve().parents[2] / ".git").exists():
        assert source is not None
        assert len(source["commit"] or "") == 40 or source["commit"] is None
        assert isinstance(source["dirty"], bool)


def test_missing_git_does_not_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no git executable anywhere on PATH
    info = environment_info(seed=0)
    assert info["git"] == {"cwd": None, "visionyard": None}


def test_config_hash_is_canonical() -> None:
    a = {"lr": 0.001, "batch_size": 32, "nested": {"b": [1, 2], "a": "ü"}}
    b = {"nested": {"a": "ü", "b": [1, 2]}, "batch_size": 32, "lr": 0.001}
    assert config_hash(a) == config_hash(b)
    canonical = '{"batch_size":32,"lr":0.001,"nested":{"a":"ü","b":[1,2]}}'
    assert config_hash(a) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert config_hash({**a, "lr": 0.002}) != config_hash(a)
    assert config_hash({"root": Path("/data/x")}) == config_hash({"root": "/data/x"})
    with pytest.raises(ConfigError, match="cannot be hashed"):
        config_hash({"obj": object()})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_rng_round_trip_and_gpu_info() -> None:
    seed_everything(5)
    torch.rand(1, device="cuda")  # initialise CUDA so its RNG state is captured
    json_state, tensor_state = capture_rng_state()
    assert len(tensor_state["cuda"]) == torch.cuda.device_count()
    expected = torch.rand(4, device="cuda")
    torch.rand(10, device="cuda")
    restore_rng_state(json_state, tensor_state)
    assert torch.equal(torch.rand(4, device="cuda"), expected)
    gpus = environment_info(seed=5, devices=["cuda:0"])["cuda"]["gpus"]
    assert gpus and gpus[0]["name"] and gpus[0]["total_memory_bytes"] > 0
