"""The explorer's state shared by every request: the database, the node (optional reads), labels.

One :class:`Explorer` per app (``app.state.explorer``, reached by routes through
``indexer.web.deps``). It caches what many views share: the registry's account kinds,
the home page's aggregates, every address's points (for its own page and ``/api`` balance, never listed:
issue 22) and the merchants' figures, all brought up to date with the indexed head.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address
from sqlalchemy.orm import Session, sessionmaker

from indexer import queries
from indexer.decode import ZERO
from indexer.labels import short
from indexer.running_totals import RunningHolders, RunningMerchants, RunningTotals
from indexer.shop_names import ShopDirectory
from indexer.web.texts import SENTENCES, TEXTS
from ledger_client.rpc import NodeUnavailable, Rpc, RpcError

BALANCE_OF = "0x" + keccak(text="balanceOf(address)")[:4].hex()
BUCKETS_OF = "0x" + keccak(text="bucketsOf(address)")[:4].hex()
Kinds = dict[str, tuple[str, str]]
NODE_ERRORS = (NodeUnavailable, RpcError, ValueError)  # the node is down, refuses, or answers garbage


class Explorer:
    """What the pages need: the database, the node (optional reads), labels."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        rpc: Rpc,
        labels: Mapping[str, str],
        deployment: dict[str, str],
        shops: ShopDirectory | None = None,
    ) -> None:
        self.sessions = sessions
        self.rpc = rpc
        self.labels = labels  # shop names read live from the wallet's directory (indexer.shop_names)
        self.shops = shops or ShopDirectory(None)
        self.contracts: dict[str, str] = {str(to_checksum_address(a)): n for n, a in deployment.items()}
        self._kinds = queries.AccountKinds()
        self._totals = RunningTotals()
        self._holders = RunningHolders()
        self._merchants = RunningMerchants()
        self._home: tuple[tuple[int, str, int] | None, dict[str, Any]] = (None, {})
        self._home_lock = threading.Lock()

    @property
    def token(self) -> str | None:
        """The RegionalPoints address, if the deployment names one."""
        return next((a for a, n in self.contracts.items() if n == "RegionalPoints"), None)

    def kinds(self, db: Session) -> Kinds:
        """The registry's kinds and statuses, brought up to date with the events indexed since the last view."""
        return self._kinds.get(db)

    def points_of(self, db: Session, address: str) -> int:
        """An address's points derived from the movements (``queries.balance_of``), from the sums kept at
        the indexed head instead of summing a busy merchant's movements per view."""
        return 0 if address == ZERO else self._holders.get(db).balances.get(address, 0)

    def merchants(self, db: Session, kinds: Kinds) -> list[dict[str, Any]]:
        """Every merchant's figures (``queries.merchants``), from sums kept at the indexed head."""
        return queries.merchant_rows(kinds, self._merchants.get(db))

    def home_figures(self, db: Session) -> dict[str, Any]:
        """The home page's aggregates (supply, today, 30-day series, CO2), computed once per indexed head and day.

        On a live chain many views share a head; when it moves, the per-day totals add only the
        new blocks' movements and transactions (``RunningTotals``); the CO2 reports are few.
        """
        cp = queries.head(db)
        at = (cp.block_number, cp.block_hash, queries.jst_day_start()) if cp is not None else None
        with self._home_lock:
            cached_at, figures = self._home
            if at is not None and at == cached_at:
                return figures
            totals, day_start = self._totals.get(db), queries.jst_day_start()
            figures = {
                "supply": totals.supply(),
                "today": totals.today(day_start),
                "series": totals.series(day_start),
                "co2": queries.co2_reports(db),
            }
            self._home = (at, figures)
            return figures

    def name(self, address: str | None, kinds: Kinds, lang: str) -> str:
        if not address or address == ZERO:
            return "—"
        if address in self.contracts:
            return self.contracts[address]
        kind = kinds.get(address, ("account", ""))[0]
        label = self.labels.get(address)
        words = TEXTS[lang]
        return f"{words.get(kind, kind)} {label}" if label else f"{words.get(kind, kind)} {short(address)}"

    def finality(self, number: int) -> dict[str, Any] | None:
        """What makes the block final, as the node proves it (QBFT commit certificate), for the block page."""
        if number == 0:
            return None
        try:
            validators = self.rpc.call("qbft_getValidatorsByBlockNumber", hex(number))
            certificate = self.rpc.call("takasago_getCommitCertificate", hex(number))
        except NODE_ERRORS:
            return {"kind": "unknown"}
        if certificate is None:
            return {"kind": "single" if len(validators) == 1 else "unknown"}
        return {
            "kind": "quorum",
            "signers": certificate["signers"],
            "validators": len(validators),
            "round": int(certificate["round"], 16),
        }

    def points_on_node(self, token: str, address: str) -> tuple[int, list[tuple[int, int]]]:
        """Unexpired balance and expiry buckets of ``address``, read from the node (not the index)."""
        argument = address[2:].lower().rjust(64, "0")
        balance = int(self.rpc.call("eth_call", {"to": token, "data": BALANCE_OF + argument}, "latest"), 16)
        raw = self.rpc.call("eth_call", {"to": token, "data": BUCKETS_OF + argument}, "latest")
        expires, amounts = abi_decode(["uint256[]", "uint256[]"], bytes.fromhex(raw[2:]))
        return balance, list(zip(expires, amounts, strict=True))

    def sentence(self, movement: Any, kinds: Kinds, lang: str) -> str:
        template = SENTENCES[lang].get(movement.kind, SENTENCES[lang]["transfer"])
        return template.format(
            **{
                "from": self.name(movement.from_address, kinds, lang),
                "to": self.name(movement.to_address, kinds, lang),
            },
            amount=f"{movement.amount:,}",
        )
