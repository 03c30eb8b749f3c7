"""``/health``: the service answers, and how many batches its evidence store holds."""

from __future__ import annotations

from fastapi import APIRouter

from oracle.deps import InboxDep

router = APIRouter()


@router.get("/health")
def health(inbox: InboxDep) -> dict[str, object]:
    return {"status": "ok", "batches": inbox.batches()}
