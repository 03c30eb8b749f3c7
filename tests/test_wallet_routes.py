"""The wallet's routing table: no route hides another, and the busiest routes are tried first.

FastAPI matches an included router's routes one at a time, so the order of the routers costs
CPU on every request (``wallet_api/app.py``). Reordering them is safe only while no route's
paths are also matched by a route before it; this checks that on the real table, with no
database and no node (the routes need neither to be listed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from wallet_api.app import create_app
from wallet_api.services import Services
from wallet_api.settings import WalletSettings


def _flatten(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route in the order requests try them, included routers opened in place."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _flatten(inner.routes)
        elif hasattr(route, "path_regex"):
            yield route


def _sample(path: str) -> str:
    """A concrete path the route answers: each parameter filled with a plain value."""
    return re.sub(r"\{[^}:]+(:path)?\}", lambda m: "a/b" if m.group(1) else "x1", path)


@pytest.fixture(scope="module")
def routes() -> list[Any]:
    app = create_app(cast(Services, SimpleNamespace(settings=WalletSettings())), run_worker=False)
    return list(_flatten(app.router.routes))


def test_no_route_is_hidden_by_an_earlier_one(routes: list[Any]) -> None:
    assert len(routes) > 150  # the real table, not an empty app
    hidden = []
    for i, route in enumerate(routes):
        path = _sample(route.path)
        for earlier in routes[:i]:
            if earlier.path_regex.match(path) and (earlier.methods or set()) & (route.methods or set()):
                hidden.append(f"{sorted(route.methods)} {route.path} behind {earlier.path}")
    assert hidden == []


def test_a_payment_and_a_payment_request_are_among_the_first_routes_tried(routes: list[Any]) -> None:
    position = {(method, route.path): i for i, route in enumerate(routes) for method in route.methods or ()}
    for key in (("POST", "/v1/payments"), ("POST", "/v1/payment-requests"), ("GET", "/v1/operations/{operation_id}")):
        assert position[key] < 30, (key, position[key])
