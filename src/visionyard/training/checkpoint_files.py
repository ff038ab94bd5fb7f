"""The checkpoint format on disk and its validation, without torch.

What makes a folder a checkpoint (see `visionyard.training.checkpoint` for the layout and for
saving and loading): a MANIFEST.json, written last, listing every file with its size and SHA-256.
Torch-free so that the dashboard, which never imports torch, can tell whether a run has a
checkpoint to resume from by the same rule the trainer resumes by.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
TRAINING_STATE_FILE = "training_state.pt"
STATE_FILE = "state.json"
MANIFEST_FILE = "MANIFEST.json"
REQUIRED_FILES = (WEIGHTS_FILE, TRAINING_STATE_FILE, STATE_FILE)

_LEFTOVER_RE = re.compile(r"^\.(tmp|old)-(?P<name>.+)-(?P<uid>[0-9a-f]{32})$")
_HASH_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def leftover_dirs(ckpt_dir: Path) -> Iterator[tuple[Path, str]]:
    """(path, checkpoint name) of every ``.tmp-*`` / ``.old-*`` directory in `ckpt_dir`."""
    for entry in ckpt_dir.iterdir():
        match = _LEFTOVER_RE.match(entry.name)
        if match and entry.is_dir():
            yield entry, match.group("name")


# --------------------------------------------------------------------------- validation


def read_manifest(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    manifest_path = path / MANIFEST_FILE
    if not manifest_path.is_file():
        return None, f"missing {MANIFEST_FILE} (the save did not finish)"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"unreadable {MANIFEST_FILE}: {exc}"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        return None, f"malformed {MANIFEST_FILE}: no 'files' list"
    if manifest.get("format_version") != FORMAT_VERSION:
        return None, (
            f"unsupported checkpoint format_version {manifest.get('format_version')!r} "
            f"(this Visionyard reads {FORMAT_VERSION})"
        )
    return manifest, None


def manifest_entries(manifest: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], str | None]:
    entries: dict[str, dict[str, Any]] = {}
    for item in manifest["files"]:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("file"), str)
            or not isinstance(item.get("size"), int)
            or not isinstance(item.get("sha256"), str)
            or "/" in item["file"]
            or item["file"].startswith(".")
        ):
            return {}, f"malformed {MANIFEST_FILE} entry {item!r}"
        entries[item["file"]] = item
    missing = [name for name in REQUIRED_FILES if name not in entries]
    if missing:
        return {}, f"{MANIFEST_FILE} does not list {', '.join(missing)}"
    return entries, None


def read_state_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"unreadable {STATE_FILE}: {exc}"
    if not isinstance(state, dict):
        return None, f"{STATE_FILE} is not a JSON object"
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        return None, f"{STATE_FILE} has no integer 'step' (got {step!r})"
    return state, None


def check_files(path: Path, *, hashes: bool) -> str | None:
    """Cheap structural checks (manifest, sizes, state.json) and, if `hashes`, sha256 of all."""
    if not path.is_dir():
        return "not a directory"
    manifest, reason = read_manifest(path)
    if manifest is None:
        return reason
    entries, reason = manifest_entries(manifest)
    if reason:
        return reason
    for name, item in entries.items():
        file_path = path / name
        try:
            size = file_path.stat().st_size
        except OSError:
            return f"{name} is listed in {MANIFEST_FILE} but missing"
        if size != item["size"]:
            return f"size mismatch for {name}: {size} bytes on disk, {item['size']} in manifest"
    if hashes:
        for name, item in entries.items():
            try:
                actual = sha256_file(path / name)
            except OSError as exc:
                return f"cannot read {name}: {exc}"
            if actual != item["sha256"]:
                return f"hash mismatch for {name} (file changed or corrupted after saving)"
    _, reason = read_state_json(path)
    return reason


def validate_checkpoint(path: Path) -> str | None:
    """Return None if `path` is a complete, untampered checkpoint, else the reason it is not."""
    return check_files(Path(path), hashes=True)


def recency_key(path: Path) -> tuple[int, float] | None:
    state, _ = read_state_json(path)
    if state is None:
        return None
    try:
        mtime = (path / MANIFEST_FILE).stat().st_mtime
    except OSError:
        return None
    return state["step"], mtime


def find_resumable(ckpt_dir: Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """Newest valid checkpoint in `ckpt_dir` by (step, manifest mtime), plus what was skipped.

    Candidates are the visible sub-directories and any ``.tmp-*``/``.old-*`` leftover that holds a
    manifest (a crash between the two renames of a swap). Structural checks run on all of them;
    the sha256 check, which reads every byte, runs newest first and stops at the first valid one.
    The skipped list holds every candidate found invalid on the way, with its reason. Never raises
    for a damaged checkpoint; a missing `ckpt_dir` gives ``(None, [])``.
    """
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None, []
    skipped: list[tuple[Path, str]] = []
    ranked: list[tuple[tuple[int, float], Path]] = []
    leftovers = {path for path, _ in leftover_dirs(ckpt_dir)}
    for entry in sorted(ckpt_dir.iterdir()):
        if not entry.is_dir():
            continue
        # A leftover without a manifest is expected crash debris, not a torn checkpoint.
        is_debris = entry not in leftovers or not (entry / MANIFEST_FILE).exists()
        if entry.name.startswith(".") and is_debris:
            continue
        reason = check_files(entry, hashes=False)
        key = recency_key(entry) if reason is None else None
        if reason is not None or key is None:
            skipped.append((entry, reason or "unreadable metadata"))
            continue
        ranked.append((key, entry))
    ranked.sort(key=lambda item: item[0], reverse=True)
    for _, entry in ranked:
        reason = validate_checkpoint(entry)
        if reason is None:
            return entry, skipped
        skipped.append((entry, reason))
    return None, skipped
