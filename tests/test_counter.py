"""The city counter (窓口, issue 20) through the wallet API, on SQLite and PostgreSQL, over the real node.

An elderly resident with no phone is found or signed up at the desk (a likely duplicate shown,
impossible birth dates refused), gets a card once she has typed a PIN twice on the PIN pad,
checks her balance at a till with the card (nothing paid), pays, loses the card (blocked at
once, refused at the till), and gets a new card that keeps her balance. A forgotten app password
is reset with a one-time code from the counter: used once, wrong or late codes refused. Every
action is on the counter's trail, every record opened on the officers' read trail.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import REPO
from tests.wallet_support import (
    Api,
    WalletServer,
    error_code,
    member,
    officer,
    running_wallet,
    settled,
    shared_points,
    shared_wallet,
    signup,
)

points, wallet = shared_points, shared_wallet  # this module runs on the worker's shared chain and wallet


def elder(desk: Api, name: str = "高砂 はな", born: str = "1941-05-03") -> dict[str, Any]:
    body = {"full_name": name, "postal_address": "兵庫県高砂市曽根町2-3-4", "date_of_birth": born,
            "id_document": "マイナンバーカード"}  # fmt: skip
    response = desk.post("/v1/counter/signups", body)
    assert response.status_code in (200, 201, 202), response.text
    settled(desk, response)
    return dict(response.json())


def pin_pad(desk: Api, member_id: str, purpose: str, pin: str = "246810", again: str | None = None) -> httpx.Response:
    entry = desk.post(f"/v1/counter/members/{member_id}/pin-entries", {"purpose": purpose}, key=None)
    assert entry.status_code == 201, entry.text
    return desk.post(f"/v1/counter/pin-entries/{entry.json()['entry']}", {"pin": pin, "pin_again": again or pin},
                     key=None)  # fmt: skip


def test_a_resident_without_a_phone_is_served_entirely_at_the_counter(wallet: WalletServer) -> None:
    desk = officer(wallet)
    # impossible birth dates are refused in both languages; a search needs something to search by
    future = desk.post("/v1/counter/signups", {"full_name": "未来 太郎", "postal_address": "高砂市",
                                               "date_of_birth": (date.today() + timedelta(days=1)).isoformat(),
                                               "id_document": "運転免許証"})  # fmt: skip
    assert error_code(future) == "BIRTH_DATE_IMPOSSIBLE" and future.json()["error"]["messages"]["ja"]
    old = {"full_name": "昔 太郎", "postal_address": "高砂市", "date_of_birth": "1890-01-01", "id_document": "免許証"}
    ancient = desk.post("/v1/counter/signups", old)
    assert error_code(ancient) == "BIRTH_DATE_IMPOSSIBLE"
    assert error_code(desk.post("/v1/counter/search", {"reason": "来庁"}, key=None)) == "SEARCH_EMPTY"

    hana = elder(desk)
    hana_id = hana["member"]["id"]
    assert hana["member"]["login"].startswith("c-") and hana["duplicates"] == []
    # the same person again (written with full-width spaces): shown as a likely duplicate
    again = elder(desk, "高砂\u3000はな")
    assert [d["id"] for d in again["duplicates"]] == [hana_id]

    found = desk.post("/v1/counter/search", {"reason": "残高の問い合わせ", "name": "高砂はな",
                                             "date_of_birth": "1941-05-03"}, key=None).json()  # fmt: skip
    assert {f["id"] for f in found} == {hana_id, again["member"]["id"]}
    assert found[0]["record"]["name"].replace("\u3000", " ") == "高砂 はな" and found[0]["status"] == "active"
    by_code = desk.post("/v1/counter/search", {"reason": "来庁", "member_code": hana["member"]["short_code"]},
                        key=None).json()  # fmt: skip
    assert [f["id"] for f in by_code] == [hana_id]

    # the PIN pad: typed twice, six digits; the pad's entry is used once; the answer is the card, never the PIN
    assert error_code(pin_pad(desk, hana_id, "new_card", "246810", "246811")) == "PIN_MISMATCH"
    issued = pin_pad(desk, hana_id, "new_card")
    assert issued.status_code == 200 and issued.json()["card"].startswith("takasago-card:")
    assert "246810" not in issued.text
    card = issued.json()["card"]
    entry = desk.post(f"/v1/counter/members/{hana_id}/pin-entries", {"purpose": "reset_pin"}, key=None).json()
    assert desk.post(f"/v1/counter/pin-entries/{entry['entry']}", {"pin": "135790", "pin_again": "135790"},
                     key=None).status_code == 200  # fmt: skip
    used = desk.post(f"/v1/counter/pin-entries/{entry['entry']}", {"pin": "111111", "pin_again": "111111"}, key=None)
    assert error_code(used) == "PIN_ENTRY_INVALID"
    assert desk.post("/v1/counter/search", {"reason": "カード照会", "card": card}, key=None).json()[0]["id"] == hana_id

    # points granted; at a shop she checks the balance with the card (nothing paid), then pays
    address = by_code[0]["address"]
    wallet.points.mint(address, 1_000)
    shop = member(wallet, "merchant", shop="高砂食堂")
    wrong = shop.post("/v1/merchant/card-balance", {"card": card, "pin": "246810"}, key=None)
    assert error_code(wrong) == "PIN_INCORRECT"
    seen = shop.post("/v1/merchant/card-balance", {"card": card, "pin": "135790"}, key=None)
    assert seen.status_code == 200 and seen.json()["balance"] == 1_000 and seen.json()["buckets"][0]["amount"] == 1_000
    assert wallet.points.balance(address) == 1_000
    paid = shop.post("/v1/merchant/charges", {"amount": 300, "card": card, "pin": "135790"})
    assert paid.status_code in (200, 202), paid.text
    settled(shop, paid)
    assert wallet.points.balance(address) == 700

    # the card is lost: blocked at once, refused at the till; a new card keeps the balance
    assert desk.post(f"/v1/counter/members/{hana_id}/card/block", {"reason": "紛失届"}, key=None).status_code == 204
    blocked = shop.post("/v1/merchant/card-balance", {"card": card, "pin": "135790"}, key=None)
    assert error_code(blocked) == "CARD_BLOCKED" and "窓口" in blocked.json()["error"]["messages"]["ja"]
    refused = shop.post("/v1/merchant/charges", {"amount": 10, "card": card, "pin": "135790"})
    assert error_code(refused) == "CARD_BLOCKED"
    new_card = pin_pad(desk, hana_id, "new_card", "975310").json()["card"]
    assert new_card != card
    assert shop.post("/v1/merchant/card-balance", {"card": new_card, "pin": "975310"},
                     key=None).json()["balance"] == 700  # fmt: skip
    old_card = shop.post("/v1/merchant/card-balance", {"card": card, "pin": "135790"}, key=None)
    assert error_code(old_card) == "CARD_UNKNOWN"

    # a balance slip; then the trail names each action, and the reads trail each opening
    slip = desk.post(f"/v1/counter/members/{hana_id}/slip", {"reason": "残高票の発行"}, key=None).json()
    assert slip["balance"] == 700 and slip["short_code"] == hana["member"]["short_code"]
    actions = [e["action"] for e in desk.get("/v1/counter/trail").json() if e["member"] == slip["short_code"]]
    assert actions[::-1] == ["signup", "pin_pad_new_card", "pin_pad_new_card", "card_issued", "pin_pad_reset_pin",
                             "pin_reset", "card_blocked", "pin_pad_new_card", "card_issued",
                             "balance_slip"]  # fmt: skip
    reads = desk.get("/v1/officer/reads", params={"limit": 500}).json()
    assert any(r["account"] == hana_id and r["reason"].startswith("窓口検索") for r in reads)
    assert wallet.log().count("高砂 はな") == 0  # no name in the service's log


def test_a_forgotten_password_is_reset_with_a_code_from_the_counter(wallet: WalletServer) -> None:
    desk = officer(wallet)
    resident = signup(wallet)
    resident_id = resident.info["id"]
    first = desk.post(f"/v1/counter/members/{resident_id}/reset-code", key=None).json()
    fresh = desk.post(f"/v1/counter/members/{resident_id}/reset-code", key=None).json()
    assert fresh["login"] == resident.login_id and fresh["hours"] == 24

    def reset(login: str, reset_code: str, password: str = "new-password-2026") -> httpx.Response:
        return httpx.post(wallet.url + "/v1/auth/reset-password", timeout=30,
                          json={"login": login, "code": reset_code, "new_password": password})  # fmt: skip

    assert error_code(reset(resident.login_id or "", first["code"])) == "RESET_CODE_USED"  # replaced by the fresh one
    assert error_code(reset("someone-else", fresh["code"])) == "RESET_CODE_INVALID"
    assert error_code(reset(resident.login_id or "", "WRONGCODE1")) == "RESET_CODE_INVALID"
    short = reset(resident.login_id or "", fresh["code"], "short")
    assert short.status_code == 422
    typed = "-".join([fresh["code"][:5].lower(), fresh["code"][5:]])  # as read off the paper
    assert reset(resident.login_id or "", typed).status_code == 204
    assert error_code(reset(resident.login_id or "", fresh["code"])) == "RESET_CODE_USED"
    assert resident.get("/v1/me").status_code == 401  # the old sessions ended
    again = Api(wallet, resident.login_id, "new-password-2026")
    assert again.login().status_code == 200

    # a code past its 24 hours is refused as expired
    late = desk.post(f"/v1/counter/members/{resident_id}/reset-code", key=None).json()
    _age_reset_codes(wallet, hours=25)
    assert error_code(reset(resident.login_id or "", late["code"])) == "RESET_CODE_EXPIRED"
    # and nobody but an officer reaches the counter
    assert resident.post("/v1/counter/search", {"reason": "x", "member_code": "ABC"}, key=None).status_code in (
        401,
        403,
    )
    assert again.post("/v1/counter/search", {"reason": "x", "member_code": "ABC"}, key=None).status_code == 403


def _age_reset_codes(wallet: WalletServer, hours: int) -> None:
    """Moves every unused reset code's expiry into the past, straight in the wallet's database."""
    from sqlalchemy import create_engine, text

    url = wallet.database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    with engine.begin() as db:
        rows = db.execute(text("SELECT code_hash, expires_at FROM reset_codes WHERE used_at IS NULL")).all()
        for code_hash, expires in rows:
            moved = (expires if not isinstance(expires, str) else _parse(expires)) - timedelta(hours=hours)
            db.execute(
                text("UPDATE reset_codes SET expires_at = :e WHERE code_hash = :h"), {"e": moved, "h": code_hash}
            )
    engine.dispose()


def _parse(text_value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text_value)


@pytest.fixture(params=["sqlite", "postgresql"])
def own_wallet(
    request: pytest.FixtureRequest, fresh_points: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    """A chain and wallet of the test's own: the test moves the chain's clock past the registry's 72-hour
    recovery delay, which on the worker's shared chain would put every later module 72 hours ahead."""
    directory = tmp_path_factory.mktemp(f"counter-recovery-{request.param}")
    yield from running_wallet(fresh_points, directory, request.param)


def test_a_lost_account_is_recovered_at_the_counter_and_the_wallet_follows_the_chain(
    own_wallet: WalletServer, tmp_path: Path
) -> None:
    wallet = own_wallet
    desk = officer(wallet)
    resident = member(wallet, points=800)
    resident_id, lost = resident.info["id"], resident.info["address"]
    card = resident.post("/v1/me/card", {"pin": "135790"}, key=None).json()["card"]
    buckets_before = wallet.points.token.functions.bucketsOf(lost).call()

    started = desk.post(f"/v1/counter/members/{resident_id}/recovery", {"reason": "スマホ紛失・本人来庁"}, key=None)
    assert started.status_code == 201, started.text
    plan = started.json()
    new = plan["new_address"]
    assert plan["state"] == "prepared" and plan["lost_address"] == lost and not plan["announced"]
    assert plan["commands"][0] == f"takasago account recover {lost} {new}"
    again = desk.post(f"/v1/counter/members/{resident_id}/recovery", {"reason": "二重"}, key=None)
    assert error_code(again) == "RECOVERY_OPEN"
    assert resident.get("/v1/me").status_code == 401  # the lost phone's session ended

    # a registrar officer runs the two commands the desk showed, with their own key (here the dev admin's)
    def officer_runs(*extra: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "scripts.cli", *plan["commands"][0].split()[1:], *extra,
                "--rpc-url", wallet.points.node.url, "--deployments", str(wallet.points.deployments_dir),
                "--dev-keys", str(wallet.points.node.data_dir / "dev-keys.json"),
                "--audit-log", str(tmp_path / "audit.log")]  # fmt: skip
        return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)

    announced = officer_runs()
    assert announced.returncode == 0, announced.stderr
    state = desk.get(f"/v1/counter/members/{resident_id}/recovery").json()
    assert state["state"] == "prepared" and state["announced"] and state["executable_at"]
    wallet.points.mine_at(state["executable_at"] + 1)  # the registry's waiting period has passed
    executed = officer_runs("--execute")
    assert executed.returncode == 0, executed.stderr
    assert desk.get(f"/v1/counter/members/{resident_id}/recovery").json()["state"] == "done"
    assert wallet.points.balance(new) == 800 and wallet.points.balance(lost) == 0
    assert wallet.points.token.functions.bucketsOf(new).call() == buckets_before  # the expiry months moved too

    # the wallet followed: the resident logs in again and sees the new address and the same balance; the card works
    assert resident.login().status_code == 200
    assert resident.me()["address"] == new and resident.balance() == 800
    shop = member(wallet, "merchant", shop="曽根商店")
    assert shop.post("/v1/merchant/card-balance", {"card": card, "pin": "135790"}, key=None).json()["balance"] == 800
    paid = shop.post("/v1/merchant/charges", {"amount": 100, "card": card, "pin": "135790"})
    settled(shop, paid)
    assert wallet.points.balance(new) == 700  # the new key signs the resident's payments
    actions = [e["action"] for e in desk.get("/v1/counter/trail").json() if e["member"] == resident.info["short_code"]]
    assert "recovery_prepared" in actions


def test_a_rejected_applicant_is_told_why_when_she_logs_in(wallet: WalletServer) -> None:
    desk = officer(wallet)
    applicant = signup(wallet, name="確認 できない")
    refused = desk.post(f"/v1/officer/accounts/{applicant.info['id']}/reject",
                        {"reason": "本人確認書類の氏名と一致しません。窓口へお越しください。"}, key=None)  # fmt: skip
    assert refused.status_code == 200, refused.text
    again = applicant.login()
    assert again.status_code == 403 and error_code(again) == "ACCOUNT_REJECTED"
    assert again.json()["error"]["detail"]["reason"] == "本人確認書類の氏名と一致しません。窓口へお越しください。"
    assert "窓口" in again.json()["error"]["messages"]["ja"]
    wrong = Api(wallet, applicant.login_id, "not-her-password-1").login()
    assert error_code(wrong) == "LOGIN_FAILED" and "reason" not in wrong.text  # only she, with her password, learns why


def test_a_second_sign_up_of_the_same_person_is_flagged_for_the_officer(wallet: WalletServer) -> None:
    desk = officer(wallet)
    first = signup(wallet, name="重複 花子")
    second = signup(wallet, name="重複　花子")  # the same person, typed with a full-width space
    other = signup(wallet, name="別人 花子")
    pending = desk.get("/v1/officer/members", params={"status": "pending", "limit": 200}).json()
    flagged = {row["short_code"]: row["duplicates"] for row in pending}
    assert flagged[second.info["short_code"]] == [first.info["short_code"]]
    assert flagged[first.info["short_code"]] == [second.info["short_code"]]
    assert flagged[other.info["short_code"]] == []
