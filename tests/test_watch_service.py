"""The watch service over HTTP (issue 19): ``takasago watch serve``, a detector enrolled and a ward registered
with the CLI, signed batches acknowledged or refused with a code in Japanese and English; nothing that names a
ward, a tag or a place in the service's log.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.watch_support import takasago, watch_service
from watch.batches import sign
from watch.rotating_id import rotating_id, window_of

TOKEN = "test-service-token-0123456789abcdef"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("watch")
    with watch_service(data, TOKEN) as url:
        yield url, data


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


def as_resident(member: str) -> dict[str, str]:
    """What the wallet adds when it forwards an authenticated resident."""
    return {"X-Watch-Service-Token": TOKEN, "X-Watch-Member": member}


def test_a_family_sees_its_ward_raises_an_alert_and_a_volunteer_nearby_is_told_without_identity(
    service: tuple[str, Path],
) -> None:
    url, data = service
    w = str(data / "w")
    family, other, volunteer = as_resident("FAM100"), as_resident("FAM200"), as_resident("VOL300")
    anonymous = httpx.post(url + "/v1/families/wards", json={"consent": True})
    assert anonymous.json()["error"]["code"] == "NOT_AUTHORISED", anonymous.text
    wrong = {**family, "X-Watch-Service-Token": "guess"}
    assert httpx.post(url + "/v1/families/wards", json={"consent": True}, headers=wrong).status_code == 401
    refused = httpx.post(url + "/v1/families/wards", json={"consent": False}, headers=family)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "CONSENT_REQUIRED"
    assert httpx.post(url + "/v1/families/wards", json={"consent": "yes"}, headers=family).status_code == 422
    made = httpx.post(url + "/v1/families/wards", json={"consent": True}, headers=family)
    assert made.status_code == 201, made.text
    ward, tag = made.json()["ward"], bytes.fromhex(made.json()["secret"])
    # another family cannot read, alert or stream this ward: it does not exist for them
    for call in (lambda h: httpx.get(f"{url}/v1/families/wards/{ward}/sightings", headers=h),
                 lambda h: httpx.post(f"{url}/v1/families/wards/{ward}/alert", json={"description": "x"}, headers=h),
                 lambda h: httpx.get(f"{url}/v1/families/wards/{ward}/events", headers=h)):  # fmt: skip
        assert call(other).status_code == 404

    key_path = data / "vol.pem"
    assert takasago("watch", "enrol-device", "vol-phone", "--owner", "VOL300", "--key-out", str(key_path),
                    "--data-dir", w).returncode == 0  # fmt: skip
    key = load_pem_private_key(key_path.read_bytes(), None)
    seq = [0]

    def report(lat: float, lon: float) -> None:
        now = int(time.time())
        seq[0] += 1
        sighting = {"id": rotating_id(tag, window_of(now)).hex(), "at": now, "lat": lat, "lon": lon}
        body = json.dumps({"device": "vol-phone", "seq": seq[0], "sent_at": now, "sightings": [sighting]}).encode()
        answer = httpx.post(url + "/v1/batches", content=body, headers={"X-Watch-Signature": sign(key, body)})  # type: ignore[arg-type]
        assert answer.status_code == 200 and answer.json()["kept"] == 1, answer.text

    report(34.7655, 134.7911)
    seen = httpx.get(f"{url}/v1/families/wards/{ward}/sightings", headers=family).json()
    assert [(s["lat"], s["lon"]) for s in seen] == [(34.766, 134.791)]
    assert httpx.get(url + "/v1/volunteers/notices", headers=volunteer).json() == []  # no alert yet
    alert = httpx.post(f"{url}/v1/families/wards/{ward}/alert", json={"description": "青い帽子の小学生"},
                       headers=family)  # fmt: skip
    assert alert.status_code == 201
    notices = httpx.get(url + "/v1/volunteers/notices", headers=volunteer).json()
    assert [n["description"] for n in notices] == ["青い帽子の小学生"]
    text = json.dumps(notices)
    assert ward not in text and "FAM100" not in text and tag.hex() not in text  # never who it is

    # the next sighting reaches the family live (server-sent events)
    lines: list[str] = []

    def listen() -> None:
        with httpx.stream("GET", f"{url}/v1/families/wards/{ward}/events", headers=family, timeout=20) as events:
            for line in events.iter_lines():
                lines.append(line)
                if sum(1 for x in lines if x.startswith("data: ")) >= 2:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    time.sleep(1.5)
    report(34.7671, 134.7923)
    listener.join(timeout=15)
    latest = [json.loads(x.removeprefix("data: ")) for x in lines if x.startswith("data: ")]
    assert (34.767, 134.792) in [(e["lat"], e["lon"]) for e in latest], lines
    assert httpx.get(url + "/v1/families/wards", headers=family).json()[0]["alert"] is not None
    assert httpx.delete(f"{url}/v1/families/wards/{ward}/alert", headers=family).status_code == 204
    assert httpx.get(url + "/v1/volunteers/notices", headers=volunteer).json() == []
    assert httpx.delete(f"{url}/v1/families/wards/{ward}/alert", headers=family).status_code == 404
    log = (data / "serve.log").read_text()
    for secret_thing in (ward, tag.hex(), "34.767", "FAM100", "青い帽子"):
        assert secret_thing not in log, secret_thing


def test_a_simulated_volunteer_walks_past_a_ward_and_the_family_sees_where(service: tuple[str, Path]) -> None:
    """The reference detector's simulation (``takasago watch simulate``) against the running service."""
    url, data = service
    w = str(data / "w")
    family = as_resident("FAM400")
    made = httpx.post(url + "/v1/families/wards", json={"consent": True}, headers=family).json()
    secret = data / "walker-tag.hex"
    secret.write_text(made["secret"])
    assert takasago("watch", "enrol-device", "sim-phone", "--owner", "VOL500", "--key-out", str(data / "sim.pem"),
                    "--data-dir", w).returncode == 0  # fmt: skip
    walked = takasago("watch", "simulate", "--device", "sim-phone", "--key", str(data / "sim.pem"), "--tag-secret",
                      str(secret), "--minutes", "20", "--url", url)  # fmt: skip
    assert walked.returncode == 0 and "sightings kept" in walked.stdout, walked.stderr
    kept = int(walked.stdout.split("sightings kept")[0].split(",")[-1])
    sightings = httpx.get(f"{url}/v1/families/wards/{made['ward']}/sightings", headers=family).json()
    assert kept > 0 and len(sightings) == kept  # every sighting heard reached the family, once
    assert all(34.755 <= s["lat"] <= 34.767 and 134.790 <= s["lon"] <= 134.802 for s in sightings)  # on the route
    # a restart of the simulator continues its batch numbering (no REPLAYED)
    again = takasago("watch", "simulate", "--device", "sim-phone", "--key", str(data / "sim.pem"), "--minutes", "1",
                     "--url", url)  # fmt: skip
    assert again.returncode == 0 and "refused" not in again.stdout, again.stdout
