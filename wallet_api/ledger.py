"""The wallet service's view of the ledger: contract reads and decoded history, over JSON-RPC only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.middleware import ExtraDataToPOAMiddleware

from contracts.deployment import Deployment, load_deployment

ZERO = "0x0000000000000000000000000000000000000000"


def _topic(address: str) -> str:
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
    def cursor(self) -> str:
        return f"{self.block}:{self.log_index}"


class Ledger:
    def __init__(self, rpc_url: str, deployments_dir: Path, timeout: float = 10) -> None:
        self.w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        # blocks carry the validator's seal in extraData (proof of authority)
        self.w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        self.deployments_dir = deployments_dir
        self._deployment: Deployment | None = None
        self._contracts: dict[str, Contract] = {}

    @property
    def deployment(self) -> Deployment:
        if self._deployment is None:
            self._deployment = load_deployment(self.w3, self.deployments_dir)
        return self._deployment

    @property
    def chain_id(self) -> int:
        return self.deployment.chainId

    def contract(self, name: str) -> Contract:
        """The deployed contract ``name`` (built once: every payment encodes calls with it)."""
        if name not in self._contracts:
            self._contracts[name] = self.deployment.contract(self.w3, name)
        return self._contracts[name]

    @property
    def token(self) -> Contract:
        return self.contract("RegionalPoints")

    @property
    def registry(self) -> Contract:
        return self.contract("AccountRegistry")

    @property
    def programmes(self) -> Contract:
        return self.contract("RewardProgrammes")

    def calldata(self, contract: str, function: str, *args: Any) -> tuple[str, bytes]:
        """(target address, ABI-encoded call) for ``contract.function(*args)``."""
        c = self.contract(contract)
        data = c.encode_abi(function, args=list(args))
        return c.address, bytes.fromhex(data[2:])

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

    # -- history -----------------------------------------------------------------------
    def history(self, address: str) -> list[HistoryEntry]:
        """Every movement of ``address``'s points, newest first, decoded from the token's events."""
        token = self.token
        start = self.deployment.contracts["RegionalPoints"].block
        me = _topic(address)
        transfer = token.events.Transfer()

        def logs(event: Any, *topics: str | None) -> list[Any]:
            signature = event.topic
            raw = self.w3.eth.get_logs(
                {"address": token.address, "fromBlock": start, "toBlock": "latest", "topics": [signature, *topics]}
            )
            return [event.process_log(log) for log in raw]

        labels: dict[str, tuple[str, str | None, str | None, str | None]] = {}
        for log in logs(token.events.Thanked(), me):
            labels[log.transactionHash.hex() + "out"] = ("thanks_sent", log.args.to, None, _text32(log.args.category))
        for log in logs(token.events.Thanked(), None, me):
            labels[log.transactionHash.hex() + "in"] = (
                "thanks_received",
                log.args["from"],
                None,
                _text32(log.args.category),
            )
        for log in logs(token.events.Paid(), None, me):
            labels[log.transactionHash.hex() + "out"] = (
                "paid",
                log.args.merchant,
                "0x" + log.args.requestId.hex(),
                None,
            )
        for log in logs(token.events.Paid(), me):
            labels[log.transactionHash.hex() + "in"] = (
                "payment_received",
                log.args.payer,
                "0x" + log.args.requestId.hex(),
                None,
            )
        for log in logs(token.events.Refunded(), None, me):
            labels[log.transactionHash.hex() + "in"] = (
                "refund_received",
                log.args.merchant,
                "0x" + log.args.requestId.hex(),
                None,
            )
        for log in logs(token.events.Refunded(), me):
            labels[log.transactionHash.hex() + "out"] = (
                "refund_sent",
                log.args.payer,
                "0x" + log.args.requestId.hex(),
                None,
            )
        for log in logs(token.events.SettlementRequested(), None, me):
            labels[log.transactionHash.hex() + "out"] = ("settlement", None, None, None)
        for log in logs(token.events.ExpiredPointsSwept(), me):
            labels[log.transactionHash.hex() + "out"] = ("expired", None, None, None)

        entries: list[HistoryEntry] = []
        blocks: dict[int, int] = {}
        for direction, topics in (("in", (None, me)), ("out", (me,))):
            for log in logs(transfer, *topics):
                args = log.args
                tx = log.transactionHash.hex()
                other = args["from"] if direction == "in" else args.to
                default = ("issued" if args["from"] == ZERO else "received") if direction == "in" else "sent"
                kind, counterparty, request_id, category = labels.get(tx + direction, (default, other, None, None))
                if kind == "issued":
                    counterparty = None
                if log.blockNumber not in blocks:
                    blocks[log.blockNumber] = int(self.w3.eth.get_block(log.blockNumber)["timestamp"])
                entries.append(
                    HistoryEntry(
                        kind=kind,
                        amount=int(args.value),
                        counterparty=to_checksum_address(counterparty)
                        if counterparty and counterparty != ZERO
                        else None,
                        tx_hash="0x" + tx.removeprefix("0x"),
                        block=int(log.blockNumber),
                        log_index=int(log.logIndex),
                        timestamp=blocks[log.blockNumber],
                        request_id=request_id,
                        category=category,
                    )
                )
        entries.sort(key=lambda e: (e.block, e.log_index), reverse=True)
        return entries

    def receipt_events(self, receipt: Any, contract: str, event: str) -> list[Any]:
        return list(getattr(self.contract(contract).events, event)().process_receipt(receipt, errors=DISCARD))


def _text32(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode("utf-8", errors="replace")
