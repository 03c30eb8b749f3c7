"""Shop names and the shop directory, followed from the wallet's public directory as they change.

The registered name of a shop is the one the city approved in the wallet (its merchant
registry of applications); the wallet publishes it, with the shop's category, district,
hours and address, at ``GET /v1/shops`` (public business data, nothing personal). The
explorer reads that list over HTTP (``TAKASAGO_INDEXER_SHOPS_URL``: the wallet's base URL)
at most once every :data:`REFRESH_SECONDS`, so a renamed or newly approved shop shows on the
next view without a restart or a hand-written file. If the wallet cannot be reached the last
list read is kept. The labels file remains for the city's own accounts (validators, the city).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from eth_utils import is_hex_address, to_checksum_address

REFRESH_SECONDS = 10.0
TIMEOUT_SECONDS = 2.0


class ShopDirectory:
    """The wallet's list of listed shops, re-read when older than ``refresh_seconds``."""

    def __init__(self, wallet_url: str | None, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.url = wallet_url.rstrip("/") + "/v1/shops" if wallet_url else None
        self.refresh_seconds = refresh_seconds
        self._shops: list[dict[str, Any]] = []
        self._read_at = -refresh_seconds
        self._lock = threading.Lock()

    def shops(self) -> list[dict[str, Any]]:
        """Every listed shop (code, name, category, district, hours, takes_cards, address, static_uri)."""
        if self.url is None:
            return []
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh_seconds:
                self._read_at = time.monotonic()
                try:
                    answer = httpx.get(self.url, timeout=TIMEOUT_SECONDS)
                    if answer.status_code == 200 and isinstance(answer.json(), list):
                        self._shops = [s for s in answer.json() if _valid(s)]
                except (httpx.HTTPError, ValueError):
                    pass  # the wallet is away: the last list stands
            return self._shops

    def names(self) -> dict[str, str]:
        return {str(to_checksum_address(s["address"])): str(s["name"]) for s in self.shops()}


def _valid(shop: Any) -> bool:
    return (
        isinstance(shop, dict)
        and is_hex_address(shop.get("address"))
        and isinstance(shop.get("name"), str)
        and 0 < len(shop["name"]) <= 80
        and isinstance(shop.get("code"), str)
    )


class LiveLabels(Mapping[str, str]):
    """The labels file's names, with each listed shop's registered name (the wallet's wins) read live."""

    def __init__(self, fixed: dict[str, str], directory: ShopDirectory) -> None:
        self.fixed = fixed
        self.directory = directory

    def _current(self) -> dict[str, str]:
        return {**self.fixed, **self.directory.names()}

    def __getitem__(self, address: str) -> str:
        return self._current()[address]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())
