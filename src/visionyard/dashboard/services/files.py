"""User-supplied paths and run folders on disk: the only place the dashboard turns text into
file-system paths or deletes folders.

Every user path is taken RELATIVE to a configured root, checked lexically (no NUL, no
backslash, no absolute path, no `..` segment, no control characters, bounded lengths), then
resolved with `Path.resolve()` and accepted only if the result `is_relative_to` the resolved
root - never by string prefix, so a sibling such as `root-evil/` or a symbolic link leading out
is refused too.
"""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

from visionyard.db.models import Run
from visionyard.errors import ConflictError, PathOutsideRootError
from visionyard.settings import Settings

#: longest relative path accepted (characters); real dataset paths are far shorter
MAX_REL_PATH = 1024
#: longest single path component in bytes (the usual file-system NAME_MAX)
MAX_NAME_BYTES = 255


def printable(name: str) -> str:
    """`name` safe to serialise: undecodable bytes (surrogate escapes from os.listdir) become
    U+FFFD instead of crashing the JSON encoder or the database driver."""
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (from JSON input)
        raw = name.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def _encodable(value: str) -> bool:
    # JSON bodies may carry lone surrogates ("\ud800"); the file system (and the database)
    # cannot encode them, so they must be refused before they reach either.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _refuse(what: str, value: str, why: str) -> PathOutsideRootError:
    shown = printable(value)[:200].replace("\x00", "\\0")
    return PathOutsideRootError(
        f"{what} {shown!r} is not allowed: {why}. Give a path relative to the folder, "
        "with '/' separators, like 'cats/train'."
    )


def resolved_or_none(path: Path) -> Path | None:
    """`path.resolve()`, or None for a symbolic-link loop (Python 3.11 raises RuntimeError for
    those, later versions OSError) or an unreadable path."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` resolves to `root` or below it (loops and errors: False)."""
    resolved = resolved_or_none(path)
    return resolved is not None and resolved.is_relative_to(root)


def check_relative(value: str, *, what: str) -> list[str]:
    """The lexical checks; returns the path's components (empty for the root itself)."""
    if "\x00" in value:
        raise _refuse(what, value, "it contains a NUL character")
    if not _encodable(value):
        raise _refuse(what, value, "it is not valid Unicode text (a lone surrogate)")
    if "\\" in value:
        raise _refuse(what, value, "backslashes are not path separators here")
    if len(value) > MAX_REL_PATH:
        raise _refuse(what, value, f"it is longer than {MAX_REL_PATH} characters")
    if value.startswith("/"):
        raise _refuse(what, value, "absolute paths are refused")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise _refuse(what, value, "it contains control characters")
    parts = [part for part in value.split("/") if part not in ("", ".")]
    for part in parts:
        # NFKC folds look-alikes such as FULLWIDTH FULL STOP: they are not '..' for the file
        # system, but nothing legitimate needs them and refusing them keeps the rule simple.
        if part == ".." or unicodedata.normalize("NFKC", part) == "..":
            raise _refuse(what, value, "'..' segments are refused")
        if len(part.encode("utf-8")) > MAX_NAME_BYTES:
            raise _refuse(what, value, f"a component is longer than {MAX_NAME_BYTES} bytes")
    return parts


def resolve_inside(root: Path, value: str, *, what: str = "path") -> Path:
    """`root / value` resolved, guaranteed inside `root` (which must already be resolved).

    Raises PathOutsideRootError (HTTP 400) for anything that is not a plain relative path or
    that resolves outside `root` (a symbolic link leading out). Existence is NOT checked.
    """
    parts = check_relative(value, what=what)
    candidate = resolved_or_none(root.joinpath(*parts))
    if candidate is None:
        raise _refuse(what, value, "it goes through a symbolic-link loop")
    if not candidate.is_relative_to(root):
        raise _refuse(what, value, "it leads outside the allowed folder (a symbolic link out?)")
    return candidate


def relative_posix(root: Path, path: Path) -> str:
    """`path` relative to `root` with '/' separators; '' for the root itself."""
    rel = path.relative_to(root).as_posix()
    return "" if rel == "." else rel


# ---- run folders -----------------------------------------------------------------------------


def run_dir_target(settings: Settings, run: Run) -> Path | None:
    """The resolved folder of `run`, or None when it has none; ConflictError (409) when the
    recorded folder is not strictly inside the runs root (the runs root itself included):
    reading or deleting it would reach outside what the dashboard owns."""
    if not run.run_dir:
        return None
    root = settings.runs_root
    if "\x00" in run.run_dir:
        raise ConflictError(
            f"run {run.id} ({run.name!r}) records an invalid folder name; nothing was deleted. "
            "Fix the run's run_dir, or delete the project with keep_files=true."
        )
    path = Path(run.run_dir)
    if not path.is_absolute():
        path = root / path
    resolved = resolved_or_none(path)
    if resolved is None or resolved == root or not resolved.is_relative_to(root):
        raise ConflictError(
            f"run {run.id} ({run.name!r}) records its folder as {printable(run.run_dir)}, "
            f"outside the runs root {root}; the dashboard neither reads nor deletes files "
            "outside that root, so nothing was deleted. Move the folder under the runs root and "
            "fix the run's run_dir, or delete the project with keep_files=true to leave every "
            "run folder on disk."
        )
    return resolved


def delete_run_files(settings: Settings, run: Run) -> None:
    """Delete `run`'s folder under the runs root (missing folders are fine: idempotent).

    Raises ConflictError when the folder is outside the runs root or cannot be removed; the
    message says which folder and why, so the operation can be fixed and retried.
    """
    target = run_dir_target(settings, run)
    if target is None:
        return
    recorded = Path(run.run_dir or "")
    if not recorded.is_absolute():
        recorded = settings.runs_root / recorded
    try:
        if recorded.is_symlink():
            # Like `rm -r link`: the link goes, whatever it points at (maybe another run's
            # folder) stays.
            recorded.unlink()
        elif target.is_dir():
            # rmtree never follows symbolic links inside the tree: a link to /etc is unlinked,
            # not descended into.
            shutil.rmtree(target)
        elif target.exists():
            raise ConflictError(
                f"run {run.id}'s folder {target} is a file, not a folder; it was not deleted. "
                "Remove it by hand and retry."
            )
    except OSError as exc:
        raise ConflictError(
            f"could not delete run {run.id}'s folder {target}: {exc.strerror or exc}. Fix the "
            "permissions (the dashboard's user must be able to write there) and retry."
        ) from None
