"""Passwords and PINs hashed with argon2id (RFC 9106), never stored or logged in clear.

Each hash costs ~64 MiB and tens of milliseconds of one core, so the number running at
once is bounded to the machine's cores (issue 15, finding 9): a burst of log-ins then
queues here instead of taking every core (and memory) from the requests behind it.
Callers hash and verify *outside* any database transaction, so waiting here never holds
a lock. :func:`verify_secret_async` queues on the event loop, not on a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id recommendation (m=19 MiB, t=2, p=1) raised to RFC 9106's second
# recommended option's memory (64 MiB), t=3: ~50-100 ms per hash on this class of machine.
_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
CONCURRENT_HASHES = max(1, os.cpu_count() or 1)
_SLOTS = threading.BoundedSemaphore(CONCURRENT_HASHES)
_EXECUTOR = ThreadPoolExecutor(max_workers=CONCURRENT_HASHES, thread_name_prefix="argon2")


def hash_secret(secret: str) -> str:
    """An argon2id hash (PHC string, salt and parameters included) of ``secret``."""
    with _SLOTS:
        return _HASHER.hash(secret)


def verify_secret(stored: str, secret: str) -> bool:
    """True when ``secret`` matches ``stored``; False for a mismatch or a malformed hash."""
    with _SLOTS:
        try:
            return _HASHER.verify(stored, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


async def verify_secret_async(stored: str, secret: str) -> bool:
    """:func:`verify_secret` on the bounded argon2 threads; waiting costs a coroutine, not a thread."""
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, verify_secret, stored, secret)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's (rehash at next login)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True
