"""The CO2 oracle at the city's size: one month of 40,000 households verified and settled end to end.

    .venv/bin/python -m bench.oracle [--households 40000] [--sample 1000] [--fault-rate 0.1]
                                     [--database-url URL] [--json PATH]

Set-up (timed, but not part of the settlement): a month of generated half-hourly readings
for ``--households`` homes (``oracle.generator.write_month_csv``: the load model of the
tests, a tenth of the homes with one injected fault of every kind), stored in the
evidence store as gateway batches of at most 8 MiB (the ingest's limit); the same month
of the previous year stored as verified months (the baselines); a fresh dev node with the
point contracts, every household's resident account registered, two oracle operators and
a CO2 programme.

Timed, as an operator runs it: ``takasago oracle settle --programme P --month 2026-04
--households households.csv --operator-key … --batch-size 500`` in its own process —
reading the month's batches out of the store in columns, verifying every household,
baselines from the store, the Merkle report, two EIP-712 signatures, ``submitReport`` and
the grants. Its wall time and its peak memory (``ru_maxrss`` of that process) are the
figures; the goals are ≤ 120 s and ≤ 4 GB, and ≤ 1 transaction per 500 households.

In the same run, the reference: the row-by-row code (``oracle.readings.parse_readings`` +
``oracle.settlement.compute_period``, the code the oracle had before) on the first
``--sample`` households of the same month, against the columnar code on the same sample
(``oracle.settlement.settle_month``): identical results are required, and the speed-up is
reported. The sample's results are also checked against the full run's published report
(every sampled household with a reduction is a leaf with the same grams, no other is).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import polars as pl
from eth_account import Account
from eth_utils import keccak

from bench.harness.points import register_residents
from bench.harness.report import REPO, git_commit, log, machine
from bench.harness.systems import Takasago
from contracts.deploy import DeploySettings, deploy
from ledger_client.connection import connect
from ledger_client.transactions import Sender
from oracle.columnar_readings import Source
from oracle.evidence import EvidenceStore
from oracle.generator import JST, Month, write_month_csv
from oracle.readings import _timestamp, parse_readings
from oracle.reduction import EmissionFactor
from oracle.settlement import compute_period, load_households, settle_month

YEAR, MONTH = 2026, 4
BATCH_BYTES = 8 * 1024 * 1024 - 4096  # the ingest refuses more than 8 MiB
ORACLE_KIND = 4
ORACLE_ROLE = keccak(text="ORACLE_ROLE")
QUORUM_REPORTER_ROLE = keccak(text="QUORUM_REPORTER_ROLE")
FACTOR = EmissionFactor(YEAR, 350, "Kansai Electric Power FY2018 basic, 0.35 kg-CO2/kWh")


def month_bounds() -> tuple[int, int]:
    start = int(datetime(YEAR, MONTH, 1, tzinfo=JST).timestamp())
    end = int(datetime(YEAR + (MONTH == 12), MONTH % 12 + 1, 1, tzinfo=JST).timestamp())
    return start, end


def store_batches(store: EvidenceStore, path: Path) -> int:
    """The month's CSV cut into gateway-sized batches (header repeated), stored as the ingest stores them."""
    count = 0
    with path.open("rb") as handle:
        header = handle.readline()
        while True:
            body = handle.read(BATCH_BYTES)
            if not body:
                break
            body += handle.readline()  # end on a line
            payload = header + body
            stamps = pl.read_csv(payload, columns=["timestamp"], schema_overrides={"timestamp": pl.String})["timestamp"]
            times = (
                _timestamp(stamps.min()),
                _timestamp(stamps.max()),
            )  # one offset (+09:00): text order is time order
            digest = hashlib.sha256(payload).hexdigest()
            store.add_batch(digest + ".csv", payload, digest, times, len(stamps), "GW-BENCH", "bench")
            count += 1
    return count


def settle_process(argv: list[str]) -> tuple[float, int, str]:
    """Runs the CLI in its own process: (seconds, peak RSS in bytes, its output)."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"takasago oracle settle failed:\n{output[-4000:]}")
    return seconds, usage.ru_maxrss * 1024, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=40_000)
    parser.add_argument("--sample", type=int, default=1_000)
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--database-url", help="the evidence store (default: SQLite in a temporary directory)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return run(args, args.keep)
    with tempfile.TemporaryDirectory(prefix="bench-oracle-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> int:
    households, sample_size = args.households, min(args.sample, args.households)
    start, end = month_bounds()
    figures: dict[str, object] = {"households": households, "commit": git_commit(), "machine": machine()}

    log(f"generating {households:,} households' month")
    started = time.monotonic()
    month = write_month_csv(workdir / "month.csv", households, YEAR, MONTH, seed=7, fault_rate=args.fault_rate,
                            chunk=sample_size)  # fmt: skip
    figures["readings"] = month.rows
    figures["faulty_households"] = len(month.faults)
    figures["generate_seconds"] = round(time.monotonic() - started, 1)
    log(f"{month.rows:,} readings, {len(month.faults):,} homes with a fault, in {figures['generate_seconds']} s")

    data_dir = workdir / "oracle"
    data_dir.mkdir(exist_ok=True)
    url = args.database_url or f"sqlite:///{data_dir / 'evidence.db'}"
    store = EvidenceStore(url)
    started = time.monotonic()
    figures["batches"] = store_batches(store, workdir / "month.csv")
    figures["store_seconds"] = round(time.monotonic() - started, 1)
    log(f"stored {figures['batches']} batches in {figures['store_seconds']} s")
    rng = random.Random(7)
    store.import_history(
        {hid: {f"{YEAR - 1}-{MONTH:02d}": wh * rng.randint(95, 115) // 100} for hid, wh in month.true_wh.items()}
    )

    node = Takasago(name="takasago", workdir=workdir)
    node.start()
    try:
        return settle_and_compare(args, workdir, node, store, month, figures, url, sample_size, start, end)
    finally:
        node.stop()
        store.close()


def settle_and_compare(
    args: argparse.Namespace,
    workdir: Path,
    node: Takasago,
    store: EvidenceStore,
    month: Month,
    figures: dict[str, object],
    url: str,
    sample_size: int,
    start: int,
    end: int,
) -> int:
    assert node.data_dir is not None
    w3 = connect(node.url, timeout=300)
    admin = Account.from_key(node.funder_key)
    sender = Sender(w3, admin)
    deployments = workdir / "deployments"
    d = deploy(w3, sender, deployments, DeploySettings()).deployment
    registry, programmes = d.contract(w3, "AccountRegistry"), d.contract(w3, "RewardProgrammes")
    residents = [Account.create().address for _ in month.households]
    log(f"registering {len(residents):,} residents")
    register_residents(sender, registry, residents)
    operators = [Account.create() for _ in range(2)]
    sender.call_function(
        registry.functions.registerBatch([o.address for o in operators], ORACLE_KIND, [b"\0" * 32] * 2)
    )
    keys = []
    for number, operator in enumerate(operators):
        sender.call_function(registry.functions.grantRole(ORACLE_ROLE, operator.address))
        path = workdir / f"operator-{number}.key"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(descriptor, ("0x" + bytes(operator.key).hex()).encode())
        os.close(descriptor)
        keys += ["--operator-key", str(path)]
    now = int(w3.eth.get_block("latest")["timestamp"])
    params = ("CO2 April", QUORUM_REPORTER_ROLE, 10, 1000, 0, 3, 10**15, now - 86400, 2**40 - 1, 0, 0)
    receipt = sender.call_function(programmes.functions.createProgramme(params))
    programme = int(programmes.events.ProgrammeCreated().process_receipt(receipt)[0]["args"]["programmeId"])
    registry_csv = workdir / "households.csv"
    salts = {hid: secrets.token_hex(32) for hid, _ in month.households}
    lines = ["household_id,meter_ids,address,salt"] + [
        f"{hid},{';'.join(meters)},{address},{salts[hid]}"
        for (hid, meters), address in zip(month.households, residents, strict=True)
    ]
    registry_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")

    log("timed: takasago oracle settle (its own process)")
    env_url = ["--data-dir", str(workdir / "oracle")]
    os.environ["TAKASAGO_ORACLE_DATABASE_URL"] = url
    argv = [str(REPO / ".venv" / "bin" / "takasago"), "oracle", "settle", "--programme", str(programme),
            "--month", f"{YEAR}-{MONTH:02d}", "--households", str(registry_csv), *keys, "--batch-size", "500",
            "--rpc-url", node.url, "--deployments-dir", str(deployments), *env_url]  # fmt: skip
    seconds, peak, output = settle_process(argv)
    log(f"settled in {seconds:.1f} s, peak {peak / 2**30:.2f} GiB")
    print(output)
    transactions = int(re.findall(r"(\d+) transaction", output)[-1])
    figures.update(
        settle_seconds=round(seconds, 1), settle_peak_bytes=peak, transactions=transactions,
        households_per_transaction=round(len(month.households) / transactions, 1),
    )  # fmt: skip
    report = json.loads((workdir / "oracle" / "reports" / f"report-{programme}-{YEAR}{MONTH:02d}.json").read_text())
    published = {leaf["household"]: leaf["units"] for leaf in report["leaves"]}

    log(f"reference (row by row) and columnar on the first {sample_size:,} households")
    with (workdir / "month.csv").open("rb") as handle:
        sample_bytes = handle.read(month.chunk_ends[0])
    everyone = load_households(registry_csv.read_text(encoding="utf-8"))
    sample = dict(list(everyone.items())[:sample_size])
    history = store.history(list(sample), YEAR * 100 + MONTH)
    started = time.monotonic()
    readings, _ = parse_readings("sample.csv", sample_bytes)
    reference = compute_period(sample, readings, history, YEAR, MONTH, start, end, FACTOR)
    reference_seconds = time.monotonic() - started
    del readings
    started = time.monotonic()
    columnar = settle_month(sample, [Source("sample.csv", data=sample_bytes)], history, YEAR, MONTH, start, end, FACTOR)
    columnar_seconds = time.monotonic() - started
    identical = columnar.results == reference
    in_report = all(published.get(r.salted_hash) == (r.co2_g if r.reason is None and r.co2_g > 0 else None)
                    for r in reference)  # fmt: skip
    reasons: dict[str, int] = {}
    for result in reference:
        reasons[result.reason or "verified"] = reasons.get(result.reason or "verified", 0) + 1
    figures.update(
        sample_households=sample_size, sample_reasons=reasons, reference_seconds=round(reference_seconds, 2),
        columnar_seconds=round(columnar_seconds, 2), speedup=round(reference_seconds / columnar_seconds, 1),
        identical_verdicts=identical, sample_matches_published_report=in_report,
        reference_extrapolated_seconds=round(reference_seconds * len(month.households) / sample_size),
    )  # fmt: skip
    print(json.dumps(figures, indent=2))
    print(
        f"settle: {len(month.households):,} households, {month.rows:,} readings in {seconds:.1f} s "
        f"(goal ≤ 120 s), peak {peak / 2**30:.2f} GiB (goal ≤ 4 GB), {transactions} transactions "
        f"({len(month.households) / transactions:,.0f} households each; goal ≥ 500)"
    )
    print(
        f"sample of {sample_size:,}: reference {reference_seconds:.1f} s, columnar {columnar_seconds:.2f} s "
        f"({reference_seconds / columnar_seconds:.0f}x); identical: {identical}; matches the report: {in_report}"
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if identical and in_report else 1


if __name__ == "__main__":
    sys.exit(main())
