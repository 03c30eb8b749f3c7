"""Proxies (代理, issue 20) through the wallet API, on SQLite and PostgreSQL, over the real node.

The counter records a daughter as her mother's proxy (thanks, balance, card; 300 points a day).
The daughter sees her mother's balance and sends thanks for her from her own app (the mother's
key signs); a retry sends nothing twice; over the day's limit, outside her scopes, or someone
who is no proxy at all: refused with a reason. She blocks her mother's lost card at once. Every
action is attributed; the mother ends the proxy and it stops working.
"""

from __future__ import annotations

from tests.wallet_support import (
    WalletServer,
    error_code,
    member,
    officer,
    settled,
    shared_points,
    shared_wallet,
)

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallet


def test_a_daughter_acts_for_her_mother_within_the_limits_the_counter_recorded(wallet: WalletServer) -> None:
    desk = officer(wallet)
    mother, daughter, neighbour, stranger = (member(wallet, points=1_000), member(wallet), member(wallet),
                                             member(wallet))  # fmt: skip
    card = mother.post("/v1/me/card", {"pin": "135790"}, key=None).json()["card"]
    code_of = mother.info["short_code"]
    body = {"proxy_member_code": daughter.info["short_code"], "relationship": "娘",
            "scopes": ["balance", "thanks", "card"], "daily_limit": 300,
            "reason": "本人と娘の本人確認書類・続柄を確認"}  # fmt: skip
    granted = desk.post(f"/v1/counter/members/{mother.info['id']}/proxies", body, key=None)
    assert granted.status_code == 201, granted.text
    link = granted.json()["id"]
    assert error_code(desk.post(f"/v1/counter/members/{mother.info['id']}/proxies", body, key=None)) == "PROXY_EXISTS"
    self_proxy = {**body, "proxy_member_code": code_of}
    assert (
        error_code(desk.post(f"/v1/counter/members/{mother.info['id']}/proxies", self_proxy, key=None))
        == "PROXY_NOT_ELIGIBLE"
    )

    seen = daughter.get(f"/v1/proxy/{code_of}/balance")
    assert seen.status_code == 200 and seen.json()["balance"] == 1_000
    assert daughter.get("/v1/me/proxies").json()["i_act_for"][0]["principal"] == code_of

    thanks = {"to": neighbour.info["short_code"], "amount": 200, "message": "母がお世話になりました"}
    sent = daughter.post(f"/v1/proxy/{code_of}/thanks", thanks, key="thanks-1")
    assert sent.status_code in (200, 202), sent.text
    assert sent.json()["by_proxy"] == daughter.info["short_code"]
    settled(daughter, sent)
    again = daughter.post(f"/v1/proxy/{code_of}/thanks", thanks, key="thanks-1")  # a retry: the same, once
    assert again.json()["operation"]["id"] == sent.json()["operation"]["id"]
    assert wallet.points.balance(mother.info["address"]) == 800
    assert wallet.points.balance(neighbour.info["address"]) == 200

    over = daughter.post(f"/v1/proxy/{code_of}/thanks", {**thanks, "amount": 150})
    assert over.status_code == 403 and error_code(over) == "PROXY_LIMIT"
    assert over.json()["error"]["detail"] == {"daily_limit": 300, "used_today": 200}
    assert wallet.points.balance(mother.info["address"]) == 800
    assert error_code(daughter.post(f"/v1/proxy/{code_of}/payments", {"uri": "ethereum:0x0"})) == "PROXY_NOT_ALLOWED"
    assert error_code(stranger.get(f"/v1/proxy/{code_of}/balance")) == "PROXY_NOT_ALLOWED"

    # the card is lost: the daughter blocks it at once
    assert daughter.post(f"/v1/proxy/{code_of}/card/block", key=None).status_code == 204
    shop = member(wallet, "merchant", shop="荒井商店")
    lost = shop.post("/v1/merchant/card-balance", {"card": card, "pin": "135790"}, key=None)
    assert error_code(lost) == "CARD_BLOCKED"

    # the mother sees who acted for her and what they did; she ends it, and it stops working
    mine = mother.get("/v1/me/proxies").json()["acting_for_me"][0]
    assert mine["proxy"] == daughter.info["short_code"] and mine["used_today"] == 200
    assert [a["action"] for a in mine["actions"]] == ["card_block", "thanks"]
    trail = [e for e in desk.get("/v1/counter/trail").json() if e["member"] == code_of]
    assert {e["action"] for e in trail} >= {"proxy_granted", "card_blocked"}
    assert mother.post(f"/v1/me/proxies/{link}/revoke", key=None).status_code == 204
    assert error_code(daughter.get(f"/v1/proxy/{code_of}/balance")) == "PROXY_NOT_ALLOWED"
    ended = desk.get(f"/v1/counter/members/{mother.info['id']}/proxies").json()
    assert ended[0]["revoked_at"] is not None
