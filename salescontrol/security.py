"""Secrets of SalesControl: device tokens, user passwords and login sessions.

- A device token is `<token_id>.<secret>`: the id finds the device's row (indexed,
  nothing else is loaded), the 256-bit secret is kept only as an HMAC-SHA256 under a
  per-device salt. A random secret of that size cannot be guessed, so a fast hash is
  enough; the salt keeps two devices' hashes unrelated.
- A password is kept as argon2id (argon2-cffi): slow on purpose, with its own salt.
- A session token is random; only its SHA-256 is stored, so the table leaks no
  usable login.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class DeviceToken:
    token: str
    """Shown once, at creation; the device sends it as its Bearer token."""
    token_id: str
    salt: bytes
    digest: bytes


def new_device_token() -> DeviceToken:
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = os.urandom(16)
    return DeviceToken(f"{token_id}.{secret}", token_id, salt, _digest(salt, secret))


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


def split_device_token(token: str) -> tuple[str, str] | None:
    token_id, dot, secret = token.partition(".")
    return (token_id, secret) if dot and token_id and secret else None


def device_secret_matches(secret: str, salt: bytes, digest: bytes) -> bool:
    return hmac.compare_digest(_digest(salt, secret), digest)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password: str, stored: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


# A password hash to verify against when the login does not exist, so that the
# answer takes as long as for a wrong password and does not reveal which logins exist.
DUMMY_PASSWORD_HASH = _hasher.hash(secrets.token_urlsafe(16))


def new_session_token() -> tuple[str, bytes]:
    """(the token for the client, what the table keeps)."""
    token = secrets.token_urlsafe(32)
    return token, session_digest(token)


def session_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
