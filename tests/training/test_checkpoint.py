"""Checkpoints: round trip, manifest validation, torn checkpoints (R11), pickle refusal (S7)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from visionyard.errors import CheckpointError
from visionyard.training.checkpoint import (
    MANIFEST_FILE,
    STATE_FILE,
    TRAINING_STATE_FILE,
    WEIGHTS_FILE,
    copy_checkpoint,
    find_resumable,
    load_checkpoint,
    save_checkpoint,
    validate_checkpoint,
)
from visionyard.training.repro import capture_rng_state, restore_rng_state


class TiedNet(nn.Module):
    """Tiny model whose output layer shares the embedding weight (a tied tensor)."""

    def __init__(self, vocab: int = 11, dim: int = 6) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.hidden = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.embed.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(self.embed(idx))))


def _train_a_bit(seed: int = 0, steps: int = 3) -> tuple[TiedNet, Any, Any, Any]:
    torch.manual_seed(seed)
    model = TiedNet()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.5, total_iters=10)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    for _ in range(steps):
        idx = torch.randint(0, 11, (8,))
        loss = nn.functional.cross_entropy(model(idx), idx)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
        opt.zero_grad()
    return model, opt, sched, scaler


def _save(ckpt_dir: Path, name: str, model: nn.Module, step: int, **extra_state: Any) -> Path:
    return save_checkpoint(
        ckpt_dir,
        name,
        model=model,
        training_state={"extra": torch.arange(3)},
        state={"epoch": step // 10, "step": step, **extra_state},
    )


def _rewrite_manifest(path: Path) -> None:
    """Recompute the manifest after tampering, as an attacker with write access could."""
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    for item in manifest["files"]:
        data = (path / item["file"]).read_bytes()
        item["size"] = len(data)
        item["sha256"] = hashlib.sha256(data).hexdigest()
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))


def _assert_nested_equal(a: Any, b: Any) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor)
        assert a.dtype == b.dtype
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert set(a) == set(b)
        for key in a:
            _assert_nested_equal(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_nested_equal(x, y)
    else:
        assert a == b


def test_round_trip_restores_weights_optimizer_scheduler_scaler_and_rng(tmp_path: Path) -> None:
    model, opt, sched, scaler = _train_a_bit()
    json_rng, tensor_rng = capture_rng_state()
    path = save_checkpoint(
        tmp_path,
        "last",
        model=model,
        training_state={
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "scaler": scaler.state_dict(),
            "rng": tensor_rng,
        },
        state={"epoch": 1, "step": 3, "samples_seen_in_epoch": 24, "rng": json_rng},
    )
    expected = (random.random(), np.random.rand(3).tolist(), torch.rand(4))

    # Fresh objects with other weights and a different RNG position.
    random.random(), np.random.rand(5), torch.rand(9)
    fresh_model, fresh_opt, fresh_sched, fresh_scaler = _train_a_bit(seed=123, steps=1)
    ckpt = load_checkpoint(path, model=fresh_model)
    fresh_opt.load_state_dict(ckpt.training_state["optimizer"])
    fresh_sched.load_state_dict(ckpt.training_state["scheduler"])
    fresh_scaler.load_state_dict(ckpt.training_state["scaler"])
    restore_rng_state(ckpt.state["rng"], ckpt.training_state["rng"])

    restored = fresh_model.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, restored[name]), name
    assert fresh_model.out.weight is fresh_model.embed.weight  # still tied after loading
    _assert_nested_equal(opt.state_dict(), fresh_opt.state_dict())
    assert fresh_opt.state_dict()["state"][0]["step"] == 3  # AdamW really took steps
    assert fresh_sched.get_last_lr() == sched.get_last_lr()
    assert fresh_scaler.get_scale() == scaler.get_scale()
    assert ckpt.state["step"] == 3 and ckpt.state["samples_seen_in_epoch"] == 24
    got = (random.random(), np.random.rand(3).tolist(), torch.rand(4))
    assert got[0] == expected[0] and got[1] == expected[1]
    assert torch.equal(got[2], expected[2])


def test_checkpoint_layout_and_manifest(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    path = _save(tmp_path, "last", model, 7, monitor="val/accuracy", config_hash="abc")
    assert path == tmp_path / "last"
    assert sorted(p.name for p in path.iterdir()) == sorted(
        [WEIGHTS_FILE, TRAINING_STATE_FILE, STATE_FILE, MANIFEST_FILE]
    )
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    assert manifest["format_version"] == 1
    for item in manifest["files"]:
        data = (path / item["file"]).read_bytes()
        assert item["size"] == len(data)
        assert item["sha256"] == hashlib.sha256(data).hexdigest()
    state = json.loads((path / STATE_FILE).read_text())
    assert state["step"] == 7 and state["config_hash"] == "abc" and state["saved_at"].endswith("Z")
    assert validate_checkpoint(path) is None
    assert [p.name for p in tmp_path.iterdir()] == ["last"]  # no temp dirs left behind


def test_tiny_hf_vit_round_trip(tmp_path: Path) -> None:
    from transformers import ViTConfig, ViTForImageClassification

    cfg = ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64, num_labels=3,
    )  # fmt: skip
    torch.manual_seed(0)
    model = ViTForImageClassification(cfg).eval()
    path = _save(tmp_path, "best", model, 5)
    torch.manual_seed(1)
    other = ViTForImageClassification(cfg).eval()
    load_checkpoint(path, model=other)
    pixels = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(pixel_values=pixels).logits, other(pixel_values=pixels).logits)


def test_saving_again_replaces_atomically(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    _save(tmp_path, "last", model, 1)
    with torch.no_grad():
        model.hidden.weight.add_(1.0)
    _save(tmp_path, "last", model, 2)
    assert [p.name for p in tmp_path.iterdir()] == ["last"]
    ckpt = load_checkpoint(tmp_path / "last", model=TiedNet())
    assert ckpt.state["step"] == 2


# ----------------------------------------------------------------------------- R11: torn ckpts


def _truncate_weights(path: Path) -> None:
    weights = path / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:50])


def _drop_manifest(path: Path) -> None:
    (path / MANIFEST_FILE).unlink()


def _flip_byte_in_training_state(path: Path) -> None:
    target = path / TRAINING_STATE_FILE
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))


def _bad_state_json(path: Path) -> None:
    (path / STATE_FILE).write_text('{"step": 20, "epoch": ')


def _bad_state_json_with_new_manifest(path: Path) -> None:
    _bad_state_json(path)
    _rewrite_manifest(path)


def _bad_manifest_json(path: Path) -> None:
    (path / MANIFEST_FILE).write_text("{not json")


def _missing_weights(path: Path) -> None:
    (path / WEIGHTS_FILE).unlink()


@pytest.mark.parametrize(
    ("damage", "reason_part"),
    [
        (_truncate_weights, "size mismatch for model.safetensors"),
        (_drop_manifest, "missing MANIFEST.json"),
        (_flip_byte_in_training_state, "hash mismatch for training_state.pt"),
        (_bad_state_json, "state.json"),
        (_bad_state_json_with_new_manifest, "unreadable state.json"),
        (_bad_manifest_json, "unreadable MANIFEST.json"),
        (_missing_weights, "model.safetensors is listed in MANIFEST.json but missing"),
    ],
)
def test_torn_last_falls_back_to_previous_valid_checkpoint(
    tmp_path: Path, damage: Any, reason_part: str
) -> None:
    model, *_ = _train_a_bit(steps=1)
    _save(tmp_path, "epoch_001", model, 10)
    last = _save(tmp_path, "last", model, 20)
    assert find_resumable(tmp_path) == (last, [])

    damage(last)

    reason = validate_checkpoint(last)
    assert reason is not None and reason_part in reason
    chosen, skipped = find_resumable(tmp_path)
    assert chosen == tmp_path / "epoch_001"
    assert [p for p, _ in skipped] == [last]
    assert reason_part in skipped[0][1]
    with pytest.raises(CheckpointError, match="not a valid checkpoint"):
        load_checkpoint(last, model=TiedNet())
    assert load_checkpoint(chosen, model=TiedNet()).state["step"] == 10


def test_find_resumable_orders_by_step_then_mtime(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    _save(tmp_path, "last", model, 30)
    _save(tmp_path, "best", model, 20)
    _save(tmp_path, "epoch_002", model, 30)
    # "last" looks older on disk but has the highest step; among equal steps the newer wins.
    os.utime(tmp_path / "last" / MANIFEST_FILE, (1_000_000, 1_000_000))
    os.utime(tmp_path / "epoch_002" / MANIFEST_FILE, (2_000_000, 2_000_000))
    assert find_resumable(tmp_path)[0] == tmp_path / "epoch_002"
    os.utime(tmp_path / "last" / MANIFEST_FILE, (3_000_000, 3_000_000))
    assert find_resumable(tmp_path)[0] == tmp_path / "last"


def test_find_resumable_with_nothing(tmp_path: Path) -> None:
    assert find_resumable(tmp_path / "absent") == (None, [])
    (tmp_path / "epoch_001").mkdir()
    chosen, skipped = find_resumable(tmp_path)
    assert chosen is None
    assert skipped == [(tmp_path / "epoch_001", "missing MANIFEST.json (the save did not finish)")]


def _valid_copy_as(tmp_path: Path, target: Path, model: nn.Module, step: int) -> None:
    """Produce a valid checkpoint directory at an arbitrary (leftover) name."""
    scratch = tmp_path / f"scratch-{step}"
    _save(scratch, "x", model, step)
    os.rename(scratch / "x", target)


def test_crash_between_the_two_renames_is_recovered(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    ckpt_dir = tmp_path / "ckpt"
    _save(ckpt_dir, "last", model, 10)
    # Simulate: old "last" renamed away, the new one complete in its temp dir, then a crash.
    old = ckpt_dir / f".old-last-{uuid.uuid4().hex}"
    os.rename(ckpt_dir / "last", old)
    new = ckpt_dir / f".tmp-last-{uuid.uuid4().hex}"
    _valid_copy_as(tmp_path, new, model, 20)
    # And an unrelated half-written temp dir without a manifest.
    torn = ckpt_dir / f".tmp-best-{uuid.uuid4().hex}"
    torn.mkdir()
    (torn / WEIGHTS_FILE).write_bytes(b"partial")

    chosen, skipped = find_resumable(ckpt_dir)
    assert chosen == new and skipped == []  # debris without a manifest is not reported

    _save(ckpt_dir, "best", model, 20)  # the next save finishes the swap and cleans up
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["best", "last"]
    assert load_checkpoint(ckpt_dir / "last").state["step"] == 20


def test_crash_before_old_copy_deleted_is_cleaned(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    _save(tmp_path, "last", model, 20)
    _valid_copy_as(tmp_path / "s", tmp_path / f".old-last-{uuid.uuid4().hex}", model, 10)
    assert find_resumable(tmp_path)[0] == tmp_path / "last"
    _save(tmp_path, "epoch_002", model, 20)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "s") == ["epoch_002", "last"]
    assert load_checkpoint(tmp_path / "last").state["step"] == 20


# ----------------------------------------------------------------------------- S7: pickles


def _create_marker(path: str) -> None:
    Path(path).write_text("pwned")


class Payload:
    """Unpickling this calls _create_marker: stands in for arbitrary code execution."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_create_marker, (self.marker,))


def test_payload_is_live_when_unpickled_unsafely(tmp_path: Path) -> None:
    # Control: proves the payload used below really executes under a plain pickle load.
    payload_file = tmp_path / "p.pt"
    torch.save({"x": Payload(tmp_path / "control")}, payload_file)
    torch.load(payload_file, weights_only=False)
    assert (tmp_path / "control").exists()


def test_planted_pickle_in_training_state_is_refused_not_executed(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    path = _save(tmp_path, "last", model, 5)
    marker = tmp_path / "marker"
    torch.save({"optimizer": Payload(marker)}, path / TRAINING_STATE_FILE)

    # Tampered without updating the manifest: refused as corrupted.
    assert "mismatch for training_state.pt" in (validate_checkpoint(path) or "")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    # Tampered with a recomputed manifest: the weights-only loader refuses it.
    _rewrite_manifest(path)
    assert validate_checkpoint(path) is None
    find_resumable(tmp_path)
    with pytest.raises(CheckpointError, match=r"training_state\.pt.*weights_only=True") as err:
        load_checkpoint(path, model=TiedNet())
    assert "not executed" in str(err.value)
    assert not marker.exists()


def test_directory_with_only_pickle_weights_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    ckpt = tmp_path / "ckpts" / "last"
    ckpt.mkdir(parents=True)
    torch.save({"weight": Payload(marker)}, ckpt / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin.*pickle"):
        load_checkpoint(ckpt, model=TiedNet())
    chosen, skipped = find_resumable(tmp_path / "ckpts")
    assert chosen is None and "missing MANIFEST.json" in skipped[0][1]
    assert not marker.exists()


# ----------------------------------------------------------------------------- errors and copy


def test_unloadable_training_state_fails_at_save_time(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        save_checkpoint(
            tmp_path, "last", model=model, training_state={"obj": Payload(tmp_path / "m")},
            state={"step": 1},
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "../escape"}, "invalid checkpoint name"),
        ({"name": ".hidden"}, "invalid checkpoint name"),
        ({"state": {"epoch": 1}}, "integer 'step'"),
        ({"state": {"step": 1, "arr": np.zeros(2)}}, "not JSON-serialisable"),
    ],
)
def test_bad_save_arguments(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    model, *_ = _train_a_bit(steps=1)
    args: dict[str, Any] = {"name": "last", "state": {"step": 1}, **kwargs}
    with pytest.raises(CheckpointError, match=message):
        save_checkpoint(tmp_path, args["name"], model=model, training_state={}, state=args["state"])
    assert not (tmp_path.parent / "escape").exists()


def test_loading_into_a_different_model_is_a_clear_error(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    path = _save(tmp_path, "last", model, 1)
    with pytest.raises(CheckpointError, match="do not fit TiedNet"):
        load_checkpoint(path, model=TiedNet(vocab=5))
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope")


def test_copy_checkpoint_hard_links_and_survives_new_saves(tmp_path: Path) -> None:
    model, *_ = _train_a_bit(steps=1)
    last = _save(tmp_path, "last", model, 10)
    best = copy_checkpoint(tmp_path, "last", "best")
    assert validate_checkpoint(best) is None
    assert json.loads((best / MANIFEST_FILE).read_text())["copied_from"] == "last"
    assert (best / WEIGHTS_FILE).stat().st_ino == (last / WEIGHTS_FILE).stat().st_ino
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    with torch.no_grad():
        model.hidden.weight.mul_(-1.0)
    _save(tmp_path, "last", model, 20)  # replaces last; the hard-linked best must not change
    assert validate_checkpoint(best) is None
    restored = TiedNet()
    assert load_checkpoint(best, model=restored).state["step"] == 10
    for key, value in restored.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert find_resumable(tmp_path)[0] == tmp_path / "last"

    with pytest.raises(CheckpointError, match="cannot copy checkpoint"):
        copy_checkpoint(tmp_path, "missing", "epoch_001")
    shutil.rmtree(best)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_round_trip_with_map_location(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TiedNet().cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(2):
        idx = torch.randint(0, 11, (8,), device="cuda")
        nn.functional.cross_entropy(model(idx), idx).backward()
        opt.step()
        opt.zero_grad()
    path = save_checkpoint(
        tmp_path, "last", model=model, training_state={"optimizer": opt.state_dict()},
        state={"step": 2},
    )  # fmt: skip
    fresh = TiedNet().cuda()
    ckpt = load_checkpoint(path, model=fresh, map_location="cuda")
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    fresh_opt.load_state_dict(ckpt.training_state["optimizer"])
    restored = fresh_opt.state_dict()["state"][0]
    assert restored["exp_avg"].is_cuda  # moved to its parameter's device
    assert not restored["step"].is_cuda  # a GPU `step` would sync every optimizer step
    _assert_nested_equal(opt.state_dict(), fresh_opt.state_dict())
    for name, value in model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[name]), name
