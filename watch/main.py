"""ASGI entry point of the watch service (``uvicorn watch.main:app``), configured from the environment."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from watch.app import create_watch_app
from watch.sealing import Sealer
from watch.settings import WatchSettings
from watch.store import WatchStore


def __getattr__(name: str) -> Any:
    if name == "app":
        settings = WatchSettings()
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        store = WatchStore(settings.database, Sealer.from_file(settings.kek, create=True),
                           retention_days=settings.retention_days)  # fmt: skip
        store.resolver.warm(int(time.time()))  # the current windows' tables, before the first batch waits for them
        return create_watch_app(store, settings.purge_seconds, _token(settings.service_token_file),
                                _token(settings.stats_token_file))  # fmt: skip
    raise AttributeError(name)


def _token(path: Path | None) -> str | None:
    """A token from its 0600 file (refused if others can read it); None when not configured."""
    if path is None:
        return None
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} is readable by others: chmod 600 it")
    return path.read_text(encoding="utf-8").strip() or None
