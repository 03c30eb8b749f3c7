"""ASGI entry point of the oracle (``uvicorn oracle.main:app``), configured from the environment."""

from __future__ import annotations

import logging
from typing import Any

from oracle.app import create_oracle_app
from oracle.enrolment import read_token
from oracle.evidence import EvidenceStore
from oracle.gateways import Inbox, load_gateways
from oracle.settings import OracleSettings


def __getattr__(name: str) -> Any:
    if name == "app":
        settings = OracleSettings()
        # refusals (with the gateway that tried) must reach the operator's log; uvicorn configures only its own
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        gateways = load_gateways(settings.gateways) if settings.gateways.exists() else {}
        store = EvidenceStore(settings.evidence_url)
        if settings.old_inbox.is_dir():
            moved = store.import_inbox(settings.old_inbox)
            settings.old_inbox.rename(settings.old_inbox.with_name("inbox.imported"))
            logging.getLogger("oracle").info("moved %d batches from the inbox directory to the evidence store", moved)
        token = read_token(settings.service_token) if settings.service_token is not None else None
        return create_oracle_app(Inbox(store, gateways), settings.reports, token)
    raise AttributeError(name)
