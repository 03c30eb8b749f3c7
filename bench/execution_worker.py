"""Block execution alone: the node's process against its execution worker (CPython, PyPy), in one run.

    .venv/bin/python -m bench.execution_worker [--transfers 1000 --blocks 20 --warm-up-seconds 20]

Issue 23, lever 2. For each mode (``off``: in the node's process, as before the lever; ``cpython``
and ``pypy``: ``node/execution_worker.py``) a fresh copy of one dev chain with an OpenZeppelin
ERC-20 (``TestToken``) deployed, then ``--blocks`` blocks of ``--transfers`` signed ``transfer``s
(all succeeding), each built by ``Ledger.build_block`` and committed — what a node's block writer
does, without RPC or admission. Reported per mode: wall time per block (first block, median of
the rest, last five), and the CPU the node's own process spent per block (``process_time``: what
the event loop has to share the GIL with). PyPy's worker gets ``--warm-up-seconds`` after start
to warm its JIT (as a node started before its first busy minute would), the others the same wait.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth._utils.address import generate_contract_address
from eth_account import Account
from eth_keys.datatypes import PrivateKey
from eth_typing import Address
from web3 import Web3

from bench.harness.report import machine
from contracts.artifacts import load_artifact
from node.execution_worker import pypy_interpreter
from node.genesis import load_genesis
from node.ledger import Ledger
from node.txpool import PendingTransaction, stateless_checks

REPO = Path(__file__).resolve().parents[1]
CHAIN_ID = 1337


def signed_zero_fee(
    key: str, nonce: int, to: str | None, data: bytes = b"", value: int = 0, gas: int = 200_000
) -> bytes:
    """An EIP-1559 transaction at zero fees on the dev chain (also used by tests/test_execution_worker.py)."""
    tx: dict[str, Any] = {
        "nonce": nonce, "gas": gas, "value": value, "data": data, "chainId": CHAIN_ID,
        "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
    }  # fmt: skip
    if to is not None:
        tx["to"] = to
    return bytes(Account.sign_transaction(tx, key).raw_transaction)


def admitted(raw: bytes) -> PendingTransaction:
    """``raw`` after admission's stateless checks, as the pool hands it to the block builder."""
    checked = stateless_checks(raw, CHAIN_ID, 100_000_000)
    assert checked.tx is not None
    return PendingTransaction(checked.tx, checked.sender, raw, checked.hash)


def run_mode(mode: str, template: Path, workdir: Path, args: argparse.Namespace, now: int) -> dict[str, Any]:
    place = workdir / mode
    shutil.copytree(template, place)
    keys = json.loads((place / "dev-keys.json").read_text())
    validator = PrivateKey(bytes.fromhex(keys["validator"]["privateKey"][2:]))
    os.environ["TAKASAGO_EXECUTION_WARMUP"] = str(args.warm_up_transfers)
    ledger = Ledger(place, load_genesis(place / "genesis.json"), validator, execution_worker=mode)
    try:
        admin = keys["admin"]["privateKey"]
        admin_address = Address(bytes.fromhex(keys["admin"]["address"][2:]))
        token = load_artifact("TestToken")
        supply = (10**30).to_bytes(32, "big")
        creation = token.bytecode + bytes(admin_address).rjust(32, b"\0") + supply
        deployed = ledger.build_block([admitted(signed_zero_fee(admin, 0, None, creation, gas=3_000_000))], now)
        ledger.commit(deployed)
        token_address = Web3.to_checksum_address(generate_contract_address(admin_address, 0))
        erc20 = Web3().eth.contract(abi=token.abi)
        recipients = [Web3.to_checksum_address(bytes([7]) * 19 + bytes([i])) for i in range(200)]
        nonce = 1
        blocks = []
        for _ in range(args.blocks):
            raws = []
            for i in range(args.transfers):
                data = bytes.fromhex(erc20.encode_abi("transfer", [recipients[i % 200], 1])[2:])
                raws.append(signed_zero_fee(admin, nonce, token_address, data, gas=100_000))
                nonce += 1
            blocks.append([admitted(raw) for raw in raws])
        time.sleep(args.warm_up_seconds)
        worker = ledger.execution_worker
        warm_at_start = worker is None or worker.ready()
        walls, cpus = [], []
        for block in blocks:
            wall, cpu = time.perf_counter(), time.process_time()
            built = ledger.build_block(block, now)
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
            if sum(receipt.state_root == b"\x01" for receipt in built.receipts) != len(block):
                raise RuntimeError(f"{mode}: not every transfer succeeded")
            ledger.commit(built)
        return {
            "mode": mode,
            "runs_on": (worker.description if worker is not None else "the node's process")
            + ("" if warm_at_start else " (still warming when timing began: in-process until warm)"),
            "first_ms": walls[0],
            "median_ms": statistics.median(walls[1:]),
            "last5_ms": statistics.median(walls[-5:]),
            "node_cpu_ms": statistics.median(cpus[1:]),
            "head": "0x" + ledger.head.hash.hex(),
        }
    finally:
        ledger.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=1000, help="ERC-20 transfers per block")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--modes", default="off,cpython,pypy")
    parser.add_argument("--warm-up-seconds", type=float, default=20.0)
    parser.add_argument("--warm-up-transfers", type=int, default=12_000, help="TAKASAGO_EXECUTION_WARMUP")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if "pypy" in modes and pypy_interpreter() is None:
        parser.error("no PyPy environment (.venv-pypy): run scripts/bootstrap.sh, or leave pypy out of --modes")
    with tempfile.TemporaryDirectory(prefix="takasago-exec-") as tmp:
        template = Path(tmp) / "template"
        subprocess.run(
            [sys.executable, "-m", "scripts.cli", "node", "init", "--data-dir", str(template), "--dev"],
            cwd=REPO, check=True, capture_output=True,
        )  # fmt: skip
        results = []
        now = int(time.time())  # every mode's blocks carry the same timestamps: the same chain must come out
        for mode in modes:
            print(f"[{time.strftime('%H:%M:%S')}] {mode} ...", flush=True)
            results.append(run_mode(mode, template, Path(tmp), args, now))
    heads = {r["head"] for r in results}
    print(f"\nblock execution, {args.blocks} blocks of {args.transfers} ERC-20 transfers, {machine()}")
    print("| mode | runs on | first block | median (blocks 2..) | median of last 5 | node-process CPU / block |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    base = results[0]["last5_ms"]
    for r in results:
        print(
            f"| {r['mode']} | {r['runs_on']} | {r['first_ms']:.0f} ms | {r['median_ms']:.0f} ms | "
            f"{r['last5_ms']:.0f} ms ({base / r['last5_ms']:.2f}x {results[0]['mode']}) | {r['node_cpu_ms']:.0f} ms |"
        )
    print(f"heads identical across modes: {'yes' if len(heads) == 1 else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if len(heads) == 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
