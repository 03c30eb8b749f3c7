"""``/health``: the service answers, and how far the index has come."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from indexer import queries
from indexer.web.deps import SessionsDep

router = APIRouter(include_in_schema=False)


@router.get("/health")
def health(sessions: SessionsDep) -> dict[str, Any]:
    with sessions() as db:
        cp = queries.head(db)
    return {"status": "ok", "indexed_block": cp.block_number if cp else None}
