"""CSV twins of the explorer's listings.

Listings exported whole are streamed from the database as the client reads them
(finding 16: ``queries.stream``, ``STREAM_ROWS`` rows at a time, a server-side cursor on
PostgreSQL), so an export's memory does not grow with its length. Every export starts with a
UTF-8 BOM and writes times as ISO 8601 in Japan time (``rendering.csv_response``), and a
kind as its one code plus its name from the pages' table (``texts.KINDS``). A bad
``from``/``to`` is answered in JSON (``indexer.web.errors``). There is no holders export:
residents' balances are never listed (issue 22); merchants' are, as public business data.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from indexer import queries
from indexer.web.deps import Address, ExplorerDep, Lang, Period, SessionsDep
from indexer.web.rendering import csv_response

router = APIRouter(include_in_schema=False)
MERCHANT_COLUMNS = [
    "address", "label", "status", "payments", "received", "refunded", "settled", "passed_on", "from_businesses",
    "balance",
]  # fmt: skip
SETTLEMENT_COLUMNS = ["settlement_id", "merchant", "amount", "reference", "block", "tx_hash", "timestamp"]
PROGRAMME_COLUMNS = ["id", "name", "budget", "granted", "grants", "closed", "starts_at", "ends_at"]
HOPS_COLUMNS = [
    "month", "starts_at", "ends_at", "b2b_hops", "b2b_points", "reward_hops", "reward_points", "hops", "points",
]  # fmt: skip
HOPS_KEYS = ["month", "starts_at", "ends_at", "b2b", "b2b_points", "rewards", "reward_points", "hops", "points"]
CO2_COLUMNS = [
    "programme_id", "programme", "period", "households", "units", "merkle_root", "signers", "block", "tx_hash",
]  # fmt: skip


@router.get("/blocks.csv")
def blocks_csv(sessions: SessionsDep) -> StreamingResponse:
    return csv_response(
        "blocks",
        ["number", "hash", "parent_hash", "timestamp", "proposer", "transactions", "gas_used"],
        queries.stream(sessions, queries.all_blocks()),
    )


@router.get("/txs.csv")
def txs_csv(sessions: SessionsDep, lang: Lang, period: Period) -> StreamingResponse:
    return csv_response(
        "transactions",
        ["hash", "block", "index", "timestamp", "from", "to", "status", "method", "kind", "points"],
        queries.stream(sessions, queries.all_transactions(period)),
        kinds_in="kind",
        lang=lang,
    )


@router.get("/address/{address}/history.csv")
def address_csv(sessions: SessionsDep, lang: Lang, checksum: Address, period: Period) -> StreamingResponse:
    return csv_response(
        f"points-{checksum}",
        ["block", "log_index", "tx_hash", "timestamp", "kind", "from", "to", "points", "request_id"],
        queries.stream(sessions, queries.all_history(checksum, period)),
        kinds_in="kind",
        lang=lang,
    )


@router.get("/merchants.csv")
def merchants_csv(explorer: ExplorerDep) -> StreamingResponse:
    with explorer.sessions() as db:
        rows = explorer.merchants(db, explorer.kinds(db))
    return csv_response(
        "merchants",
        MERCHANT_COLUMNS,
        ([r["address"], explorer.labels.get(r["address"], ""), *[r[k] for k in MERCHANT_COLUMNS[2:]]] for r in rows),
    )


@router.get("/settlements.csv")
def settlements_csv(sessions: SessionsDep) -> StreamingResponse:
    with sessions() as db:
        rows = queries.settlements(db)
    return csv_response("settlements", SETTLEMENT_COLUMNS, ([r[k] for k in SETTLEMENT_COLUMNS] for r in rows))


@router.get("/programmes.csv")
def programmes_csv(sessions: SessionsDep) -> StreamingResponse:
    with sessions() as db:
        rows = queries.programmes(db)
    return csv_response(
        "programmes",
        PROGRAMME_COLUMNS,
        ([r[k] for k in PROGRAMME_COLUMNS] for r in rows),
        times=("starts_at", "ends_at"),
    )


@router.get("/hops.csv")
def hops_csv(sessions: SessionsDep) -> StreamingResponse:
    """The local hops per JST month (issue 21), the month's bounds in ISO 8601 with +09:00."""
    with sessions() as db:
        rows = queries.local_hops(db)
    return csv_response("local-hops", HOPS_COLUMNS, ([r[k] for k in HOPS_KEYS] for r in rows),
                        times=("starts_at", "ends_at"))  # fmt: skip


@router.get("/co2.csv")
def co2_csv(sessions: SessionsDep) -> StreamingResponse:
    with sessions() as db:
        rows = queries.co2_reports(db)
    return csv_response("co2", CO2_COLUMNS, ([r[k] for k in CO2_COLUMNS] for r in rows))
