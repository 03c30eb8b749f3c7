"""Issue 23, lever 2: blocks executed in the execution worker (PyPy, or CPython) are the blocks the
node executes in its own process, byte for byte, and the node survives the worker.

Two ledgers on copies of one dev chain, one executing in-process and one in a worker, are given
the same candidates (an ERC-20 deployment, transfers, value transfers, a transaction with a stale
nonce and one from a sender without permission) at the same timestamps: the sealed blocks, their
receipts and every write each leaves in its store's buffer must be equal, block after block. A
block built in-process is imported through the worker. The worker is killed mid-run (the next
block is executed in-process, then the worker is restarted), and a worker with another py-evm
release is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth._utils.address import generate_contract_address
from eth_account import Account
from eth_keys.datatypes import PrivateKey
from eth_typing import Address
from eth_utils import ValidationError
from web3 import Web3

from bench.execution_worker import admitted, signed_zero_fee
from contracts.artifacts import load_artifact
from node import execution_worker
from node.execution_worker import WorkerRefused, pypy_interpreter
from node.genesis import load_genesis
from node.ledger import Ledger
from node.seal import sign_seal, unsealed_extra_data
from tests.conftest import NodeProcess, free_port, init_dev_chain

CHAIN_ID = 1337
TIMESTAMP = int(time.time())  # import_block refuses blocks from the future
MODES = ["cpython", "pypy"]


def _require(mode: str) -> None:
    """PyPy is installed by the bootstrap; CI must run on it, elsewhere its absence skips."""
    if mode == "pypy" and pypy_interpreter() is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the execution worker on PyPy: scripts/bootstrap.sh installs .venv-pypy")
        pytest.skip("no PyPy environment (.venv-pypy): run scripts/bootstrap.sh")


@pytest.fixture(autouse=True)
def _modes_as_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite runs nodes in-process (conftest); these tests name the mode themselves."""
    monkeypatch.delenv("TAKASAGO_EXECUTION_WORKER", raising=False)


@pytest.fixture(scope="module")
def chain_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("worker-template") / "node"
    init_dev_chain(path)
    return path


def _open(template: Path, place: Path, mode: str, smallest: int = 0) -> Ledger:
    shutil.copytree(template, place)
    keys = json.loads((place / "dev-keys.json").read_text())
    validator = PrivateKey(bytes.fromhex(keys["validator"]["privateKey"][2:]))
    return Ledger(
        place, load_genesis(place / "genesis.json"), validator, execution_worker=mode, worker_min_transactions=smallest
    )


def _keys(template: Path) -> dict[str, Any]:
    return json.loads((template / "dev-keys.json").read_text())  # type: ignore[no-any-return]


def _workload(keys: dict[str, Any]) -> list[list[bytes]]:
    """Blocks of raw transactions: a token, its transfers, ether moves, one stale nonce, one stranger."""
    admin = keys["admin"]["privateKey"]
    accounts = [a["privateKey"] for a in keys["accounts"]]
    token = load_artifact("TestToken")
    admin_address = Address(bytes.fromhex(keys["admin"]["address"][2:]))
    token_address = "0x" + generate_contract_address(admin_address, 0).hex()
    erc20 = Web3().eth.contract(abi=token.abi)
    stranger = Account.create().key.hex()
    blocks = [[signed_zero_fee(admin, 0, None, token.bytecode, gas=3_000_000)]]
    nonce = 1
    transfers = []
    for index, account in enumerate(accounts):
        to = Account.from_key(account).address
        data = bytes.fromhex(erc20.encode_abi("transfer", [to, 1_000 + index])[2:])
        transfers.append(signed_zero_fee(admin, nonce, Web3.to_checksum_address(token_address), data, gas=100_000))
        nonce += 1
    blocks.append(transfers)
    moves = [signed_zero_fee(account, 0, keys["admin"]["address"], value=0, gas=21_000) for account in accounts]
    moves.append(
        signed_zero_fee(admin, 1, keys["accounts"][0]["address"], value=1, gas=21_000)
    )  # nonce 1 is spent: dropped
    moves.append(signed_zero_fee(stranger, 0, keys["admin"]["address"], value=0, gas=21_000))  # not permitted: dropped
    blocks.append(moves)
    return blocks


@contextmanager
def _side_by_side(template: Path, place: Path, mode: str, smallest: int = 0) -> Iterator[tuple[Ledger, Ledger]]:
    """Two copies of the chain: one executing in-process (``here``), one with a ``mode`` worker (``there``)."""
    here = _open(template, place / "in-process", "off")
    try:
        there = _open(template, place / mode, mode, smallest)
        try:
            yield here, there
        finally:
            there.close()
    finally:
        here.close()


def _build_on_both(here: Ledger, there: Ledger, raws: list[bytes], timestamp: int) -> float:
    """``raws`` built into a block by both ledgers (``there`` first, timed), checked to be the same block
    and committed on both; the seconds ``there`` took."""
    started = time.monotonic()
    built = there.build_block([admitted(raw) for raw in raws], timestamp)
    seconds = time.monotonic() - started
    same = here.build_block([admitted(raw) for raw in raws], timestamp)
    assert rlp.encode(built.block) == rlp.encode(same.block)
    there.commit(built)
    here.commit(same)
    return seconds


@pytest.fixture(params=MODES)
def pair(request: pytest.FixtureRequest, chain_template: Path, tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    _require(request.param)
    with _side_by_side(chain_template, tmp_path, request.param) as (here, there):
        assert there.execution_worker is not None and there.execution_worker.running
        yield here, there


def _buffer(ledger: Ledger) -> dict[bytes, bytes | None]:
    return dict(ledger.store._buffer)  # noqa: SLF001 - what commit will write


def test_worker_builds_and_imports_the_blocks_the_node_builds_in_process(
    pair: tuple[Ledger, Ledger], chain_template: Path
) -> None:
    here, there = pair
    worker = there.execution_worker
    assert worker is not None
    expected_implementation = "PyPy" if worker.interpreter != Path(sys.executable) else "CPython"
    assert worker.description.startswith(expected_implementation), worker.description
    for number, raws in enumerate(_workload(_keys(chain_template)), start=1):
        built_here = here.build_block([admitted(raw) for raw in raws], TIMESTAMP + number)
        built_there = there.build_block([admitted(raw) for raw in raws], TIMESTAMP + number)
        assert rlp.encode(built_there.block) == rlp.encode(built_here.block), f"block {number}"
        assert [r.encode() for r in built_there.receipts] == [r.encode() for r in built_here.receipts]
        assert [p.hash for p in built_there.included] == [p.hash for p in built_here.included]
        assert [(p.hash, why) for p, why in built_there.dropped] == [(p.hash, why) for p, why in built_here.dropped]
        assert _buffer(there) == _buffer(here), f"block {number}: the writes differ"
        here.commit(built_here)
        there.commit(built_there)
        assert there.head.hash == here.head.hash
    last = built_here
    assert len(last.dropped) == 2 and {why for _p, why in last.dropped} >= {"sender is no longer permitted"}
    assert all(receipt.state_root == b"\x01" for receipt in last.receipts)
    # a block made elsewhere, imported through the worker: executed there, the same block
    raws = [
        signed_zero_fee(_keys(chain_template)["admin"]["privateKey"], 12, _keys(chain_template)["admin"]["address"])
    ]
    made = here.build_block([admitted(raw) for raw in raws], TIMESTAMP + 10)
    imported = there.import_block(made.block)  # nothing admitted there: checked, then executed in the worker
    assert imported.block.hash == made.block.hash
    assert _buffer(there) == _buffer(here)
    there.commit(imported)
    assert there.head.hash == made.block.hash


def test_a_block_that_does_not_match_its_execution_is_refused_by_the_worker(
    pair: tuple[Ledger, Ledger], chain_template: Path
) -> None:
    here, there = pair
    admin = _keys(chain_template)["admin"]
    made = here.build_block(
        [admitted(signed_zero_fee(admin["privateKey"], 0, admin["address"], value=5))], TIMESTAMP + 1
    )
    key = PrivateKey(bytes.fromhex(_keys(chain_template)["validator"]["privateKey"][2:]))
    unsealed = unsealed_extra_data(here.registry.validators(here.head))
    header = made.block.header.copy(gas_used=made.block.header.gas_used + 1, extra_data=unsealed)
    forged = made.block.copy(header=sign_seal(header, key))  # sealed by the validator, but not what it executes to
    with pytest.raises(ValidationError, match="does not match its execution: gas_used"):
        there.import_block(forged)


def test_a_hung_or_killed_worker_means_in_process_execution_then_a_restart(
    chain_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    mode = "pypy" if pypy_interpreter() is not None else "cpython"
    with _side_by_side(chain_template, tmp_path, mode) as (here, there):
        admin = _keys(chain_template)["admin"]

        def both(nonce: int) -> None:
            raws = [signed_zero_fee(admin["privateKey"], nonce, admin["address"], value=nonce)]
            _build_on_both(here, there, raws, TIMESTAMP + nonce)

        worker = there.execution_worker
        assert worker is not None and worker._process is not None  # noqa: SLF001
        monkeypatch.setattr(execution_worker, "EXECUTE_SECONDS", 1.0)
        os.kill(worker._process.pid, signal.SIGSTOP)  # noqa: SLF001 - hung: it never answers
        with caplog.at_level("INFO", logger="takasago.node"):
            both(0)
            assert "no answer within 1 s; executing block #1 in the node's process" in caplog.text
            assert not worker.running
            both(1)  # not restarted yet (RESTART_AFTER_SECONDS): in-process, without a word
            assert not worker.running
            monkeypatch.setattr(execution_worker, "RESTART_AFTER_SECONDS", 0.0)
            both(2)
            assert worker.running and "worker restarted" in caplog.text
            assert worker._process is not None  # noqa: SLF001
            os.kill(worker._process.pid, signal.SIGKILL)  # noqa: SLF001
            worker._process.wait()  # noqa: SLF001
            both(3)  # found dead before the block: restarted at once
            assert worker.running
        assert there.head.hash == here.head.hash


def test_the_pypy_worker_warms_up_between_requests_and_executes_once_warm(
    chain_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """While the JIT warms, blocks are executed in the node's process (a cold JIT is slower than
    CPython); the worker says when it is warm, and blocks go to it from then on."""
    _require("pypy")
    monkeypatch.setenv("TAKASAGO_EXECUTION_WARMUP", "3000")
    with _side_by_side(chain_template, tmp_path, "pypy") as (here, there):
        admin = _keys(chain_template)["admin"]
        nonce = 0

        def both() -> None:
            nonlocal nonce
            raws = [signed_zero_fee(admin["privateKey"], nonce, admin["address"], value=nonce)]
            assert _build_on_both(here, there, raws, TIMESTAMP + nonce) < 5, "a request waited behind the warm-up"
            nonce += 1

        worker = there.execution_worker
        assert worker is not None and not worker.warm
        with caplog.at_level("DEBUG", logger="takasago.node"):
            both()  # cold: in the node's process
            assert "executed in the worker" not in caplog.text
            deadline = time.monotonic() + 120
            while not worker.ready() and time.monotonic() < deadline:
                both()
                time.sleep(0.25)
            assert worker.warm and worker.warmed >= 3000, f"warm-up ran {worker.warmed} of 3000 transfers"
            assert "the worker's JIT is warm" in caplog.text
            both()
            assert "executed in the worker" in caplog.text
        assert there.head.hash == here.head.hash


def test_blocks_smaller_than_the_threshold_execute_in_the_node_process(
    chain_template: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``workerMinTransactions``: a small block (a shop's few payments) stays in the node's process, where
    it is faster; a block of at least that many goes to the worker. The blocks are the same either way."""
    _require("cpython")
    with _side_by_side(chain_template, tmp_path, "cpython", smallest=3) as (here, there):
        admin = _keys(chain_template)["admin"]
        nonce = 0
        for size, in_worker in ((2, False), (3, True), (1, False), (4, True)):
            raws = [signed_zero_fee(admin["privateKey"], nonce + i, admin["address"], value=i) for i in range(size)]
            nonce += size
            caplog.clear()
            with caplog.at_level("DEBUG", logger="takasago.node"):
                _build_on_both(here, there, raws, TIMESTAMP + nonce)
            assert ("executed in the worker" in caplog.text) is in_worker, f"a block of {size}"
        assert there.head.hash == here.head.hash


def test_a_data_directory_given_relative_to_the_node_reaches_the_worker(
    chain_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``takasago up`` names ``.takasago/node`` relative to where it runs; the worker runs in the repository,
    so it must be handed the absolute path (it refused with "No such file or directory" before)."""
    _require("cpython")
    monkeypatch.chdir(tmp_path)
    ledger = _open(chain_template, Path("relative"), "cpython")
    try:
        worker = ledger.execution_worker
        assert worker is not None and worker.running and worker.chaindata.is_absolute()
        admin = _keys(chain_template)["admin"]
        built = ledger.build_block([admitted(signed_zero_fee(admin["privateKey"], 0, admin["address"]))], TIMESTAMP)
        ledger.commit(built)
        assert ledger.head.block_number == 1
    finally:
        ledger.close()


def _impostor(tmp_path: Path, hello: dict[str, Any]) -> Path:
    """An "interpreter" whose worker greets with ``hello`` (another py-evm release, say)."""
    script = tmp_path / "impostor.py"
    repo = str(Path(__file__).resolve().parents[1])
    script.write_text(
        f"import sys\nsys.path.insert(0, {repo!r})\nfrom node.execution_worker import write_frame\n"
        f"write_frame(sys.stdout.buffer, {hello!r})\nsys.stdin.read()\n"
    )
    wrapper = tmp_path / "pypy"
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} {script}\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper


def test_a_worker_with_another_py_evm_is_refused(
    chain_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hello = {"implementation": "PyPy", "python": "3.9.16", "versions": {"py-evm": "0.11.0", "trie": "3.1.0"}}
    monkeypatch.setenv("TAKASAGO_PYPY", str(_impostor(tmp_path, hello)))
    with pytest.raises(WorkerRefused, match=r"has py-evm 0\.11\.0, the node 0\.12\.1b1"):
        _open(chain_template, tmp_path / "asked", "pypy")
    fallback = _open(chain_template, tmp_path / "auto", "auto")  # auto: in-process, and the log says why
    try:
        assert fallback.execution_worker is None
    finally:
        fallback.close()


def test_pypy_asked_for_but_not_installed_stops_the_node_with_the_reason(
    chain_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAKASAGO_PYPY", str(tmp_path / "no-such-pypy"))
    with pytest.raises(WorkerRefused, match="no PyPy environment"):
        _open(chain_template, tmp_path / "asked", "pypy")


@pytest.mark.parametrize("mode", MODES)
def test_a_running_node_executes_in_its_worker_and_keeps_its_blocks_across_kill_9(
    mode: str, chain_template: Path, tmp_path: Path
) -> None:
    """The node process end to end: JSON-RPC transactions executed by the worker, receipts served, then
    kill -9 of the node (its worker ends with it) and a restart: every confirmed block is still there."""
    _require(mode)
    data_dir = tmp_path / "node"
    shutil.copytree(chain_template, data_dir)
    config = data_dir / "node.json"
    document = json.loads(config.read_text()) if config.exists() else {}
    document["execution"] = {"workerMinTransactions": 0}  # these blocks are small: send every one to the worker
    config.write_text(json.dumps(document))
    node = NodeProcess(data_dir, free_port(), env={"TAKASAGO_EXECUTION_WORKER": mode})
    node.start()
    try:
        assert node.log_path is not None
        runs_on = "PyPy" if mode == "pypy" else "CPython"
        assert f"block execution: in a worker process on {runs_on}" in node.log_path.read_text()
        admin = _keys(chain_template)["admin"]
        hashes = [
            node.call(
                "eth_sendRawTransaction", ["0x" + signed_zero_fee(admin["privateKey"], n, admin["address"]).hex()]
            )
            for n in range(5)
        ]
        assert all("result" in h for h in hashes), hashes
        deadline = time.monotonic() + 60
        receipts: list[Any] = []
        while time.monotonic() < deadline:
            receipts = [node.call("eth_getTransactionReceipt", [h["result"]])["result"] for h in hashes]
            if all(receipts):
                break
            time.sleep(0.1)
        assert all(r and r["status"] == "0x1" for r in receipts), receipts
        head = node.call("eth_getBlockByNumber", ["latest", False])["result"]
        node.kill()
        node.start()
        assert node.call("eth_getBlockByNumber", [head["number"], False])["result"]["hash"] == head["hash"]
        assert all(node.call("eth_getTransactionReceipt", [h["result"]])["result"] for h in hashes)
    finally:
        node.stop()
