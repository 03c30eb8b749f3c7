"""Request dependencies of the explorer: its state, the page renderer, the language and checked inputs.

Inputs are checked by dependencies declared in the order a route lists them, so the
first bad one is the one reported, as a :class:`~indexer.web.inputs.BadInput` (400).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from indexer import queries
from indexer.web.explorer import Explorer
from indexer.web.inputs import BadInput, address_param, date_range, page_number
from indexer.web.rendering import Pages, lang_of
from indexer.web.texts import SENTENCES


def explorer(request: Request) -> Explorer:
    return request.app.state.explorer  # type: ignore[no-any-return]


def pages(request: Request) -> Pages:
    return request.app.state.pages  # type: ignore[no-any-return]


def sessions(request: Request) -> sessionmaker[Session]:
    return explorer(request).sessions


def page(page: str | None = None) -> int:
    """``?page=``, 1 when absent."""
    return page_number(page)


def period(request: Request) -> queries.TimeRange:
    """``?from=`` and ``?to=`` (JST dates), None when neither is given."""
    return date_range(request.query_params.get("from"), request.query_params.get("to"))


def address(address: str) -> str:
    """The ``{address}`` path parameter, checksummed."""
    return address_param(address)


def movement_kind(kind: str | None = None) -> str:
    """``?kind=`` filter of an address's history: one of the movement kinds, or "" for all."""
    if kind not in (None, "", *SENTENCES["en"]):
        raise BadInput("kind", kind=kind)
    return kind or ""


ExplorerDep = Annotated[Explorer, Depends(explorer)]
PagesDep = Annotated[Pages, Depends(pages)]
SessionsDep = Annotated[sessionmaker[Session], Depends(sessions)]
Lang = Annotated[str, Depends(lang_of)]
Page = Annotated[int, Depends(page)]
Period = Annotated[queries.TimeRange, Depends(period)]
Address = Annotated[str, Depends(address)]
MovementKind = Annotated[str, Depends(movement_kind)]
