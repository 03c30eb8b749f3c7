"""The platform's state: the local store, the pulls from every source, the published figures.

``refresh`` pulls every configured source, computes every indicator (``indicators.py``) and
publishes them through the k-rule (``publish.py``); pages then read only the published figures in
memory, so a page never runs a query and never sees a cell below k.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics import census, feeds, indicators, pseudonyms
from analytics.indexer_source import IndexerSource
from analytics.publish import Published, publish
from analytics.settings import AnalyticsSettings
from analytics.warehouse import DuckWarehouse, Warehouse

log = logging.getLogger("analytics")


def local_secret(path: Path) -> bytes:
    """A secret of this service alone (0600), for pseudonyms when no wallet shares one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return pseudonyms.read_secret(path)


@dataclass
class Platform:
    """The store and the figures published from it; ``refresh`` is the only writer."""

    settings: AnalyticsSettings
    store: Warehouse
    published: Published | None = None
    raw: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    last_block: int = 0
    refreshed_at: float = 0.0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, settings: AnalyticsSettings, store: Warehouse | None = None) -> Platform:
        platform = cls(settings, store or DuckWarehouse(settings.store_path))
        platform.store.replace("population", _columns(census.load(settings.census_file)))
        found = platform.store.query("SELECT MAX(block) FROM movements")
        platform.last_block = int(found[0][0] or 0) if found else 0
        return platform

    @property
    def secret(self) -> bytes:
        if self.settings.research_secret_file is not None:
            return pseudonyms.read_secret(self.settings.research_secret_file)
        return local_secret(self.settings.data_dir / "pseudonym-secret")

    def refresh(self) -> None:
        """One pull of every configured source, then the indicators; a failing source is logged, not fatal."""
        with self.lock:
            errors: list[str] = []
            secret = self.secret
            key = pseudonyms.pseudonym_key(secret)
            if self.settings.indexer_database_url:
                source = IndexerSource(self.settings.indexer_database_url, pseudonyms.namer(key))
                try:
                    self.last_block = source.pull(self.store, self.last_block)
                except Exception as exc:  # noqa: BLE001 - any source failure is reported on the page and retried
                    errors.append(f"indexer: {type(exc).__name__}")
                    log.warning("indexer pull failed: %s", type(exc).__name__)
            if self.settings.wallet_url and self.settings.research_secret_file is not None:
                try:
                    feeds.pull_wallet(self.store, self.settings.wallet_url, pseudonyms.feed_token(secret))
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"wallet: {type(exc).__name__}")
                    log.warning("wallet feed failed: %s", exc)
                try:
                    feeds.pull_card_payments(self.store, self.settings.wallet_url, pseudonyms.feed_token(secret))
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"wallet card payments: {type(exc).__name__}")
                    log.warning("wallet card payments failed: %s", type(exc).__name__)
            if self.settings.oracle_url:
                try:
                    feeds.pull_oracle_energy(self.store, self.settings.oracle_url)
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"oracle: {type(exc).__name__}")
            if self.settings.watch_url and self.settings.watch_stats_token_file is not None:
                try:
                    token = self.settings.watch_stats_token_file.read_text(encoding="utf-8").strip()
                    feeds.pull_watch(self.store, self.settings.watch_url, token)
                except Exception as exc:  # noqa: BLE001
                    errors.append(f"watch: {type(exc).__name__}")
                    log.warning("watch statistics failed: %s", type(exc).__name__)
            self.recompute()
            self.errors = errors

    def recompute(self) -> None:
        self.raw = indicators.compute(self.store)
        self.published = publish(self.raw, self.settings.k)
        self.refreshed_at = time.time()

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the refresher must outlive one bad pull
                log.exception("refresh failed")
            if self.settings.refresh_seconds <= 0:
                return
            stop.wait(max(1.0, self.settings.refresh_seconds - (time.monotonic() - started)))


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    if not rows:
        return {}
    return {name: [row[name] for row in rows] for name in rows[0]}


@dataclass
class Service:
    """What the web app holds: the platform and the officers' token (none: no officer view)."""

    platform: Platform
    officer_token: str | None = None

    def officer_allowed(self, token: str | None) -> bool:
        if not self.officer_token or not token:
            return False
        return hmac.compare_digest(token.encode(), self.officer_token.encode())
