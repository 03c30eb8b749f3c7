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
STANDARD_COST = (3, 64 * 1024)  # (time_cost, memory_cost in KiB)
# Test servers only (TAKASAGO_WALLET_INSECURE_TEST_HASHING=1): the test suite signs up and
# logs in about a thousand members, at ~0.17 s of CPU each at the standard cost — minutes of
# the suite's budget spent on nothing it checks. Never set in production: `wallet serve`
# logs a warning while it is on, and hashes made with it are re-hashed at the standard cost
# at the member's next log-in once it is off (:func:`needs_rehash`).
TEST_ENV = "TAKASAGO_WALLET_INSECURE_TEST_HASHING"
TEST_COST = (1, 1024)
INSECURE_TEST_HASHING = os.environ.get(TEST_ENV) == "1"
_TIME, _MEMORY = TEST_COST if INSECURE_TEST_HASHING else STANDARD_COST
_HASHER = PasswordHasher(time_cost=_TIME, memory_cost=_MEMORY, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
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
