"""Help matching through the wallet API (issue 18), on SQLite and PostgreSQL, over the real node.

A resident posts a request (thanks escrowed on the ledger), a neighbour finds it near them and
offers, the requester chooses and confirms: balances move by exactly the thanks. Details and
the exact place reach only the two matched parties; refusals come with codes in both languages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eth_utils import keccak

from tests.points import HELP_MODERATOR_ROLE, PointsSystem
from tests.wallet_support import Api, WalletServer, coordinator, member, officer, running_wallet, shared_points

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (their own help limits)
points = shared_points


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    directory = tmp_path_factory.mktemp(f"help-{request.param}")
    # the city funds a helper bonus (50 pt per completion) and help vouchers (100 pt each), verified by the service
    bonus = points.create_programme(name="お手伝いボーナス", verifierRole=COMMUNITY_VERIFIER, rewardPoints=50)
    voucher = points.create_programme(name="お手伝い券", verifierRole=COMMUNITY_VERIFIER, rewardPoints=100)
    env = {
        "TAKASAGO_WALLET_HELP_OFFERS_PER_DAY": str(OFFERS_PER_DAY),
        "TAKASAGO_WALLET_HELP_BONUS_PROGRAMME": str(bonus),
        "TAKASAGO_WALLET_HELP_VOUCHER_PROGRAMME": str(voucher),
    }
    server = next(gen := running_wallet(points, directory, request.param, **env))
    server.programmes = {"bonus": bonus, "voucher": voucher}  # type: ignore[attr-defined]
    yield server
    yield from gen


OFFERS_PER_DAY = 3
COMMUNITY_VERIFIER = keccak(text="COMMUNITY_VERIFIER_ROLE")


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

    bad = requester.post(f"/v1/help/requests/{request_id}/complete", {"message": "ok", "rating": 9})
    assert bad.status_code == 422  # a rating is 1 to 5
    done = requester.post(f"/v1/help/requests/{request_id}/complete", {"message": "助かりました！", "rating": 5})
    assert done.status_code == 200 and done.json()["operation"]["status"] == "confirmed", done.text
    assert (requester.balance(), helper.balance()) == (700, 300)
    thanked = helper.get(f"/v1/help/requests/{request_id}").json()
    assert thanked["thank_message"] == "助かりました！" and "rating" not in thanked  # the rating is the city's
    twice = requester.post(f"/v1/help/requests/{request_id}/complete", {})  # a second phone, a new key
    assert twice.status_code == 409 and code(twice) == "HELP_WRONG_STATUS"
    assert twice.json()["error"]["messages"]["en"].startswith("This request is not in a state")
    assert (requester.balance(), helper.balance()) == (700, 300)
    assert [r["status"] for r in helper.get("/v1/help/mine").json()] == ["completed"]

    # the city's helper bonus: one claim for the helper, approved by an officer like any claim
    desk = officer(wallet)
    pending = desk.get("/v1/officer/claims", params={"status": "pending"}).json()
    bonus = [c for c in pending if c["programme_id"] == wallet.programmes["bonus"] and request_id in c["evidence"]]
    assert len(bonus) == 1 and bonus[0]["resident"] == helper.info["address"], pending
    approved = desk.post(f"/v1/officer/claims/{bonus[0]['id']}/approve", {})
    assert approved.status_code == 200, approved.text
    assert helper.balance() == 350 and requester.balance() == 700


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

    # a help voucher claimed for her by the coordinator, decided by an officer: 2 x 100 pt of her own
    voucher = staff.post(
        f"/v1/coordinator/residents/{rid}/vouchers", {"units": 2, "evidence": "通院の付き添い"}, key=None
    )
    assert voucher.status_code == 201 and voucher.json()["resident"] == elder.info["address"], voucher.text
    assert officer(wallet).post(f"/v1/officer/claims/{voucher.json()['id']}/approve", {}).status_code == 200
    assert elder.balance() == 800

    # the resident ends the consent in their app: the coordinator can no longer act
    coordinators = elder.get("/v1/help/coordinators").json()
    assert (
        elder.client.delete(f"/v1/help/coordinators/{coordinators[0]['id']}", headers=elder.headers()).status_code
        == 204
    )
    after = staff.post(f"/v1/coordinator/residents/{rid}/help/requests", request_body(thanks=100))
    assert code(after) == "HELP_NOT_LINKED" and elder.balance() == 800
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
                      ("coordinator1", "complete"), ("coordinator1", "voucher"), (elder.login_id, "unlink"),
                      (elder.login_id, "link")]  # fmt: skip
    assert staff.get("/v1/officer/help/actions").status_code == 403


def matched(wallet: WalletServer, thanks: int = 200) -> tuple[Api, Api, str]:
    """A request posted by a new resident, offered by a new neighbour and chosen: (requester, helper, id)."""
    requester, helper = member(wallet, points=1_000), member(wallet)
    request_id = requester.post("/v1/help/requests", request_body(thanks=thanks)).json()["help_request"]["id"]
    assert helper.post(f"/v1/help/requests/{request_id}/offers", {}).status_code == 201
    chosen = requester.post(f"/v1/help/requests/{request_id}/choose", {"helper": helper.info["id"]})
    assert chosen.json()["operation"]["status"] == "confirmed", chosen.text
    return requester, helper, request_id


def test_cancel_step_back_and_expiry_return_or_reopen_exactly(wallet: WalletServer) -> None:
    # the requester cancels before the time starts: every point comes back
    requester, helper, request_id = matched(wallet)
    assert code(helper.post(f"/v1/help/requests/{request_id}/cancel", {})) == "HELP_NOT_YOURS"
    cancelled = requester.post(f"/v1/help/requests/{request_id}/cancel", {})
    assert cancelled.json()["operation"]["status"] == "confirmed", cancelled.text
    assert requester.get(f"/v1/help/requests/{request_id}").json()["status"] == "cancelled"
    assert requester.balance() == 1_000 and helper.balance() == 0

    # the chosen helper steps back: the request is open again for others, the thanks still held
    requester, helper, request_id = matched(wallet)
    stranger = member(wallet)
    refused = stranger.post(f"/v1/help/requests/{request_id}/step-back", {})
    assert refused.status_code == 403 and code(refused) == "HELP_NOT_THE_HELPER"
    back = helper.post(f"/v1/help/requests/{request_id}/step-back", {})
    assert back.json()["operation"]["status"] == "confirmed", back.text
    again = requester.get(f"/v1/help/requests/{request_id}").json()
    assert again["status"] == "open" and again.get("counterpart") is None
    assert requester.balance() == 800
    assert helper.get(f"/v1/help/requests/{request_id}").json()["role"] == "neighbour"  # no longer told the place

    # a request whose time ends with nobody chosen: its thanks are taken back (not before)
    late = member(wallet, points=300)
    now = datetime.now(UTC)
    body = request_body(thanks=200, starts_at=(now - timedelta(hours=1)).isoformat(),
                        ends_at=(now + timedelta(seconds=3)).isoformat())  # fmt: skip
    posted = late.post("/v1/help/requests", body)
    assert posted.status_code == 200, posted.text
    late_id = posted.json()["help_request"]["id"]
    early = late.post(f"/v1/help/requests/{late_id}/expire", {})
    assert early.status_code == 409 and code(early) == "HELP_NOT_EXPIRED", early.text
    time.sleep(4)
    expired = late.post(f"/v1/help/requests/{late_id}/expire", {})
    assert expired.json()["operation"]["status"] == "confirmed", expired.text
    assert late.balance() == 300 and late.get(f"/v1/help/requests/{late_id}").json()["status"] == "expired"


def test_a_dispute_is_decided_by_the_city_and_moderation_is_recorded(wallet: WalletServer) -> None:
    requester, helper, request_id = matched(wallet, thanks=300)
    outsider = member(wallet)
    assert code(outsider.post(f"/v1/help/requests/{request_id}/dispute", {"reason": "?"})) == "HELP_NOT_A_PARTY"
    disputed = helper.post(f"/v1/help/requests/{request_id}/dispute", {"reason": "約束の時間に不在でした"})
    assert disputed.json()["operation"]["status"] == "confirmed", disputed.text
    paying = requester.post(f"/v1/help/requests/{request_id}/complete", {})
    assert code(paying) == "HELP_WRONG_STATUS"  # held until the city decides

    desk = officer(wallet)
    cases = desk.get("/v1/officer/help/requests", params={"status": "disputed"}).json()
    case = next(c for c in cases if c["request"]["id"] == request_id)
    assert case["helper"] == helper.info["short_code"] and case["trail"][-1]["note"] == "約束の時間に不在でした"
    assert "place" not in case["request"] or case["request"].get("place") is None  # the city's list shows no address
    decision = {"to_helper": 100, "decision": "移動の手間分として100pt"}
    unauthorised = desk.post(f"/v1/officer/help/requests/{request_id}/resolve", decision)
    assert code(unauthorised) == "SERVICE_NOT_AUTHORISED", unauthorised.text  # the admin has not granted it yet
    wallet.points.grant(HELP_MODERATOR_ROLE, wallet.service_address)
    resolved = desk.post(f"/v1/officer/help/requests/{request_id}/resolve", decision)
    assert resolved.json()["operation"]["status"] == "confirmed", resolved.text
    assert (requester.balance(), helper.balance()) == (900, 100)  # 300 held: 100 to the helper, 200 back
    assert requester.get(f"/v1/help/requests/{request_id}").json()["status"] == "resolved"
    assert code(desk.post(f"/v1/officer/help/requests/{request_id}/resolve", decision)) == "HELP_WRONG_STATUS"
    assert helper.post(f"/v1/officer/help/requests/{request_id}/resolve", decision).status_code == 403

    # take a request down; suspend someone from the service, then readmit them
    poster = member(wallet, points=500)
    open_id = poster.post("/v1/help/requests", request_body(thanks=100)).json()["help_request"]["id"]
    removed = desk.post(f"/v1/officer/help/requests/{open_id}/remove", {"reason": "営利目的の依頼"})
    assert removed.json()["operation"]["status"] == "confirmed", removed.text
    assert poster.balance() == 500 and poster.get(f"/v1/help/requests/{open_id}").json()["status"] == "removed"
    suspension = {"member": poster.info["short_code"], "suspended": True, "reason": "繰り返しの不適切な依頼"}
    assert desk.post("/v1/officer/help/suspensions", suspension).json()["operation"]["status"] == "confirmed"
    barred = poster.post("/v1/help/requests", request_body(thanks=100))
    assert barred.status_code == 403 and code(barred) == "HELP_SUSPENDED", barred.text
    readmit = desk.post("/v1/officer/help/suspensions", {**suspension, "suspended": False, "reason": "面談済み"})
    assert readmit.json()["operation"]["status"] == "confirmed"
    assert poster.post("/v1/help/requests", request_body(thanks=100)).status_code == 200
    trail = [(a["action"], a["resident"]) for a in desk.get("/v1/officer/help/actions").json()]
    assert ("resolve", requester.info["short_code"]) in trail and ("suspend", poster.info["short_code"]) in trail
    assert ("readmit", poster.info["short_code"]) in trail and ("dispute", requester.info["short_code"]) in trail


def test_blocks_reports_and_the_daily_offer_limit(wallet: WalletServer) -> None:
    requester, pest, helper = member(wallet, points=2_000), member(wallet), member(wallet)
    first = requester.post("/v1/help/requests", request_body(thanks=100, district="曽根町")).json()["help_request"][
        "id"
    ]
    assert pest.post(f"/v1/help/requests/{first}/offers", {"message": "しつこい"}).status_code == 201
    # the requester blocks the pest: their offer disappears, they no longer see her requests or can offer
    assert requester.post("/v1/help/blocks", {"member": pest.info["short_code"]}, key=None).status_code == 204
    assert requester.post("/v1/help/blocks", {"member": pest.info["short_code"]}, key=None).status_code == 204  # again
    assert requester.get(f"/v1/help/requests/{first}").json()["offers"] == []
    second = requester.post("/v1/help/requests", request_body(thanks=100, district="曽根町")).json()["help_request"]
    seen = [r["id"] for r in pest.get("/v1/help/requests", params={"district": "曽根町"}).json()["items"]]
    assert second["id"] not in seen and first not in seen
    refused = pest.post(f"/v1/help/requests/{second['id']}/offers", {})
    assert refused.status_code == 409 and code(refused) == "HELP_BLOCKED"
    chosen = requester.post(f"/v1/help/requests/{first}/choose", {"helper": pest.info["id"]})
    assert code(chosen) == "HELP_BLOCKED"
    assert [b["member"] for b in requester.get("/v1/help/blocks").json()] == [pest.info["short_code"]]
    assert code(requester.post("/v1/help/blocks", {"member": "NOSUCH00"}, key=None)) == "UNKNOWN_RECIPIENT"

    # a report reaches the city without telling the reported person who sent it
    reported = requester.post("/v1/help/reports", {"member": pest.info["short_code"], "request_id": first,
                                                   "reason": "夜中に何度も電話がありました"}, key=None)  # fmt: skip
    assert reported.status_code == 201, reported.text
    desk = officer(wallet)
    reports = [r for r in desk.get("/v1/officer/help/reports").json() if r["reported"] == pest.info["short_code"]]
    assert reports and reports[0]["reason"] == "夜中に何度も電話がありました" and reports[0]["request"] == first
    handled = desk.client.post(f"/v1/officer/help/reports/{reports[0]['id']}/handled", headers=desk.headers())
    assert handled.status_code == 204
    assert all(r["id"] != reports[0]["id"] for r in desk.get("/v1/officer/help/reports").json())
    assert pest.get("/v1/officer/help/reports").status_code == 403

    # unblocking lets them deal with each other again
    gone = requester.client.delete(f"/v1/help/blocks/{pest.info['short_code']}", headers=requester.headers())
    assert gone.status_code == 204
    assert pest.post(f"/v1/help/requests/{second['id']}/offers", {}).status_code == 201

    # one helper may offer at most OFFERS_PER_DAY times a day
    posters = [member(wallet, points=100) for _ in range(OFFERS_PER_DAY + 1)]  # the board allows 3 open each
    ids = [p.post("/v1/help/requests", request_body(thanks=100)).json()["help_request"]["id"] for p in posters]
    for request_id in ids[:OFFERS_PER_DAY]:
        assert helper.post(f"/v1/help/requests/{request_id}/offers", {}).status_code == 201
    limited = helper.post(f"/v1/help/requests/{ids[-1]}/offers", {})
    assert limited.status_code == 429 and code(limited) == "HELP_OFFER_LIMIT", limited.text
    assert limited.json()["error"]["messages"]["ja"].startswith("本日のお手伝いの申し出")
