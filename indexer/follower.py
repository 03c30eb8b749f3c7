"""Follows the node into SQL: backfill from genesis in batches, then the tail as blocks arrive.

Each batch (blocks, transactions, decoded events, point movements and the new
checkpoint) is written in one database transaction, so a crash or restart resumes at the
checkpoint with no gap and no duplicate. Every block's parent hash is checked against the
block before it; when the node's chain no longer contains the indexed head (a rewind),
the indexer walks back to the last block both agree on and deletes everything after it
(rows cascade from their block), then follows the node's chain again.

Logs are read from the blocks' receipts (``eth_getBlockReceipts``), never from
``eth_getLogs``: nodes cap ``eth_getLogs`` answers (ours at 10,000 logs), and an indexer
that asked for a busy range at once was refused forever (issue 15: 126,094 logs in 93
blocks). A batch of blocks is first read as headers, then written in slices of at most
``WRITE_MAX_TXS`` transactions and ``WRITE_MAX_GAS`` gas (a log costs gas, so this bounds
the logs held in memory), each slice committed with its checkpoint; a slice is never
smaller than one block, whatever that block holds. So a backlog only ever slows the
indexer down, and every slice is progress that a restart keeps.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.predeploys import REGISTRY_ADDRESS
from indexer.db.models import TOPIC_SLOTS, Base, Block, Checkpoint, Event, PointMovement, Transaction
from indexer.decode import CLASSIFYING_EVENTS, METHOD_KINDS, ZERO, Decoder, classify
from ledger_client.deployment import DeploymentError, deployment_path, read_deployment
from ledger_client.rpc import NodeUnavailable, Rpc, RpcError

log = logging.getLogger("indexer.follower")
WRITE_MAX_TXS = 1_000  # transactions (and their receipts) read and written in one database transaction
WRITE_MAX_GAS = 30_000_000  # ... and gas: a log costs at least 375 gas, a points Transfer far more
METHOD_NOT_FOUND = -32601


def hex_int(value: str) -> int:
    return int(value, 16)


@dataclass
class SyncReport:
    blocks: int = 0
    rolled_back: int = 0


class Follower:
    def __init__(
        self, rpc: Rpc, sessions: sessionmaker[Session], deployments_dir: Path, batch_blocks: int = 100
    ) -> None:
        self.rpc = rpc
        self.sessions = sessions
        self.deployments_dir = deployments_dir
        self.batch_blocks = batch_blocks
        self.decoder = Decoder({"AccountRegistry": REGISTRY_ADDRESS})
        self._deployment_mtime: float | None = None

    # -- which contracts to decode ----------------------------------------------------------
    def refresh_contracts(self, chain_id: int, genesis_hash: str) -> int | None:
        """Loads the deployment file when it appears or changes; returns the first block to re-read, if any."""
        path = deployment_path(self.deployments_dir, chain_id)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        if mtime == self._deployment_mtime:
            return None
        try:
            deployment = read_deployment(path)
        except DeploymentError as exc:
            log.warning("deployment file unusable: %s", exc)
            return None
        if deployment is None or deployment.genesisHash.lower() != genesis_hash.lower():
            return None
        self._deployment_mtime = mtime
        addresses = {name: record.address for name, record in deployment.contracts.items()}
        known = set(self.decoder.addresses)
        self.decoder = Decoder(addresses)
        new = [r.block for name, r in deployment.contracts.items() if r.address.lower() not in known]
        return min(new) if new else None

    # -- one pass ---------------------------------------------------------------------------
    def checkpoint(self, db: Session) -> Checkpoint | None:
        return db.get(Checkpoint, 1)

    def sync(self, max_blocks: int | None = None) -> SyncReport:
        """Indexes up to the node's head (or ``max_blocks`` blocks); raises NodeUnavailable if the node is gone."""
        report = SyncReport()
        with self.sessions() as db:
            cp = self.checkpoint(db)
        # one round trip for what every pass must know (this runs on every new head)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_chainId", []),
            ("eth_getBlockByNumber", ["0x0", False]),
            ("eth_blockNumber", []),
        ]
        if cp is not None:
            calls.append(("eth_getBlockByNumber", [hex(cp.block_number), False]))
        chain_hex, genesis, head_hex, *ours = self.rpc.batch(calls)
        chain_id, head = hex_int(chain_hex), hex_int(head_hex)
        if cp is not None and (cp.chain_id != chain_id or cp.genesis_hash != genesis["hash"]):
            raise RuntimeError(
                f"this database indexes chain {cp.chain_id} with genesis {cp.genesis_hash}; the node serves chain "
                f"{chain_id} with genesis {genesis['hash']}: use another database"
            )
        if cp is not None:  # is the indexed head still on the node's chain? (it may have rewound below it)
            if ours[0] is None or ours[0]["hash"] != cp.block_hash:
                report.rolled_back += self.rewind(cp.block_number)
        restart = self.refresh_contracts(chain_id, genesis["hash"])
        with self.sessions() as db:
            cp = self.checkpoint(db)
        if restart is not None and cp is not None and cp.block_number >= restart:
            report.rolled_back += self.rollback_to(restart - 1)
        while True:
            with self.sessions() as db:
                cp = self.checkpoint(db)
            start = 0 if cp is None else cp.block_number + 1
            if start > head or (max_blocks is not None and report.blocks >= max_blocks):
                return report
            end = min(head, start + self.batch_blocks - 1)
            if max_blocks is not None:
                end = min(end, start + max_blocks - report.blocks - 1)
            headers = self.rpc.batch_within_limits(
                [("eth_getBlockByNumber", [hex(n), False]) for n in range(start, end + 1)]
            )
            if any(b is None for b in headers):  # the node's head moved back while we read
                head = hex_int(self.rpc.call("eth_blockNumber"))
                continue
            expected_parent = cp.block_hash if cp is not None else None
            if expected_parent is not None and headers[0]["parentHash"] != expected_parent:
                report.rolled_back += self.rewind(cp.block_number)  # type: ignore[union-attr]
                continue
            if any(headers[i]["parentHash"] != headers[i - 1]["hash"] for i in range(1, len(headers))):
                continue  # the chain changed while we read this batch: read it again
            for part in slices(headers):
                written = self._write_slice(chain_id, genesis["hash"], part)
                report.blocks += written
                if written < len(part):
                    break  # the chain moved under us: start again from the checkpoint

    # -- rewinds ----------------------------------------------------------------------------
    def rewind(self, from_number: int) -> int:
        """Finds the last block the node and the database agree on and rolls back to it."""
        number = from_number
        while number >= 0:
            low = max(0, number - 63)
            ours = {}
            with self.sessions() as db:
                for block in db.scalars(select(Block).where(Block.number >= low, Block.number <= number)):
                    ours[block.number] = block.hash
            theirs = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(low, number + 1)])
            for n in range(number, low - 1, -1):
                node_block = theirs[n - low]
                if node_block is not None and ours.get(n) == node_block["hash"]:
                    return self.rollback_to(n)
            number = low - 1
        return self.rollback_to(-1)

    def rollback_to(self, number: int) -> int:
        """Deletes every indexed block above ``number`` (and all rows derived from them)."""
        with self.sessions.begin() as db:
            cp = self.checkpoint(db)
            if cp is None or cp.block_number <= number:
                return 0
            dropped = cp.block_number - number
            db.execute(delete(Block).where(Block.number > number))
            if number < 0:
                db.delete(cp)
            else:
                kept = db.get(Block, number)
                cp.block_number = number
                cp.block_hash = kept.hash if kept is not None else cp.block_hash
                cp.rolled_back += dropped
        log.warning("rolled back %d blocks to %d (the node's chain changed)", dropped, number)
        return dropped

    # -- writing a slice ----------------------------------------------------------------------
    def _write_slice(self, chain_id: int, genesis_hash: str, headers: list[dict[str, Any]]) -> int:
        """Reads a slice's transactions and receipts and writes it; 0 if the chain changed under us."""
        with_txs = [h for h in headers if h["transactions"]]
        full = self.rpc.batch_within_limits([("eth_getBlockByNumber", [h["number"], True]) for h in with_txs])
        receipts = self._receipts(with_txs)
        by_hash = {b["hash"]: b for b in full if b is not None}
        for header, block_receipts in zip(with_txs, receipts, strict=True):
            block = by_hash.get(header["hash"])
            if (
                block is None
                or block_receipts is None
                or len(block_receipts) != len(block["transactions"])
                or any(r["blockHash"] != header["hash"] for r in block_receipts)
            ):
                log.info("block %s changed while it was read; reading again", int(header["number"], 16))
                return 0
        self._write(chain_id, genesis_hash, headers, by_hash, [r for rs in receipts for r in rs or []])
        return len(headers)

    def _receipts(self, headers: list[dict[str, Any]]) -> list[list[dict[str, Any]] | None]:
        """Each block's receipts: ``eth_getBlockReceipts``, or one ``eth_getTransactionReceipt`` per
        transaction for a block the node will not answer whole (too big) or a node without the method."""
        try:
            return list(self.rpc.batch_within_limits([("eth_getBlockReceipts", [h["number"]]) for h in headers]))
        except RpcError as exc:
            if not _receipts_refused(exc):
                raise
            whole_blocks = exc.code != METHOD_NOT_FOUND  # a node without the method: straight to per transaction
        found: list[list[dict[str, Any]] | None] = []
        for header in headers:
            if whole_blocks:
                try:
                    found.append(self.rpc.call("eth_getBlockReceipts", header["number"]))
                    continue
                except RpcError as exc:
                    if not _receipts_refused(exc):
                        raise
            calls = [("eth_getTransactionReceipt", [h]) for h in header["transactions"]]
            each = self.rpc.batch_within_limits(calls)
            found.append(None if any(r is None for r in each) else each)
        return found

    def _write(
        self,
        chain_id: int,
        genesis_hash: str,
        headers: list[dict[str, Any]],
        full: dict[str, dict[str, Any]],
        receipts: list[dict[str, Any]],
    ) -> None:
        """Writes a slice as a few multi-row INSERTs (one per table) in one transaction with its checkpoint.

        Rows are built as plain dicts and inserted in bulk (SQLAlchemy's ``insertmanyvalues``:
        multi-row ``INSERT … VALUES`` on SQLite and PostgreSQL), not added object by object
        (issue 17: the unit of work cost more than reading the node).
        """
        rows = SliceRows()
        status = {r["transactionHash"]: r for r in receipts}
        decoded: dict[str, list[tuple[dict[str, Any], str, str, dict[str, Any]]]] = defaultdict(list)
        for receipt in receipts:
            for entry in receipt.get("logs") or []:
                if entry.get("removed"):
                    continue
                event = self.decoder.event(entry)
                if event is not None:
                    decoded[entry["transactionHash"]].append((entry, *event))
        for b in headers:
            timestamp = hex_int(b["timestamp"])
            rows.blocks.append(
                {
                    "number": hex_int(b["number"]),
                    "hash": b["hash"],
                    "parent_hash": b["parentHash"],
                    "timestamp": timestamp,
                    "proposer": b["miner"],
                    "tx_count": len(b["transactions"]),
                    "gas_used": hex_int(b["gasUsed"]),
                    "transactions_root": b["transactionsRoot"],
                }
            )
            for tx in full[b["hash"]]["transactions"] if b["transactions"] else []:
                self._transaction_rows(rows, tx, status.get(tx["hash"]), decoded.get(tx["hash"], []), timestamp)
        with self.sessions.begin() as db:
            for model, table_rows in (
                (Block, rows.blocks),
                (Transaction, rows.transactions),
                (Event, rows.events),
                (PointMovement, rows.movements),
            ):
                if table_rows:  # Core, not ORM, bulk insert: the rows are complete and nothing is read back
                    db.execute(insert(Base.metadata.tables[model.__tablename__]), table_rows)
            cp = self.checkpoint(db)
            if cp is None:
                cp = Checkpoint(id=1, chain_id=chain_id, genesis_hash=genesis_hash, rolled_back=0)
                db.add(cp)
            cp.block_number = hex_int(headers[-1]["number"])
            cp.block_hash = headers[-1]["hash"]

    def _transaction_rows(
        self,
        rows: SliceRows,
        tx: dict[str, Any],
        receipt: dict[str, Any] | None,
        events: list[tuple[dict[str, Any], str, str, dict[str, Any]]],
        timestamp: int,
    ) -> None:
        number = hex_int(tx["blockNumber"])
        method = self.decoder.method(tx.get("to"), tx.get("input", "0x"))
        siblings = [(name, args) for _, _, name, args in events if name in CLASSIFYING_EVENTS]  # what classify reads
        movements = []
        for entry, contract, name, args in events:
            topics = entry["topics"]
            log_index = hex_int(entry["logIndex"])
            rows.events.append(
                {
                    "block_number": number,
                    "log_index": log_index,
                    "tx_hash": tx["hash"],
                    "contract": contract,
                    "address": entry["address"],
                    "name": name,
                    "args": args,
                    "topics": topics,
                    "data": entry["data"],
                    "timestamp": timestamp,
                    **topic_columns(topics),
                }
            )
            if contract == "RegionalPoints" and name == "Transfer":
                kind, request_id = classify(args, siblings)
                movements.append((kind, args))
                rows.movements.append(
                    {
                        "block_number": number,
                        "log_index": log_index,
                        "tx_hash": tx["hash"],
                        "from_address": args["from"],
                        "to_address": args["to"],
                        "amount": int(args["value"]),
                        "kind": kind,
                        "request_id": request_id,
                        "timestamp": timestamp,
                    }
                )
        main = next((m for m in movements if m[0] not in ("issued",)), movements[0] if movements else None)
        counterparty = None
        if main is not None:
            counterparty = main[1]["to"] if main[1]["to"] != ZERO else None
        rows.transactions.append(
            {
                "hash": tx["hash"],
                "block_number": number,
                "tx_index": hex_int(tx["transactionIndex"]),
                "sender": tx["from"],
                "to": tx.get("to"),
                "status": hex_int(receipt["status"]) if receipt else 0,
                "gas_used": hex_int(receipt["gasUsed"]) if receipt else 0,
                "method": method,
                "kind": METHOD_KINDS.get(method or "", "contract-call" if method else "other"),
                "amount": sum(int(m[1]["value"]) for m in movements) if movements else None,
                "counterparty": counterparty,
                "timestamp": timestamp,
            }
        )


TOPIC_NAMES = tuple(f"topic{slot}" for slot in range(TOPIC_SLOTS))


@dataclass
class SliceRows:
    """The rows of one slice, per table, as plain dicts for a bulk INSERT."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    transactions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    movements: list[dict[str, Any]] = field(default_factory=list)


def topic_columns(topics: list[str]) -> dict[str, str | None]:
    """``topic0``…``topic3`` of an event row (lowercase; what ``Event``'s validator sets for ORM adds)."""
    padded = [t.lower() for t in topics[:TOPIC_SLOTS]] + [None] * (TOPIC_SLOTS - len(topics))
    return dict(zip(TOPIC_NAMES, padded, strict=True))


def slices(headers: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive runs of blocks within ``WRITE_MAX_TXS`` and ``WRITE_MAX_GAS`` (never less than one block)."""
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    txs = gas = 0
    for header in headers:
        block_txs, block_gas = len(header["transactions"]), hex_int(header["gasUsed"])
        if current and (txs + block_txs > WRITE_MAX_TXS or gas + block_gas > WRITE_MAX_GAS):
            parts.append(current)
            current, txs, gas = [], 0, 0
        current.append(header)
        txs, gas = txs + block_txs, gas + block_gas
    if current:
        parts.append(current)
    return parts


def follow_forever(follower: Follower, ws_url: str | None, stop: Any, idle_seconds: float = 1.0) -> None:
    """Runs ``sync`` whenever a new head arrives (WebSocket ``newHeads``) or every ``idle_seconds``.

    A node that goes away is waited for with growing pauses; indexing resumes at the
    checkpoint when it returns.
    """
    from ledger_client.heads import HeadListener

    listener = HeadListener(ws_url, name="indexer-heads") if ws_url else None
    if listener is not None:
        listener.start()
    pause = 0.5
    while not stop.is_set():
        try:
            follower.sync()
            pause = 0.5
        except NodeUnavailable as exc:
            log.warning("%s; retrying in %.1f s", exc, pause)
            stop.wait(pause)
            pause = min(pause * 2, 4)
            continue
        except Exception:  # noqa: BLE001 - the follower must outlive one bad batch
            log.exception("indexing pass failed; retrying")
            stop.wait(2)
            continue
        if listener is not None:
            listener.wait(idle_seconds)
        else:
            stop.wait(idle_seconds)
    if listener is not None:
        listener.stop()


def _receipts_refused(exc: RpcError) -> bool:
    """The node will not give these receipts whole (too big) or lacks ``eth_getBlockReceipts``."""
    return exc.is_limit or exc.code == METHOD_NOT_FOUND
