"""Watch-over on the city's side (issue 19): coverage by district and hour with no cell under 10 people,
watch mode deciding what earns points, the rules settlement uses, and — over HTTP against ``takasago watch
serve`` — a volunteer enrolling their phone's key, an alert's sightings opened with a reason, shared with the
police only when the family allowed it and only until the alert is cleared, every reading on the trail.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger_client.jst import JST
from tests.watch_support import open_store, watch_service
from watch import city
from watch.batches import new_device_key, sign
from watch.rotating_id import rotating_id, window_of
from watch.settlement import NOTHING_REASON, Rules, compute_day, minutes_so_far
from watch.store import WatchStore

NOW = int(datetime(2026, 12, 3, 8, 0, tzinfo=JST).timestamp())  # a school morning, 08:00 JST
ARAI = (34.7545, 134.7805)  # near 荒井町's centre
AMIDA = (34.7915, 134.7690)  # near 阿弥陀町's centre
TOKEN = "city-test-token-0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WatchStore]:
    watch = open_store(request.param, tmp_path)
    yield watch
    watch.close()


def volunteer(store: WatchStore, n: int, where: tuple[float, float], at: int, watching: bool = True) -> None:
    """Volunteer ``n`` enrols a phone and reports once from ``where`` (its own position, no tag heard)."""
    key, public = new_device_key()
    name = f"phone-{n}"
    store.enrol_device(name, f"VOL{n:03d}", public, at - 3600, "0x" + f"{n:040x}")
    if not watching:
        from watch import people

        people.set_watching(store, f"VOL{n:03d}", name, False)
    body = json.dumps({"device": name, "seq": 1, "sent_at": at, "lat": where[0], "lon": where[1],
                       "sightings": []}).encode()  # fmt: skip
    store.ingest(body, sign(key, body), at)


def test_coverage_publishes_a_district_hour_only_when_ten_or_more_people_watched_it(store: WatchStore) -> None:
    for n in range(12):
        volunteer(store, n, ARAI, NOW + n)  # 12 people in 荒井 at 08:00
    for n in range(12, 15):
        volunteer(store, n, AMIDA, NOW + n)  # 3 people in 阿弥陀 at 08:00
    volunteer(store, 15, ARAI, NOW + 3600)  # 1 person in 荒井 at 09:00
    for n in range(16, 20):
        volunteer(store, n, ARAI, NOW + 20, watching=False)  # watch mode off: not watching, not counted
    gate_key, gate_public = new_device_key()
    store.enrol_device("gate-amida", "CITY", gate_public, NOW - 3600)  # a fixed detector: the city's, no person
    gate = json.dumps({"device": "gate-amida", "seq": 1, "sent_at": NOW, "lat": AMIDA[0], "lon": AMIDA[1],
                       "sightings": []}).encode()  # fmt: skip
    store.ingest(gate, sign(gate_key, gate), NOW)

    report = city.coverage(store, "officer1", NOW + 7200, days=7)
    cells = {(c["district"], c["hour"]): c for c in report["cells"]}
    assert report["min_people"] == 10 and len(report["districts"]) == 8
    assert cells[("arai", 8)]["volunteers"] == 12
    assert cells[("amida", 8)] == {"district": "amida", "hour": 8, "volunteers": None, "fixed_detectors": 1}
    assert cells[("arai", 9)]["volunteers"] is None  # one person: published as "fewer than 10", never as 1
    assert all(c["volunteers"] is None or c["volunteers"] >= 10 or c["volunteers"] == 0 for c in report["cells"])
    assert city.trail(store)[0]["action"] == "coverage"


def test_watch_mode_off_earns_nothing_and_the_city_rules_decide_the_hours(store: WatchStore) -> None:
    volunteer(store, 1, ARAI, NOW)
    volunteer(store, 2, ARAI, NOW, watching=False)
    day = datetime.fromtimestamp(NOW, JST).date()
    results = {r.address: r for r in compute_day(store, day, Rules())}
    assert results["0x" + f"{1:040x}"].minutes == 5
    off = results["0x" + f"{2:040x}"]
    assert off.minutes == 0 and off.reason == NOTHING_REASON
    assert minutes_so_far(store, "VOL001", NOW + 60, Rules()) == 5

    assert city.current_rules(store) == (Rules(), None)
    city.set_rules(store, "officer1", "14-18", 60, 7, NOW)
    rules, programme = city.current_rules(store)
    assert (rules.hours, rules.max_minutes_per_day, programme) == (((14, 18),), 60, 7)
    assert compute_day(store, day, rules)[0].minutes == 0  # 08:00 is outside the city's new hours
    for bad in ("9-7", "7-25", "7-9,8-10", "morning"):
        with pytest.raises(Exception) as caught:
            city.set_rules(store, "officer1", bad, 60, 7, NOW)
        assert getattr(caught.value, "code", "") == "BAD_RULES", bad
    assert city.trail(store)[0] == {"at": NOW, "actor": "officer:officer1", "action": "set_rules", "target": "rules",
                                    "reason": "hours 14-18; 60 min/day; programme 7"}  # fmt: skip


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("watch-city")
    with watch_service(data, TOKEN) as url:
        yield url, data


def as_member(member: str) -> dict[str, str]:
    return {"X-Watch-Service-Token": TOKEN, "X-Watch-Member": member}


def as_officer(officer: str) -> dict[str, str]:
    return {"X-Watch-Service-Token": TOKEN, "X-Watch-Officer": officer}


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


def test_the_city_opens_an_alert_with_a_reason_and_shares_it_with_the_police_only_as_the_family_allowed(
    service: tuple[str, Path],
) -> None:
    url, data = service
    # a volunteer enrols their phone's key from the app (the key pair is made on the phone)
    phone = Ed25519PrivateKey.generate()
    public = base64.b64encode(phone.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    address = "0x" + "ab" * 20
    enrolled = httpx.post(url + "/v1/volunteers/devices", headers=as_member("VOL01"),
                          json={"public_key": public, "label": "my phone", "address": address})  # fmt: skip
    assert enrolled.status_code == 201, enrolled.text
    device = enrolled.json()["device"]
    bad_key = httpx.post(url + "/v1/volunteers/devices", headers=as_member("VOL01"),
                         json={"public_key": "A" * 44 + "!", "address": address})  # fmt: skip
    assert bad_key.status_code == 422
    assert httpx.get(url + "/v1/volunteers/devices", headers=as_member("VOL01")).json()[0]["watching"] is True
    assert (
        httpx.put(
            url + f"/v1/volunteers/devices/{device}/watching", headers=as_member("VOL02"), json={"on": False}
        ).status_code
        == 404
    )  # fmt: skip  (someone else's detector)

    # a family registers a ward, the phone hears the tag, the family raises an alert without sharing
    ward = httpx.post(url + "/v1/families/wards", headers=as_member("FAM01"), json={"consent": True}).json()
    tag = bytes.fromhex(ward["secret"])
    now = int(time.time())
    body = json.dumps(
        {
            "device": device,
            "seq": 1,
            "sent_at": now,
            "lat": ARAI[0],
            "lon": ARAI[1],
            "sightings": [
                {"id": rotating_id(tag, window_of(now - 5)).hex(), "at": now - 5, "lat": ARAI[0], "lon": ARAI[1]}
            ],
        }
    ).encode()
    assert httpx.post(url + "/v1/batches", content=body, headers={"X-Watch-Signature": sign(phone, body)}).json()[
        "kept"] == 1  # fmt: skip
    raised = httpx.post(url + f"/v1/families/wards/{ward['ward']}/alert", headers=as_member("FAM01"),
                        json={"description": "小学3年生、青い帽子"})  # fmt: skip
    alert = raised.json()["alert"]

    # the desk: no officer named, nothing; the alert listed; its sightings only with a reason
    assert code(httpx.get(url + "/v1/city/alerts", headers={"X-Watch-Service-Token": TOKEN})) == "MALFORMED"
    assert httpx.get(url + "/v1/city/alerts", headers={"X-Watch-Officer": "o1"}).status_code == 401
    listed = httpx.get(url + "/v1/city/alerts", headers=as_officer("officer.sato")).json()
    mine = next(a for a in listed if a["id"] == alert)
    assert mine["family"] == "FAM01" and mine["share_allowed"] is False and mine["sightings_since_raised"] == 0
    assert mine["last_seen"]["lat"] == round(ARAI[0], 3)
    no_reason = httpx.post(url + f"/v1/city/alerts/{alert}/sightings", headers=as_officer("officer.sato"),
                           json={"reason": " "})  # fmt: skip
    assert code(no_reason) == "REASON_REQUIRED" and no_reason.json()["error"]["messages"]["ja"]
    opened = httpx.post(url + f"/v1/city/alerts/{alert}/sightings", headers=as_officer("officer.sato"),
                        json={"reason": "家族から電話で捜索依頼"})  # fmt: skip
    assert [s["at"] for s in opened.json()["sightings"]] == [now - 5]
    refused = httpx.post(url + f"/v1/city/alerts/{alert}/shares", headers=as_officer("officer.sato"),
                         json={"granted_to": "高砂警察署"})  # fmt: skip
    assert refused.status_code == 403 and code(refused) == "SHARE_NOT_ALLOWED"

    # the family allows sharing: the police read it through the link until the alert is cleared
    httpx.post(url + f"/v1/families/wards/{ward['ward']}/alert", headers=as_member("FAM01"),
               json={"description": "小学3年生、青い帽子", "share_outside": True})  # fmt: skip
    shared = httpx.post(url + f"/v1/city/alerts/{alert}/shares", headers=as_officer("officer.sato"),
                        json={"granted_to": "高砂警察署", "hours": 6})  # fmt: skip
    assert shared.status_code == 201, shared.text
    token = shared.json()["token"]
    police = httpx.get(url + f"/v1/shared/{token}", headers={"X-Watch-Service-Token": TOKEN})
    assert police.status_code == 200 and police.json()["description"] == "小学3年生、青い帽子"
    assert len(police.json()["sightings"]) == 1 and "family" not in police.json()
    assert httpx.get(url + f"/v1/shared/{secrets.token_urlsafe(24)}",
                     headers={"X-Watch-Service-Token": TOKEN}).status_code == 404  # fmt: skip
    httpx.delete(url + f"/v1/families/wards/{ward['ward']}/alert", headers=as_member("FAM01"))
    assert httpx.get(url + f"/v1/shared/{token}", headers={"X-Watch-Service-Token": TOKEN}).status_code == 404
    again = httpx.post(url + f"/v1/city/alerts/{alert}/shares", headers=as_officer("officer.sato"),
                       json={"granted_to": "高砂警察署"})  # fmt: skip
    assert code(again) == "ALERT_CLEARED"

    # rules from the desk; then the trail names every reading, with its reason, and never the ward
    rules = httpx.put(url + "/v1/city/rules", headers=as_officer("officer.sato"),
                      json={"hours": "7-9,14-18", "max_minutes_per_day": 120, "programme_id": 3})  # fmt: skip
    assert rules.status_code == 200 and rules.json()["updated_by"] == "officer.sato"
    assert code(httpx.put(url + "/v1/city/rules", headers=as_officer("officer.sato"),
                          json={"hours": "9-7", "max_minutes_per_day": 120})) == "BAD_RULES"  # fmt: skip
    trail: list[dict[str, Any]] = httpx.get(url + "/v1/city/trail", headers=as_officer("officer.sato")).json()
    actions = [(e["actor"], e["action"]) for e in reversed(trail)]
    assert actions == [("officer:officer.sato", "list_alerts"), ("officer:officer.sato", "read_sightings"),
                       ("officer:officer.sato", "share"), ("share:高砂警察署", "read_shared"),
                       ("officer:officer.sato", "set_rules")]  # fmt: skip
    assert trail[-2]["reason"] == "家族から電話で捜索依頼"
    assert ward["ward"] not in json.dumps(trail)

    # watch mode off, then the detector retired: its key refused from then on
    assert httpx.put(url + f"/v1/volunteers/devices/{device}/watching", headers=as_member("VOL01"),
                     json={"on": False}).status_code == 204  # fmt: skip
    assert httpx.get(url + "/v1/volunteers/today", headers=as_member("VOL01")).json()["max_minutes"] == 120
    assert httpx.delete(url + f"/v1/volunteers/devices/{device}", headers=as_member("VOL01")).status_code == 204
    later = json.dumps({"device": device, "seq": 2, "sent_at": now, "sightings": []}).encode()
    retired = httpx.post(url + "/v1/batches", content=later, headers={"X-Watch-Signature": sign(phone, later)})
    assert code(retired) == "DEVICE_DISABLED"
    log = (data / "serve.log").read_text()
    assert "Traceback" not in log and ward["ward"] not in log and token not in log
