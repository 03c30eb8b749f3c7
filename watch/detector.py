"""The reference detector (issue 19): what a volunteer's phone or a fixed detector does, for Linux and for tests.

A detector hears the tags' BLE advertisements (service data under :data:`SERVICE_UUID`, the
16-byte rotating id), notes when and where, and every ``interval`` seconds signs a batch of
what it heard and sends it to the watch service (``POST /v1/batches``), numbering batches
with a counter kept in a small state file so a restart never reuses a number. A batch the
service did not acknowledge (network down) is sent again as the same bytes.

Two sources of sightings:
- **BLE** (``scan_ble``): a fixed detector at a school gate or a shop, scanning with ``bleak``
  (install it on that machine: ``pip install bleak``; not needed anywhere else).
- **Simulation** (:func:`simulate`): volunteers and wards walking routes through the city, for
  tests and demos. A volunteer "hears" a ward within :data:`BLE_RANGE_M`; the ward's tag
  broadcasts its real rotating id, so everything downstream runs as in the field.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from watch.batches import distance_m, sign
from watch.rotating_id import ID_BYTES, rotating_id, window_of

SERVICE_UUID = "0000feed-7a6b-4173-8a00-7461a5a90001"  # the tags' service-data UUID (docs/watch-over.md)
BLE_RANGE_M = 30.0
WALK_MPS = 1.3


@dataclass
class Walker:
    """Someone walking a route (a list of (lat, lon) waypoints) at a steady pace, from ``start`` (Unix seconds)."""

    route: Sequence[tuple[float, float]]
    start: int
    speed: float = WALK_MPS

    def where(self, at: int) -> tuple[float, float]:
        travelled = max(0.0, (at - self.start) * self.speed)
        for (a_lat, a_lon), (b_lat, b_lon) in zip(self.route, self.route[1:], strict=False):
            leg = distance_m(a_lat, a_lon, b_lat, b_lon)
            if travelled <= leg:
                f = travelled / leg if leg else 0.0
                return a_lat + (b_lat - a_lat) * f, a_lon + (b_lon - a_lon) * f
            travelled -= leg
        return self.route[-1]


@dataclass
class Sender:
    """Signs and sends batches for one device; the batch counter survives restarts (``state`` file)."""

    url: str
    device: str
    key: Ed25519PrivateKey
    state: Path
    sent: list[dict[str, Any]] = field(default_factory=list)

    def next_seq(self) -> int:
        seq = int(self.state.read_text()) + 1 if self.state.exists() else 1
        self.state.write_text(str(seq))
        return seq

    def send(self, sightings: list[dict[str, Any]], now: int | None = None) -> dict[str, Any]:
        now = int(time.time()) if now is None else now
        body = json.dumps({"device": self.device, "seq": self.next_seq(), "sent_at": now,
                           "sightings": sightings}).encode()  # fmt: skip
        request = urllib.request.Request(self.url.rstrip("/") + "/v1/batches", data=body, method="POST",
                                         headers={"X-Watch-Signature": sign(self.key, body),
                                                  "Content-Type": "application/json"})  # fmt: skip
        for attempt in range(5):  # the same bytes again until acknowledged: never a second batch
            try:
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own service URL
                    ack: dict[str, Any] = json.loads(response.read())
                    self.sent.append(ack)
                    return ack
            except urllib.error.HTTPError as exc:
                return {"error": json.loads(exc.read() or b"{}").get("error", {"code": str(exc.code)})}
            except OSError:
                time.sleep(min(2**attempt, 10))
        raise ConnectionError(f"the watch service at {self.url} did not answer")


def heard(volunteer: Walker, wards: Sequence[tuple[bytes, Walker]], at: int) -> list[dict[str, Any]]:
    """What a volunteer's phone hears at ``at``: the rotating id of each ward within BLE range."""
    lat, lon = volunteer.where(at)
    found = []
    for secret, ward in wards:
        w_lat, w_lon = ward.where(at)
        if distance_m(lat, lon, w_lat, w_lon) <= BLE_RANGE_M:
            found.append({"id": rotating_id(secret, window_of(at)).hex(), "at": at, "lat": round(lat, 6),
                          "lon": round(lon, 6), "rssi": -60})  # fmt: skip
    return found


def simulate(
    sender: Sender,
    volunteer: Walker,
    wards: Sequence[tuple[bytes, Walker]],
    start: int,
    end: int,
    *,
    tick: int = 5,
    interval: int = 30,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Walks the volunteer from ``start`` to ``end`` (Unix seconds), hearing every ``tick`` s and sending every
    ``interval`` s; yields each acknowledgement. A past span is replayed at once (each batch dated when it
    would have been sent), a present one in real time."""
    pending: list[dict[str, Any]] = []
    last_sent = start
    at = start
    while at <= end:
        if at > clock():
            sleep(at - clock())
        pending += heard(volunteer, wards, at)
        if at - last_sent >= interval or at + tick > end:
            yield sender.send(pending, at)
            pending, last_sent = [], at
        at += tick


def rotating_id_of(service_data: dict[str, bytes]) -> bytes | None:
    """The rotating id in a BLE advertisement's service data, if it is one of our tags'."""
    data = service_data.get(SERVICE_UUID)
    return bytes(data) if data is not None and len(data) == ID_BYTES else None


def scan_ble(sender: Sender, lat: float, lon: float, interval: int = 30) -> None:  # pragma: no cover - needs a radio
    """A fixed detector: scans with bleak and sends what it heard every ``interval`` seconds, until stopped."""
    import asyncio

    try:
        from bleak import BleakScanner
    except ImportError:
        raise SystemExit("this detector needs bleak: pip install bleak") from None

    async def run() -> None:
        heard_now: dict[bytes, int] = {}

        def seen(_device: Any, advertisement: Any) -> None:
            rid = rotating_id_of(dict(advertisement.service_data))
            if rid is not None:
                heard_now[rid] = int(time.time())

        async with BleakScanner(detection_callback=seen):
            while True:
                await asyncio.sleep(interval)
                batch = [{"id": rid.hex(), "at": at, "lat": lat, "lon": lon} for rid, at in heard_now.items()]
                heard_now.clear()
                await asyncio.to_thread(sender.send, batch)

    asyncio.run(run())
