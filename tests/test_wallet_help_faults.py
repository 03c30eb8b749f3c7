"""Help matching through crashes (issue 18): the wallet dying between accept and sign, after signing or after
the broadcast, and the node dying mid-escrow, on SQLite and PostgreSQL over the real node.

Every case ends reconciled with the chain: one ``RequestPosted`` and exactly the thanks in escrow for a
post retried under its Idempotency-Key, one ``HelpCompleted`` paying exactly the thanks for a completion.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.points import PointsSystem
from tests.test_wallet_help import request_body
from tests.test_wallet_pipeline import final
from tests.wallet_support import Api, WalletServer, member, running_wallet


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp(f"help-faults-{request.param}"), request.param)


def posted_on_chain(points: PointsSystem, requester: str) -> list[Any]:
    return list(points.board.events.RequestPosted().get_logs(from_block=0, argument_filters={"requester": requester}))


def completed_on_chain(points: PointsSystem, helper: str) -> list[Any]:
    return list(points.board.events.HelpCompleted().get_logs(from_block=0, argument_filters={"helper": helper}))


def crash_on(wallet: WalletServer, failpoint: str, call: Any) -> None:
    """Restarts the API to die at ``failpoint`` during ``call``, then restarts it normally."""
    wallet.stop()
    wallet.env["TAKASAGO_WALLET_FAILPOINT"] = failpoint
    wallet.start()
    try:
        with pytest.raises(httpx.HTTPError):
            call()
        wallet.process.wait(timeout=30)  # type: ignore[union-attr]
        assert wallet.process.returncode == 86  # type: ignore[union-attr]
    finally:
        wallet.env.pop("TAKASAGO_WALLET_FAILPOINT")
        wallet.start()


@pytest.mark.parametrize("failpoint", ["after-accept", "after-sign", "after-broadcast"])
def test_a_post_interrupted_by_a_crash_escrows_exactly_once(wallet: WalletServer, failpoint: str) -> None:
    requester = member(wallet, points=1_000)
    body = request_body(thanks=300)
    crash_on(wallet, failpoint, lambda: requester.post("/v1/help/requests", body, key=f"post-{failpoint}"))
    retry = requester.post("/v1/help/requests", body, key=f"post-{failpoint}")  # the app retries, same key
    assert retry.status_code in (200, 202), retry.text
    assert final(requester, retry)["status"] == "confirmed"
    again = requester.post("/v1/help/requests", body, key=f"post-{failpoint}")
    assert again.json()["operation"]["id"] == retry.json()["operation"]["id"]
    assert len(posted_on_chain(wallet.points, requester.info["address"])) == 1
    assert wallet.points.balance(requester.info["address"]) == 700
    mine = requester.get("/v1/help/mine").json()
    assert [r["status"] for r in mine] == ["open"], mine


def test_a_completion_interrupted_and_retried_pays_once(wallet: WalletServer) -> None:
    requester, helper = member(wallet, points=1_000), member(wallet)
    request_id = requester.post("/v1/help/requests", request_body(thanks=300)).json()["help_request"]["id"]
    assert helper.post(f"/v1/help/requests/{request_id}/offers", {}).status_code == 201
    chosen = requester.post(f"/v1/help/requests/{request_id}/choose", {"helper": helper.info["id"]})
    assert final(requester, chosen)["status"] == "confirmed"
    path = f"/v1/help/requests/{request_id}/complete"
    crash_on(wallet, "after-sign", lambda: requester.post(path, {}, key="complete-1"))
    retry = requester.post(path, {}, key="complete-1")
    assert final(requester, retry)["status"] == "confirmed"
    second_phone = requester.post(path, {}, key="complete-2")  # the other phone, another key
    assert second_phone.json()["error"]["code"] == "HELP_WRONG_STATUS"
    assert [e.args.paid for e in completed_on_chain(wallet.points, helper.info["address"])] == [300]
    assert (wallet.points.balance(requester.info["address"]), wallet.points.balance(helper.info["address"])) == (
        700,
        300,
    )


def test_the_node_dies_mid_escrow(wallet: WalletServer) -> None:
    """The API dies after signing a post and the node is killed too (its pool lost); both restart."""
    requester: Api = member(wallet, points=500)
    body = request_body(thanks=200)
    wallet.stop()
    wallet.env["TAKASAGO_WALLET_FAILPOINT"] = "after-sign"
    wallet.start()
    try:
        with pytest.raises(httpx.HTTPError):
            requester.post("/v1/help/requests", body, key="node-dies")
        wallet.process.wait(timeout=30)  # type: ignore[union-attr]
    finally:
        wallet.env.pop("TAKASAGO_WALLET_FAILPOINT")
    node = wallet.points.node
    node.kill()
    wallet.start()
    try:
        down = requester.post("/v1/help/requests", request_body(thanks=100), key="while-down")
        assert down.status_code == 503 and down.json()["error"]["code"] == "NODE_UNAVAILABLE", down.text
    finally:
        node.start()
    retry = requester.post("/v1/help/requests", body, key="node-dies")  # the worker re-sends the stored bytes
    assert final(requester, retry)["status"] == "confirmed"
    assert len(posted_on_chain(wallet.points, requester.info["address"])) == 1
    assert wallet.points.balance(requester.info["address"]) == 300
    assert requester.post("/v1/help/requests", request_body(thanks=100), key="while-down").status_code in (200, 202)
