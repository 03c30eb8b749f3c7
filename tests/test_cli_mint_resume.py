"""A 5,000-row cp932 mint CSV, interrupted with SIGINT and by a node crash, re-run to the end: each resident
minted exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from eth_account import Account

from scripts.event_logs import all_logs
from tests.conftest import REPO
from tests.points import RESIDENT, PointsSystem

ROWS = 5_000
BATCH_SIZE = 250


def _confirmed_batches(audit_log: Path) -> int:
    if not audit_log.exists():
        return 0
    return sum(1 for line in audit_log.read_text().splitlines() if json.loads(line).get("command") == "mint batch")


def _start_mint(p: PointsSystem, csv_path: Path, programme: int, audit_log: Path) -> subprocess.Popen[str]:
    output = open(audit_log.parent / "cli-output.txt", "w")  # noqa: SIM115 - a file, not a pipe: never blocks the CLI
    args = [sys.executable, "-m", "scripts.cli", "mint", "--csv", str(csv_path), "--programme", str(programme),
            "--batch-id", "20261101", "--batch-size", str(BATCH_SIZE), "--yes", "--rpc-url", p.node.url,
            "--deployments", str(p.deployments_dir), "--dev-keys", str(p.node.data_dir / "dev-keys.json"),
            "--audit-log", str(audit_log)]  # fmt: skip
    return subprocess.Popen(args, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, text=True)


def _finish(process: subprocess.Popen[str], audit_log: Path, timeout: float) -> str:
    process.wait(timeout=timeout)
    return (audit_log.parent / "cli-output.txt").read_text()


def _wait_for_batches(audit_log: Path, count: int, process: subprocess.Popen[str], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while _confirmed_batches(audit_log) < count:
        assert process.poll() is None, (audit_log.parent / "cli-output.txt").read_text()
        assert time.monotonic() < deadline, "mint made no progress"
        time.sleep(0.2)


def test_interrupted_and_crashed_csv_mint_resumes_to_exactly_once(fresh_points: PointsSystem, tmp_path: Path) -> None:
    p = fresh_points
    residents = [Account.create().address for _ in range(ROWS)]
    for start in range(0, ROWS, 500):
        chunk = residents[start : start + 500]
        p.send(p.admin, p.registry.functions.registerBatch(chunk, RESIDENT, [b"\0" * 32] * len(chunk)), gas=60_000_000)
    programme = p.create_programme(name="administrative points, November", budget=10**9)
    amounts = {address: 100 + i % 900 for i, address in enumerate(residents)}
    lines = ["アドレス,付与ポイント,備考"] + [f"{a},{amounts[a]},町内会清掃" for a in residents]
    csv_path = tmp_path / "gyosei_points.csv"
    csv_path.write_bytes("\r\n".join(lines).encode("cp932") + b"\r\n")
    audit_log = tmp_path / "audit.log"

    # 1. Ctrl-C after a few batches.
    first = _start_mint(p, csv_path, programme, audit_log)
    _wait_for_batches(audit_log, 3, first)
    first.send_signal(signal.SIGINT)
    output = _finish(first, audit_log, 120)
    assert first.returncode == 130, output
    assert "run the same command again" in " ".join(output.split())

    # 2. The node crashes (kill -9) in the middle of the next run, and comes back.
    second = _start_mint(p, csv_path, programme, audit_log)
    _wait_for_batches(audit_log, _confirmed_batches(audit_log) + 2, second)
    p.node.kill()
    output = _finish(second, audit_log, 120)
    assert second.returncode == 4, output
    assert "cannot reach the node" in " ".join(output.split())
    p.node.start()

    # 3. Re-run to the end.
    third = _start_mint(p, csv_path, programme, audit_log)
    output = _finish(third, audit_log, 600)
    assert third.returncode == 0, output
    assert "rows were already minted under batch 20261101" in " ".join(output.split())

    balances = {a: p.balance(a) for a in residents}
    assert balances == amounts
    attested = all_logs(
        p.programmes.events.Attested, 0, p.w3.eth.block_number, argument_filters={"programmeId": programme}
    )
    assert len(attested) == ROWS and len({e["args"]["beneficiary"] for e in attested}) == ROWS
    # A fourth run has nothing left to do.
    fourth = _start_mint(p, csv_path, programme, audit_log)
    output = _finish(fourth, audit_log, 120)
    assert fourth.returncode == 0 and "nothing to do" in output
