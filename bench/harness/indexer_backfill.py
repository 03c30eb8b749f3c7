"""The indexer's backfill from a real node: a chain of point movements, the indexer's own follower,
a naive web3.py loop on the same chain, and the tail lag once caught up (``bench.indexer``, part 1).

The chain: ``residents`` residents registered (``registerBatch``), then ``mintBatch``
transactions of ``MINT_ROWS`` rows each, round-robin over the residents, until ``movements``
point ``Transfer``s exist. Each mint is one movement (a ``Transfer`` from zero), plus one
``PointsIssuedBatch`` a transaction and one ``AccountRegistered`` a resident.

The naive loop is what a script written with web3.py alone does: for each block, its
header and ``eth_getLogs`` for the point contracts, every log decoded by the web3 contract
object, and every row inserted and committed on its own (blocks, events, movements; it
writes no transaction rows, so it does less than the indexer).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_utils import keccak
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from bench.harness.points import MINTER_ROLE, register_residents
from bench.harness.report import log
from bench.harness.stats import pct
from contracts.deploy import DeploySettings, deploy
from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.db.models import Block, Checkpoint, Event, PointMovement
from indexer.decode import ZERO
from indexer.follower import Follower, follow_forever
from ledger_client.connection import connect
from ledger_client.deployment import Deployment
from ledger_client.pipeline import TransactionPipeline
from ledger_client.rpc import Rpc
from ledger_client.transactions import Sender

MINT_ROWS = 500  # rows per mintBatch transaction (what the bulk mint sends)
MINT_BATCH = "0x" + keccak(text="mintBatch(address[],uint256[],uint256)")[:4].hex()
IN_FLIGHT = 4  # mintBatch transactions sent ahead of their receipts


@dataclass
class PointChain:
    """A deployed chain with point movements on it, and who set it up."""

    url: str
    w3: Web3
    sender: Sender
    deployment: Deployment
    deployments_dir: Path
    residents: list[str]
    head: int = 0


def build_chain(url: str, admin_key: str, workdir: Path, movements: int, residents: int) -> PointChain:
    """Deploys, registers ``residents`` residents and mints until ``movements`` movements exist (setup, not timed)."""
    w3 = connect(url, timeout=120)
    admin = Account.from_key(admin_key)
    sender = Sender(w3, admin)
    deployments_dir = workdir / "deployments"
    deployment = deploy(w3, sender, deployments_dir, DeploySettings()).deployment
    registry, token = deployment.contract(w3, "AccountRegistry"), deployment.contract(w3, "RegionalPoints")
    sender.call_function(registry.functions.grantRole(MINTER_ROLE, admin.address))
    people = [Account.create().address for _ in range(max(1, min(residents, movements)))]
    started = time.monotonic()
    register_residents(sender, registry, people)
    log(f"{len(people):,} residents registered in {time.monotonic() - started:.0f} s")
    month = int(token.functions.currentMonth().call()) + 6
    calls = []
    for start in range(0, movements, MINT_ROWS):
        rows = [people[i % len(people)] for i in range(start, min(movements, start + MINT_ROWS))]
        calls.append(
            bytes.fromhex(MINT_BATCH[2:])
            + encode(["address[]", "uint256[]", "uint256"], [rows, [7] * len(rows), month])
        )
    gas = int(w3.eth.get_block("latest")["gasLimit"]) // 2
    started = time.monotonic()
    send_all(TransactionPipeline(sender), str(token.address), calls, gas)
    chain = PointChain(url, w3, sender, deployment, deployments_dir, people, int(w3.eth.block_number))
    took = time.monotonic() - started
    log(f"{movements:,} movements minted in {len(calls)} transactions in {took:.0f} s; head {chain.head}")
    return chain


def send_all(pipeline: TransactionPipeline, to: str, calls: list[bytes], gas: int) -> None:
    """Sends every call, ``IN_FLIGHT`` ahead of their receipts; raises if one fails or reverts."""
    pending: list[str] = []
    for k, data in enumerate(calls):
        tx_hash, raw = pipeline.sign(to, data, gas)
        refused = pipeline.send([raw])[0]
        if refused is not None:
            raise refused
        pending.append(tx_hash)
        while len(pending) >= IN_FLIGHT or (k == len(calls) - 1 and pending):
            found = pipeline.wait_first(pending)
            for done in [h for h in pending if h in found]:
                if int(found[done]["status"], 16) != 1:
                    raise RuntimeError(f"mintBatch {done} reverted")
                pending.remove(done)


@dataclass
class Backfill:
    """What one backfill wrote and how long it took."""

    seconds: float
    blocks: int
    events: int
    movements: int
    cpu_seconds: float = 0.0  # of this process (the indexer's side; the node's work is not in it)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def events_per_cpu_second(self) -> float:
        """Events per CPU second of the indexer's process: unlike wall time, not inflated by other
        processes competing for a shared machine's cores."""
        return self.events / self.cpu_seconds if self.cpu_seconds else 0.0


def fresh_database(path: Path) -> tuple[str, sessionmaker[Session]]:
    url = f"sqlite:///{path}"
    upgrade(url)
    return url, sessions_for(engine_for(url))


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """(blocks, events, movements) in an index."""
    with sessions() as db:
        return (
            int(db.scalar(select(func.count()).select_from(Block)) or 0),
            int(db.scalar(select(func.count()).select_from(Event)) or 0),
            int(db.scalar(select(func.count()).select_from(PointMovement)) or 0),
        )


def indexer_backfill(
    chain: PointChain, sessions: sessionmaker[Session], batch_blocks: int
) -> tuple[Backfill, Follower]:
    """The indexer's follower from genesis to the node's head, as ``takasago indexer serve`` runs it."""
    follower = Follower(Rpc(chain.url, timeout=120), sessions, chain.deployments_dir, batch_blocks)
    started, cpu = time.perf_counter(), time.process_time()
    follower.sync()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Backfill(seconds, *counts(sessions), cpu_seconds=cpu), follower


def naive_backfill(chain: PointChain, sessions: sessionmaker[Session], budget_seconds: float) -> Backfill:
    """The web3.py loop: per block, ``get_block`` + ``get_logs`` + one committed INSERT per row.

    Stops after ``budget_seconds`` (the rate is then measured on the blocks it finished).
    """
    w3 = chain.w3
    names = sorted({"AccountRegistry", *chain.deployment.contracts})  # what the indexer decodes
    contracts = {name: chain.deployment.contract(w3, name) for name in names}
    by_topic: dict[tuple[str, str], tuple[str, Any]] = {}
    for name, contract in contracts.items():
        abi: list[dict[str, Any]] = list(contract.abi)  # type: ignore[arg-type]
        for item in (i for i in abi if i.get("type") == "event"):
            topic = "0x" + keccak(text=f"{item['name']}({','.join(i['type'] for i in item['inputs'])})").hex()
            by_topic[(str(contract.address).lower(), topic)] = (name, contract.events[item["name"]]())
    addresses = [str(c.address) for c in contracts.values()]
    started, cpu = time.perf_counter(), time.process_time()
    done = Backfill(0.0, 0, 0, 0)
    with sessions() as db:
        for number in range(chain.head + 1):
            if time.perf_counter() - started > budget_seconds:
                break
            block = w3.eth.get_block(number)
            db.add(naive_block(number, block))
            db.commit()
            for entry in w3.eth.get_logs({"fromBlock": number, "toBlock": number, "address": addresses}):  # type: ignore[typeddict-item]
                topics = [hexed(t) for t in entry["topics"]]
                found = by_topic.get((str(entry["address"]).lower(), topics[0])) if topics else None
                if found is None:
                    continue
                contract_name, event = found
                decoded = event.process_log(entry)
                args = jsonable(dict(decoded["args"]))
                tx_hash = hexed(entry["transactionHash"])
                where = {"block_number": number, "log_index": entry["logIndex"], "tx_hash": tx_hash,
                         "timestamp": block["timestamp"]}  # fmt: skip
                db.add(Event(**where, contract=contract_name, address=entry["address"], name=decoded["event"],
                             args=args, topics=topics, data=hexed(entry["data"])))  # fmt: skip
                db.commit()
                done.events += 1
                if contract_name == "RegionalPoints" and decoded["event"] == "Transfer":
                    frm, to = str(args["from"]), str(args["to"])
                    kind = "issued" if frm == ZERO else "swept" if to == ZERO else "transfer"
                    db.add(
                        PointMovement(**where, from_address=frm, to_address=to, amount=int(args["value"]), kind=kind)
                    )
                    db.commit()
                    done.movements += 1
            done.blocks += 1
    done.seconds, done.cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return done


def naive_block(number: int, block: Any) -> Block:
    return Block(
        number=number,
        hash=hexed(block["hash"]),
        parent_hash=hexed(block["parentHash"]),
        timestamp=block["timestamp"],
        proposer=block["miner"],
        tx_count=len(block["transactions"]),
        gas_used=block["gasUsed"],
        transactions_root=hexed(block["transactionsRoot"]),
    )


def hexed(value: Any) -> str:
    return "0x" + bytes(value).hex()


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


@dataclass
class TailLag:
    """How far the index trailed the node while new blocks kept coming, sampled every ``SAMPLE_SECONDS``."""

    blocks_added: int
    samples: list[int] = field(default_factory=list)
    seconds_to_index: list[float] = field(default_factory=list)  # from a receipt to its block being indexed

    @property
    def worst(self) -> int:
        return max(self.samples, default=0)

    @property
    def p95(self) -> float:
        return pct([float(s) for s in self.samples], 0.95)


SAMPLE_SECONDS = 0.02


def tail_lag(chain: PointChain, follower: Follower, sessions: sessionmaker[Session], transactions: int) -> TailLag:
    """Runs the follower as the service does (WebSocket heads + polling), sends ``transactions`` mints
    one after another, and samples (node head − indexed head) all along."""
    token = chain.deployment.contract(chain.w3, "RegionalPoints")
    month = int(token.functions.currentMonth().call()) + 6
    stop = threading.Event()
    indexer = threading.Thread(target=follow_forever, args=(follower, "ws" + chain.url.removeprefix("http"), stop, 1.0))
    indexer.start()
    rpc = Rpc(chain.url)
    result = TailLag(blocks_added=0)
    sampling = threading.Event()

    def indexed() -> int:
        with sessions() as db:
            cp = db.get(Checkpoint, 1)
            return -1 if cp is None else cp.block_number

    def sample() -> None:
        while not sampling.is_set():
            node_head = int(rpc.call("eth_blockNumber"), 16)
            result.samples.append(max(0, node_head - indexed()))
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample)
    try:
        deadline = time.monotonic() + 30
        while indexed() < int(chain.w3.eth.block_number) and time.monotonic() < deadline:
            time.sleep(0.05)
        start_head = int(chain.w3.eth.block_number)
        sampler.start()
        for k in range(transactions):
            receipt = chain.sender.call_function(
                token.functions.mint(chain.residents[k % len(chain.residents)], 3, month)
            )
            sealed = time.perf_counter()
            while indexed() < receipt["blockNumber"] and time.perf_counter() - sealed < 10:
                time.sleep(0.002)
            result.seconds_to_index.append(time.perf_counter() - sealed)
        result.blocks_added = int(chain.w3.eth.block_number) - start_head
    finally:
        sampling.set()
        if sampler.is_alive():
            sampler.join()
        stop.set()
        indexer.join(timeout=30)
    return result
