"""Follows the node into SQL: backfill from genesis in batches, then the tail as blocks arrive.

Each batch (blocks, transactions, decoded events, point movements and the new
checkpoint) is written in one database transaction, so a crash or restart resumes at the
checkpoint with no gap and no duplicate. Every block's parent hash is checked against the
block before it; when the node's chain no longer contains the indexed head (a rewind),
the indexer walks back to the last block both agree on and deletes everything after it
(rows cascade from their block), then follows the node's chain again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from contracts.deployment import DeploymentError, deployment_path, read_deployment
from indexer.db.models import Block, Checkpoint, Event, PointMovement, Transaction
from indexer.decode import METHOD_KINDS, ZERO, Decoder, classify
from indexer.rpc import NodeUnavailable, Rpc

log = logging.getLogger("indexer.follower")
REGISTRY = "0x0000000000000000000000000000000054a5A600"


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
        self.decoder = Decoder({"AccountRegistry": REGISTRY})
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
            blocks = self.rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in range(start, end + 1)])
            if any(b is None for b in blocks):  # the node's head moved back while we read
                head = hex_int(self.rpc.call("eth_blockNumber"))
                continue
            expected_parent = cp.block_hash if cp is not None else None
            if expected_parent is not None and blocks[0]["parentHash"] != expected_parent:
                report.rolled_back += self.rewind(cp.block_number)  # type: ignore[union-attr]
                continue
            if any(blocks[i]["parentHash"] != blocks[i - 1]["hash"] for i in range(1, len(blocks))):
                continue  # the chain changed while we read this batch: read it again
            self._write(chain_id, genesis["hash"], blocks)
            report.blocks += len(blocks)

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

    # -- writing a batch ----------------------------------------------------------------------
    def _write(self, chain_id: int, genesis_hash: str, blocks: list[dict[str, Any]]) -> None:
        first, last = hex_int(blocks[0]["number"]), hex_int(blocks[-1]["number"])
        with_txs = [b for b in blocks if b["transactions"]]
        receipts = self.rpc.batch([("eth_getBlockReceipts", [b["number"]]) for b in with_txs])
        logs = self.rpc.call("eth_getLogs", {"fromBlock": hex(first), "toBlock": hex(last)}) if with_txs else []
        status = {r["transactionHash"]: r for block_receipts in receipts for r in (block_receipts or [])}
        timestamps = {b["hash"]: hex_int(b["timestamp"]) for b in blocks}
        decoded: dict[str, list[tuple[dict[str, Any], str, str, dict[str, Any]]]] = defaultdict(list)
        for entry in logs:
            if entry.get("removed"):
                continue
            if entry["blockHash"] not in timestamps:  # the chain moved under us
                raise NodeUnavailable("logs do not match the blocks read; retrying")
            event = self.decoder.event(entry)
            if event is not None:
                decoded[entry["transactionHash"]].append((entry, *event))
        with self.sessions.begin() as db:
            for b in blocks:
                number = hex_int(b["number"])
                db.add(
                    Block(
                        number=number,
                        hash=b["hash"],
                        parent_hash=b["parentHash"],
                        timestamp=hex_int(b["timestamp"]),
                        proposer=b["miner"],
                        tx_count=len(b["transactions"]),
                        gas_used=hex_int(b["gasUsed"]),
                        transactions_root=b["transactionsRoot"],
                    )
                )
            db.flush()
            for b in with_txs:
                for tx in b["transactions"]:
                    self._write_transaction(
                        db, tx, status.get(tx["hash"]), decoded.get(tx["hash"], []), timestamps[b["hash"]]
                    )
            cp = self.checkpoint(db)
            if cp is None:
                cp = Checkpoint(id=1, chain_id=chain_id, genesis_hash=genesis_hash, rolled_back=0)
                db.add(cp)
            cp.block_number = last
            cp.block_hash = blocks[-1]["hash"]

    def _write_transaction(
        self,
        db: Session,
        tx: dict[str, Any],
        receipt: dict[str, Any] | None,
        events: list[tuple[dict[str, Any], str, str, dict[str, Any]]],
        timestamp: int,
    ) -> None:
        number = hex_int(tx["blockNumber"])
        method = self.decoder.method(tx.get("to"), tx.get("input", "0x"))
        siblings = [(name, args) for _, _, name, args in events]
        movements = []
        for entry, contract, name, args in events:
            db.add(
                Event(
                    block_number=number,
                    log_index=hex_int(entry["logIndex"]),
                    tx_hash=tx["hash"],
                    contract=contract,
                    address=entry["address"],
                    name=name,
                    args=args,
                    topics=entry["topics"],
                    data=entry["data"],
                    timestamp=timestamp,
                )
            )
            if contract == "RegionalPoints" and name == "Transfer":
                kind, request_id = classify(args, siblings)
                movements.append((kind, args))
                db.add(
                    PointMovement(
                        block_number=number,
                        log_index=hex_int(entry["logIndex"]),
                        tx_hash=tx["hash"],
                        from_address=args["from"],
                        to_address=args["to"],
                        amount=int(args["value"]),
                        kind=kind,
                        request_id=request_id,
                        timestamp=timestamp,
                    )
                )
        main = next((m for m in movements if m[0] not in ("issued",)), movements[0] if movements else None)
        counterparty = None
        if main is not None:
            counterparty = main[1]["to"] if main[1]["to"] != ZERO else None
        db.add(
            Transaction(
                hash=tx["hash"],
                block_number=number,
                tx_index=hex_int(tx["transactionIndex"]),
                sender=tx["from"],
                to=tx.get("to"),
                status=hex_int(receipt["status"]) if receipt else 0,
                gas_used=hex_int(receipt["gasUsed"]) if receipt else 0,
                method=method,
                kind=METHOD_KINDS.get(method or "", "contract-call" if method else "other"),
                amount=sum(int(m[1]["value"]) for m in movements) if movements else None,
                counterparty=counterparty,
                timestamp=timestamp,
            )
        )


def follow_forever(follower: Follower, ws_url: str | None, stop: Any, idle_seconds: float = 1.0) -> None:
    """Runs ``sync`` whenever a new head arrives (WebSocket ``newHeads``) or every ``idle_seconds``.

    A node that goes away is waited for with growing pauses; indexing resumes at the
    checkpoint when it returns.
    """
    from indexer.heads import HeadListener

    listener = HeadListener(ws_url) if ws_url else None
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
