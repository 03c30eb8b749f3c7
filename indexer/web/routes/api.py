"""An Etherscan-compatible API subset (``/api?module=…&action=…``), so existing audit tools work.

Supported: ``account/tokentx``, ``account/balance`` and ``account/tokenbalance`` (points,
from the index), ``logs/getLogs``, ``block/getblocknobytime``. Answers follow Etherscan:
``{"status": "1", "message": "OK", "result": …}``, or ``status "0"`` with the reason.
Each action is one function of :data:`ACTIONS`; the route only parses what they share.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from eth_utils import is_hex_address, to_checksum_address
from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from indexer import queries
from indexer.web.deps import ExplorerDep
from indexer.web.explorer import Explorer

MAX_OFFSET = 10_000
TOPIC = re.compile(r"^0x[0-9a-fA-F]{64}$")
router = APIRouter(tags=["etherscan-compatible"])


class ApiInputError(ValueError):
    pass


def ok(result: Any) -> dict[str, Any]:
    return {"status": "1", "message": "OK", "result": result}


def notok(reason: str) -> dict[str, Any]:
    return {"status": "0", "message": "NOTOK", "result": f"Error! {reason}"}


def _int(value: str | None, name: str, default: int, low: int = 0, high: int = 2**62) -> int:
    if value is None or value == "":
        return default
    text = value.strip().lower()
    try:
        number = int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        raise ApiInputError(f"{name} must be a whole number") from None
    if not low <= number <= high:
        raise ApiInputError(f"{name} must be between {low} and {high}")
    return number


def _address(value: str | None, name: str = "address") -> str:
    if value is None or not is_hex_address(value):
        raise ApiInputError(f"invalid {name}")
    return to_checksum_address(value)


@dataclass(frozen=True)
class ApiQuery:
    """The query string as Etherscan names it (every value still unchecked text)."""

    action: str
    address: str | None
    contractaddress: str | None
    startblock: str | None
    endblock: str | None
    fromBlock: str | None  # noqa: N815 - Etherscan's name
    toBlock: str | None  # noqa: N815
    topics: tuple[str | None, ...]
    timestamp: str | None
    closest: str | None
    sort: str | None
    tag: str | None


@dataclass(frozen=True)
class Window:
    """What every answer shares: the page asked for, its size, the indexed head (-1 when empty) and the
    explorer, whose figures kept at the head (every address's points) answer without summing movements."""

    page: int
    size: int
    head: int
    explorer: Explorer


def token_transfers(db: Session, q: ApiQuery, window: Window) -> Any:
    who = _address(q.address) if q.address else None
    start, end = _int(q.startblock, "startblock", 0), _int(q.endblock, "endblock", window.head)
    if start > end:
        raise ApiInputError("startblock is after endblock")
    if q.sort not in (None, "", "asc", "desc"):
        raise ApiInputError("sort must be asc or desc")
    rows = queries.token_transfers(db, who, start, end, window.page, window.size, q.sort != "desc")
    return [
        {
            "blockNumber": str(m.block_number), "timeStamp": str(m.timestamp), "hash": m.tx_hash,
            "from": m.from_address.lower(), "to": m.to_address.lower(), "value": str(m.amount),
            "tokenName": "Takasago Points", "tokenSymbol": "TKP", "tokenDecimal": "0",
            "logIndex": str(m.log_index), "kind": m.kind, "requestId": m.request_id or "",
        }
        for m in rows
    ]  # fmt: skip


def balance(db: Session, q: ApiQuery, window: Window) -> Any:
    if q.action == "tokenbalance":
        _address(q.contractaddress, "contractaddress")
    if q.tag not in (None, "", "latest"):
        raise ApiInputError("only tag=latest is supported")
    return str(window.explorer.points_of(db, _address(q.address)))


def _topics(values: tuple[str | None, ...]) -> dict[int, str]:
    topics = {}
    for i, topic in enumerate(values):
        if topic:
            if not TOPIC.match(topic):
                raise ApiInputError(f"topic{i} must be 0x followed by 64 hex digits")
            topics[i] = topic
    return topics


def get_logs(db: Session, q: ApiQuery, window: Window) -> Any:
    start, end = _int(q.fromBlock, "fromBlock", 0), _int(q.toBlock, "toBlock", window.head)
    if start > end:
        raise ApiInputError("fromBlock is after toBlock")
    topics = _topics(q.topics)
    who = _address(q.address) if q.address else None
    events = queries.logs(db, who, start, end, topics, window.page, window.size)
    return [
        {
            "address": e.address.lower(), "topics": e.topics, "data": e.data,
            "blockNumber": hex(e.block_number), "timeStamp": hex(e.timestamp),
            "logIndex": hex(e.log_index), "transactionHash": e.tx_hash,
        }
        for e in events
    ]  # fmt: skip


def block_by_time(db: Session, q: ApiQuery, window: Window) -> Any:
    if not q.timestamp:
        raise ApiInputError("timestamp is required")
    moment = _int(q.timestamp, "timestamp", 0)
    if q.closest not in ("before", "after"):
        raise ApiInputError("closest must be before or after")
    found = queries.block_by_time(db, moment, q.closest)
    if found is None:
        raise ApiInputError("no block at that time")
    return str(found.number)


ACTIONS: dict[tuple[str, str], Callable[[Session, ApiQuery, Window], Any]] = {
    ("account", "tokentx"): token_transfers,
    ("account", "balance"): balance,
    ("account", "tokenbalance"): balance,
    ("logs", "getLogs"): get_logs,
    ("block", "getblocknobytime"): block_by_time,
}


@router.get("/api")
def api(
    explorer: ExplorerDep,
    module: Annotated[str, Query(max_length=20)] = "",
    action: Annotated[str, Query(max_length=40)] = "",
    address: Annotated[str | None, Query(max_length=64)] = None,
    contractaddress: Annotated[str | None, Query(max_length=64)] = None,
    startblock: Annotated[str | None, Query(max_length=24)] = None,
    endblock: Annotated[str | None, Query(max_length=24)] = None,
    fromBlock: Annotated[str | None, Query(max_length=24)] = None,  # noqa: N803 - Etherscan's name
    toBlock: Annotated[str | None, Query(max_length=24)] = None,  # noqa: N803
    topic0: Annotated[str | None, Query(max_length=70)] = None,
    topic1: Annotated[str | None, Query(max_length=70)] = None,
    topic2: Annotated[str | None, Query(max_length=70)] = None,
    topic3: Annotated[str | None, Query(max_length=70)] = None,
    timestamp: Annotated[str | None, Query(max_length=24)] = None,
    closest: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[str | None, Query(max_length=12)] = None,
    offset: Annotated[str | None, Query(max_length=12)] = None,
    sort: Annotated[str | None, Query(max_length=4)] = None,
    tag: Annotated[str | None, Query(max_length=12)] = None,
) -> dict[str, Any]:
    q = ApiQuery(
        action, address, contractaddress, startblock, endblock, fromBlock, toBlock,
        (topic0, topic1, topic2, topic3), timestamp, closest, sort, tag,
    )  # fmt: skip
    try:
        page_n = _int(page, "page", 1, 1, queries.MAX_PAGE)
        size = _int(offset, "offset", 100, 1, MAX_OFFSET)
        with explorer.sessions() as db:
            cp = queries.head(db)
            answer = ACTIONS.get((module, action))
            if answer is not None:
                return ok(answer(db, q, Window(page_n, size, cp.block_number if cp else -1, explorer)))
        return notok(f"unsupported module/action {module[:20]!r}/{action[:40]!r}")
    except ApiInputError as exc:
        return notok(str(exc))
