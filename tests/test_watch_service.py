"""The watch service over HTTP (issue 19): ``takasago watch serve``, a detector enrolled and a ward registered
with the CLI, signed batches acknowledged or refused with a code in Japanese and English; nothing that names a
ward, a tag or a place in the service's log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.conftest import REPO, free_port
from watch.batches import sign
from watch.rotating_id import rotating_id, window_of


def takasago(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "scripts.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("watch")
    port = free_port()
    log = open(data / "serve.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-m", "scripts.cli", "watch", "serve", "--data-dir", str(data / "w"),
                                "--port", str(port)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and process.poll() is None, (data / "serve.log").read_text()
        time.sleep(0.2)
    yield url, data
    process.terminate()
    process.wait(timeout=15)
    log.close()


def test_a_detector_reports_and_is_told_only_counts(service: tuple[str, Path]) -> None:
    url, data = service
    w = str(data / "w")
    enrolled = takasago("watch", "enrol-device", "gate-1", "--owner", "city", "--key-out", str(data / "gate.pem"),
                        "--data-dir", w)  # fmt: skip
    assert enrolled.returncode == 0, enrolled.stderr
    assert (data / "gate.pem").stat().st_mode & 0o777 == 0o600
    again = takasago("watch", "enrol-device", "gate-1", "--owner", "city", "--key-out", str(data / "x.pem"),
                     "--data-dir", w)  # fmt: skip
    assert again.returncode == 2 and "already enrolled" in again.stderr and "Traceback" not in again.stderr
    ward = takasago("watch", "register-ward", "--family", "fam01", "--secret-out", str(data / "tag.hex"),
                    "--data-dir", w)  # fmt: skip
    assert ward.returncode == 0, ward.stderr
    ward_id = ward.stdout.split()[1]
    tag = bytes.fromhex((data / "tag.hex").read_text().strip())
    key = load_pem_private_key((data / "gate.pem").read_bytes(), None)
    now = int(time.time())
    rid = rotating_id(tag, window_of(now - 5)).hex()
    sighting = {"id": rid, "at": now - 5, "lat": 34.76612, "lon": 134.79061}
    body = json.dumps({"device": "gate-1", "seq": 1, "sent_at": now, "sightings": [sighting]}).encode()
    signature = sign(key, body)  # type: ignore[arg-type]
    ack = httpx.post(url + "/v1/batches", content=body, headers={"X-Watch-Signature": signature})
    assert ack.status_code == 200, ack.text
    assert ack.json() == {"device": "gate-1", "seq": 1, "kept": 1, "outside_city": 0, "already_received": False}
    resent = httpx.post(url + "/v1/batches", content=body, headers={"X-Watch-Signature": signature})
    assert resent.json()["already_received"] is True
    bad = httpx.post(url + "/v1/batches", content=body.replace(b'"seq": 1', b'"seq": 2'),
                     headers={"X-Watch-Signature": signature})  # fmt: skip
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "BAD_SIGNATURE"
    assert bad.json()["error"]["messages"]["ja"].startswith("署名が")
    assert httpx.post(url + "/v1/batches", content=body).json()["error"]["code"] == "NO_SIGNATURE"
    huge = httpx.post(url + "/v1/batches", content=b"x" * 300_000, headers={"X-Watch-Signature": signature})
    assert huge.status_code == 413
    junk = httpx.post(url + "/v1/batches", content=b"\xff\xfe", headers={"X-Watch-Signature": signature})
    assert junk.status_code == 422 and junk.json()["error"]["code"] == "MALFORMED"
    log = (data / "serve.log").read_text()
    assert "Traceback" not in log and "BAD_SIGNATURE" in log
    for secret_thing in (rid, ward_id, tag.hex(), "34.766", "134.79"):
        assert secret_thing not in log, secret_thing  # no tag id, ward, secret or position in the log
