"""Encryption at rest of third-party secrets (Hugging Face access tokens in the model registry).

The dashboard encrypts a token when it is registered; the agent decrypts it to hand it to the
trainer of a run that needs it. Both derive the same Fernet key (`load_or_create_key`), so this
module is shared by both sides and imports neither.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)


def load_or_create_key(data_dir: Path, configured: str | None) -> bytes:
    """The Fernet key: derived from VISIONYARD_SECRET_KEY, or generated once into data_dir."""
    if configured:
        return base64.urlsafe_b64encode(hashlib.sha256(configured.encode("utf-8")).digest())
    path = data_dir / "secret.key"
    if path.is_file():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


class SecretBox:
    """Encrypts secrets at rest; they are decrypted only to hand them to a trainer."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, token: bytes) -> str | None:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            return None

    def model_token(self, encrypted: bytes | None, *, model: object) -> str | None:
        """A model entry's stored access token in clear; None when it has none, or when this
        key cannot decrypt it (logged: the run then starts without it, as a public model would).

        A key that cannot decrypt means VISIONYARD_SECRET_KEY changed since the token was
        stored, or this process (an agent on another machine) does not use the dashboard's key.
        """
        if encrypted is None:
            return None
        token = self.decrypt(bytes(encrypted))
        if token is None:
            log.warning(
                "the access token of model %s cannot be decrypted: VISIONYARD_SECRET_KEY changed "
                "since it was stored, or this process does not use the dashboard's key. Give "
                "every agent the dashboard's VISIONYARD_SECRET_KEY, or enter the token again.",
                model,
            )
        return token
