"""Passwords (argon2), API tokens and session secrets (random, stored as SHA-256).

Encryption of stored third-party secrets (Hugging Face tokens) is `visionyard.secretbox`: the
agent needs it too, and must not import the dashboard."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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
