"""Help matching through the wallet API (issue 18), on SQLite and PostgreSQL, over the real node.

A resident posts a request (thanks escrowed on the ledger), a neighbour finds it near them and
offers, the requester chooses and confirms: balances move by exactly the thanks. Details and
the exact place reach only the two matched parties; refusals come with codes in both languages.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.points import PointsSystem
from tests.wallet_support import WalletServer, coordinator, member, officer, running_wallet


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp(f"help-{request.param}"), request.param)


def request_body(thanks: int = 300, district: str = "荒井町", **overrides: Any) -> dict[str, Any]:
    starts = datetime.now(UTC) + timedelta(hours=2)
    body = {
        "task_type": 0,
        "district": district,
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(),
        "thanks": thanks,
        "details": "米10kgの買い物をお願いします",
        "place": "荒井町1-2-3 高砂ハイツ101",
    }
    return {**body, **overrides}


def code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_post_offer_choose_complete_moves_exactly_the_thanks(wallet: WalletServer) -> None:
    requester, helper, neighbour = member(wallet, points=1_000), member(wallet), member(wallet)
    posted = requester.post("/v1/help/requests", request_body(thanks=300))
    assert posted.status_code == 200, posted.text
    assert posted.json()["operation"]["status"] == "confirmed"
    request_id = posted.json()["help_request"]["id"]
    assert requester.balance() == 700

    # a neighbour browses near them: district, task, window and thanks only
    page = helper.get("/v1/help/requests", params={"district": "荒井町", "task_type": 0}).json()
    mine = [r for r in page["items"] if r["id"] == request_id]
    assert mine and mine[0]["thanks"] == 300 and mine[0]["details"] is None and mine[0]["place"] is None
    assert all(r["id"] != request_id for r in requester.get("/v1/help/requests").json()["items"])  # not one's own
    public = neighbour.get(f"/v1/help/requests/{request_id}").json()
    assert public["details"] is None and public["place"] is None and public["role"] == "neighbour"

    assert helper.post(f"/v1/help/requests/{request_id}/offers", {"message": "午後なら行けます"}).status_code == 201
    again = helper.post(f"/v1/help/requests/{request_id}/offers", {"message": ""})
    assert again.status_code == 409 and code(again) == "HELP_ALREADY_OFFERED"
    own = requester.post(f"/v1/help/requests/{request_id}/offers", {})
    assert code(own) == "HELP_CANNOT_HELP_YOURSELF"
    offers = requester.get(f"/v1/help/requests/{request_id}").json()["offers"]
    assert [o["message"] for o in offers] == ["午後なら行けます"]

    not_offered = requester.post(f"/v1/help/requests/{request_id}/choose", {"helper": neighbour.info["id"]})
    assert code(not_offered) == "HELP_NOT_OFFERED"
    stranger = neighbour.post(f"/v1/help/requests/{request_id}/choose", {"helper": offers[0]["helper"]})
    assert stranger.status_code == 403 and code(stranger) == "HELP_NOT_YOURS"
    chosen = requester.post(f"/v1/help/requests/{request_id}/choose", {"helper": offers[0]["helper"]})
    assert chosen.status_code == 200 and chosen.json()["operation"]["status"] == "confirmed", chosen.text

    # the two matched parties now see the details, the place and each other
    as_helper = helper.get(f"/v1/help/requests/{request_id}").json()
    assert as_helper["role"] == "helper" and as_helper["place"] == "荒井町1-2-3 高砂ハイツ101"
    assert as_helper["counterpart"]["member"] == requester.info["short_code"]
    assert neighbour.get(f"/v1/help/requests/{request_id}").status_code == 404  # no longer open: hidden

    done = requester.post(f"/v1/help/requests/{request_id}/complete", {})
    assert done.status_code == 200 and done.json()["operation"]["status"] == "confirmed", done.text
    assert (requester.balance(), helper.balance()) == (700, 300)
    twice = requester.post(f"/v1/help/requests/{request_id}/complete", {})  # a second phone, a new key
    assert twice.status_code == 409 and code(twice) == "HELP_WRONG_STATUS"
    assert twice.json()["error"]["messages"]["en"].startswith("This request is not in a state")
    assert (requester.balance(), helper.balance()) == (700, 300)
    assert [r["status"] for r in helper.get("/v1/help/mine").json()] == ["completed"]


def test_refusals_and_withdrawal(wallet: WalletServer) -> None:
    requester = member(wallet, points=250)
    poor = requester.post("/v1/help/requests", request_body(thanks=300))
    assert poor.status_code == 409 and code(poor) == "INSUFFICIENT_BALANCE"
    out_of_range = requester.post("/v1/help/requests", request_body(thanks=600))
    assert code(out_of_range) == "HELP_THANKS_OUT_OF_RANGE"
    past = datetime.now(UTC) - timedelta(hours=3)
    late = requester.post(
        "/v1/help/requests", request_body(starts_at=past.isoformat(), ends_at=(past + timedelta(hours=1)).isoformat())
    )
    assert late.status_code == 422 and code(late) == "HELP_INVALID_WINDOW"
    naive = requester.post(
        "/v1/help/requests", request_body(starts_at="2030-01-01T10:00:00", ends_at="2030-01-01T11:00:00")
    )
    assert naive.status_code == 422
    assert requester.post("/v1/help/requests", request_body(task_type=99)).status_code == 422
    assert requester.get("/v1/help/requests/not-a-uuid").status_code == 404
    assert requester.get("/v1/help/requests", params={"day": "2026-13-45"}).status_code == 422
    posted = requester.post("/v1/help/requests", request_body(thanks=200))
    request_id = posted.json()["help_request"]["id"]
    assert requester.balance() == 50
    # now the function's gas is known, a post is sent without a precheck: the refusal comes from the receipt
    poorer = requester.post("/v1/help/requests", request_body(thanks=100))
    assert poorer.status_code == 409 and code(poorer) == "INSUFFICIENT_BALANCE", poorer.text
    assert requester.balance() == 50
    assert [r["id"] for r in requester.get("/v1/help/mine").json()] == [request_id]  # the failed post is not listed
    shop = member(wallet, "merchant", shop="高砂ベーカリー")
    assert shop.get("/v1/help/requests").status_code == 403
    withdrawn = requester.post(f"/v1/help/requests/{request_id}/withdraw", {})
    assert withdrawn.status_code == 200 and withdrawn.json()["operation"]["status"] == "confirmed", withdrawn.text
    assert requester.balance() == 250
    assert [r["status"] for r in requester.get("/v1/help/mine").json()][:1] == ["withdrawn"]


def test_a_coordinator_acts_for_a_resident_who_consented_with_card_and_pin(wallet: WalletServer) -> None:
    """社協 posts for an elderly resident (card + PIN), chooses a neighbour and confirms: the resident's own points."""
    elder, helper, other = member(wallet, points=800), member(wallet), member(wallet, points=500)
    card = elder.post("/v1/me/card", {"pin": "246810"})
    assert card.status_code == 201, card.text
    staff = coordinator(wallet)
    rid = elder.info["id"]

    # no consent yet: refused, and nothing moves
    early = staff.post(f"/v1/coordinator/residents/{rid}/help/requests", request_body(thanks=200))
    assert early.status_code == 403 and code(early) == "HELP_NOT_LINKED"
    assert early.json()["error"]["messages"]["ja"].startswith("この方の代理はできません")
    # the wrong PIN, someone else's card, a malformed body: clear refusals
    wrong = staff.post("/v1/coordinator/links", {"member": elder.info["short_code"], "card": card.json()["card"],
                                                 "pin": "000000"}, key=None)  # fmt: skip
    assert wrong.status_code in (401, 403, 409, 422) and code(wrong) == "PIN_INCORRECT", wrong.text
    theirs = staff.post("/v1/coordinator/links", {"member": other.info["short_code"], "card": card.json()["card"],
                                                  "pin": "246810"}, key=None)  # fmt: skip
    assert code(theirs) == "HELP_CARD_NOT_THEIRS"
    assert staff.post("/v1/coordinator/links", {"member": "x"}, key=None).status_code == 422
    assert other.post("/v1/coordinator/links", {"member": elder.info["short_code"], "card": card.json()["card"],
                                                "pin": "246810"}, key=None).status_code == 403  # fmt: skip
    linked = staff.post("/v1/coordinator/links", {"member": elder.info["short_code"], "card": card.json()["card"],
                                                  "pin": "246810"}, key=None)  # fmt: skip
    assert linked.status_code == 201 and linked.json()["consent"] == "card_pin", linked.text
    assert [r["id"] for r in staff.get("/v1/coordinator/residents").json()] == [rid]
    assert [c["name"] for c in elder.get("/v1/help/coordinators").json()] == ["高砂市社協 山田"]

    posted = staff.post(f"/v1/coordinator/residents/{rid}/help/requests", request_body(thanks=200))
    assert posted.status_code == 200 and posted.json()["operation"]["status"] == "confirmed", posted.text
    request_id = posted.json()["help_request"]["id"]
    assert elder.balance() == 600  # the resident's own points went into escrow
    assert helper.post(f"/v1/help/requests/{request_id}/offers", {"message": "行けます"}).status_code == 201
    theirs_view = staff.get(f"/v1/coordinator/residents/{rid}/help").json()
    assert [r["id"] for r in theirs_view] == [request_id] and theirs_view[0]["offers"][0]["message"] == "行けます"
    # the coordinator cannot act for someone who has not consented
    assert code(staff.get(f"/v1/coordinator/residents/{other.info['id']}/help")) == "HELP_NOT_LINKED"
    chosen = staff.post(f"/v1/coordinator/residents/{rid}/help/requests/{request_id}/choose",
                        {"helper": theirs_view[0]["offers"][0]["helper"]})  # fmt: skip
    assert chosen.status_code == 200 and chosen.json()["operation"]["status"] == "confirmed", chosen.text
    detail = staff.get(f"/v1/coordinator/residents/{rid}/help/requests/{request_id}").json()
    assert detail["counterpart"]["member"] == helper.info["short_code"] and detail["place"].startswith("荒井町")
    done = staff.post(f"/v1/coordinator/residents/{rid}/help/requests/{request_id}/complete", {})
    assert done.status_code == 200 and done.json()["operation"]["status"] == "confirmed", done.text
    assert (elder.balance(), helper.balance()) == (600, 200)
    assert wallet.points.token.functions.balanceOf(elder.info["address"]).call() == 600  # reconciled with the chain
    assert wallet.points.token.functions.balanceOf(helper.info["address"]).call() == 200

    # the resident ends the consent in their app: the coordinator can no longer act
    coordinators = elder.get("/v1/help/coordinators").json()
    assert (
        elder.client.delete(f"/v1/help/coordinators/{coordinators[0]['id']}", headers=elder.headers()).status_code
        == 204
    )
    after = staff.post(f"/v1/coordinator/residents/{rid}/help/requests", request_body(thanks=100))
    assert code(after) == "HELP_NOT_LINKED" and elder.balance() == 600
    assert staff.get("/v1/coordinator/residents").json() == []
    # and may consent again in the app, by the coordinator's code
    again = elder.post("/v1/help/coordinators", {"coordinator": staff.info["short_code"]}, key=None)
    assert again.status_code == 201 and again.json()["consent"] == "in_app", again.text
    unknown = elder.post("/v1/help/coordinators", {"coordinator": helper.info["short_code"]}, key=None)
    assert code(unknown) == "HELP_COORDINATOR_UNKNOWN"

    # every action taken for the resident is on the city's trail, with who took it
    trail = officer(wallet).get("/v1/officer/help/actions", params={"limit": 500}).json()
    theirs = [(a["actor"], a["action"]) for a in reversed(trail) if a["resident"] == elder.info["short_code"]]
    assert theirs == [("coordinator1", "link"), ("coordinator1", "post"), ("coordinator1", "choose"),
                      ("coordinator1", "complete"), (elder.login_id, "unlink"), (elder.login_id, "link")]  # fmt: skip
    assert staff.get("/v1/officer/help/actions").status_code == 403
