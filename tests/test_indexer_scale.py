"""The indexer catches up over a backlog bigger than the node's log cap (issue 15, "also high").

A fresh indexer used to ask the node for every log of a 200-block batch at once; past
10,000 logs the node refused, the indexer retried the same range forever and committed
nothing. Here a real node holds a block with more than 10,000 logs (a tiny contract that
emits them in one transaction) amid real point activity, and a follower with DEFAULT
settings backfills it, in bounded memory.
"""

from __future__ import annotations

import json
import threading
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_abi import encode
from sqlalchemy import func, select

from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.db.models import Block, Checkpoint, Event, PointMovement
from indexer.follower import Follower
from indexer.settings import IndexerSettings
from ledger_client.rpc import Rpc
from tests.conftest import free_port
from tests.points import PointsSystem

# runtime: n = calldataload(0); while n != 0 { log0(0, 0); n -= 1 }  (421 gas a log)
LOOP_RUNTIME = bytes.fromhex("6000355b801560155760006000a0600190036003565b00")
SPAMMER_INIT = bytes.fromhex("6017600c60003960176000f3") + LOOP_RUNTIME
NODE_LOG_CAP = 10_000  # node/rpc/eth/logs.py MAX_LOG_RESULTS (not configurable in node.json)


def build_chain(points: PointsSystem) -> tuple[str, list[Any]]:
    """Real point activity around a block of 10,500 logs and one of 400; returns (spammer, residents)."""
    deployed = points.sender(points.admin).send(None, SPAMMER_INIT)
    spammer = str(deployed["contractAddress"])
    residents = [points.resident() for _ in range(3)]
    points.mint(residents[0], 500)
    emit_logs(points, spammer, NODE_LOG_CAP + 500)  # one block alone is over the node's cap
    points.mint(residents[1], 700)
    emit_logs(points, spammer, 400)
    points.thank(residents[0], residents[2], 30)
    return spammer, residents


@pytest.fixture(scope="module")
def chain(points: PointsSystem) -> tuple[str, list[Any]]:
    return build_chain(points)


def expected_events(points: PointsSystem, follower: Follower, head: int) -> int:
    ours = {a.lower() for a in follower.decoder.addresses}
    count = 0
    for number in range(head + 1):
        for receipt in points.node.call("eth_getBlockReceipts", [hex(number)])["result"] or []:
            count += sum(1 for entry in receipt["logs"] if entry["address"].lower() in ours)
    return count


def emit_logs(points: PointsSystem, contract: str, count: int) -> None:
    receipt = points.sender(points.admin).send(contract, encode(["uint256"], [count]), gas=count * 450 + 60_000)
    assert receipt["status"] == 1 and len(receipt["logs"]) == count


def test_indexer_catches_up_past_the_node_log_cap(
    points: PointsSystem, chain: tuple[str, list[Any]], tmp_path: Path
) -> None:
    spammer, residents = chain
    head = points.w3.eth.block_number
    refused = points.node.call("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head)}])
    assert "error" in refused and "more than" in refused["error"]["message"]  # the cap this test is about

    url = f"sqlite:///{tmp_path / 'indexer.db'}"
    upgrade(url)
    made = sessions_for(engine_for(url))
    defaults = IndexerSettings()
    assert head < defaults.batch_blocks  # the whole chain is one default batch
    follower = Follower(Rpc(points.node.url), made, points.deployments_dir, defaults.batch_blocks)
    tracemalloc.start()
    try:
        report = follower.sync()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert report.blocks == head + 1
    expected = expected_events(points, follower, head)
    with made() as db:
        checkpoint = db.get(Checkpoint, 1)
        assert checkpoint is not None and checkpoint.block_number == head
        assert db.scalar(select(func.count()).select_from(Block)) == head + 1
        assert db.scalar(select(func.count()).select_from(Event)) == expected
        movements = list(db.scalars(select(PointMovement)))
        assert len(movements) == len(list(points.token.events.Transfer().get_logs(from_block=0)))
        assert (
            db.scalar(select(func.count()).select_from(Event).where(func.lower(Event.address) == spammer.lower())) == 0
        )
    for resident in residents:
        derived = sum(m.amount for m in movements if m.to_address == resident.address) - sum(
            m.amount for m in movements if m.from_address == resident.address
        )
        assert derived == points.balance(resident)
    # 10,900 logs went through; the whole read was held in well under what the old indexer needed
    print(f"indexer peak {peak / 2**20:.1f} MiB")
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    assert follower.sync().blocks == 0


class GethStyleProxy(BaseHTTPRequestHandler):
    """Forwards JSON-RPC to the real node, with geth's refusals: batches over 8 calls are "batch too
    large", and ``eth_getBlockReceipts`` does not exist (as on nodes without it)."""

    upstream = ""
    refused: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if isinstance(body, list) and len(body) > 8:
            self.refused.append("batch")
            answer: Any = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch too large"}}
        else:
            answer = requests.post(self.upstream, json=body, timeout=60).json()
            for call, reply in zip(
                body if isinstance(body, list) else [body],
                answer if isinstance(answer, list) else [answer],
                strict=True,
            ):
                if call["method"] == "eth_getBlockReceipts":
                    self.refused.append("receipts")
                    reply.pop("result", None)
                    reply["error"] = {
                        "code": -32601,
                        "message": "the method eth_getBlockReceipts does not exist/is not available",
                    }
        raw = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture()
def geth_style(points: PointsSystem) -> Iterator[tuple[str, list[str]]]:
    GethStyleProxy.upstream, GethStyleProxy.refused = points.node.url, []
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), GethStyleProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", GethStyleProxy.refused
    server.shutdown()
    server.server_close()


def test_indexer_splits_batches_and_reads_receipts_one_by_one_on_a_node_with_other_limits(
    points: PointsSystem, chain: tuple[str, list[Any]], geth_style: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, refused = geth_style
    head = points.w3.eth.block_number
    database = f"sqlite:///{tmp_path / 'indexer.db'}"
    upgrade(database)
    made = sessions_for(engine_for(database))
    follower = Follower(Rpc(url), made, points.deployments_dir, IndexerSettings().batch_blocks)
    assert follower.sync().blocks == head + 1
    assert "batch" in refused and "receipts" in refused  # both refusals happened and were worked around
    with made() as db:
        checkpoint = db.get(Checkpoint, 1)
        assert checkpoint is not None and checkpoint.block_number == head
        assert db.scalar(select(func.count()).select_from(Event)) == expected_events(points, follower, head)
        assert db.scalar(select(func.count()).select_from(PointMovement)) == len(
            list(points.token.events.Transfer().get_logs(from_block=0))
        )
