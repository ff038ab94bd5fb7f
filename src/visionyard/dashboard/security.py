"""Passwords (argon2), API tokens and session secrets (random, stored as SHA-256), and
encryption of stored third-party secrets such as Hugging Face tokens (Fernet)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

TOKEN_PREFIX = "vy_"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret(prefix: str = TOKEN_PREFIX) -> str:
    """A 256-bit random secret, URL-safe, with a recognisable prefix (secret scanners)."""
    return prefix + secrets.token_urlsafe(32)


def display_prefix(secret: str) -> str:
    return secret[:10]


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
