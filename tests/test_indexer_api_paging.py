"""``/api`` filters and pages in SQL and answers exactly what the old code answered, which read every event
(or movement) in range into Python, filtered it there and sliced one page (issue 15, finding 16; issue 17).

The reference below is that old code, kept as the specification; the index is a synthetic one
(``bench.explorer_queries.fill``: registrations, mints, payments with their ``Paid`` events).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bench.explorer_queries import PAID, REGISTERED, TOKEN, TRANSFER, fill, topic_of
from contracts.predeploys import REGISTRY_ADDRESS
from indexer.db.engine import engine_for, sessions_for
from indexer.db.models import Block, Checkpoint, Event, PointMovement
from indexer.web.app import create_explorer
from ledger_client.rpc import Rpc


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('api-paging') / 'indexer.db'}"
    accounts = fill(url, 3_000, 120)
    sessions = sessions_for(engine_for(url))
    with sessions() as db:
        events = list(db.scalars(select(Event)))
        movements = list(db.scalars(select(PointMovement)))
        checkpoint = db.get(Checkpoint, 1)
        assert checkpoint is not None
        timestamps = {int(n): int(t) for n, t in db.execute(select(Block.number, Block.timestamp))}
    app = create_explorer(sessions, Rpc("http://127.0.0.1:9"), {}, {"RegionalPoints": TOKEN})
    with TestClient(app) as client:
        yield {"client": client, "accounts": accounts, "events": events, "movements": movements,
               "head": checkpoint.block_number, "timestamps": timestamps}  # fmt: skip


def old_get_logs(
    events: list[Event], address: str | None, start: int, end: int, topics: dict[int, str], page: int, offset: int
) -> list[dict[str, Any]]:
    """The pre-issue-17 getLogs: every event in range, filtered and paged in Python."""
    picked = []
    for e in sorted(events, key=lambda e: (e.block_number, e.log_index)):
        if not start <= e.block_number <= end or (address is not None and e.address.lower() != address.lower()):
            continue
        if all(len(e.topics) > i and e.topics[i].lower() == t.lower() for i, t in topics.items()):
            picked.append(e)
    return [
        {"address": e.address.lower(), "topics": e.topics, "data": e.data, "blockNumber": hex(e.block_number),
         "timeStamp": hex(e.timestamp), "logIndex": hex(e.log_index), "transactionHash": e.tx_hash}
        for e in picked[(page - 1) * offset : page * offset]
    ]  # fmt: skip


def old_token_transfers(
    movements: list[PointMovement], who: str | None, start: int, end: int, page: int, offset: int, ascending: bool
) -> list[tuple[int, int, str]]:
    picked = [
        m for m in movements
        if start <= m.block_number <= end and (who is None or who in (m.from_address, m.to_address))
    ]  # fmt: skip
    picked.sort(key=lambda m: (m.block_number, m.log_index), reverse=not ascending)
    return [(m.block_number, m.log_index, m.tx_hash) for m in picked[(page - 1) * offset : page * offset]]


def get_logs_cases(index: dict[str, Any]) -> list[tuple[str | None, int, int | None, dict[int, str], int, int]]:
    someone, merchant = index["accounts"][60], index["accounts"][3]
    head = index["head"]
    return [
        (None, 0, None, {0: TRANSFER}, 1, 100),
        (None, 0, None, {0: TRANSFER}, 7, 50),
        (None, 0, None, {0: "0x" + TRANSFER[2:].upper()}, 2, 30),  # any case
        (TOKEN, 0, None, {0: PAID, 2: topic_of(someone)}, 1, 1000),
        (TOKEN.lower(), 10, head // 2, {0: PAID, 1: topic_of(merchant)}, 2, 20),
        (None, 0, None, {1: topic_of(merchant)}, 1, 1000),
        (None, 0, None, {2: topic_of(someone)}, 1, 1000),
        (None, head // 3, head // 3 + 40, {}, 2, 25),
        (REGISTRY_ADDRESS, 0, 0, {0: REGISTERED}, 3, 40),
        (None, 0, None, {3: topic_of(someone)}, 1, 100),  # no event has a fourth topic
        (someone, 0, None, {}, 1, 100),  # an account emits nothing
        (None, head + 1, head + 5, {}, 1, 100),  # past the head
    ]


def test_get_logs_answers_what_filtering_every_event_in_python_answered(index: dict[str, Any]) -> None:
    client: TestClient = index["client"]
    for address, start, end, topics, page, offset in get_logs_cases(index):
        query = "&".join(
            [f"fromBlock={start}", *([f"toBlock={end}"] if end is not None else []),
             *([f"address={address}"] if address else []), *(f"topic{i}={t}" for i, t in topics.items()),
             f"page={page}", f"offset={offset}"]
        )  # fmt: skip
        answer = client.get(f"/api?module=logs&action=getLogs&{query}").json()
        assert answer["status"] == "1", (query, answer)
        expected = old_get_logs(
            index["events"], address, start, index["head"] if end is None else end, topics, page, offset
        )
        assert answer["result"] == expected, query
    assert any(old_get_logs(index["events"], None, 0, index["head"], {0: PAID}, 1, 10))  # the cases are not all empty


def test_tokentx_answers_what_filtering_every_movement_in_python_answered(index: dict[str, Any]) -> None:
    client: TestClient = index["client"]
    someone, merchant, head = index["accounts"][60], index["accounts"][3], index["head"]
    cases = [
        (someone, 0, head, 1, 100, "asc"),
        (merchant, 0, head, 2, 15, "desc"),
        (merchant.lower(), head // 4, head // 2, 1, 10, "asc"),
        (None, 0, head, 5, 40, "desc"),
        (None, head // 2, head // 2 + 30, 2, 50, "asc"),
        (someone, head + 1, head + 9, 1, 100, "asc"),
    ]
    for who, start, end, page, offset, sort in cases:
        query = f"startblock={start}&endblock={end}&page={page}&offset={offset}&sort={sort}"
        if who is not None:
            query += f"&address={who}"
        answer = client.get(f"/api?module=account&action=tokentx&{query}").json()
        assert answer["status"] == "1", (query, answer)
        got = [(int(r["blockNumber"]), int(r["logIndex"]), r["hash"]) for r in answer["result"]]
        checksum = next((a for a in index["accounts"] if who is not None and a.lower() == who.lower()), None)
        expected = old_token_transfers(index["movements"], checksum, start, end, page, offset, sort == "asc")
        assert got == expected, query
        assert who is None or got or start > head, query


def test_block_by_time_finds_the_same_block_as_walking_by_number(index: dict[str, Any]) -> None:
    client: TestClient = index["client"]
    timestamps: dict[int, int] = index["timestamps"]
    for moment in sorted(set(timestamps.values()))[::97] + [min(timestamps.values()) - 1, max(timestamps.values()) + 1]:
        for closest in ("before", "after"):
            if closest == "before":
                candidates = [n for n, t in timestamps.items() if t <= moment]
                expected = str(max(candidates)) if candidates else None
            else:
                candidates = [n for n, t in timestamps.items() if t >= moment]
                expected = str(min(candidates)) if candidates else None
            answer = client.get(
                f"/api?module=block&action=getblocknobytime&timestamp={moment}&closest={closest}"
            ).json()
            assert (answer["result"] if answer["status"] == "1" else None) == expected, (moment, closest)


def test_balance_is_the_movements_summed(index: dict[str, Any]) -> None:
    client: TestClient = index["client"]
    for who in index["accounts"][:5] + index["accounts"][60:63]:
        expected = sum(m.amount for m in index["movements"] if m.to_address == who) - sum(
            m.amount for m in index["movements"] if m.from_address == who
        )
        answer = client.get(f"/api?module=account&action=balance&address={who.lower()}").json()
        assert answer == {"status": "1", "message": "OK", "result": str(expected)}
