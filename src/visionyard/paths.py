"""Paths that must stay inside a root folder: the one containment rule of Visionyard.

The rule: a path is inside a root when, after every symbolic link on it is followed
(`Path.resolve()`), it is the root itself or lies below it (`Path.is_relative_to` on the two
resolved paths). Hence:

- accepted: a `..` detour that ends inside (`org/../model`), a link inside the root that leads to
  another place inside it, a path that does not exist yet (existence is the caller's business);
- refused: a `..` that climbs out, an absolute path elsewhere, a sibling that merely shares the
  root's spelling (`<root>-evil/x`: never a string-prefix test), a link leading out (it resolves
  to where it leads), a link loop (it resolves to nothing).

Two ways in, one rule underneath:

- `resolve_under` for paths that settings, configs and stored snapshots name (DATASETS_DIR,
  VISIONYARD_MODELS_DIR, the runs root): relative to the root or absolute inside it;
  ConfigError when the text cannot be a path, PathOutsideRootError when it leads out.
- `resolve_inside` for paths a client sends in a URL or a body (dataset browsing, run files):
  only a plain relative path with '/' separators is taken, and the spellings that are only ever
  used to escape (`..` segments, absolute paths, backslashes, control characters) are refused
  by their text before resolving, with PathOutsideRootError (HTTP 400).

`resolved_inside` / `is_inside` answer the same question for paths found on disk (a link met
while scanning a folder). Imports neither the dashboard, the agent nor torch, so every layer
uses this one module.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from visionyard.errors import ConfigError, PathOutsideRootError
from visionyard.text import storable, text_problem

#: longest path accepted, given or resolved (the width of the database columns storing them)
MAX_PATH_CHARS = 1024
#: longest single path component in bytes (the usual file-system NAME_MAX)
MAX_NAME_BYTES = 255
# Characters a shell, a URL or a format string would give meaning to. Hub ids never contain
# them, and a local model folder containing them is refused rather than quoted correctly
# everywhere downstream.
SHELL_METACHARACTERS = re.compile(r"[\s;&|`$<>(){}\[\]*?!'\"\\#%^,=~]")


def resolved_or_none(path: Path) -> Path | None:
    """`path.resolve()`, or None for a symbolic-link loop (Python 3.11 raises RuntimeError for
    those, later versions OSError) or a path that cannot be read."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def resolved_inside(path: Path, root: Path) -> Path | None:
    """`path` resolved when that is `root` or below it; None when outside or unresolvable.

    `root` must already be resolved (the settings' roots are): resolving it for every entry of
    a listing would cost a system call per path component each time.
    """
    resolved = resolved_or_none(path)
    return resolved if resolved is not None and resolved.is_relative_to(root) else None


def is_inside(path: Path, root: Path) -> bool:
    """True when `path` resolves to `root` or below it (loops and errors: False)."""
    return resolved_inside(path, root) is not None


def relative_posix(root: Path, path: Path) -> str:
    """`path` relative to `root` with '/' separators; '' for the root itself."""
    rel = path.relative_to(root).as_posix()
    return "" if rel == "." else rel


# ---- paths named by settings, configs and stored snapshots ------------------------------------


def _shown(value: str) -> str:
    return f"{value[:200]!r}" + ("..." if len(value) > 200 else "")


def _invalid(what: str, value: str, problem: str) -> ConfigError:
    return ConfigError(f"{what} {_shown(value)} {problem}", [{"field": what, "message": problem}])


def _spelling_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    problem = text_problem(value)
    if problem:
        return problem
    if len(value) > MAX_PATH_CHARS:
        return f"is longer than {MAX_PATH_CHARS} characters"
    return None


def resolve_under(path: str | Path, root: Path, *, what: str, env_name: str) -> Path:
    """`path` resolved (relative paths are relative to `root`), guaranteed inside `root`.

    `what` names the input in messages and in ConfigError.fields (e.g. "model_flavour");
    `env_name` is the setting that chooses `root` (e.g. "VISIONYARD_MODELS_DIR"). Raises
    PathOutsideRootError when the resolved path is outside `root` (`..`, another absolute path,
    a sibling such as `<root>-evil`, a symbolic link out) and ConfigError for a path that cannot
    be resolved (empty, NUL, lone surrogates, over-long, a link loop). Existence is NOT checked.
    """
    value = str(path)
    problem = _spelling_problem(value)
    if problem:
        raise _invalid(what, value, problem)
    base = root.expanduser().resolve()
    candidate = Path(value)
    try:
        resolved = (candidate if candidate.is_absolute() else base / candidate).resolve()
    except RuntimeError:  # Python 3.11 reports a symbolic-link loop this way
        raise _invalid(what, value, "cannot be resolved (a symbolic-link loop)") from None
    except (
        OSError,
        ValueError,
    ) as exc:  # OSError: loops (3.13+), permissions; ValueError: paranoia
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise _invalid(what, value, f"cannot be resolved ({reason})") from None
    if not resolved.is_relative_to(base):
        # The resolved target is not shown: it would tell where a link leads.
        raise PathOutsideRootError(
            f"{what} {_shown(value)} resolves outside {env_name} ({base}); only folders under it "
            f"can be used. Move or copy the folder into {env_name} and give its path relative "
            f"to {env_name} (or its absolute path inside it), or ask the administrator to set "
            f"{env_name} to a folder that holds it."
        )
    if len(str(resolved)) > MAX_PATH_CHARS:
        # links can make the real path longer than the one given
        raise _invalid(
            what,
            value,
            f"resolves to a path longer than {MAX_PATH_CHARS} characters; use a shorter path",
        )
    return resolved


# ---- paths a client sends ----------------------------------------------------------------------


def _refuse(what: str, value: str, why: str) -> PathOutsideRootError:
    return PathOutsideRootError(
        f"{what} {storable(value)[:200]!r} is not allowed: {why}. Give a path relative to the "
        "folder, with '/' separators, like 'cats/train'."
    )


def check_relative(value: str, *, what: str) -> list[str]:
    """The lexical checks of `resolve_inside`; returns the path's components (empty for the
    root itself). Raises PathOutsideRootError naming `what`."""
    problem = text_problem(value)
    if problem:
        raise _refuse(what, value, f"it {problem}")
    if "\\" in value:
        raise _refuse(what, value, "backslashes are not path separators here")
    if len(value) > MAX_PATH_CHARS:
        raise _refuse(what, value, f"it is longer than {MAX_PATH_CHARS} characters")
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
