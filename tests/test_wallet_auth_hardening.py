"""Issue 15, wallet authentication and the operators' trail: findings 9, 10, 11, 13, 14, 20, 21.

Each test is named after its finding and runs the real server process on the real node,
with SQLite (and PostgreSQL where the finding is about row locks).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REPO
from tests.points import PointsSystem
from tests.wallet_support import (
    PASSWORD,
    Api,
    WalletServer,
    database_url,
    member,
    officer,
    running_wallet,
    shared_points,
    signup,
)

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (restarted, with their own limits)
points = shared_points

LOGIN_FAILURES_BEFORE_DELAY = 5  # the default
# this module checks what argon2's real cost does to other requests: the standard cost
FAST_LIMITS = {"TAKASAGO_WALLET_REQUESTS_PER_MINUTE_PER_IP": "100000", "TAKASAGO_WALLET_INSECURE_TEST_HASHING": "0"}


@pytest.fixture(scope="module")
def wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    env = {**FAST_LIMITS, "TAKASAGO_WALLET_REFRESH_GRACE_SECONDS": "3"}
    yield from running_wallet(points, tmp_path_factory.mktemp("auth-sqlite"), "sqlite", **env)


@pytest.fixture(scope="module")
def pg_wallet(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WalletServer]:
    yield from running_wallet(points, tmp_path_factory.mktemp("auth-postgresql"), "postgresql", **FAST_LIMITS)


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def client_from(server: WalletServer, address: str) -> httpx.Client:
    """An HTTP client whose connections come from ``address`` (any 127.x.y.z is this machine)."""
    return httpx.Client(base_url=server.url, timeout=60, transport=httpx.HTTPTransport(local_address=address))


def engine_of(server: WalletServer):  # type: ignore[no-untyped-def]
    return create_engine(server.database_url.replace("postgresql://", "postgresql+psycopg://"))


def throttle_key(server: WalletServer, login: str, client: str) -> str:
    secret = (server.data_dir / "token-secret").read_text().strip().encode()
    return hmac.new(secret, f"login|{login.lower()}|{client}".encode(), hashlib.sha256).hexdigest()


# -- finding 9: argon2 outside transactions, deferred reads, bounded hashing ---------------------
def test_finding09_failed_logins_do_not_stall_other_requests(wallet: WalletServer) -> None:
    resident = member(wallet)
    resident.me()
    quiet = []
    for _ in range(10):
        started = time.perf_counter()
        resident.me()
        quiet.append(time.perf_counter() - started)

    stop = threading.Event()
    attempts = [0]

    def fail_logins(worker: int) -> None:
        with httpx.Client(base_url=wallet.url, timeout=60) as client:
            n = 0
            while not stop.is_set():  # a fresh log-in each time: never throttled, always argon2
                client.post("/v1/auth/login", json={"login": f"nobody-{worker}-{n}", "password": "wrong-password"})
                n += 1
                attempts[0] += 1

    busy = []
    with ThreadPoolExecutor(12) as pool:
        for worker in range(12):
            pool.submit(fail_logins, worker)
        time.sleep(0.5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            started = time.perf_counter()
            resident.me()
            busy.append(time.perf_counter() - started)
        stop.set()
    p90 = statistics.quantiles(busy, n=10)[-1]
    print(f"GET /v1/me quiet median {statistics.median(quiet) * 1000:.1f} ms; under {attempts[0]} failed log-ins "
          f"p90 {p90 * 1000:.1f} ms, max {max(busy) * 1000:.1f} ms over {len(busy)} calls")  # fmt: skip
    assert attempts[0] >= 6, "the burst did not run"
    assert p90 < 0.5, f"GET /v1/me p90 {p90:.2f} s while log-ins failed"


# -- finding 10: no lock-out by strangers; unknown and known log-ins alike ---------------------------
def test_finding10_a_stranger_cannot_lock_the_owner_out_and_unknown_logins_answer_alike(
    wallet: WalletServer,
) -> None:
    resident = member(wallet)
    known, unknown = [], []
    with client_from(wallet, "127.0.0.2") as stranger:
        for login, out in (("nobody-like-this", unknown), (resident.login_id, known)):
            for _ in range(LOGIN_FAILURES_BEFORE_DELAY + 2):
                started = time.perf_counter()
                response = stranger.post("/v1/auth/login", json={"login": login, "password": "guess-password-1"})
                out.append((response.status_code, error_code(response), time.perf_counter() - started))
        # the stranger now waits (2 s, then 4 s, …: progressive, never a hard lock), even with the right password
        waiting = stranger.post("/v1/auth/login", json={"login": resident.login_id, "password": PASSWORD})
    assert waiting.status_code == 429 and 1 <= int(waiting.headers["Retry-After"]) <= 4, waiting.text
    # the same answers, in the same order, for a log-in that exists and one that does not
    assert [r[:2] for r in known] == [r[:2] for r in unknown]
    assert [r[1] for r in known] == ["LOGIN_FAILED"] * LOGIN_FAILURES_BEFORE_DELAY + ["LOGIN_THROTTLED"] * 2
    # and the same work: both run argon2 (the refused ones run none)
    checked_known = statistics.median(r[2] for r in known[:LOGIN_FAILURES_BEFORE_DELAY])
    checked_unknown = statistics.median(r[2] for r in unknown[:LOGIN_FAILURES_BEFORE_DELAY])
    assert 0.5 < checked_known / checked_unknown < 2, (checked_known, checked_unknown)
    # the owner, from their own device, is not locked out by the stranger's guesses
    owner = resident.login()
    assert owner.status_code == 200, owner.text
    time.sleep(int(waiting.headers["Retry-After"]))
    with client_from(wallet, "127.0.0.2") as stranger:
        again = stranger.post("/v1/auth/login", json={"login": resident.login_id, "password": PASSWORD})
    assert again.status_code == 200, again.text  # the right password after the wait: in, and the count clears


# -- finding 11: explicit trusted proxies, limits shared across workers --------------------------------
class TwoWorkers(WalletServer):
    def _args(self) -> list[str]:
        return (
            [*super()._args(), "--workers", "2"] if self.process is None and self.service_address else super()._args()
        )


def in_one_window(seconds: float = 15) -> None:
    """Waits for the next minute when fewer than ``seconds`` are left in this one.

    The limiter counts in fixed one-minute windows (``wallet_api/limits.py``): a burst that
    straddles a minute boundary is counted in two windows, and its last requests pass.
    """
    left = 60 - time.time() % 60
    if left < seconds:
        time.sleep(left + 0.05)


def test_finding11_forwarded_for_is_believed_only_from_trusted_proxies_and_limits_span_workers(
    points: PointsSystem, tmp_path: Path
) -> None:
    limit = 6
    env = {
        "TAKASAGO_WALLET_REQUESTS_PER_MINUTE_PER_IP": str(limit),
        "TAKASAGO_WALLET_REQUESTS_PER_MINUTE_PER_ACCOUNT": "3",
        "TAKASAGO_WALLET_TRUSTED_PROXIES": "127.0.0.9",
    }
    server = TwoWorkers(points, tmp_path, database_url("sqlite", tmp_path), env=env)
    server.init()
    engine = engine_of(server)
    server.start()
    try:
        assert "--workers" in " ".join(server.process.args)  # type: ignore[union-attr]
        body = {"login": "nobody-at-all", "password": "wrong-password"}
        # a spoofed X-Forwarded-For from an untrusted peer changes nothing: one client, one budget,
        # counted across both workers (each request on a new connection lands on either); each
        # request names another log-in, so the per-log-in throttle (finding 10) stays out of it
        codes = []
        in_one_window()
        for n in range(limit + 3):
            with client_from(server, "127.0.0.5") as c:
                spoofed = {"X-Forwarded-For": f"10.0.0.{n}"}
                codes.append(c.post("/v1/auth/login", json={**body, "login": f"nobody-{n}"}, headers=spoofed))
        assert [r.status_code for r in codes] == [401] * limit + [429] * 3, [r.status_code for r in codes]
        assert error_code(codes[-1]) == "TOO_MANY_REQUESTS" and int(codes[-1].headers["Retry-After"]) <= 60
        # a trusted proxy's X-Forwarded-For names the client: each forwarded client has its own budget
        in_one_window()
        with client_from(server, "127.0.0.9") as proxy:
            for n in range(limit):
                one = {**body, "login": f"someone-{n}"}
                forwarded = proxy.post("/v1/auth/login", json=one, headers={"X-Forwarded-For": "198.51.100.1"})
                assert forwarded.status_code == 401
            over = proxy.post("/v1/auth/login", json=body, headers={"X-Forwarded-For": "198.51.100.1"})
            assert over.status_code == 429 and error_code(over) == "TOO_MANY_REQUESTS"
            other = proxy.post("/v1/auth/login", json=body, headers={"X-Forwarded-For": "198.51.100.2"})
            assert other.status_code == 401
        # one account is limited however many addresses it comes from (a pending merchant: refused
        # anyway, but counted first)
        shop = signup(server, "merchant", shop="limit test")
        answers = []
        in_one_window()
        for n in range(4):
            with client_from(server, f"127.0.1.{n + 1}") as c:
                charge = c.post("/v1/merchant/charges", json={"amount": 1, "code": "x"}, headers=shop.headers(f"k{n}"))
                answers.append(charge.status_code)
        assert answers == [403, 403, 403, 429], answers
        with engine.connect() as conn:
            keys = [row[0] for row in conn.execute(text("SELECT key FROM rate_limits"))]
        assert keys and all(re.fullmatch(r"[0-9a-f]{64}", k) for k in keys)  # no address stored in clear
    finally:
        server.stop()
        engine.dispose()


def test_finding11_idle_rate_limit_keys_and_log_in_throttles_are_pruned(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from wallet_api.db.engine import make_engine, make_sessions, migrate
    from wallet_api.limits import SharedRateLimiter

    url = f"sqlite:///{tmp_path / 'wallet.db'}"
    migrate(url)
    engine = make_engine(url)
    long_ago = datetime.now(UTC) - timedelta(days=2)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO rate_limits (key, minute, hits) VALUES ('stale', 1, 5)"))
        conn.execute(
            text("INSERT INTO login_throttle (key, attempts, failures, updated_at) VALUES ('idle', 9, 9, :t)"),
            {"t": long_ago},
        )
    limiter = SharedRateLimiter(make_sessions(engine), b"k" * 32, login_idle_seconds=3600)
    assert limiter.hit([(limiter.key("client", "192.0.2.1"), 2)]) is None
    assert limiter.hit([(limiter.key("client", "192.0.2.1"), 2)]) is None
    assert limiter.hit([(limiter.key("client", "192.0.2.1"), 2)]) is not None  # the third in a minute: over
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rate_limits WHERE key = 'stale'")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM login_throttle")).scalar() == 0
        assert conn.execute(text("SELECT hits FROM rate_limits")).scalar() == 3
    engine.dispose()


# -- finding 13: the KEK --------------------------------------------------------------------------------
def _serve(server: WalletServer, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "scripts.cli", "wallet", "serve", *server._args(), "--port", str(server.port)]
    try:
        return subprocess.run(args, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("wallet serve started (it should have refused)")


def test_finding13_serve_never_creates_a_kek_and_refuses_one_the_database_was_not_sealed_under(
    points: PointsSystem, tmp_path: Path
) -> None:
    data = tmp_path / "wallet"
    server = WalletServer(points, data, database_url("sqlite", tmp_path))
    server.cli("init", *server._args())
    kek = data / "kek"
    original = kek.read_text()

    # a missing KEK (say, started from another directory): refused, and no new one is made
    kek.rename(tmp_path / "kek.saved")
    missing = _serve(server, {})
    assert missing.returncode != 0 and not kek.exists()
    assert "wallet init" in missing.stderr and "鍵暗号化鍵" in missing.stderr

    # another KEK than the one the database is sealed under: refused, in Japanese and English
    other = tmp_path / "other-kek"
    fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"7yXG5/2+6Gdd0NT4GzYJvLKJ8cWkuQMG6v5vN5qkHJA=\n")
    os.close(fd)
    foreign = _serve(server, {"TAKASAGO_WALLET_KEK_FILE": str(other)})
    assert foreign.returncode != 0
    assert "is not the one this database is sealed under" in foreign.stderr and "一致しません" in foreign.stderr

    # production: a KEK inside the data directory is refused; outside it, accepted
    (tmp_path / "kek.saved").rename(kek)
    production = {"TAKASAGO_WALLET_ENV": "production"}
    inside = server.cli("pending", "--data-dir", str(data), "--database-url", server.database_url, check=False)
    assert inside.returncode == 0  # embedded mode: allowed (and labelled in the log)
    server.env.update(production)
    inside = server.cli("pending", "--data-dir", str(data), "--database-url", server.database_url, check=False)
    assert inside.returncode != 0 and "outside the data directory" in inside.stderr
    outside = tmp_path / "secrets" / "kek"
    outside.parent.mkdir(mode=0o700)
    kek.rename(outside)
    assert outside.read_text() == original
    server.env["TAKASAGO_WALLET_KEK_FILE"] = str(outside)
    ok = server.cli("pending", "--data-dir", str(data), "--database-url", server.database_url, check=False)
    assert ok.returncode == 0, ok.stderr


# -- finding 14: counters under a parallel burst, on PostgreSQL ---------------------------------------
def test_finding14_a_parallel_burst_evaluates_no_more_guesses_than_allowed_on_postgresql(
    pg_wallet: WalletServer,
) -> None:
    resident = member(pg_wallet, points=100)
    shop = member(pg_wallet, "merchant")
    burst = 16

    def guess(_: int) -> httpx.Response:
        with httpx.Client(base_url=pg_wallet.url, timeout=60) as client:
            return client.post("/v1/auth/login", json={"login": resident.login_id, "password": "guess-password-1"})

    with ThreadPoolExecutor(burst) as pool:
        codes = [error_code(r) for r in pool.map(guess, range(burst))]
    evaluated = codes.count("LOGIN_FAILED")
    assert evaluated <= LOGIN_FAILURES_BEFORE_DELAY, codes
    assert codes.count("LOGIN_THROTTLED") == burst - evaluated, codes
    engine = engine_of(pg_wallet)
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT attempts, failures FROM login_throttle WHERE key = :k"),
            {"k": throttle_key(pg_wallet, resident.login_id or "", "127.0.0.1")},
        ).one()
    assert row.attempts == burst and row.failures == evaluated

    # PINs: six digits for a new card (a clear error otherwise), and a burst of wrong PINs
    short = resident.post("/v1/me/card", {"pin": "1234"}, key=None)
    assert short.status_code == 422 and error_code(short) == "PIN_TOO_SHORT"
    assert "6" in short.json()["error"]["messages"]["ja"] and "6-digit" in short.json()["error"]["messages"]["en"]
    card = resident.post("/v1/me/card", {"pin": "864200"}, key=None)
    assert card.status_code == 201, card.text
    token = card.json()["card"]

    def wrong_pin(n: int) -> httpx.Response:
        return shop.client.post(
            "/v1/merchant/charges",
            json={"amount": 1, "card": token, "pin": "000000"},
            headers=shop.headers(f"pin-burst-{n}"),
        )

    with ThreadPoolExecutor(burst) as pool:
        pins = [error_code(r) for r in pool.map(wrong_pin, range(burst))]
    assert pins.count("PIN_INCORRECT") == 2, pins  # 3 allowed: two answered "wrong", the third locks
    assert pins.count("CARD_LOCKED") == burst - 2, pins
    with engine.connect() as conn:
        failed = conn.execute(
            text("SELECT failed_pins FROM cards JOIN users ON users.id = cards.user_id WHERE users.public_id = :id"),
            {"id": resident.info["id"]},
        ).scalar()
    engine.dispose()
    assert failed == 3
    right = shop.post("/v1/merchant/charges", {"amount": 1, "card": token, "pin": "864200"})
    assert right.status_code == 423 and resident.balance() == 100  # locked means locked


# -- finding 20 ------------------------------------------------------------------------------------------
def test_finding20_a_non_ascii_bearer_token_is_a_401_not_a_500(wallet: WalletServer) -> None:
    for token in ("tökén", "eyJhbGciOiJIUzI1NiJ9.ë.x", "高砂", "\u00ff" * 40):
        response = httpx.get(wallet.url + "/v1/me", headers={"Authorization": b"Bearer " + token.encode()})
        assert response.status_code == 401, (token, response.status_code, response.text)
        assert error_code(response) == "TOKEN_INVALID"
    charged = httpx.post(
        wallet.url + "/v1/merchant/charges",
        json={"amount": 1, "code": "x"},
        headers={"Authorization": "Bearer ü".encode(), "Idempotency-Key": "k-non-ascii"},
    )
    assert charged.status_code == 401


# -- finding 21 ------------------------------------------------------------------------------------------
def test_finding21_wallet_files_are_private_and_loose_ones_are_tightened_at_start(
    points: PointsSystem, tmp_path: Path
) -> None:
    data = tmp_path / "wallet"
    server = WalletServer(points, data, database_url("sqlite", data))
    previous = os.umask(0o022)  # a typical shell umask: the service must not rely on it
    try:
        server.cli("init", *server._args())
    finally:
        os.umask(previous)
    for path in (data / "wallet.db", data / "kek", data / "token-secret"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    # an older install left them readable: the service tightens them at start and says so
    os.chmod(data, 0o755)
    os.chmod(data / "wallet.db", 0o644)
    (data / "server.log").touch()
    os.chmod(data / "server.log", 0o644)  # the file the service's output goes to
    server.start()
    try:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for path in data.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))
        assert "tightened" in server.log() and "wallet.db" in server.log()
    finally:
        server.stop()


# -- the operators' trail ----------------------------------------------------------------------------------
def test_every_request_and_officer_decision_is_logged_without_personal_data(wallet: WalletServer) -> None:
    person = signup(wallet, name="記録 太郎")
    desk = officer(wallet)
    request_id = "trail-check-0001"
    listing = desk.client.get("/v1/officer/accounts", headers={**desk.headers(), "X-Request-ID": request_id})
    assert listing.status_code == 200 and listing.headers["X-Request-ID"] == request_id
    approved = desk.post(f"/v1/officer/accounts/{person.info['id']}/approve")
    assert approved.status_code == 200, approved.text
    refused = person.post(f"/v1/officer/accounts/{person.info['id']}/reject", key=None)
    assert refused.status_code == 403
    anonymous = httpx.get(wallet.url + "/v1/officer/reads")
    assert anonymous.status_code == 401
    time.sleep(0.2)
    log = wallet.log()
    line = next(ln for ln in log.splitlines() if f"id={request_id}" in ln)
    assert "GET /v1/officer/accounts 200" in line and re.search(r"account=[0-9a-f]{12}\b", line)
    assert re.search(rf"officer officer1 \([0-9a-f-]{{36}}\) approved account {person.info['id']}", log)
    assert re.search(r"refused privileged attempt: [0-9a-f]{12} \(resident\)", log)
    assert "refused privileged attempt: GET /v1/officer/reads 401" in log
    assert "POST /v1/officer/accounts/{public_id}/approve 200" in log  # the route, not the raw path
    # no personal data, log-in ID, password or token in the log
    for secret in ("記録 太郎", "兵庫県", "1980-04-01", person.login_id, PASSWORD, person.token, person.refresh_token):
        assert secret and secret not in log, secret


def test_refresh_token_grace_window_for_two_tabs_and_reuse_after_it(wallet: WalletServer) -> None:
    resident = member(wallet)
    first = resident.refresh_token

    def refresh(_: int) -> httpx.Response:
        return httpx.post(wallet.url + "/v1/auth/refresh", json={"refresh_token": first}, timeout=30)

    with ThreadPoolExecutor(2) as pool:  # two tabs refresh at the same moment
        tabs = list(pool.map(refresh, range(2)))
    assert [t.status_code for t in tabs] == [200, 200], [t.text for t in tabs]
    assert tabs[0].json()["refresh_token"] == tabs[1].json()["refresh_token"]  # the same new pair
    late = refresh(0)  # still within the grace (3 s here): the same again
    assert late.status_code == 200 and late.json()["refresh_token"] == tabs[0].json()["refresh_token"]
    access = tabs[0].json()["access_token"]
    time.sleep(3.5)
    replay = refresh(0)  # after the grace: a replayed token closes the session
    assert replay.status_code == 401 and error_code(replay) == "TOKEN_REUSED"
    gone = httpx.get(wallet.url + "/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert gone.status_code == 401
    current = httpx.post(wallet.url + "/v1/auth/refresh", json={"refresh_token": tabs[0].json()["refresh_token"]})
    assert current.status_code == 401


def test_officers_reads_of_personal_records_are_audited(wallet: WalletServer) -> None:
    person = signup(wallet, name="閲覧 花子")
    desk = officer(wallet)
    listed = desk.get("/v1/officer/accounts", params={"reason": "窓口で本人確認"})
    assert any(a["id"] == person.info["id"] for a in listed.json())
    reads = desk.get("/v1/officer/reads").json()
    mine = [r for r in reads if r["account"] == person.info["id"]]
    assert mine and mine[0]["officer"] == "officer1" and mine[0]["reason"] == "窓口で本人確認"
    assert mine[0]["officer_name"] == "Officer One" and mine[0]["read_at"]
    # the command line's reads are in the trail too
    wallet.cli("pending", "--data-dir", str(wallet.data_dir), "--database-url", wallet.database_url)
    reads = desk.get("/v1/officer/reads").json()
    assert any(r["account"] == person.info["id"] and r["officer"] == "(command line)" for r in reads)
    assert person.get("/v1/officer/reads").status_code == 403
    assert Api(wallet).get("/v1/officer/reads").status_code == 401
