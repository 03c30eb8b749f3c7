"""The indexer catches up over a backlog bigger than the node's log cap (issue 15, "also high").

A fresh indexer used to ask the node for every log of a 200-block batch at once; past
10,000 logs the node refused, the indexer retried the same range forever and committed
nothing. Here a real node holds a block with more than 10,000 logs (a tiny contract that
emits them in one transaction) amid real point activity, and a follower with DEFAULT
settings backfills it, in bounded memory.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from eth_abi import encode
from sqlalchemy import func, select

from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.db.models import Block, Checkpoint, Event, PointMovement
from indexer.follower import Follower
from indexer.rpc import Rpc
from indexer.settings import IndexerSettings
from tests.points import PointsSystem

# runtime: n = calldataload(0); while n != 0 { log0(0, 0); n -= 1 }  (421 gas a log)
LOOP_RUNTIME = bytes.fromhex("6000355b801560155760006000a0600190036003565b00")
SPAMMER_INIT = bytes.fromhex("6017600c60003960176000f3") + LOOP_RUNTIME
NODE_LOG_CAP = 10_000  # node/rpc/methods.py MAX_LOG_RESULTS (not configurable in node.json)


def emit_logs(points: PointsSystem, contract: str, count: int) -> None:
    receipt = points.sender(points.admin).send(contract, encode(["uint256"], [count]), gas=count * 450 + 60_000)
    assert receipt["status"] == 1 and len(receipt["logs"]) == count


def test_indexer_catches_up_past_the_node_log_cap(points: PointsSystem, tmp_path: Path) -> None:
    assert len(LOOP_RUNTIME) == 0x17
    deployed = points.sender(points.admin).send(None, SPAMMER_INIT)
    spammer = str(deployed["contractAddress"])
    residents = [points.resident() for _ in range(3)]
    points.mint(residents[0], 500)
    emit_logs(points, spammer, NODE_LOG_CAP + 500)  # one block alone is over the node's cap
    points.mint(residents[1], 700)
    emit_logs(points, spammer, 400)
    points.thank(residents[0], residents[2], 30)
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
    ours = {a.lower() for a in follower.decoder.addresses}
    expected_events = 0
    for number in range(head + 1):
        for receipt in points.node.call("eth_getBlockReceipts", [hex(number)])["result"] or []:
            expected_events += sum(1 for entry in receipt["logs"] if entry["address"].lower() in ours)
    with made() as db:
        checkpoint = db.get(Checkpoint, 1)
        assert checkpoint is not None and checkpoint.block_number == head
        assert db.scalar(select(func.count()).select_from(Block)) == head + 1
        assert db.scalar(select(func.count()).select_from(Event)) == expected_events
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
    assert peak < 120 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    assert follower.sync().blocks == 0
