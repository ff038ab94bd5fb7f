"""Passwords (argon2), API tokens and session secrets (random, stored as SHA-256).

Encryption of stored third-party secrets (Hugging Face tokens) is `visionyard.secretbox`: the
agent needs it too, and must not import the dashboard."""

from __future__ import annotations

import hashlib
import hmac
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


#: (the hasher it was made with, a hash of a password nobody has), made on first use
_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        # Made by the hasher in use, so that it records the same work factor as the users'
        # hashes (a hash verifies with the parameters it records).
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[1]


def verify_password_evenly(password: str, password_hash: str | None) -> bool:
    """`verify_password`, costing the same whether or not there is a hash to check: without
    one (no such user, a user without a password) the password is checked against a dummy
    hash, so the response time does not tell which usernames exist."""
    if not password_hash:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, password_hash)


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_secret_hash(secret: str, expected_hash: str) -> bool:
    """Whether `secret` hashes to `expected_hash`, compared in constant time."""
    return hmac.compare_digest(sha256_hex(secret), expected_hash)


def new_secret(prefix: str = TOKEN_PREFIX) -> str:
    """A 256-bit random secret, URL-safe, with a recognisable prefix (secret scanners)."""
    return prefix + secrets.token_urlsafe(32)


def display_prefix(secret: str) -> str:
    return secret[:10]
