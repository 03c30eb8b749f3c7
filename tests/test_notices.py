"""Residents' notices and notice e-mail (issue 20), on SQLite and PostgreSQL, over the real node.

Every producer (thanks, payment, claim and sign-up decisions, help offered/matched/completed,
mints from outside the wallet, expiring points) adds exactly the expected notices; the chain
follower notifies a CLI mint once, and nothing again after a restart, and nothing missed while
it was down. Mail goes to a real SMTP server in this test process (aiosmtpd): it receives
exactly the expected mails; a server that is down is retried with growing back-off and the
mail delivered once when it is back; a resident with mail off gets none. A crash between the
server's acceptance and the mark is documented by its outcome: the mail is sent again with the
same Message-ID (at-least-once, see wallet_api/mailer.py).
"""

from __future__ import annotations

import email
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any, TypeVar, cast

import httpx
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from eth_utils import keccak
from sqlalchemy import text
from typer.main import get_command

from scripts.cli import app as typer_app
from tests.conftest import free_port
from tests.points import PointsSystem
from tests.wallet_support import Api, WalletServer, member, officer, running_wallet, signup
from wallet_api.db.engine import make_engine

# a chain of its own: the wallet's notice follower reads the token's mints from the chain, and on the
# worker's shared chain it had every other module's blocks to read first (a CI run at b38fa43 saw a
# mint's notice arrive after the step the test made next)

T = TypeVar("T")
COMMUNITY_VERIFIER = keccak(text="COMMUNITY_VERIFIER_ROLE")


class Mailbox:
    """A real SMTP server (aiosmtpd) on a fixed port that keeps every message it accepted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = cast(EmailMessage, email.message_from_bytes(envelope.content, policy=default_policy))
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for rcpt, m in self.messages if address in rcpt]


@pytest.fixture(scope="module")
def smtp() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    box.start()
    yield box
    box.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def wallet(
    request: pytest.FixtureRequest, points: PointsSystem, smtp: Mailbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WalletServer]:
    directory = tmp_path_factory.mktemp(f"notices-{request.param}")
    env = {
        "TAKASAGO_WALLET_NOTICE_FOLLOW_SECONDS": "0.2",
        "TAKASAGO_WALLET_SMTP_HOST": "127.0.0.1",
        "TAKASAGO_WALLET_SMTP_PORT": str(smtp.port),
        "TAKASAGO_WALLET_SMTP_SECURITY": "none",
        "TAKASAGO_WALLET_SMTP_FROM": "points@city.takasago.example",
        "TAKASAGO_WALLET_SMTP_POLL_SECONDS": "0.1",
        "TAKASAGO_WALLET_SMTP_RETRY_SECONDS": "0.4",
        "TAKASAGO_WALLET_SMTP_RETRY_MAX_SECONDS": "3",
        "TAKASAGO_WALLET_SMTP_LEASE_SECONDS": "2",
        "TAKASAGO_WALLET_SMTP_TIMEOUT_SECONDS": "5",
    }
    yield from running_wallet(points, directory, request.param, **env)


# -- helpers -----------------------------------------------------------------------------------------
def eventually(probe: Callable[[], T | None], timeout: float = 20, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def notices(api: Api) -> list[dict[str, Any]]:
    response = api.get("/v1/notices", params={"limit": 100})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def kinds(api: Api) -> list[str]:
    return [n["kind"] for n in notices(api)]


def with_email(api: Api) -> str:
    address = f"{api.login_id}@example.jp"
    response = api.client.put(
        "/v1/notices/preferences", json={"email_enabled": True, "email": address}, headers=api.headers()
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"email_enabled": True, "email_on_file": True, "email_available": True}
    return address


def database(wallet: WalletServer) -> Any:
    return make_engine(wallet.database_url)


def followed_to_head(wallet: WalletServer) -> None:
    """Waits until the chain follower has read every block up to the node's head now."""
    head = wallet.points.w3.eth.block_number
    engine = database(wallet)
    try:

        def cursor() -> bool:
            with engine.connect() as conn:
                value = conn.execute(text("SELECT value FROM wallet_meta WHERE name = 'notices_follow_block'")).scalar()
            return value is not None and int(value) >= head

        eventually(cursor, what="the follower to reach the head")
    finally:
        engine.dispose()


def cli_mint(wallet: WalletServer, address: str, amount: int, tmp: Any) -> None:
    """An officer's mint from the command line (``takasago mint``), outside the wallet."""
    points = wallet.points
    programme = points.create_programme(name="cli mint")
    result = CliRunner(mix_stderr=False).invoke(
        cast(Any, get_command(typer_app)),
        ["mint", address, str(amount), "--programme", str(programme), "--rpc-url", points.node.url,
         "--deployments", str(points.deployments_dir), "--dev-keys", str(points.node.data_dir / "dev-keys.json"),
         "--audit-log", str(tmp / "audit.log"), "--officer", "Sato Hanako (registry desk)"],
        env={"COLUMNS": "300", "TERM": "dumb"},
    )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr


def thank(sender: Api, recipient: Api, amount: int, message: str = "") -> httpx.Response:
    body = {"to": recipient.info["short_code"], "amount": amount, "category": "help", "message": message}
    return sender.post("/v1/thanks", body)


# -- producers -----------------------------------------------------------------------------------------
def test_a_thanks_reaches_the_notice_centre_and_the_mailbox(wallet: WalletServer, smtp: Mailbox) -> None:
    alice, bob = member(wallet, points=100), member(wallet)
    address = with_email(bob)
    sent = thank(alice, bob, 30, "雪かきありがとう")
    assert sent.status_code == 200 and sent.json()["operation"]["status"] == "confirmed", sent.text

    items = notices(bob)
    assert [n["kind"] for n in items] == ["thanks_received", "signup_approved"]  # newest first
    thanks = items[0]
    assert thanks["params"]["amount"] == 30 and thanks["params"]["message"] == "雪かきありがとう"
    assert thanks["texts"]["ja"]["title"] == "「ありがとう」が届きました"
    assert "30 ポイント" in thanks["texts"]["ja"]["body"] and thanks["texts"]["en"]["message"] == "雪かきありがとう"
    assert thanks["read"] is False

    # the mint that gave alice her points came from outside the wallet: the follower told her
    eventually(lambda: kinds(alice) == ["points_received", "signup_approved"], what="alice's mint notice")
    assert notices(alice)[0]["params"] == {"amount": 100}

    # exactly one mail, to bob only (alice gave no address), Japanese first, with a stable Message-ID
    mails = eventually(lambda: smtp.to(address), what="bob's mail")
    time.sleep(0.5)
    assert len(smtp.to(address)) == 1
    mail = mails[0]
    assert mail["Subject"] == "「ありがとう」が届きました / Thanks received"
    assert mail["From"] == "points@city.takasago.example"
    assert mail["Message-ID"].endswith("@city.takasago.example>")
    body = mail.get_content()
    assert body.index("「雪かきありがとう」") < body.index('"雪かきありがとう"')
    assert address not in wallet.log()  # addresses are never logged


def test_paging_unread_and_marking_read(wallet: WalletServer) -> None:
    alice, bob = member(wallet, points=100), member(wallet)
    for amount in (1, 2, 3):
        assert thank(alice, bob, amount).status_code == 200
    first = bob.get("/v1/notices", params={"limit": 2}).json()
    assert [n["params"].get("amount") for n in first["items"]] == [3, 2] and first["unread"] == 4
    second = bob.get("/v1/notices", params={"limit": 2, "before": first["next_before"]}).json()
    assert [n["kind"] for n in second["items"]] == ["thanks_received", "signup_approved"]
    assert second["next_before"] is None

    # alice cannot mark bob's notices: only her own up to that id
    before = bob.get("/v1/notices").json()["unread"]
    assert alice.post("/v1/notices/read", {"up_to": first["items"][0]["id"]}, key=None).status_code == 200
    assert bob.get("/v1/notices").json()["unread"] == before
    middle = first["items"][1]["id"]
    marked = bob.post("/v1/notices/read", {"up_to": middle}, key=None).json()
    assert marked == {"marked": 3, "unread": 1}
    assert [n["read"] for n in notices(bob)] == [False, True, True, True]


def test_payment_notices_for_payer_and_shop(wallet: WalletServer) -> None:
    resident = member(wallet, points=1_000)
    shop = member(wallet, "merchant", shop="高砂ベーカリー")
    request = shop.post("/v1/payment-requests", {"amount": 480, "memo": "パン"}, key=None).json()
    paid = resident.post("/v1/payments", {"uri": request["uri"]})
    assert paid.status_code == 200 and paid.json()["payment_request"]["status"] == "paid", paid.text
    made = eventually(lambda: [n for n in notices(resident) if n["kind"] == "payment_made"], what="payment notice")
    assert len(made) == 1 and made[0]["params"] == {"amount": 480, "merchant": "高砂ベーカリー"}
    assert "高砂ベーカリー で 480 ポイントを支払いました" in made[0]["texts"]["ja"]["body"]
    assert kinds(shop) == ["payment_received", "signup_approved"]
    assert notices(shop)[0]["params"] == {"amount": 480}


def test_claim_and_sign_up_decisions(wallet: WalletServer) -> None:
    programme = wallet.points.create_programme(name="河川敷清掃", verifierRole=COMMUNITY_VERIFIER, rewardPoints=50)
    resident = member(wallet)
    desk = officer(wallet)
    claims = [
        resident.post("/v1/claims", {"programme_id": programme, "units": units, "evidence": "清掃"}, key=None).json()
        for units in (1, 2)
    ]
    assert desk.post(f"/v1/officer/claims/{claims[0]['id']}/reject").status_code == 200
    approved = desk.post(f"/v1/officer/claims/{claims[1]['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "granted", approved.text
    followed_to_head(wallet)
    # the grant is a mint the wallet sent itself: its claim notice says it, no second "points received"
    assert kinds(resident) == ["claim_approved", "claim_rejected", "signup_approved"]
    assert notices(resident)[0]["params"] == {"programme": programme, "units": 2}

    turned_down = signup(wallet)
    assert desk.post(f"/v1/officer/accounts/{turned_down.info['id']}/reject", key=None).status_code == 200
    engine = database(wallet)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT n.kind FROM notices n JOIN users u ON u.id = n.user_id WHERE u.public_id = :id"),
            {"id": turned_down.info["id"]},
        ).all()
    engine.dispose()
    assert [r[0] for r in rows] == ["signup_rejected"]


def test_help_offered_matched_completed(wallet: WalletServer) -> None:
    requester, helper = member(wallet, points=1_000), member(wallet)
    # the requester's mint is noticed by the chain follower, which on the worker's shared chain may
    # lag behind; let it land first, so the newest notice below is the one the step made
    followed_to_head(wallet)
    starts = datetime.now(UTC) + timedelta(hours=2)
    posted = requester.post(
        "/v1/help/requests",
        {"task_type": 0, "district": "荒井町", "starts_at": starts.isoformat(),
         "ends_at": (starts + timedelta(hours=2)).isoformat(), "thanks": 300,
         "details": "買い物", "place": "荒井町1-2-3"},
    )  # fmt: skip
    assert posted.status_code == 200, posted.text
    request_id = posted.json()["help_request"]["id"]
    assert helper.post(f"/v1/help/requests/{request_id}/offers", {"message": "行けます"}).status_code == 201
    assert notices(requester)[0]["kind"] == "help_offered"
    assert notices(requester)[0]["params"]["district"] == "荒井町"
    offers = requester.get(f"/v1/help/requests/{request_id}").json()["offers"]
    assert requester.post(f"/v1/help/requests/{request_id}/choose", {"helper": offers[0]["helper"]}).status_code == 200
    assert notices(helper)[0]["kind"] == "help_matched" and notices(helper)[0]["params"]["thanks"] == 300
    done = requester.post(f"/v1/help/requests/{request_id}/complete", {"message": "助かりました！", "rating": 5})
    assert done.status_code == 200, done.text
    followed_to_head(wallet)
    assert kinds(helper) == ["help_completed", "help_matched", "signup_approved"]
    assert notices(helper)[0]["params"]["message"] == "助かりました！"
    assert sorted(kinds(requester)) == ["help_offered", "points_received", "signup_approved"]


def test_a_cli_mint_is_notified_once_across_restarts(wallet: WalletServer, tmp_path: Any) -> None:
    resident = member(wallet)
    address = resident.info["address"]
    cli_mint(wallet, address, 500, tmp_path)
    eventually(lambda: "points_received" in kinds(resident), what="the mint's notice")
    wallet.stop()
    cli_mint(wallet, address, 200, tmp_path)  # while the wallet is down: must not be missed
    wallet.start()
    followed_to_head(wallet)
    received = [n["params"]["amount"] for n in notices(resident) if n["kind"] == "points_received"]
    assert received == [200, 500]
    wallet.stop()  # and a restart with nothing new adds nothing
    wallet.start()
    followed_to_head(wallet)
    assert [n["kind"] for n in notices(resident)].count("points_received") == 2


def test_expiring_points_are_notified_once_per_month(wallet: WalletServer) -> None:
    resident = member(wallet)
    points = wallet.points
    points.mint(resident.info["address"], 40, expiry_month=points.current_month())  # ends this JST month
    points.mint(resident.info["address"], 60)  # six months ahead: not yet
    args = ["notify-expiring", "--days", "40", "--data-dir", str(wallet.data_dir),
            "--database-url", wallet.database_url, "--rpc-url", wallet.rpc_url,
            "--deployments-dir", str(points.deployments_dir)]  # fmt: skip
    wallet.cli(*args)
    wallet.cli(*args)  # the daily job runs again: nothing new for the same month
    expiring = [n for n in notices(resident) if n["kind"] == "points_expiring"]
    assert len(expiring) == 1 and expiring[0]["params"]["amount"] == 40
    assert "40 ポイント" in expiring[0]["texts"]["ja"]["body"]


# -- mail -----------------------------------------------------------------------------------------------
def test_mail_off_sends_nothing_and_errors_are_bilingual(wallet: WalletServer, smtp: Mailbox) -> None:
    alice, bob = member(wallet, points=50), member(wallet)
    address = with_email(bob)
    off = bob.client.put("/v1/notices/preferences", json={"email_enabled": False}, headers=bob.headers())
    assert off.json() == {"email_enabled": False, "email_on_file": True, "email_available": True}
    assert thank(alice, bob, 5, "どうも").status_code == 200
    assert notices(bob)[0]["kind"] == "thanks_received"
    time.sleep(1.0)
    assert smtp.to(address) == []

    forget = bob.client.put(
        "/v1/notices/preferences", json={"email_enabled": True, "forget_email": True}, headers=bob.headers()
    )
    assert forget.status_code == 422
    error = forget.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["messages"]["ja"] and error["messages"]["en"]
    bad = bob.client.put("/v1/notices/preferences", json={"email_enabled": True, "email": "x"}, headers=bob.headers())
    assert bad.status_code == 422
    assert httpx.get(wallet.url + "/v1/notices").status_code == 401
    assert officer(wallet).get("/v1/notices").status_code == 403
    assert bob.get("/v1/notices", params={"limit": 0}).status_code == 422


def test_smtp_down_backs_off_then_delivers_once(wallet: WalletServer, smtp: Mailbox) -> None:
    alice, carol = member(wallet, points=50), member(wallet)
    address = with_email(carol)
    smtp.stop()
    try:
        assert thank(alice, carol, 7).status_code == 200  # the API works on while mail cannot go
        engine = database(wallet)
        seen: list[tuple[int, float]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not seen or seen[-1][0] < 4):
            with engine.connect() as conn:
                row = conn.execute(
                    text("SELECT m.attempts, m.status FROM notice_mails m JOIN users u ON u.id = m.user_id"
                         " WHERE u.public_id = :id"), {"id": carol.info["id"]},
                ).first()  # fmt: skip
            if row is not None and row[0] and (not seen or row[0] > seen[-1][0]):
                assert row[1] == "pending"
                seen.append((int(row[0]), time.monotonic()))
            time.sleep(0.05)
        assert seen and seen[-1][0] >= 4, seen
        gaps = [later[1] - earlier[1] for earlier, later in zip(seen, seen[1:], strict=False)]
        assert gaps[-1] > gaps[0] * 1.5, gaps  # exponential back-off: 0.4 s, 0.8 s, 1.6 s …
    finally:
        smtp.start()
    eventually(lambda: smtp.to(address), what="the mail once the server is back")
    time.sleep(4)  # longer than the largest back-off: a second copy would have arrived by now
    assert len(smtp.to(address)) == 1
    with engine.connect() as conn:
        status = conn.execute(
            text("SELECT m.status FROM notice_mails m JOIN users u ON u.id = m.user_id WHERE u.public_id = :id"),
            {"id": carol.info["id"]},
        ).scalar()
    engine.dispose()
    assert status == "sent"


def test_a_crash_between_send_and_mark_sends_again_with_the_same_message_id(
    wallet: WalletServer, smtp: Mailbox
) -> None:
    """The documented outcome of SMTP's missing idempotency: at-least-once, the duplicate recognisable."""
    dave, erin = member(wallet, points=50), member(wallet)
    address = with_email(erin)
    wallet.stop()
    wallet.env["TAKASAGO_WALLET_FAILPOINT"] = "mail-after-send"
    try:
        wallet.start()
        try:
            thank(dave, erin, 9, "ありがとう")
        except httpx.HTTPError:
            pass  # the process may die before it answers: the thanks had already settled
        assert wallet.process is not None
        eventually(lambda: wallet.process.poll() is not None, what="the crash")  # type: ignore[union-attr]
        assert wallet.process.returncode == 86
        assert len(smtp.to(address)) == 1  # the server had accepted it
    finally:
        del wallet.env["TAKASAGO_WALLET_FAILPOINT"]
        wallet.start()
    mails = eventually(lambda: smtp.to(address) if len(smtp.to(address)) == 2 else None, what="the re-sent mail")
    assert mails[0]["Message-ID"] == mails[1]["Message-ID"]
    time.sleep(1)
    assert len(smtp.to(address)) == 2 and erin.balance() == 9
    assert [n["kind"] for n in notices(erin)].count("thanks_received") == 1
