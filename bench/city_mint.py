"""Minting administrative points to every household: `takasago mint --csv` against a
naive one-transaction-per-row loop through web3.py, in the same run on the same node.

    .venv/bin/python -m bench.city_mint [--rows 40000] [--naive-rows 2000] [--sequential-rows 4000] [--json PATH]

Starts a fresh dev node, deploys, registers ``--rows`` residents (registerBatch),
creates an administrative-points programme the admin attests for, writes a cp932 CSV
(one row per household), then times:

* **CLI**: ``takasago mint --csv FILE --programme P --batch-id 1 --yes`` end to end, as
  an officer runs it (reading and validating every row, on-chain checks, batched
  submission, receipts);
* **naive loop**: for each row, ``attest`` built with web3.py, gas estimated, signed,
  sent and its receipt awaited before the next row (what a script without batching
  does). It runs on ``--naive-rows`` other residents (default 2,000); with fewer rows
  than ``--rows`` its time for ``--rows`` is extrapolated from its rate, and the
  report says so. ``--naive-rows`` equal to ``--rows`` runs it in full.
* **sequential batches**: the bulk mint without its pipeline, on ``--sequential-rows``
  other residents (default 4,000; 0 skips it): the same ``attestBatch`` calldata in
  batches of 400, each sent with ``Sender`` and its receipt awaited before the next (the
  plain batched loop, to show what pipelining adds over batching alone).

Both mint first-time beneficiaries into the same programme, so the gas per row is the
same kind of work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eth_account import Account

from bench.harness import processes
from bench.harness.points import MINTER_ROLE, register_residents
from bench.harness.report import REPO, log
from bench.harness.systems import Takasago
from contracts.deploy import DeploySettings, deploy
from ledger_client.connection import connect
from ledger_client.transactions import Sender
from scripts.bulk_mint import BATCH_OVERHEAD_GAS, ROW_GAS, encode_attest_batch
from scripts.event_logs import all_logs
from scripts.mint_csv import MintRow


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--naive-rows", type=int, default=2_000)
    parser.add_argument("--sequential-rows", type=int, default=4_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="city-mint-") as tmp:
        workdir = Path(tmp)
        node = Takasago(name="takasago", workdir=workdir)
        node.start()
        try:
            return run(node, workdir, args.rows, args.naive_rows, args.sequential_rows, args.json)
        finally:
            node.stop()


def run(node: Takasago, workdir: Path, rows: int, naive_rows: int, sequential_rows: int, json_path: Path | None) -> int:
    assert node.data_dir is not None
    w3 = connect(node.url, timeout=120)
    admin = Account.from_key(node.funder_key)
    sender = Sender(w3, admin)
    deployments = workdir / "deployments"
    d = deploy(w3, sender, deployments, DeploySettings()).deployment
    registry, programmes = d.contract(w3, "AccountRegistry"), d.contract(w3, "RewardProgrammes")
    sender.call_function(registry.functions.grantRole(MINTER_ROLE, admin.address))
    now = int(w3.eth.get_block("latest")["timestamp"])
    params = ("administrative points", MINTER_ROLE, 1, 1, 0, 3, 10**12, now - 60, 2**40 - 1, 0, 0)
    receipt = sender.call_function(programmes.functions.createProgramme(params))
    programme = int(programmes.events.ProgrammeCreated().process_receipt(receipt)[0]["args"]["programmeId"])

    log(f"registering {rows + naive_rows + sequential_rows:,} residents")
    households = [Account.create().address for _ in range(rows)]
    naive_households = [Account.create().address for _ in range(naive_rows)]
    sequential_households = [Account.create().address for _ in range(sequential_rows)]
    started = time.monotonic()
    register_residents(sender, registry, households + naive_households + sequential_households)
    log(f"registered in {time.monotonic() - started:.0f} s")
    csv_path = workdir / "households.csv"
    lines = ["アドレス,付与ポイント,備考"] + [f"{a},{500 + i % 500},世帯" for i, a in enumerate(households)]
    csv_path.write_bytes("\r\n".join(lines).encode("cp932") + b"\r\n")

    log(f"CLI: takasago mint --csv ({rows:,} rows)")
    keys = node.data_dir / "dev-keys.json"
    argv = [str(REPO / ".venv" / "bin" / "takasago"), "mint", "--csv", str(csv_path), "--programme", str(programme),
            "--batch-id", "1", "--yes", "--rpc-url", node.url, "--deployments", str(deployments),
            "--dev-keys", str(keys), "--audit-log", str(workdir / "audit.log")]  # fmt: skip
    node_cpu_before = node_cpu_seconds(node)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    cli_seconds = time.monotonic() - started
    node_cpu = node_cpu_seconds(node) - node_cpu_before
    load_after = os.getloadavg()[0]
    log(
        f"CLI done in {cli_seconds:.1f} s (node process CPU {node_cpu:.1f} s;"
        f" load average {load_before:.1f} -> {load_after:.1f})"
    )
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
        return 1
    head = int(w3.eth.block_number)
    attested = all_logs(programmes.events.Attested, 0, head, argument_filters={"programmeId": programme})
    if len(attested) != rows:
        print(f"CLI minted {len(attested)} rows, expected {rows}", file=sys.stderr)
        return 1

    sequential_seconds = sequential_batches(sender, programmes.address, programme, sequential_households)

    log(f"naive loop: one attest per row, {naive_rows:,} rows")
    attest = programmes.functions.attest
    started = time.monotonic()
    for i, address in enumerate(naive_households):
        fn = attest(programme, address, 500 + i % 500, b"\0" * 32, (2 << 32) | (i + 1))
        sender.call_function(fn)  # estimate, sign, send, wait for the receipt
    naive_seconds = time.monotonic() - started
    naive_per_row = naive_seconds / naive_rows
    naive_projected = naive_per_row * rows
    figures = {
        "rows": rows,
        "cli_seconds": round(cli_seconds, 1),
        "cli_rows_per_second": round(rows / cli_seconds, 1),
        "cli_node_cpu_seconds": round(node_cpu, 1),
        "load_average_before_after": [round(load_before, 2), round(load_after, 2)],
        "naive_rows": naive_rows,
        "naive_seconds": round(naive_seconds, 1),
        "naive_rows_per_second": round(naive_rows / naive_seconds, 1),
        "naive_seconds_for_rows": round(naive_projected, 1),
        "naive_extrapolated": naive_rows != rows,
        "speedup": round(naive_projected / cli_seconds, 1),
        "sequential_rows": sequential_rows,
        "sequential_seconds": round(sequential_seconds, 1),
        "sequential_rows_per_second": round(sequential_rows / sequential_seconds, 1) if sequential_rows else None,
    }
    print(json.dumps(figures, indent=2))
    print(
        f"takasago mint --csv: {rows:,} rows in {cli_seconds:.1f} s ({rows / cli_seconds:,.0f} rows/s;"
        f" node CPU {node_cpu:.1f} s, load average {load_before:.1f} -> {load_after:.1f})"
    )
    how = "extrapolated from " + f"{naive_rows:,} rows" if naive_rows != rows else "measured"
    print(
        f"naive web3.py loop: {naive_rows / naive_seconds:,.1f} rows/s → {naive_projected:,.0f} s for {rows:,} ({how})"
    )
    if sequential_rows:
        rate = sequential_rows / sequential_seconds
        print(f"sequential batches of {SEQUENTIAL_BATCH}: {rate:,.0f} rows/s ({rows / cli_seconds / rate:.2f}x of it)")
    print(f"speed-up: {naive_projected / cli_seconds:.1f}x; goal ≤ 60 s for 40,000 rows and ≥ 10x")
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


SEQUENTIAL_BATCH = 400


def node_cpu_seconds(node: Takasago) -> float:
    """CPU seconds (user + system) the node's process has used: its execution work, which a machine
    shared with other jobs stretches less than the wall time (the admission workers are not counted)."""
    assert node.proc is not None
    return processes.group_members(node.proc.pid).get(node.proc.pid, 0.0)


def sequential_batches(sender: Sender, target: str, programme: int, addresses: list[str]) -> float:
    """Seconds to mint ``addresses`` in batches of SEQUENTIAL_BATCH, one transaction at a time."""
    if not addresses:
        return 0.0
    log(f"sequential batches: {len(addresses):,} rows, {SEQUENTIAL_BATCH} a transaction, one at a time")
    rows = [MintRow(i + 1, a, 500 + i % 500, "世帯") for i, a in enumerate(addresses)]
    started = time.monotonic()
    for start in range(0, len(rows), SEQUENTIAL_BATCH):
        chunk = rows[start : start + SEQUENTIAL_BATCH]
        data = encode_attest_batch(programme, chunk, 3)
        sender.send(target, data, gas=BATCH_OVERHEAD_GAS + ROW_GAS * len(chunk))
    return time.monotonic() - started


if __name__ == "__main__":
    raise SystemExit(main())
