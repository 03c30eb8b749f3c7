"""Request dependencies of the oracle: its inbox, its reports and the ingest's in-flight limit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from oracle.errors import Refusal
from oracle.gateways import Inbox

MAX_BATCHES_IN_FLIGHT = 4


class InFlight:
    """At most ``limit`` batches are read at once (which bounds memory); one more is told to retry (503)."""

    def __init__(self, limit: int = MAX_BATCHES_IN_FLIGHT) -> None:
        self.limit = limit
        self.count = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self.count >= self.limit:
            raise Refusal(
                503,
                "BUSY",
                "too many batches are being received; retry shortly / "
                "受信中のバッチが多すぎます。少し後で再送してください",
            )
        self.count += 1  # no await between the check and this: the event loop runs one request at a time here
        try:
            yield
        finally:
            self.count -= 1


def inbox(request: Request) -> Inbox:
    return request.app.state.inbox  # type: ignore[no-any-return]


def reports_dir(request: Request) -> Path:
    return request.app.state.reports_dir  # type: ignore[no-any-return]


def in_flight(request: Request) -> InFlight:
    return request.app.state.in_flight  # type: ignore[no-any-return]


InboxDep = Annotated[Inbox, Depends(inbox)]
ReportsDir = Annotated[Path, Depends(reports_dir)]
InFlightDep = Annotated[InFlight, Depends(in_flight)]
