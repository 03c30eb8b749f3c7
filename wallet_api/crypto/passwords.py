"""Passwords and PINs hashed with argon2id (RFC 9106), never stored or logged in clear."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id recommendation (m=19 MiB, t=2, p=1) raised to RFC 9106's second
# recommended option's memory (64 MiB), t=3: ~50-100 ms per hash on this class of machine.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_secret(secret: str) -> str:
    """An argon2id hash (PHC string, salt and parameters included) of ``secret``."""
    return _HASHER.hash(secret)


def verify_secret(stored: str, secret: str) -> bool:
    """True when ``secret`` matches ``stored``; False for a mismatch or a malformed hash."""
    try:
        return _HASHER.verify(stored, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's (rehash at next login)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True
