"""A config's identity: its canonical JSON text and that text's sha256.

The dashboard stores the hash with every config version and run (an identical save is a no-op)
and the trainer records it in env.json; both must compute it the same way, and the dashboard must
not import torch to do so: this module imports nothing outside the standard library.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

from visionyard.errors import ConfigError


def _json_default(value: Any) -> Any:
    if isinstance(value, PurePath):
        return value.as_posix()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON-serialisable")


def canonical_json(config: Mapping[str, Any]) -> str:
    """The canonical text `config_hash` hashes: sorted keys, no whitespace, UTF-8 unescaped."""
    try:
        return json.dumps(
            config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config cannot be hashed: {exc}; use JSON-compatible values") from None


def config_hash(config: Mapping[str, Any]) -> str:
    """sha256 (hex) of the config's canonical JSON; identical for any key order."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()
