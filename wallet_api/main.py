"""The ASGI entry point (``uvicorn wallet_api.main:app``), configured from the environment."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from fastapi import FastAPI

from wallet_api.app import configure_logging, create_app
from wallet_api.services import Services
from wallet_api.settings import WalletSettings


def _app() -> FastAPI:
    # `takasago wallet serve` has migrated the database and checked the KEK before starting the workers
    configure_logging()
    return create_app(Services.build(WalletSettings(), create_secrets=False, run_migrations=False))


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, built without a database or node (for docs and the committed copy)."""
    routes_only = cast(Services, SimpleNamespace(settings=WalletSettings()))
    return create_app(routes_only, run_worker=False).openapi()


def __getattr__(name: str) -> Any:
    if name == "app":
        return _app()
    raise AttributeError(name)
