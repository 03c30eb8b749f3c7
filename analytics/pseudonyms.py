"""The shared research secret and what both sides derive from it.

The wallet and this service hold the same secret file (made by ``takasago up``, 0600). From it
each derives, by HMAC-SHA256 with fixed labels, the feed's service token and the pseudonym key.
An account is known here only by ``pseudonym(key, address)``: the wallet sends attributes under
that name and the ingest renames on-chain addresses the same way, so the two join without this
service ever storing an address next to a district or an age band. The same three functions live
in ``wallet_api/research_feed.py`` (services import no other service); a shared test vector in
``tests/test_research_feed.py`` keeps them equal.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

TOKEN_LABEL = b"takasago research feed token v1"
PSEUDONYM_LABEL = b"takasago research pseudonym key v1"
PSEUDONYM_HEX = 32  # 128 bits: no collisions among a city's accounts


def read_secret(path: Path) -> bytes:
    secret = path.read_bytes().strip()
    if len(secret) < 16:
        raise ValueError(f"{path}: the research secret is too short")
    return secret


def feed_token(secret: bytes) -> str:
    return hmac.new(secret, TOKEN_LABEL, hashlib.sha256).hexdigest()


def pseudonym_key(secret: bytes) -> bytes:
    return hmac.new(secret, PSEUDONYM_LABEL, hashlib.sha256).digest()


def pseudonym(key: bytes, address: str) -> str:
    """An account's name in the data platform: a keyed hash of its lowercase address."""
    return hmac.new(key, address.lower().encode("ascii"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX]


def account_number(name: str) -> int:
    """The pseudonym as the store keeps it: its first 64 bits as a signed BIGINT.

    Numbers cost a quarter of text to store and join (ten million movements carry two each), and
    64 bits leave a collision among a city's accounts at about one chance in 10^9. 0 is the zero
    address (mints and burns), never a hash.
    """
    value = int(name[:16], 16)
    return value - 2**64 if value >= 2**63 else value


def namer(key: bytes) -> Callable[[str], int]:
    """``address -> account number`` under ``key``, the zero address as 0."""
    zero = "0x" + "00" * 20

    def number(address: str) -> int:
        return 0 if address.lower() == zero else account_number(pseudonym(key, address))

    return number
