"""The wallet service's view of the ledger: contract reads and decoded history, over JSON-RPC only."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_utils import to_checksum_address
from eth_utils.abi import collapse_if_tuple, function_abi_to_4byte_selector
from web3.contract import Contract
from web3.exceptions import Web3RPCError
from web3.logs import DISCARD
from web3.types import RPCEndpoint

from ledger_client.connection import connect, patiently
from ledger_client.contract_set import ContractSet
from ledger_client.deployment import Deployment
from ledger_client.fees import fee_fields, zero_fees
from ledger_client.payment_uri import payment_request_id
from ledger_client.rpc import Rpc, RpcError

ZERO = "0x0000000000000000000000000000000000000000"
MAX_LOG_BLOCKS = 10_000  # the node's eth_getLogs range cap (node/rpc/methods.py)
HISTORY_FIRST_WINDOW = 2_000  # a busy account fills a page from the latest blocks
HISTORY_SCAN_BLOCKS = 200_000  # blocks one history page may scan (about 2 days at 1-second blocks)


def address_topic(address: str) -> str:
    """An address as an indexed event argument (a log topic)."""
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


@dataclass(frozen=True)
class HistoryEntry:
    """One movement of an account's points, in the words the app shows."""

    kind: str
    amount: int
    counterparty: str | None
    tx_hash: str
    block: int
    log_index: int
    timestamp: int
    request_id: str | None = None
    category: str | None = None

    @property
    def position(self) -> tuple[int, int]:
        return (self.block, self.log_index)


@dataclass(frozen=True)
class HistoryPage:
    """One page of history and where the next one starts (block, log index), None at the beginning."""

    entries: list[HistoryEntry]
    next_before: tuple[int, int] | None


class Ledger:
    """The wallet's connection to the node and the deployment's contracts, both from ``ledger_client``.

    The connection is :func:`ledger_client.connection.connect` (service token, "server busy"
    waited out, then :class:`~ledger_client.connection.NodeBusy`, a ``TimeoutError`` the API
    answers 503). The contracts are loaded on first use, so the service starts before the
    node answers.
    """

    def __init__(self, rpc_url: str, deployments_dir: Path, timeout: float = 10) -> None:
        self.w3 = connect(rpc_url, timeout=timeout)
        # web3's validation asks eth_chainId before every eth_call and eth_estimateGas (a second
        # round trip per call, issue 17); the chain id never changes under a running service.
        self.w3.provider.cache_allowed_requests = True
        self.w3.provider.cacheable_requests = {RPCEndpoint("eth_chainId")}
        # the request path's own calls (the payment's precheck and broadcast) skip web3's request
        # middleware and result formatters: about a fifth of an API worker's CPU per payment (issue 17)
        self.rpc = Rpc(rpc_url, timeout=timeout)
        self.rpc_url = rpc_url
        self.deployments_dir = deployments_dir
        self._contracts: ContractSet | None = None
        self._encoders: dict[tuple[str, str], tuple[bytes, list[str]] | None] = {}  # see calldata
        self._free = False  # the network charges nothing (our node: zero base fee from genesis)

    @property
    def contracts(self) -> ContractSet:
        if self._contracts is None:
            self._contracts = ContractSet.load(self.w3, self.deployments_dir)
        return self._contracts

    @property
    def deployment(self) -> Deployment:
        return self.contracts.deployment

    @property
    def chain_id(self) -> int:
        return self.deployment.chainId

    def contract(self, name: str) -> Contract:
        """The deployed contract ``name`` (built once: every payment encodes calls with it)."""
        return self.contracts.contract(name)

    @property
    def token(self) -> Contract:
        return self.contracts.token

    @property
    def registry(self) -> Contract:
        return self.contracts.registry

    @property
    def programmes(self) -> Contract:
        return self.contracts.programmes

    def calldata(self, contract: str, function: str, *args: Any) -> tuple[str, bytes]:
        """(target address, ABI-encoded call) for ``contract.function(*args)``.

        The function's selector and argument types are looked up once, then each call is
        encoded by eth_abi directly: web3's ``encode_abi`` searches and validates the ABI on
        every call, 4% of an API worker's CPU per payment in issue 17's rush. Overloaded
        names still go through web3, which picks the overload from the arguments.
        """
        c = self.contract(contract)
        key = (contract, function)
        if key not in self._encoders:
            entries: list[Any] = [e for e in c.abi if e.get("type") == "function" and e.get("name") == function]
            self._encoders[key] = (
                (function_abi_to_4byte_selector(entries[0]), [collapse_if_tuple(dict(i)) for i in entries[0]["inputs"]])
                if len(entries) == 1
                else None
            )
        encoder = self._encoders[key]
        if encoder is None:
            return c.address, bytes.fromhex(c.encode_abi(function, args=list(args))[2:])
        selector, types = encoder
        return c.address, selector + encode(types, list(args))

    def fee_fields(self) -> dict[str, int]:
        """The EIP-1559 fee fields to sign with (:func:`ledger_client.fees.fee_fields`).

        A network found free stays free (its base fee is fixed at genesis), so it is asked
        once per process, not once per payment; a priced network is asked every time.
        """
        if self._free:
            return zero_fees()
        fields = fee_fields(self.w3)
        self._free = fields == zero_fees()
        return fields

    def _lean(self, method: str, *params: Any) -> Any:
        """``method``'s result over the plain JSON-RPC client; "server busy" waited out, other errors raised."""
        reply = patiently(lambda: self.rpc.reply(method, *params))
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    def ping(self) -> None:
        """Raises a node error (``ConnectionError``, ``TimeoutError``) unless the node answers; the cheapest call."""
        self._lean("eth_blockNumber")

    def check_call(self, sender: str, target: str, calldata: bytes) -> None:
        """Runs the call on the latest state; a revert raises :class:`RpcError` carrying its reason's data."""
        self._lean("eth_call", {"from": sender, "to": target, "data": "0x" + calldata.hex()}, "latest")

    def send_raw(self, raw: bytes) -> str:
        """Broadcasts a signed transaction; the node's refusal raises :class:`RpcError` (``reason`` says why)."""
        return str(self._lean("eth_sendRawTransaction", "0x" + raw.hex()))

    # -- reads -------------------------------------------------------------------------
    def balance(self, address: str) -> tuple[int, list[tuple[int, int]]]:
        """Unexpired balance and its buckets as (expires at, amount), soonest first."""
        token = self.token
        balance = int(token.functions.balanceOf(address).call())
        expires, amounts = token.functions.bucketsOf(address).call()
        return balance, [(int(e), int(a)) for e, a in zip(expires, amounts, strict=True)]

    def merchant_ledger(self, address: str) -> dict[str, int]:
        values = self.token.functions.merchantLedgerOf(address).call()
        names = ("balance", "received", "refunded", "settled")
        return {n: int(v) for n, v in zip(names, values, strict=False)}

    def expired_unswept(self, address: str) -> int:
        token = self.token
        current = int(token.functions.currentMonth().call())
        return int(token.functions.expiredBalanceOf(address, max(0, current - 30)).call())

    def thanks_limits(self) -> tuple[int, int]:
        per_day, points = self.token.functions.thanksLimits().call()
        return int(per_day), int(points)

    # -- payments ----------------------------------------------------------------------
    def payment_record(self, merchant: str, amount: int, reference: bytes) -> tuple[str | None, int]:
        """(payer, amount) the chain recorded for ``merchant``'s request printed as ``reference`` for ``amount``.

        Looked up under the id the contract derives from all three (``paymentRequestId``), so
        a payment of another amount against the same printed reference is never found here.
        Payer is None when nothing was paid.
        """
        request_id = payment_request_id(merchant, amount, reference)
        payer, paid, _refunded = self.token.functions.paymentOf(merchant, request_id).call()
        return (None if int(payer, 16) == 0 else to_checksum_address(payer)), int(paid)

    # -- history -----------------------------------------------------------------------
    def history_page(self, address: str, before: tuple[int, int] | None, limit: int) -> HistoryPage:
        """Up to ``limit`` movements of ``address``'s points before ``before`` (block, log index), newest first.

        Walks back from the head (or ``before``) in block windows the node accepts, at most
        :data:`HISTORY_SCAN_BLOCKS` blocks per call: the work of one page is bounded
        whatever the account's age or the chain's length. ``next_before`` says where the
        next page starts: after a full page, the oldest entry shown; after a scan budget
        spent on quiet blocks, the oldest block scanned (the page may then hold fewer
        entries, even none); None once the deployment block is reached.
        """
        floor = self.deployment.contracts["RegionalPoints"].block
        head = int(self.w3.eth.block_number)
        upper = head if before is None else min(head, before[0])
        entries: list[HistoryEntry] = []
        scanned = 0
        window = HISTORY_FIRST_WINDOW
        while upper >= floor and scanned < HISTORY_SCAN_BLOCKS:
            lower = max(floor, upper - window + 1)
            found = [e for e in self._window(address, lower, upper) if before is None or e.position < before]
            entries.extend(found)
            scanned += upper - lower + 1
            upper = lower - 1
            if len(entries) > limit:
                break
            window = min(window * 4, MAX_LOG_BLOCKS)  # quiet stretch: take bigger steps
        entries.sort(key=lambda e: e.position, reverse=True)
        page = entries[:limit]
        if len(entries) > limit:
            next_before: tuple[int, int] | None = page[-1].position
        elif upper >= floor:
            next_before = (upper + 1, 0)  # everything at and after upper + 1 was scanned
        else:
            next_before = None
        timestamps = self._timestamps({e.block for e in page})
        return HistoryPage([replace(e, timestamp=timestamps[e.block]) for e in page], next_before)

    def logs(self, contract: str, lower: int, upper: int, topics: list[str | None]) -> list[Any]:
        """``contract``'s logs in blocks [lower, upper] matching ``topics``, any span: read in windows the
        node's ``eth_getLogs`` range cap allows, each halved when the node says it holds too many."""
        found: list[Any] = []
        for first in range(lower, upper + 1, MAX_LOG_BLOCKS):
            found += self._logs(first, min(upper, first + MAX_LOG_BLOCKS - 1), topics, contract)
        return found

    def _logs(self, lower: int, upper: int, topics: list[str | None], contract: str | None = None) -> list[Any]:
        """The token's (or ``contract``'s) logs in [lower, upper] matching ``topics``; halves the range when
        the node says too many."""
        address = contract or self.token.address
        try:
            return list(
                self.w3.eth.get_logs(
                    {"address": address, "fromBlock": lower, "toBlock": upper, "topics": topics}  # type: ignore[typeddict-item]
                )
            )
        except Web3RPCError as exc:
            if lower == upper or "more than" not in str(exc):
                raise
        middle = (lower + upper) // 2
        return self._logs(middle + 1, upper, topics, contract) + self._logs(lower, middle, topics, contract)

    def _window(self, address: str, lower: int, upper: int) -> list[HistoryEntry]:
        """The movements of ``address`` in blocks [lower, upper]: two log queries (it as first or second topic)."""
        me = address_topic(address)
        raw = self._logs(lower, upper, [None, me]) + self._logs(lower, upper, [None, None, me])
        events = self._history_events
        labels: dict[str, tuple[str, str | None, str | None, str | None]] = {}
        transfers: list[tuple[str, Any]] = []
        for log in raw:
            topic0 = "0x" + bytes(log["topics"][0]).hex() if log["topics"] else ""
            event = events.get(topic0)
            if event is None:
                continue
            decoded = event.process_log(log)
            args, tx = decoded.args, decoded.transactionHash.hex()
            name = decoded.event
            mine_first = bytes(log["topics"][1]).hex()[-40:] == me[-40:] if len(log["topics"]) > 1 else False
            if name == "Transfer":
                transfers.append(("out" if args["from"] == to_checksum_address(address) else "in", decoded))
            elif name == "Thanked":
                if mine_first:
                    labels[tx + "out"] = ("thanks_sent", args.to, None, _text32(args.category))
                else:
                    labels[tx + "in"] = ("thanks_received", args["from"], None, _text32(args.category))
            elif name == "Paid":
                request_id = "0x" + args.requestId.hex()
                if mine_first:
                    labels[tx + "in"] = ("payment_received", args.payer, request_id, None)
                else:
                    labels[tx + "out"] = ("paid", args.merchant, request_id, None)
            elif name == "Refunded":
                request_id = "0x" + args.requestId.hex()
                if mine_first:
                    labels[tx + "out"] = ("refund_sent", args.payer, request_id, None)
                else:
                    labels[tx + "in"] = ("refund_received", args.merchant, request_id, None)
            elif name == "SettlementRequested":
                labels[tx + "out"] = ("settlement", None, None, None)
            elif name == "ExpiredPointsSwept":
                labels[tx + "out"] = ("expired", None, None, None)
        seen: set[tuple[int, int, str]] = set()
        entries: list[HistoryEntry] = []
        for direction, log in transfers:
            key = (int(log.blockNumber), int(log.logIndex), direction)
            if key in seen:  # the same log from both queries
                continue
            seen.add(key)
            args, tx = log.args, log.transactionHash.hex()
            other = args["from"] if direction == "in" else args.to
            default = ("issued" if args["from"] == ZERO else "received") if direction == "in" else "sent"
            kind, counterparty, request_id, category = labels.get(tx + direction, (default, other, None, None))
            if kind == "issued":
                counterparty = None
            entries.append(
                HistoryEntry(
                    kind=kind,
                    amount=int(args.value),
                    counterparty=to_checksum_address(counterparty) if counterparty and counterparty != ZERO else None,
                    tx_hash="0x" + tx.removeprefix("0x"),
                    block=int(log.blockNumber),
                    log_index=int(log.logIndex),
                    timestamp=0,
                    request_id=request_id,
                    category=category,
                )
            )
        return entries

    @functools.cached_property
    def _history_events(self) -> dict[str, Any]:
        """The token events history reads, by topic 0 (built once: a page reads many block windows)."""
        token = self.token
        names = ("Transfer", "Thanked", "Paid", "Refunded", "SettlementRequested", "ExpiredPointsSwept")
        out: dict[str, Any] = {}
        for name in names:
            event = getattr(token.events, name)()
            out[str(event.topic).lower()] = event
        return out

    def _timestamps(self, blocks: set[int]) -> dict[int, int]:
        return {number: int(self.w3.eth.get_block(number)["timestamp"]) for number in sorted(blocks)}

    def receipt_events(self, receipt: Any, contract: str, event: str) -> list[Any]:
        return list(getattr(self.contract(contract).events, event)().process_receipt(receipt, errors=DISCARD))


def _text32(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("utf-8", errors="replace")
