"""Help matching through the wallet API (issue 18): browsing open requests near me, and posting one.

    .venv/bin/python -m bench.help_matching [--open-requests 10000] [--helpers 1000] [--browses 400]
                                            [--posts 40] [--database-url postgresql://USER:PW@HOST:5432/postgres]

``--database-url``: the wallet on PostgreSQL, in a fresh database created on that server and dropped after.

One run, one fresh dev node with the contracts deployed (``HelpBoard`` included) and a wallet
API server on it (one worker), driven over HTTP only:

1. **Posting vs paying.** One resident alternately posts a help request
   (``POST /v1/help/requests``: the thanks go into escrow on the ledger, the request id is read
   from the receipt) and pays a merchant's payment request (``POST /v1/payments``), ``--posts``
   of each, one at a time; latency from the POST sent to its 200 ``confirmed``. Goal: posting
   costs ≤ 1.5× a payment (p50). The board's per-requester limits are lifted for the run by the
   city (``HelpBoard.setLimits(0, 0)``), as a town-wide campaign would.
2. **Browsing near me.** ``--open-requests`` open requests in 40 districts and 9 task types,
   posted by ``--helpers`` generated residents, are written straight into the wallet database
   (generated rows, like the indexer's scale check: the chain is not what is measured here).
   Real signed-up residents then browse as helpers would: ``GET /v1/help/requests`` by
   district, by district and task type, by day, and page 2 — ``--browses`` requests in all,
   p50/p95 per query shape. Goal: p95 ≤ 50 ms. The same filters run in the same run by a plain
   implementation (every open row loaded with SQLAlchemy and filtered and sorted in Python, as a
   first version would), timed inside this process on the same database.
"""

from __future__ import annotations

import argparse
import random
import secrets
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

from bench.harness.points import Points
from bench.harness.postgres import create_postgres_database, drop_postgres_database
from bench.harness.report import git_commit, log, machine
from bench.harness.stats import ms, pct
from bench.harness.systems import Takasago
from bench.harness.wallet import (
    OFFICER_LOGIN,
    OFFICER_PASSWORD,
    Client,
    WalletServer,
    api_pay,
    expect,
    member,
    new_request,
)
from ledger_client.deployment import read_deployment

DISTRICTS = [f"高砂町{n}丁目" for n in range(1, 21)] + [f"荒井町{n}丁目" for n in range(1, 21)]
GOAL_BROWSE_P95 = 0.050
GOAL_POST_RATIO = 1.5


def help_body(thanks: int = 100) -> dict[str, object]:
    starts = datetime.now(UTC) + timedelta(hours=2)
    return {"task_type": 0, "district": "高砂町1丁目", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(), "thanks": thanks,
            "details": "買い物の手伝い", "place": "高砂町1-1"}  # fmt: skip


def post_vs_pay(resident: Client, merchant: Client, posts: int) -> tuple[list[float], list[float]]:
    posting, paying = [], []
    for _ in range(posts):
        started = time.perf_counter()
        body = expect(resident.post("/v1/help/requests", help_body(), key=str(uuid.uuid4())), 200, "help post")
        if body["operation"]["status"] != "confirmed":
            raise RuntimeError(f"help post not confirmed: {body}")
        posting.append(time.perf_counter() - started)
        sent, confirmed, _ = api_pay(resident, new_request(merchant)[0])
        paying.append(confirmed - sent)
    return posting, paying


def generate(database_url: str, count: int, helpers: int) -> None:
    """``helpers`` generated residents and ``count`` open requests of theirs, straight into the wallet database.

    Written through the models' tables (SQLAlchemy Core), so times are stored exactly as the API stores them.
    """
    from wallet_api.db.models import HelpRequest, User

    engine = create_engine(database_url)
    rng = random.Random(18)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        first = int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM users")).scalar_one()) + 1
        users = [
            {
                "id": first + i,
                "public_id": str(uuid.uuid4()),
                "login": f"gen-helper-{i}",
                "role": "resident",
                "status": "active",
                "password_hash": "-",
                "short_code": secrets.token_hex(5).upper(),
                "failed_logins": 0,
                "created_at": now,
            }  # fmt: skip
            for i in range(helpers)
        ]
        conn.execute(insert(User.__table__), users)  # type: ignore[arg-type]
        if conn.dialect.name == "postgresql":  # ids given explicitly: move the sequence past them for sign-ups
            conn.execute(text("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))"))
        rows = []
        for i in range(count):
            starts = now + timedelta(hours=rng.randint(1, 24 * 6))
            rows.append({"id": str(uuid.uuid4()), "requester_id": first + rng.randrange(helpers),
                         "task_type": rng.randrange(9), "district": rng.choice(DISTRICTS), "starts_at": starts,
                         "ends_at": starts + timedelta(hours=2), "thanks": rng.randint(50, 500),
                         "details": "generated", "place": "generated", "details_salt": "0x" + "00" * 16,
                         "chain_id": 10_000_000 + i, "status": "open", "created_at": now})  # fmt: skip
        conn.execute(insert(HelpRequest.__table__), rows)  # type: ignore[arg-type]
    engine.dispose()


def shapes(rng: random.Random) -> list[tuple[str, dict[str, str]]]:
    day = (datetime.now(UTC) + timedelta(days=2)).astimezone(UTC).strftime("%Y-%m-%d")
    return [
        ("district", {"district": rng.choice(DISTRICTS)}),
        ("district + task", {"district": rng.choice(DISTRICTS), "task_type": str(rng.randrange(9))}),
        ("day", {"day": day}),
        ("district, page 2", {"district": rng.choice(DISTRICTS), "page": "2", "size": "10"}),
    ]


def browse(clients: list[Client], browses: int) -> dict[str, list[float]]:
    rng = random.Random(7)
    timings: dict[str, list[float]] = {}
    for n in range(browses):
        name, params = shapes(rng)[n % 4]
        query = "&".join(f"{k}={v}" for k, v in params.items())
        client = clients[n % len(clients)]
        started = time.perf_counter()
        expect(client.get(f"/v1/help/requests?{query}"), 200, "browse")
        timings.setdefault(name, []).append(time.perf_counter() - started)
    return timings


def plain_browse(database_url: str, browses: int) -> dict[str, list[float]]:
    """The first version one would write: load every open request, filter and sort in Python."""
    from wallet_api.db.models import HelpRequest

    engine = create_engine(database_url)
    rng = random.Random(7)
    timings: dict[str, list[float]] = {}
    for n in range(browses):
        name, params = shapes(rng)[n % 4]
        started = time.perf_counter()
        with Session(engine) as db:
            rows = db.scalars(select(HelpRequest).where(HelpRequest.status == "open")).all()
            found = [r for r in rows if ("district" not in params or r.district == params["district"])
                     and ("task_type" not in params or r.task_type == int(params["task_type"]))]  # fmt: skip
            found.sort(key=lambda r: (r.starts_at, r.id))
            page = int(params.get("page", "1"))
            size = int(params.get("size", "20"))
            _ = found[(page - 1) * size : page * size]
        timings.setdefault(name, []).append(time.perf_counter() - started)
    engine.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--open-requests", type=int, default=10_000)
    parser.add_argument("--helpers", type=int, default=1_000)
    parser.add_argument("--browses", type=int, default=400)
    parser.add_argument("--posts", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-help-"))
    node = Takasago("takasago", work)
    node.start()
    try:
        points = Points.deploy("takasago", node.url, node.funder_key, work / "deployments")
        deployment = read_deployment(next((work / "deployments").glob("*.json")))
        assert deployment is not None
        board = deployment.contract(points.w3, "HelpBoard")
        points.sender.call_function(board.functions.setLimits((0, 0)))  # a campaign: no per-requester limits
        pg_name = None
        database_url = args.database_url or f"sqlite:///{work}/wallet/wallet.db"
        if database_url.startswith("postgresql"):
            database_url, pg_name = create_postgres_database(args.database_url)
        server = WalletServer(work, node.url, work / "deployments", database_url, 1)
        try:
            server.setup(points)
            server.start()
            officer = Client(server.url, OFFICER_LOGIN, OFFICER_PASSWORD)
            officer.login()
            merchant = member(server, officer, "merchant")
            resident = member(server, officer, "resident")
            points.mint(resident.address, 100 * args.posts * 3)
            post_vs_pay(resident, merchant, 3)  # warm-up
            posting, paying = post_vs_pay(resident, merchant, args.posts)
            log(f"generating {args.open_requests:,} open requests by {args.helpers:,} residents")
            generate(database_url, args.open_requests, args.helpers)
            browsers = [member(server, officer, "resident") for _ in range(8)]
            browse(browsers, 40)  # warm-up
            api = browse(browsers, args.browses)
            plain = plain_browse(database_url, max(40, args.browses // 10))
        finally:
            server.stop()
            if pg_name is not None:
                drop_postgres_database(args.database_url, pg_name)
    finally:
        node.stop()
    report(args, posting, paying, api, plain)


def report(
    args: argparse.Namespace,
    posting: list[float],
    paying: list[float],
    api: dict[str, list[float]],
    plain: dict[str, list[float]],
) -> None:
    db = "PostgreSQL" if args.database_url else "SQLite"
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    print(f"\nhelp matching: {args.open_requests:,} open requests by {args.helpers:,} residents; {stamp}; "
          f"commit {git_commit()}; wallet DB {db}; {machine()}\n")  # fmt: skip
    post_ratio = pct(posting, 0.5) / pct(paying, 0.5)
    print("| one resident, one at a time | n | p50 | p95 |")
    print("| --- | ---: | ---: | ---: |")
    post_p50, post_p95 = ms(pct(posting, 0.5)), ms(pct(posting, 0.95))
    print(f"| `POST /v1/help/requests` → 200 confirmed (escrow) | {len(posting)} | {post_p50} | {post_p95} |")
    print(f"| `POST /v1/payments` → 200 confirmed | {len(paying)} | {ms(pct(paying, 0.5))} | {ms(pct(paying, 0.95))} |")
    print(f"\n- posting / paying at p50: **{post_ratio:.2f}x** (goal ≤ {GOAL_POST_RATIO}x): "
          f"{'met' if post_ratio <= GOAL_POST_RATIO else 'NOT met'}\n")  # fmt: skip
    print("| browse (`GET /v1/help/requests`) | n | API p50 | API p95 | plain p50 | plain p95 | plain / API p50 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for name, values in api.items():
        mine, naive = values, plain.get(name, [float("nan")])
        worst = max(worst, pct(mine, 0.95))
        print(f"| {name} | {len(mine)} | {ms(pct(mine, .5))} | {ms(pct(mine, .95))} | {ms(pct(naive, .5))} | "
              f"{ms(pct(naive, .95))} | {pct(naive, .5) / pct(mine, .5):.1f}x |")  # fmt: skip
    print(f"\n- worst browse p95 through the API: **{ms(worst)}** (goal ≤ 50 ms): "
          f"{'met' if worst <= GOAL_BROWSE_P95 else 'NOT met'}")  # fmt: skip
    print("- the plain implementation runs in this process without HTTP; the API's figures include HTTP and auth")


if __name__ == "__main__":
    main()
