"""ASGI entry point of the oracle (``uvicorn oracle.main:app``), configured from the environment."""

from __future__ import annotations

from typing import Any

from oracle.app import create_oracle_app
from oracle.gateways import Inbox, load_gateways
from oracle.settings import OracleSettings


def __getattr__(name: str) -> Any:
    if name == "app":
        settings = OracleSettings()
        gateways = load_gateways(settings.gateways) if settings.gateways.exists() else {}
        return create_oracle_app(Inbox(settings.inbox, gateways), settings.reports)
    raise AttributeError(name)
