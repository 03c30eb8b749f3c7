"""Open help requests whose time ended give their thanks back by themselves (issue 18), over the real node.

The wallet's sweeper sends the requester's own ``HelpBoard.expire`` once the window has been over
for the grace period (a second here, a minute by default); nobody has to press anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.points import PointsSystem
from tests.test_wallet_help import request_body
from tests.wallet_support import WalletServer, member, running_wallet

# a chain of its own: its windows are seconds long and checked against the chain's clock, which
# another module on the worker's shared chain may have moved ahead (the CI run at 625e800 was
# refused a window ending 2 s after the wall clock)


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    sweep = {"TAKASAGO_WALLET_HELP_SWEEP_SECONDS": "0.5", "TAKASAGO_WALLET_HELP_EXPIRY_GRACE_SECONDS": "1"}
    yield from running_wallet(points, tmp_path_factory.mktemp("help-expiry"), "sqlite", **sweep)


def test_an_unmatched_request_returns_its_thanks_when_its_time_is_over(wallet: WalletServer) -> None:
    requester, helper = member(wallet, points=500), member(wallet)
    now = datetime.now(UTC)
    soon = request_body(thanks=200, starts_at=(now - timedelta(hours=1)).isoformat(),
                        ends_at=(now + timedelta(seconds=2)).isoformat())  # fmt: skip
    short = requester.post("/v1/help/requests", soon).json()["help_request"]["id"]
    later = requester.post("/v1/help/requests", request_body(thanks=100)).json()["help_request"]["id"]
    # a matched request is not the sweeper's to end, even after its window
    matched_body = {**soon, "ends_at": (now + timedelta(seconds=4)).isoformat()}
    matched = requester.post("/v1/help/requests", matched_body).json()["help_request"]["id"]
    assert helper.post(f"/v1/help/requests/{matched}/offers", {}).status_code == 201
    assert requester.post(f"/v1/help/requests/{matched}/choose", {"helper": helper.info["id"]}).status_code == 200
    assert requester.balance() == 0
    deadline = time.monotonic() + 30
    while requester.get(f"/v1/help/requests/{short}").json()["status"] != "expired":
        assert time.monotonic() < deadline, "the expired request was never swept"
        time.sleep(0.5)
    time.sleep(6)  # several more sweeps: the matched request's window is over too
    assert requester.balance() == 200  # exactly the swept request's thanks, once
    assert requester.get(f"/v1/help/requests/{later}").json()["status"] == "open"
    assert requester.get(f"/v1/help/requests/{matched}").json()["status"] == "matched"
    returned = list(wallet.points.board.events.EscrowReturned().get_logs(from_block=0))
    assert sum(1 for e in returned if e.args.requester == requester.info["address"]) == 1
