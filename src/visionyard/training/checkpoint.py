"""Resumable training checkpoints: safetensors weights, weights-only torch state, JSON, manifest.

Layout of one checkpoint directory (``<ckpt_dir>/last``, ``best``, ``epoch_NNN``)::

    model.safetensors   model weights (no pickle)
    training_state.pt   optimizer / scheduler / scaler state dicts, torch + CUDA RNG, extra tensors;
                        loaded ONLY with torch.load(weights_only=True)
    state.json          epoch, step, counters, python/numpy RNG, config hash, caller's JSON
    MANIFEST.json       written LAST: format version + {file, size, sha256} for every file above

A directory without a valid manifest, or whose files differ from it, is not a checkpoint.

Crash safety: a checkpoint is built in ``.tmp-<name>-<uuid>/`` and swapped into place by two
renames (old -> ``.old-<name>-<uuid>``, tmp -> ``<name>``). A crash at any point leaves the old or
the new copy valid somewhere; `find_resumable` also looks at those leftovers and the next save
promotes or deletes them. Only one process (rank 0) writes.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from visionyard.errors import CheckpointError
from visionyard.training.checkpoint_files import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    REQUIRED_FILES,
    STATE_FILE,
    TRAINING_STATE_FILE,
    WEIGHTS_FILE,
    check_files,
    find_resumable,
    leftover_dirs,
    read_manifest,
    read_state_json,
    recency_key,
    sha256_file,
    validate_checkpoint,
)
from visionyard.training.fsutil import fsync_dir

# The format and its validation live in the torch-free `checkpoint_files`; re-exported here so
# that callers find the whole checkpoint API in one module.
__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "REQUIRED_FILES",
    "STATE_FILE",
    "TRAINING_STATE_FILE",
    "WEIGHTS_FILE",
    "Checkpoint",
    "copy_checkpoint",
    "find_resumable",
    "load_checkpoint",
    "save_checkpoint",
    "swap_directory",
    "validate_checkpoint",
]

# Pickle-based weight files other tools leave behind; we name them when refusing a directory.
_PICKLE_WEIGHT_FILES = ("pytorch_model.bin", "model.pt", "model.pth", "checkpoint.pt")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass
class Checkpoint:
    """A loaded checkpoint: where it came from, its JSON state and its tensor state."""

    path: Path
    state: dict[str, Any]
    training_state: dict[str, Any]


# --------------------------------------------------------------------------- small file helpers


def _fsync_file(path: Path) -> None:
    # save_model and shutil.copy2 do not fsync; without this a power cut after the manifest is
    # durable could leave a manifest describing data that never reached the disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise CheckpointError(
            f"invalid checkpoint name {name!r}: use letters, digits, '_', '-', '.' "
            "(e.g. 'last', 'best', 'epoch_003'), not a path and not starting with '.'"
        )


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write_manifest(directory: Path, entries: list[dict[str, Any]], **extra: Any) -> None:
    manifest = {"format_version": FORMAT_VERSION, "created_at": _utc_now(), **extra}
    manifest["files"] = entries
    _write_durable(directory / MANIFEST_FILE, (json.dumps(manifest, indent=2) + "\n").encode())
    fsync_dir(directory)


# --------------------------------------------------------------------------- directory swap


def swap_directory(tmp: Path, final: Path) -> None:
    """Atomically put the fully written directory `tmp` at `final` (same parent).

    An existing `final` is first renamed to ``.old-<name>-<uuid>`` and deleted only after the new
    one is in place, so a crash leaves either copy behind (never neither). Directories cannot be
    swapped by one rename over a non-empty target on POSIX, hence the two renames.
    """
    parent = final.parent
    old: Path | None = None
    if final.exists():
        old = parent / f".old-{final.name}-{uuid.uuid4().hex}"
        os.rename(final, old)
    os.rename(tmp, final)
    fsync_dir(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _recover_leftovers(ckpt_dir: Path) -> None:
    """Finish or undo a swap interrupted by a crash, then delete the debris.

    For each name with leftovers, the newest valid copy among ``<name>`` and its leftovers becomes
    ``<name>``; everything else is removed. Safe because only one process writes checkpoints.
    """
    groups: dict[str, list[Path]] = {}
    for path, name in leftover_dirs(ckpt_dir):
        groups.setdefault(name, []).append(path)
    for name, paths in groups.items():
        final = ckpt_dir / name
        candidates = [p for p in [final, *paths] if p.is_dir() and validate_checkpoint(p) is None]
        keyed = [(key, p) for p in candidates if (key := recency_key(p)) is not None]
        if keyed:
            best = max(keyed, key=lambda item: item[0])[1]
            if best != final:
                swap_directory(best, final)
        for path in paths:
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------- save / copy / load


def _serialize_training_state(training_state: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(training_state, buffer)
    data = buffer.getvalue()
    # Prove now, at save time, that resume will be able to read it: anything weights_only would
    # refuse (a lambda, a custom class) fails the save instead of silently breaking resume later.
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError) as exc:
        raise CheckpointError(
            "training_state holds an object torch.load(weights_only=True) cannot read back, so "
            "the checkpoint could never be resumed; keep it to tensors, numbers, strings, lists "
            f"and dicts (state_dict() output). Detail: {str(exc).splitlines()[0]}"
        ) from None
    return data


def save_checkpoint(
    ckpt_dir: Path,
    name: str,
    *,
    model: nn.Module,
    training_state: dict[str, Any],
    state: dict[str, Any],
) -> Path:
    """Write checkpoint `<ckpt_dir>/<name>` atomically and return its path.

    `model` is the unwrapped module; `training_state` holds tensors/state dicts (weights-only
    loadable); `state` is JSON-able and must contain an integer ``step`` (global optimizer step).
    ``saved_at`` (UTC) is added to the stored state.
    """
    _check_name(name)
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        raise CheckpointError(f"checkpoint state needs an integer 'step', got {step!r}")
    try:
        state_bytes = (json.dumps({**state, "saved_at": _utc_now()}, indent=2) + "\n").encode()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"checkpoint state for {name!r} is not JSON-serialisable ({exc}); convert arrays "
            "and tensors to lists or move them into training_state"
        ) from None
    training_bytes = _serialize_training_state(training_state)

    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    _recover_leftovers(ckpt_dir)
    tmp = ckpt_dir / f".tmp-{name}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        # save_model (not save_file) drops duplicate names of tied/shared tensors.
        save_model(model, str(tmp / WEIGHTS_FILE))
        _fsync_file(tmp / WEIGHTS_FILE)
        _write_durable(tmp / TRAINING_STATE_FILE, training_bytes)
        _write_durable(tmp / STATE_FILE, state_bytes)
        entries = [
            {"file": f, "size": (tmp / f).stat().st_size, "sha256": sha256_file(tmp / f)}
            for f in REQUIRED_FILES
        ]
        _write_manifest(tmp, entries, name=name, step=step)
        final = ckpt_dir / name
        swap_directory(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def copy_checkpoint(ckpt_dir: Path, src_name: str, dst_name: str) -> Path:
    """Copy checkpoint `src_name` to `dst_name` (e.g. last -> best) without re-serialising.

    Files are hard-linked when the filesystem allows (our checkpoint files are never modified in
    place: a save writes new files and unlinks old ones, so sharing inodes is safe), else copied.
    The source is checked by size only and its hashes reused, so the copy costs no full read;
    a corrupted source is still caught by `validate_checkpoint` on the copy.
    """
    _check_name(src_name)
    _check_name(dst_name)
    ckpt_dir = Path(ckpt_dir)
    src = ckpt_dir / src_name
    reason = check_files(src, hashes=False)
    if reason is not None:
        raise CheckpointError(f"cannot copy checkpoint {src}: {reason}")
    manifest, _ = read_manifest(src)
    assert manifest is not None  # checked above
    _recover_leftovers(ckpt_dir)
    tmp = ckpt_dir / f".tmp-{dst_name}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        entries = [dict(item) for item in manifest["files"]]
        for item in entries:
            source_file, target = src / item["file"], tmp / item["file"]
            try:
                os.link(source_file, target)
            except OSError:
                shutil.copy2(source_file, target)
                _fsync_file(target)
        _write_manifest(
            tmp, entries, name=dst_name, step=manifest.get("step"), copied_from=src_name
        )
        final = ckpt_dir / dst_name
        swap_directory(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _refuse_pickle_dir(path: Path) -> None:
    if (path / WEIGHTS_FILE).exists():
        return
    found = [name for name in _PICKLE_WEIGHT_FILES if (path / name).exists()]
    if found:
        raise CheckpointError(
            f"{path} holds {found[0]} but no {WEIGHTS_FILE}: pickle-based weight files can run "
            "arbitrary code when loaded, so Visionyard refuses them. Convert the weights to "
            "safetensors with a trusted tool, or resume from a Visionyard checkpoint."
        )


def load_checkpoint(
    path: Path, *, model: nn.Module | None = None, map_location: str | torch.device = "cpu"
) -> Checkpoint:
    """Validate and load a checkpoint; load its weights into `model` (strict) if given.

    Nothing is unpickled except through ``torch.load(weights_only=True)``; a refused file raises
    CheckpointError and is never executed.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {path} does not exist or is not a directory")
    _refuse_pickle_dir(path)
    reason = validate_checkpoint(path)
    if reason is not None:
        raise CheckpointError(
            f"{path} is not a valid checkpoint: {reason}. Resume from another one "
            "(find_resumable picks the newest valid) or delete this directory."
        )
    state, reason = read_state_json(path)
    if state is None:
        raise CheckpointError(f"{path}: {reason}")
    ts_path = path / TRAINING_STATE_FILE
    try:
        # Always onto the CPU: optimizer.load_state_dict moves each moment to its parameter's
        # device itself, and keeps AdamW's `step` counter on the CPU, where it must stay (a
        # `step` on the GPU makes every optimizer step wait for the device).
        training_state = torch.load(ts_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, TypeError, EOFError) as exc:
        raise CheckpointError(
            f"refusing {ts_path}: torch.load(weights_only=True) rejected it, so it holds objects "
            "other than tensors and plain containers (possibly a planted pickle payload); it was "
            f"not executed. Detail: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    if not isinstance(training_state, dict):
        raise CheckpointError(
            f"{ts_path} does not hold a dict (got {type(training_state).__name__})"
        )
    if model is not None:
        device = str(map_location) if isinstance(map_location, torch.device) else map_location
        try:
            load_model(model, str(path / WEIGHTS_FILE), strict=True, device=device)
        except (RuntimeError, ValueError, OSError) as exc:
            raise CheckpointError(
                f"weights in {path / WEIGHTS_FILE} do not fit {type(model).__name__}: "
                f"{exc}. Was the checkpoint made with another model or class count?"
            ) from None
    return Checkpoint(path=path, state=state, training_state=training_state)
