"""ASGI entry point of the oracle (``uvicorn oracle.main:app``), configured from the environment."""

from __future__ import annotations

import logging
from typing import Any

from oracle.app import create_oracle_app
from oracle.gateways import Inbox, load_gateways
from oracle.settings import OracleSettings


def __getattr__(name: str) -> Any:
    if name == "app":
        settings = OracleSettings()
        # refusals (with the gateway that tried) must reach the operator's log; uvicorn configures only its own
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        gateways = load_gateways(settings.gateways) if settings.gateways.exists() else {}
        return create_oracle_app(Inbox(settings.inbox, gateways), settings.reports)
    raise AttributeError(name)
