"""The indexer follows the real node into SQLite and PostgreSQL: backfill, restart, rewind, reconciliation."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.db.models import Block, Checkpoint, PointMovement, Transaction
from indexer.follower import Follower
from ledger_client.rpc import Rpc
from tests.conftest import free_port
from tests.points import MERCHANT, PointsSystem, start_points_system
from tests.wallet_support import postgres_database


def database(kind: str, directory: Path) -> str:
    return f"sqlite:///{directory / 'indexer.db'}" if kind == "sqlite" else postgres_database()


def sessions(url: str) -> sessionmaker[Session]:
    upgrade(url)
    return sessions_for(engine_for(url))


def activity(points: PointsSystem) -> dict[str, Any]:
    """Some of everything: mints, thanks, a payment, a refund, a settlement."""
    alice, bob, shop = points.resident(), points.resident(), points.merchant()
    points.mint(alice, 1_000)
    points.mint(bob, 300)
    points.thank(alice, bob, 40)
    request_id = points.pay(alice, shop, 250)
    points.send(shop, points.token.functions.refund(request_id, 50))
    points.send(shop, points.token.functions.requestSettlement(100, b"\x01" * 32))
    return {"alice": alice.address, "bob": bob.address, "shop": shop.address, "request_id": "0x" + request_id.hex()}


def derived_balances(db: Session) -> dict[str, int]:
    balances: dict[str, int] = defaultdict(int)
    for m in db.scalars(select(PointMovement)):
        balances[m.from_address] -= m.amount
        balances[m.to_address] += m.amount
    return balances


def transfer_logs(points: PointsSystem) -> list[Any]:
    return list(points.token.events.Transfer().get_logs(from_block=0))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database(request.param, tmp_path)


def test_backfill_from_genesis_decodes_every_movement(points: PointsSystem, db_url: str) -> None:
    who = activity(points)
    made = sessions(db_url)
    follower = Follower(Rpc(points.node.url), made, points.deployments_dir, batch_blocks=7)
    report = follower.sync()
    head = points.w3.eth.block_number
    with made() as db:
        assert db.scalar(select(func.count()).select_from(Block)) == head + 1 == report.blocks
        assert db.get(Checkpoint, 1).block_hash == points.w3.eth.get_block(head)["hash"].to_0x_hex()  # type: ignore[union-attr]
        kinds = {m.kind for m in db.scalars(select(PointMovement).where(PointMovement.to_address == who["bob"]))}
        assert kinds == {"issued", "thanks"}
        payment = db.scalar(
            select(PointMovement).where(PointMovement.kind == "payment", PointMovement.from_address == who["alice"])
        )
        assert payment is not None and payment.amount == 250 and payment.request_id == who["request_id"]
        assert (
            db.scalar(
                select(PointMovement.amount).where(
                    PointMovement.kind == "refund", PointMovement.to_address == who["alice"]
                )
            )
            == 50
        )
        assert (
            db.scalar(
                select(PointMovement.amount).where(
                    PointMovement.kind == "settled", PointMovement.from_address == who["shop"]
                )
            )
            == 100
        )
        tx = db.scalar(select(Transaction).where(Transaction.hash == payment.tx_hash))
        assert tx is not None and tx.method == "pay" and tx.kind == "payment" and tx.status == 1
        balances = derived_balances(db)
        assert db.scalar(select(func.count()).select_from(PointMovement)) == len(transfer_logs(points))
    for address in (who["alice"], who["bob"], who["shop"]):
        assert balances[address] == points.balance(address), address
    # nothing new: a second pass writes nothing
    assert follower.sync().blocks == 0


def test_a_restart_mid_backfill_leaves_no_gap_and_no_duplicate(points: PointsSystem, db_url: str) -> None:
    activity(points)
    made = sessions(db_url)
    first = Follower(Rpc(points.node.url), made, points.deployments_dir, batch_blocks=3)
    assert first.sync(max_blocks=5).blocks == 5
    # a new process picks up at the checkpoint
    second = Follower(Rpc(points.node.url), made, points.deployments_dir, batch_blocks=4)
    second.sync()
    head = points.w3.eth.block_number
    with made() as db:
        numbers = list(db.scalars(select(Block.number).order_by(Block.number)))
        assert numbers == list(range(head + 1))
        positions = [(m.block_number, m.log_index) for m in db.scalars(select(PointMovement))]
        assert len(positions) == len(set(positions)) == len(transfer_logs(points))


def test_a_chain_rewind_is_rolled_back_and_the_new_chain_indexed(
    tmp_path: Path, dev_chain_template: Path, db_url: str
) -> None:
    shutil.copytree(dev_chain_template, tmp_path / "node")
    port = free_port()
    points = start_points_system(tmp_path / "node", port, tmp_path / "deployments")
    try:
        activity(points)
        made = sessions(db_url)
        follower = Follower(Rpc(points.node.url), made, points.deployments_dir)
        follower.sync()
        fork_point = points.w3.eth.block_number
        points.node.stop()
        shutil.copytree(tmp_path / "node", tmp_path / "fork")  # the chain as it was at the fork point
        points.node.start()
        activity(points)  # the branch that will be abandoned
        follower.sync()
        abandoned_head = points.w3.eth.block_number
        with made() as db:
            assert db.get(Checkpoint, 1).block_number == abandoned_head  # type: ignore[union-attr]
        points.node.stop()

        points.node.data_dir = tmp_path / "fork"  # the node comes back on the other branch
        points.node.start()
        merchant = points.new_account()
        points.register(MERCHANT, merchant)
        alice = points.resident()
        points.mint(alice, 77)
        assert points.w3.eth.block_number < abandoned_head
        report = follower.sync()
        assert report.rolled_back == abandoned_head - fork_point  # back to exactly the last common block
        with made() as db:
            cp = db.get(Checkpoint, 1)
            assert cp is not None and cp.block_number == points.w3.eth.block_number and cp.rolled_back > 0
            for number, block_hash in db.execute(select(Block.number, Block.hash)).all():
                assert block_hash == points.w3.eth.get_block(number)["hash"].to_0x_hex()
            assert db.scalar(select(func.count()).select_from(PointMovement)) == len(transfer_logs(points))
            balances = derived_balances(db)
            assert balances[alice.address] == 77
            assert all(points.balance(a) == b for a, b in balances.items() if a != "0x" + "0" * 40)
    finally:
        points.node.stop()


def help_activity(points: PointsSystem) -> dict[str, Any]:
    """Help matching (issue 18): one request completed by a neighbour, one withdrawn."""
    requester, helper = points.resident(), points.resident()
    points.mint(requester, 1_000)
    board, now = points.board, points.now()
    ids = []
    for thanks in (300, 120):
        receipt = points.send(requester, board.functions.post(0, thanks, now + 3600, now + 7200, b"\x02" * 32))
        ids.append(int(points.events(receipt, board, "RequestPosted")[0]["args"]["id"]))
    points.send(requester, board.functions.choose(ids[0], helper.address))
    points.send(requester, board.functions.complete(ids[0]))
    points.send(requester, board.functions.withdraw(ids[1]))
    return {"requester": requester.address, "helper": helper.address}


def test_help_matching_movements_are_classified(points: PointsSystem, db_url: str) -> None:
    who = help_activity(points)
    made = sessions(db_url)
    Follower(Rpc(points.node.url), made, points.deployments_dir, batch_blocks=50).sync()
    with made() as db:
        moved = {
            (m.kind, m.amount)
            for m in db.scalars(
                select(PointMovement).where(
                    (PointMovement.from_address == who["requester"])
                    | (PointMovement.to_address.in_([who["requester"], who["helper"]]))
                )
            )
        }
        assert moved == {
            ("issued", 1_000),
            ("help-escrow", 300),
            ("help-escrow", 120),
            ("help", 300),
            ("help-return", 120),
        }
        methods = {
            t.method: t.kind for t in db.scalars(select(Transaction).where(Transaction.sender == who["requester"]))
        }
        assert methods == {"post": "help", "choose": "help", "complete": "help", "withdraw": "help"}
        balances = derived_balances(db)
        assert (balances[who["requester"]], balances[who["helper"]]) == (700, 300)
        assert (points.balance(who["requester"]), points.balance(who["helper"])) == (700, 300)
