"""The oracle's ingest hardened (issue 15): gateways speak only for their own meters (finding 12), and a
batch is judged by its headers before its body is read and parsed off the event loop (finding 18).

The real service runs as operators run it (``takasago oracle serve``) on a free port.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from oracle.evidence import EvidenceStore
from oracle.gateways import gateway_entry, new_gateway_key, sign_batch
from oracle.generator import generate, write_jsonl
from tests.oracle_support import running_oracle

NEIGHBOUR_METER = "M03100000"  # generate(1, …, seed=31)
OWN_METER = "M03200000"  # generate(1, …, seed=32)
BULK_SEED, BULK_HOMES = 33, 40


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    data = tmp_path_factory.mktemp("oracle-hardening")
    keys: dict[str, Ed25519PrivateKey] = {}
    registry: dict[str, object] = {}
    bulk_meters = [f"M{BULK_SEED:03d}{i:05d}" for i in range(BULK_HOMES)]
    for gateway, meters in (("GW-A", [NEIGHBOUR_METER]), ("GW-B", [OWN_METER]), ("GW-BULK", bulk_meters)):
        keys[gateway], public = new_gateway_key()
        registry[gateway] = gateway_entry(public, meters)
    keys["GW-OLD"], registry["GW-OLD"] = new_gateway_key()  # the registry's older form: a key, no meters
    (data / "gateways.json").write_text(json.dumps(registry), encoding="utf-8")
    with running_oracle(data) as (url, port):
        yield {"url": url, "port": port, "data": data, "keys": keys, "log": data / "oracle.log"}


def post(url: str, gateway: str, key: Ed25519PrivateKey, payload: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/x-ndjson", "X-Gateway-Id": gateway, "X-Signature": sign_batch(key, payload)}
    return httpx.post(url + "/v1/batches", content=payload, headers=headers, timeout=60)


def inbox_files(data: Path) -> set[str]:
    """The batches the oracle has stored (its evidence store, in the data directory)."""
    store = EvidenceStore(f"sqlite:///{data / 'evidence.db'}")
    try:
        return set(store.batch_names())
    finally:
        store.close()


def test_finding12_gateway_cannot_submit_other_meters(oracle: dict[str, object], tmp_path: Path) -> None:
    url, data, keys = str(oracle["url"]), Path(str(oracle["data"])), oracle["keys"]
    assert isinstance(keys, dict)
    neighbour = write_jsonl(generate(1, 2026, 4, seed=31), tmp_path / "neighbour.jsonl").read_bytes()
    own = write_jsonl(generate(1, 2026, 4, seed=32), tmp_path / "own.jsonl").read_bytes()
    before = inbox_files(data)

    # GW-B writes its neighbour's meter (with conflicting counts, to get that household excluded): refused
    rows = [json.loads(line) for line in neighbour.splitlines()[:3]]
    forged = b"".join(json.dumps({**row, "count": int(row["count"]) + 7}).encode() + b"\n" for row in rows)
    refused = post(url, "GW-B", keys["GW-B"], forged)
    assert refused.status_code == 403, refused.text
    problem = refused.json()["error"]
    assert problem["code"] == "METER_NOT_BOUND" and NEIGHBOUR_METER in problem["message"]
    assert "GW-B" in problem["message"] and "計器" in problem["message"]  # English and Japanese

    # one foreign row hidden in an otherwise honest batch: the whole batch is refused
    mixed = own + neighbour.splitlines(keepends=True)[5]
    assert post(url, "GW-B", keys["GW-B"], mixed).json()["error"]["code"] == "METER_NOT_BOUND"
    # ... also when the foreign row is dated in the future (refused today, but it would count at settlement)
    future = b'{"meter_id": "%s", "timestamp": "2099-01-01T00:00:00+09:00", "count": 1, "coefficient": 1, ' % (
        NEIGHBOUR_METER.encode()
    )
    assert post(url, "GW-B", keys["GW-B"], own + future + b'"unit": 1, "digits": 6}\n').status_code == 403
    # a gateway registered in the older form (no meters) may report nothing
    assert post(url, "GW-OLD", keys["GW-OLD"], own).json()["error"]["code"] == "METER_NOT_BOUND"
    assert inbox_files(data) == before  # nothing refused was stored

    # each gateway still reports its own meters
    accepted = post(url, "GW-B", keys["GW-B"], own)
    assert accepted.status_code == 201 and accepted.json()["readings"] == 30 * 48 + 1
    assert post(url, "GW-A", keys["GW-A"], neighbour).status_code == 201
    # the refusals were logged with the gateway that tried
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline and text.count("METER_NOT_BOUND") < 4:
        text = Path(str(oracle["log"])).read_text(encoding="utf-8", errors="replace")
        time.sleep(0.1)
    lines = [line for line in text.splitlines() if "METER_NOT_BOUND" in line]
    assert len(lines) >= 4 and all("GW-B" in line or "GW-OLD" in line for line in lines)
    assert NEIGHBOUR_METER not in text  # meter ids stay out of the log


def test_finding18_unknown_gateway_is_refused_before_the_body_is_read(oracle: dict[str, object]) -> None:
    signature = base64.b64encode(os.urandom(64)).decode()
    head = (
        "POST /v1/batches HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\n"
        f"X-Gateway-Id: GW-NOBODY\r\nX-Signature: {signature}\r\nContent-Length: {8 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", int(str(oracle["port"]))), timeout=5) as sock:
        sock.sendall(head.encode() + b"{" * 1024)  # 1 KiB of a promised 8 MiB, and then nothing
        started = time.monotonic()
        sock.settimeout(5)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)  # times out (the test fails) if the server waits for the body
            if not chunk:
                break
            answer += chunk
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"UNKNOWN_GATEWAY" in answer or int(answer.split(b"content-length: ")[1].split(b"\r\n")[0]) > 0
    assert elapsed < 2


def test_finding18_a_large_batch_does_not_block_health(oracle: dict[str, object], tmp_path: Path) -> None:
    url, keys = str(oracle["url"]), oracle["keys"]
    assert isinstance(keys, dict)
    payload = write_jsonl(generate(BULK_HOMES, 2026, 4, seed=BULK_SEED), tmp_path / "bulk.jsonl").read_bytes()
    assert 4 * 1024 * 1024 < len(payload) < 8 * 1024 * 1024
    result: dict[str, object] = {}

    def send() -> None:
        started = time.monotonic()
        result["response"] = post(url, "GW-BULK", keys["GW-BULK"], payload)
        result["seconds"] = time.monotonic() - started

    sender = threading.Thread(target=send)
    sender.start()
    worst = 0.0
    with httpx.Client(timeout=30) as client:
        while sender.is_alive():
            started = time.monotonic()
            assert client.get(url + "/health").status_code == 200
            worst = max(worst, time.monotonic() - started)
            time.sleep(0.02)
    sender.join()
    response = result["response"]
    assert isinstance(response, httpx.Response) and response.status_code == 201, response
    assert response.json()["readings"] == BULK_HOMES * (30 * 48 + 1)
    seconds = float(str(result["seconds"]))
    # the batch takes a while to verify and parse; /health kept answering meanwhile
    print(f"/health worst {worst:.3f} s during a {seconds:.2f} s batch of {len(payload)} bytes")
    assert worst < max(0.4, seconds / 4), f"/health took {worst:.2f} s while a {seconds:.2f} s batch was parsed"
