"""Log criteria and polling filters (eth_newFilter, eth_newBlockFilter, ...).

Filters are counted per client as well as in total (issue 15, finding 24): one client that
installs filters in a loop gets -32005 once it holds its share, while others can still
install theirs. The client is the one the RPC server is serving (``limits.CALLER``).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from node.errors import RESOURCE_NOT_FOUND, InvalidParams, RPCError
from node.rpc import params as p
from node.rpc.limits import CALLER, ClientCounter

FILTER_TIMEOUT_SECONDS = 300
MAX_FILTERS = 1_000
MAX_FILTERS_PER_CLIENT = 100
MAX_BUFFERED = 10_000


@dataclass(frozen=True)
class LogCriteria:
    from_block: p.BlockRef
    to_block: p.BlockRef
    block_hash: bytes | None
    addresses: frozenset[str]  # lower-case 0x hex
    topics: tuple[frozenset[str] | None, ...]  # per position: any of these, or None = anything

    def matches(self, log: dict[str, Any]) -> bool:
        if self.addresses and log["address"].lower() not in self.addresses:
            return False
        topics = log["topics"]
        if len(self.topics) > len(topics):
            return False
        for wanted, actual in zip(self.topics, topics, strict=False):
            if wanted is not None and actual not in wanted:
                return False
        return True


def parse_criteria(value: Any) -> LogCriteria:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidParams("filter: expected an object")
    unknown = set(value) - {"fromBlock", "toBlock", "address", "topics", "blockHash"}
    if unknown:
        raise InvalidParams(f"filter: unknown field(s) {', '.join(sorted(unknown))}")
    block_hash = p.data(value["blockHash"], "filter.blockHash", 32) if value.get("blockHash") is not None else None
    if block_hash is not None and (value.get("fromBlock") is not None or value.get("toBlock") is not None):
        raise InvalidParams("filter: blockHash cannot be combined with fromBlock/toBlock")
    raw_address = value.get("address")
    if raw_address is None:
        addresses: list[Any] = []
    elif isinstance(raw_address, list):
        addresses = raw_address
    else:
        addresses = [raw_address]
    if len(addresses) > 1_000:
        raise InvalidParams("filter.address: at most 1000 addresses")
    address_set = frozenset("0x" + p.address(a, "filter.address").hex() for a in addresses)
    raw_topics = value.get("topics") or []
    if not isinstance(raw_topics, list) or len(raw_topics) > 4:
        raise InvalidParams("filter.topics: expected an array of at most 4 positions")
    topics: list[frozenset[str] | None] = []
    for i, entry in enumerate(raw_topics):
        if entry is None:
            topics.append(None)
        elif isinstance(entry, list):
            if not entry:
                topics.append(None)
            else:
                topics.append(frozenset("0x" + p.data(t, f"filter.topics[{i}]", 32).hex() for t in entry))
        else:
            topics.append(frozenset(["0x" + p.data(entry, f"filter.topics[{i}]", 32).hex()]))
    return LogCriteria(
        from_block=p.block_ref(value.get("fromBlock"), "filter.fromBlock"),
        to_block=p.block_ref(value.get("toBlock"), "filter.toBlock"),
        block_hash=block_hash,
        addresses=address_set,
        topics=tuple(topics),
    )


@dataclass
class Filter:
    kind: str  # "logs", "blocks", "pending"
    criteria: LogCriteria | None = None
    buffer: deque[Any] = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED))
    last_poll: float = field(default_factory=time.monotonic)
    owner: str | None = None  # the client key it is counted under


class FilterRegistry:
    def __init__(self, max_filters: int = MAX_FILTERS, per_client: int = MAX_FILTERS_PER_CLIENT) -> None:
        self._filters: dict[str, Filter] = {}
        self.counter = ClientCounter("filters installed", max_filters, per_client)

    def configure(self, max_filters: int, per_client: int) -> None:
        """Applies node.json's caps (the registry is created before the settings are known)."""
        self.counter.total = max_filters
        self.counter.per_client = per_client

    def install(self, flt: Filter) -> str:
        self.expire()
        flt.owner = self.counter.acquire(CALLER.get())
        filter_id = "0x" + secrets.token_hex(16)
        self._filters[filter_id] = flt
        return filter_id

    def get(self, filter_id: Any) -> Filter:
        if not isinstance(filter_id, str):
            raise InvalidParams("filter id: expected a hex string")
        flt = self._filters.get(filter_id.lower())
        if flt is None:
            raise RPCError(RESOURCE_NOT_FOUND, "filter not found")
        flt.last_poll = time.monotonic()
        return flt

    def uninstall(self, filter_id: Any) -> bool:
        if not isinstance(filter_id, str):
            raise InvalidParams("filter id: expected a hex string")
        flt = self._filters.pop(filter_id.lower(), None)
        if flt is None:
            return False
        self.counter.release(flt.owner)
        return True

    def expire(self) -> None:
        deadline = time.monotonic() - FILTER_TIMEOUT_SECONDS
        for filter_id in [k for k, f in self._filters.items() if f.last_poll < deadline]:
            self.counter.release(self._filters.pop(filter_id).owner)

    def all(self) -> list[Filter]:
        return list(self._filters.values())
