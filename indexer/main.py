"""ASGI entry point (``uvicorn indexer.main:app``): the explorer with the follower running inside."""

from __future__ import annotations

from typing import Any

from indexer.service import build_app
from indexer.settings import IndexerSettings


def __getattr__(name: str) -> Any:
    if name == "app":
        return build_app(IndexerSettings())
    raise AttributeError(name)
