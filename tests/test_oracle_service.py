"""The oracle as operators run it: signed gateway batches over HTTP (unsigned, tampered, replayed, too big),
then ``takasago oracle settle`` on the real node, twice, and a household's proof."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from oracle.generator import generate, write_csv, write_jsonl
from tests.conftest import REPO
from tests.oracle_support import running_oracle
from tests.points import CAP_MONTH, ORACLE, ORACLE_ROLE, QUORUM_REPORTER_ROLE, PointsSystem
from tests.wallet_support import shared_points

# the worker's shared chain (no deployment of its own): each test its own programme, operators and residents
points = shared_points


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scripts.cli", "oracle", *args], cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    data = tmp_path_factory.mktemp("oracle")
    key = data / "gateway-1.pem"
    made = cli(
        "gateway-key", "GW-0001", "--key-out", str(key), "--data-dir", str(data),
        "--meter", "M01100000", "--meter", "M01100001", "--meter", "M01200000",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert key.stat().st_mode & 0o077 == 0
    with running_oracle(data) as (url, _port):
        yield {"url": url, "data": data, "key": key}


def send(
    url: str, payload: bytes, gateway: str | None, signature: str | None, kind: str = "application/x-ndjson"
) -> httpx.Response:
    headers = {"Content-Type": kind}
    if gateway:
        headers["X-Gateway-Id"] = gateway
    if signature:
        headers["X-Signature"] = signature
    return httpx.post(url + "/v1/batches", content=payload, headers=headers, timeout=30)


def signature_of(path: Path, key: Path) -> str:
    result = cli("sign-batch", str(path), "--key", str(key))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_signed_batches_only_and_replays_are_recognised(service: dict[str, object], tmp_path: Path) -> None:
    url, key = str(service["url"]), Path(str(service["key"]))
    batch = write_jsonl(generate(2, 2026, 4, seed=11), tmp_path / "batch.jsonl")
    signature = signature_of(batch, key)
    payload = batch.read_bytes()
    first = send(url, payload, "GW-0001", signature)
    assert first.status_code == 201 and first.json()["readings"] == 2 * (30 * 48 + 1) and not first.json()["rejected"]
    replay = send(url, payload, "GW-0001", signature)
    assert (
        replay.status_code == 200
        and replay.json()["replay"] is True
        and replay.json()["batch"] == first.json()["batch"]
    )
    tampered = payload.replace(b'"count": 1', b'"count": 9', 1) if b'"count": 1' in payload else payload + b"\n"
    assert send(url, tampered, "GW-0001", signature).json()["error"]["code"] == "BAD_SIGNATURE"
    assert send(url, payload, None, None).json()["error"]["code"] == "UNSIGNED_BATCH"
    assert send(url, payload, "GW-9999", signature).json()["error"]["code"] == "UNKNOWN_GATEWAY"
    assert send(url, payload, "GW-0001", "not base64!").status_code == 401
    huge = send(url, b"x" * (8 * 1024 * 1024 + 1), "GW-0001", signature)
    assert huge.status_code == 413
    sjis = write_csv(generate(1, 2026, 4, seed=12), tmp_path / "batch.csv", encoding="cp932")
    accepted = send(url, sjis.read_bytes(), "GW-0001", signature_of(sjis, key), "text/csv")
    assert accepted.status_code == 201 and accepted.json()["readings"] == 30 * 48 + 1


def test_settle_from_the_command_line_twice_pays_once(
    points: PointsSystem, service: dict[str, object], tmp_path: Path
) -> None:
    url, data = str(service["url"]), Path(str(service["data"]))
    homes = generate(4, 2026, 4, seed=21, faults={3: {"gaps"}})
    residents = [points.resident() for _ in homes]
    (tmp_path / "households.csv").write_text(
        "household_id,meter_ids,address,salt\n"
        + "".join(
            f"{h.household_id},{h.meter_id},{r.address},{os.urandom(32).hex()}\n"
            for h, r in zip(homes, residents, strict=True)
        ),
        encoding="utf-8",
    )
    (tmp_path / "history.json").write_text(json.dumps({h.household_id: {"2025-04": h.true_wh + 30_000} for h in homes}))
    readings = write_jsonl(homes, tmp_path / "april.jsonl")
    with readings.open("a", encoding="utf-8") as extra:  # a stray meter and a corrupt row
        stray = {"meter_id": "STRAY-1", "timestamp": "2026-04-02T00:00:00+09:00", "count": 5, "coefficient": 1}
        extra.write(json.dumps({**stray, "unit": 2, "digits": 6}) + "\n")
        extra.write('{"meter_id": "M1", "timestamp": "yesterday"}\n')
    operators = [points.new_account() for _ in range(2)]
    points.register(ORACLE, *operators)
    keys = []
    for i, operator in enumerate(operators):
        points.grant(ORACLE_ROLE, operator)
        path = tmp_path / f"operator-{i}.key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, ("0x" + bytes(operator.key).hex()).encode())
        os.close(fd)
        keys += ["--operator-key", str(path)]
    programme = points.create_programme(
        name="CO2 April", verifierRole=QUORUM_REPORTER_ROLE, rewardPoints=10, rewardUnits=1000,
        capPerPeriod=100_000, capPeriod=CAP_MONTH, budget=10**9,
    )  # fmt: skip
    args = [
        "settle", "--programme", str(programme), "--month", "2026-04", "--households", str(tmp_path / "households.csv"),
        "--history", str(tmp_path / "history.json"), "--readings", str(readings), "--rpc-url", points.node.url,
        "--deployments-dir", str(points.deployments_dir), "--data-dir", str(data), *keys,
    ]  # fmt: skip
    first = cli(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (
        "3 verified, 1 excluded" in first.stdout and "INCOMPLETE: 1" in first.stdout and "accepted now" in first.stdout
    )
    # 30,000 Wh saved × 350 g/kWh = 10,500 g → 105 points each
    balances = [points.balance(r.address) for r in residents]
    assert balances == [105, 105, 105, 0]
    again = cli(*args)
    assert again.returncode == 0 and "already accepted" in again.stdout
    assert [points.balance(r.address) for r in residents] == balances
    report = data / "reports" / f"report-{programme}-202604.json"
    document = json.loads(report.read_text())
    household = document["leaves"][0]["household"]
    printed = cli("proof", "--report", str(report), "--household", household)
    served = httpx.get(f"{url}/v1/proofs/{programme}/202604/{household}").json()
    assert printed.returncode == 0 and json.loads(printed.stdout) == served
    on_chain = points.reports.functions.reportOf(programme, 202604).call()
    assert served["merkleRoot"] == "0x" + bytes(on_chain[0]).hex()
    assert httpx.get(f"{url}/v1/reports/{programme}/202604").json()["totals"]["excluded_INCOMPLETE"] == 1
    assert httpx.get(f"{url}/v1/proofs/{programme}/202604/nothex").status_code == 400
    assert httpx.get(f"{url}/v1/proofs/{programme}/202605/{household}").status_code == 404
    bad = cli("settle", "--programme", "1", "--month", "2026-13", "--households", "x", "--history", "y")
    assert bad.returncode == 2 and "YYYY-MM" in bad.stderr and "Traceback" not in bad.stderr
