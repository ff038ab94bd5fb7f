"""Where the client finds the dashboard and its API token.

Order: the environment (`VISIONYARD_URL`, `VISIONYARD_TOKEN`) overrides the file that
`visionyard login` writes, `$XDG_CONFIG_HOME/visionyard/credentials.json` (default
`~/.config/visionyard/credentials.json`). The file holds a secret: it is created with mode 0600
in a folder with mode 0700, written to a temporary name and moved into place, so it is never
readable by others, not even for a moment, and never half-written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from visionyard.client.errors import ClientError
from visionyard.exitcodes import EXIT_BAD_INPUT

URL_ENV = "VISIONYARD_URL"
TOKEN_ENV = "VISIONYARD_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8000"
FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str | None
    #: where the token came from, for messages ("VISIONYARD_TOKEN", the file, or None)
    token_source: str | None


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "visionyard"


def credentials_path() -> Path:
    return config_dir() / FILE_NAME


def normalize_url(url: str) -> str:
    """The dashboard's base URL without a trailing slash or a trailing /api/v1."""
    url = url.strip().rstrip("/")
    url = url.removesuffix("/api/v1")
    if not url.startswith(("http://", "https://")):
        raise ClientError(
            f"the dashboard URL {url!r} must start with http:// or https:// (e.g. {DEFAULT_URL})",
            EXIT_BAD_INPUT,
        )
    return url


def read_file() -> dict[str, str]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ClientError(
            f"cannot read {path} ({exc}); run `visionyard login` again to rewrite it",
            EXIT_BAD_INPUT,
        ) from None
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def load(url: str | None = None) -> Credentials:
    """The URL (an explicit `url` first, then the environment, the file, the default) and the
    token (the environment, then the file when it was stored for that same URL)."""
    stored = read_file()
    chosen = normalize_url(url or os.environ.get(URL_ENV) or stored.get("url") or DEFAULT_URL)
    token = os.environ.get(TOKEN_ENV)
    if token:
        return Credentials(chosen, token.strip(), TOKEN_ENV)
    if stored.get("token") and normalize_url(stored.get("url") or DEFAULT_URL) == chosen:
        return Credentials(chosen, stored["token"], str(credentials_path()))
    return Credentials(chosen, None, None)


def save(url: str, token: str, token_id: int | None = None) -> Path:
    """Store the URL and token for later commands (mode 0600 in a 0700 folder). `token_id` is
    kept when `login` created the token, so that `logout` can revoke it."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask, and an old folder keeps its own
    path = folder / FILE_NAME
    temporary = folder / f".{FILE_NAME}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a leftover of a crashed save
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            stored = {"url": url, "token": token}
            if token_id is not None:
                stored["token_id"] = str(token_id)
            json.dump(stored, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def forget() -> Path | None:
    """Delete the stored credentials; the path removed, or None if there was none."""
    path = credentials_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path
