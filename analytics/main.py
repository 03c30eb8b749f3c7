"""ASGI entry point of the analytics service (``uvicorn analytics.main:app``), configured from the
environment; starts the refresher thread that pulls the sources every ``refresh_seconds``."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from analytics.service import Platform, Service
from analytics.settings import AnalyticsSettings
from analytics.web.app import create_app


def build(settings: AnalyticsSettings) -> Any:
    platform = Platform.open(settings)
    token = None
    if settings.officer_token_file is not None and settings.officer_token_file.exists():
        token = settings.officer_token_file.read_text(encoding="utf-8").strip() or None
    stop = threading.Event()
    refresher = threading.Thread(target=platform.run_forever, args=(stop,), name="analytics-refresh", daemon=True)

    @asynccontextmanager
    async def refreshing(_app: Any) -> AsyncIterator[None]:
        refresher.start()
        yield
        stop.set()

    return create_app(Service(platform, token), lifespan=refreshing)


def __getattr__(name: str) -> Any:
    if name == "app":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return build(AnalyticsSettings())
    raise AttributeError(name)
