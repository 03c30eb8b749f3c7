"""An Etherscan-compatible API subset (``/api?module=…&action=…``), so existing audit tools work.

Supported: ``account/tokentx``, ``account/balance`` and ``account/tokenbalance`` (points,
from the index), ``logs/getLogs``, ``block/getblocknobytime``. Answers follow Etherscan:
``{"status": "1", "message": "OK", "result": …}``, or ``status "0"`` with the reason.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from eth_utils import is_hex_address, to_checksum_address
from fastapi import APIRouter, Query
from sqlalchemy.orm import Session, sessionmaker

from indexer import queries

MAX_OFFSET = 10_000
TOPIC = re.compile(r"^0x[0-9a-fA-F]{64}$")


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


def etherscan_api(sessions: sessionmaker[Session]) -> APIRouter:
    router = APIRouter(tags=["etherscan-compatible"])

    @router.get("/api")
    def api(
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
        try:
            page_n = _int(page, "page", 1, 1, queries.MAX_PAGE)
            size = _int(offset, "offset", 100, 1, MAX_OFFSET)
            with sessions() as db:
                cp = queries.head(db)
                head = cp.block_number if cp else -1
                if module == "account" and action == "tokentx":
                    who = _address(address) if address else None
                    start, end = _int(startblock, "startblock", 0), _int(endblock, "endblock", head)
                    if start > end:
                        raise ApiInputError("startblock is after endblock")
                    if sort not in (None, "", "asc", "desc"):
                        raise ApiInputError("sort must be asc or desc")
                    rows = queries.token_transfers(db, who, start, end, page_n, size, sort != "desc")
                    return ok([
                        {
                            "blockNumber": str(m.block_number), "timeStamp": str(m.timestamp), "hash": m.tx_hash,
                            "from": m.from_address.lower(), "to": m.to_address.lower(), "value": str(m.amount),
                            "tokenName": "Takasago Points", "tokenSymbol": "TKP", "tokenDecimal": "0",
                            "logIndex": str(m.log_index), "kind": m.kind, "requestId": m.request_id or "",
                        }
                        for m in rows
                    ])  # fmt: skip
                if module == "account" and action in ("balance", "tokenbalance"):
                    if action == "tokenbalance":
                        _address(contractaddress, "contractaddress")
                    if tag not in (None, "", "latest"):
                        raise ApiInputError("only tag=latest is supported")
                    return ok(str(queries.balance_of(db, _address(address))))
                if module == "logs" and action == "getLogs":
                    start, end = _int(fromBlock, "fromBlock", 0), _int(toBlock, "toBlock", head)
                    if start > end:
                        raise ApiInputError("fromBlock is after toBlock")
                    topics = {}
                    for i, topic in enumerate((topic0, topic1, topic2, topic3)):
                        if topic:
                            if not TOPIC.match(topic):
                                raise ApiInputError(f"topic{i} must be 0x followed by 64 hex digits")
                            topics[i] = topic
                    who = _address(address) if address else None
                    events = queries.logs(db, who, start, end, topics, page_n, size)
                    return ok([
                        {
                            "address": e.address.lower(), "topics": e.topics, "data": e.data,
                            "blockNumber": hex(e.block_number), "timeStamp": hex(e.timestamp),
                            "logIndex": hex(e.log_index), "transactionHash": e.tx_hash,
                        }
                        for e in events
                    ])  # fmt: skip
                if module == "block" and action == "getblocknobytime":
                    if not timestamp:
                        raise ApiInputError("timestamp is required")
                    moment = _int(timestamp, "timestamp", 0)
                    if closest not in ("before", "after"):
                        raise ApiInputError("closest must be before or after")
                    found = queries.block_by_time(db, moment, closest)
                    if found is None:
                        raise ApiInputError("no block at that time")
                    return ok(str(found.number))
            return notok(f"unsupported module/action {module[:20]!r}/{action[:40]!r}")
        except ApiInputError as exc:
            return notok(str(exc))

    return router
