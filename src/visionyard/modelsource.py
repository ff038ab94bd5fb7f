"""What may name a model: a Hugging Face Hub id, or a local save_pretrained folder.

One rule for the dashboard's model registry and config validation, the agent's launch checks and
the trainer (which loads the model): none of them needs torch to decide, and a name one side
accepts is a name the other accepts.
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
from collections.abc import Iterable
from pathlib import Path

from visionyard.errors import ModelLoadError

# Hugging Face repo ids: "name" or "org/name" of letters, digits, '-', '_', '.', each part at
# most 96 characters and starting with a letter or digit; `is_hub_id` also refuses '..'.
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


#: What a name means, in the words every "does not exist" message uses. A Hub model is written
#: with its owner: every Hub repository belongs to a user or an organisation (the few legacy
#: bare names redirect to an `org/name`), so a bare name that is no folder is far more likely a
#: mistyped local folder than a Hub model.
NAMING_RULE = (
    "a name without '/' (or a path) names a local save_pretrained folder; a Hugging Face Hub "
    "model is written 'org/name', like 'google/vit-base-patch16-224'"
)
#: entries looked at when listing a folder's models to suggest a name (keeps a listing cheap)
MAX_LISTED_ENTRIES = 2000


def is_hub_id(name: str) -> bool:
    """True when `name` is spelled as a Hub repo id (it may still name a local folder)."""
    return HUB_ID.match(name) is not None and ".." not in name


def is_local_name(name: str) -> bool:
    """True when `name` is spelled as a local folder rather than `org/name`: a bare name (no
    '/') or a path (starting with '.', '/' or '~', or with more than one '/')."""
    return "/" not in name or name.startswith((".", "/", "~")) or name.count("/") > 1


def model_folders(folder: Path, *, depth: int = 1) -> list[str]:
    """The save_pretrained folders (holding config.json) in `folder` and, up to `depth` levels
    down, below it, as '/'-separated paths relative to `folder`; at most MAX_LISTED_ENTRIES
    entries are looked at. An unreadable or missing folder has none."""
    found: list[str] = []
    budget = itertools.count()
    pending: list[tuple[Path, str, int]] = [(folder, "", depth)]
    while pending:
        current, prefix, levels = pending.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if next(budget) >= MAX_LISTED_ENTRIES:
                        return sorted(found)
                    if entry.name.startswith(".") or not entry.is_dir():
                        continue
                    name = prefix + entry.name
                    if os.path.isfile(os.path.join(entry.path, "config.json")):
                        found.append(name)
                    elif levels > 1:
                        pending.append((Path(entry.path), name + "/", levels - 1))
        except OSError:
            continue
    return sorted(found)


#: how alike (difflib's ratio) a folder must be to be suggested: model names share long prefixes
#: ("tiny-", "vit-base-"), so difflib's default 0.6 offers 'tiny-vit' for 'tiny-resnett'
SUGGEST_CUTOFF = 0.75


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A question naming the closest of `candidates` to `name` (up to three), or ""."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=SUGGEST_CUTOFF)
    return _question(close)


def _question(close: list[str]) -> str:
    return f"Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def suggest_local_folder(model_flavour: str) -> str:
    """did_you_mean over the model folders beside the one `model_flavour` names (the working
    directory's for a bare name), compared by their last part and shown spelled as given."""
    spelled = model_flavour.rstrip("/")
    path = Path(spelled)
    prefix = spelled[: len(spelled) - len(path.name)]
    nearby = {name: prefix + name for name in model_folders(path.expanduser().parent)}
    close = difflib.get_close_matches(path.name, sorted(nearby), n=3, cutoff=SUGGEST_CUTOFF)
    return _question([nearby[c] for c in close])


def resolve_model_source(model_flavour: str) -> str:
    """Return a local folder path or a validated hub id; refuse anything else with a reason."""
    candidate = Path(model_flavour).expanduser()
    if candidate.exists():
        if not candidate.is_dir():
            raise ModelLoadError(
                f"model_flavour {model_flavour!r} is a file; point it at a folder holding "
                "config.json and the weights (a save_pretrained folder)"
            )
        if not (candidate / "config.json").is_file():
            raise ModelLoadError(
                f"model folder {candidate} has no config.json; it must be a Hugging Face "
                "save_pretrained folder"
            )
        return str(candidate.resolve())
    looks_like_path = model_flavour.startswith((".", "/", "~")) or model_flavour.count("/") > 1
    suggestion = suggest_local_folder(model_flavour) if is_local_name(model_flavour) else ""
    if suggestion:
        # Refused before any Hub request: a bare name beside a folder of nearly that name is a
        # typo, and the Hub would only answer "not found" (or "offline") later.
        where = candidate.parent.resolve()
        raise ModelLoadError(
            f"model_flavour {model_flavour!r} is not a folder in {where}. {suggestion} "
            f"The rule: {NAMING_RULE}."
        )
    if looks_like_path or not is_hub_id(model_flavour):
        raise ModelLoadError(
            f"model_flavour {model_flavour!r} is neither an existing folder nor a valid Hugging "
            "Face model id (like 'google/vit-base-patch16-224'); check the path or the id"
        )
    return model_flavour
