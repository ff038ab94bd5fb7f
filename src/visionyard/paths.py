"""User-supplied paths resolved under a configured root (DATASETS_DIR, VISIONYARD_MODELS_DIR).

One implementation for the dashboard (validating what users submit) and the agent (checking a
run's stored snapshot again before it starts a trainer), so it imports neither of them.

Containment is decided on the fully resolved path (`Path.resolve()` follows every symbolic link)
with `is_relative_to`, never on string prefixes: `<root>-evil/x` shares the root's spelling but
not its folder, and a link inside the root that leads out resolves to where it leads.
"""

from __future__ import annotations

import re
from pathlib import Path

from visionyard.errors import ConfigError, PathOutsideRootError

#: longest path accepted, given or resolved (the width of the database columns storing them)
MAX_PATH_CHARS = 1024
# Characters a shell, a URL or a format string would give meaning to. Hub ids never contain
# them, and a local model folder containing them is refused rather than quoted correctly
# everywhere downstream.
SHELL_METACHARACTERS = re.compile(r"[\s;&|`$<>(){}\[\]*?!'\"\\#%^,=~]")


def _shown(value: str) -> str:
    return f"{value[:200]!r}" + ("..." if len(value) > 200 else "")


def _invalid(what: str, value: str, problem: str) -> ConfigError:
    return ConfigError(f"{what} {_shown(value)} {problem}", [{"field": what, "message": problem}])


def _spelling_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if "\x00" in value:
        return "must not contain NUL characters"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        # A lone surrogate (JSON allows "\ud800") names no file the system can encode.
        return "must be valid Unicode text (it holds a lone surrogate escape)"
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
