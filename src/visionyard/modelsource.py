"""What may name a model: a Hugging Face Hub id, or a local save_pretrained folder.

One rule for the dashboard's model registry and config validation, the agent's launch checks and
the trainer (which loads the model): none of them needs torch to decide, and a name one side
accepts is a name the other accepts.
"""

from __future__ import annotations

import re
from pathlib import Path

from visionyard.errors import ModelLoadError

# Hugging Face repo ids: "name" or "org/name" of letters, digits, '-', '_', '.', each part at
# most 96 characters and starting with a letter or digit; `is_hub_id` also refuses '..'.
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")


def is_hub_id(name: str) -> bool:
    """True when `name` is spelled as a Hub repo id (it may still name a local folder)."""
    return HUB_ID.match(name) is not None and ".." not in name


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
    if looks_like_path or not is_hub_id(model_flavour):
        raise ModelLoadError(
            f"model_flavour {model_flavour!r} is neither an existing folder nor a valid Hugging "
            "Face model id (like 'google/vit-base-patch16-224'); check the path or the id"
        )
    return model_flavour
