"""Detector batches (issue 19): signed by the device's Ed25519 key, checked before a sighting is kept.

A batch is the exact JSON bytes a detector sends, signed whole::

    {"device": "D-…", "seq": 17, "sent_at": 1764806400,
     "sightings": [{"id": "<32 hex: rotating id>", "at": 1764806390, "lat": 34.7661, "lon": 134.7906, "rssi": -70}]}

``seq`` increases by at least one per batch of that device. The checks, in order, each with
the reason code a detector is told (``docs/watch-over.md``): the device is enrolled and
active (``UNKNOWN_DEVICE``, ``DEVICE_DISABLED``); the signature is the device's over these
bytes (``BAD_SIGNATURE``); the body is well formed (``MALFORMED``); the batch is newer than
the last one kept (``REPLAYED``: the same batch again is acknowledged as before instead,
so a detector that lost the answer may simply resend); nothing is dated in the future
beyond the allowed clock skew (``FUTURE``) or older than the age limit (``STALE``); not
more sightings than a batch may carry or a BLE radio can hear in its span (``BURST``); the
device's own positions move no faster than a car (``IMPLAUSIBLE_SPEED``). Sightings
outside the city are dropped and counted, not refused. Positions are kept to ~100 m.

This module only decides; :mod:`watch.store` keeps devices, the last state and sightings.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from watch.rotating_id import ID_BYTES

COORDINATE_DECIMALS = 3  # ~110 m of latitude, ~90 m of longitude at Takasago
MAX_SPEED_MPS = 45.0  # 162 km/h: faster than any car in town; GPS jitter stays well under it
EARTH_RADIUS_M = 6_371_000.0


class BatchRefused(Exception):
    """The batch is refused whole; ``code`` is stable, the message says why (never key material)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Limits:
    clock_skew_seconds: int = 120
    max_age_seconds: int = 6 * 3600
    max_sightings: int = 500
    max_sightings_per_second: float = 50.0
    # the city's box (south, west, north, east); sightings outside are dropped
    city: tuple[float, float, float, float] = (34.720, 134.735, 34.800, 134.830)


@dataclass(frozen=True)
class Sighting:
    rotating_id: bytes
    at: int
    lat: float
    lon: float
    rssi: int | None


@dataclass(frozen=True)
class DeviceState:
    """What the store knows of a device: its key, whether it may report, its last batch and position."""

    key: Ed25519PublicKey
    active: bool
    last_seq: int = -1
    last_hash: str = ""
    last_at: int | None = None
    last_lat: float | None = None
    last_lon: float | None = None


@dataclass(frozen=True)
class Checked:
    """A batch that passed: its sightings inside the city (coarse), and how many were dropped outside."""

    device: str
    seq: int
    sightings: list[Sighting]
    outside: int
    replay: bool = False  # the very batch kept last time: acknowledge it again, keep nothing new
    # where the detector itself was (its optional ``lat``/``lon`` when it sent, else its latest sighting),
    # coarse and inside the city; None when unknown or outside. Feeds coverage, never a ward.
    place: tuple[float, float] | None = None


def new_device_key() -> tuple[Ed25519PrivateKey, str]:
    """A detector's key pair; the public half (base64, raw 32 bytes) is what enrolment records."""
    key = Ed25519PrivateKey.generate()
    return key, base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def sign(key: Ed25519PrivateKey, body: bytes) -> str:
    return base64.b64encode(key.sign(body)).decode()


def public_key(encoded: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(encoded, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise BatchRefused("MALFORMED", "the device key is not a base64 raw Ed25519 public key") from None


def device_of(body: bytes) -> str:
    """The device a batch says it comes from (read before the signature is checked, to find the key)."""
    try:
        document = json.loads(body)
        device = document["device"]
    except (ValueError, KeyError, TypeError):
        raise BatchRefused("MALFORMED", "the batch is not a JSON object with a device") from None
    if not isinstance(device, str) or not 1 <= len(device) <= 64:
        raise BatchRefused("MALFORMED", "device: 1 to 64 characters")
    return device


def check(body: bytes, signature: str, state: DeviceState | None, body_hash: str, now: int, limits: Limits) -> Checked:
    """Every check of the module docstring, in order; the batch's kept part, or :class:`BatchRefused`."""
    device = device_of(body)
    if state is None:
        raise BatchRefused("UNKNOWN_DEVICE", f"device {device} is not enrolled")
    if not state.active:
        raise BatchRefused("DEVICE_DISABLED", f"device {device} is disabled")
    try:
        state.key.verify(base64.b64decode(signature, validate=True), body)
    except (InvalidSignature, binascii.Error, ValueError):
        raise BatchRefused("BAD_SIGNATURE", "the signature is not this device's over these bytes") from None
    document = json.loads(body)
    seq, sent_at, raw = _fields(document)
    if seq <= state.last_seq:
        if seq == state.last_seq and body_hash == state.last_hash:
            return Checked(device, seq, [], 0, replay=True)
        raise BatchRefused("REPLAYED", f"seq {seq} is not after the last batch kept ({state.last_seq})")
    if sent_at > now + limits.clock_skew_seconds:
        raise BatchRefused("FUTURE", f"sent_at is {sent_at - now} s ahead of the service's clock")
    sightings = [_sighting(i, s) for i, s in enumerate(raw)]
    if len(sightings) > limits.max_sightings:
        raise BatchRefused("BURST", f"{len(sightings)} sightings in one batch (at most {limits.max_sightings})")
    for s in sightings:
        if s.at > now + limits.clock_skew_seconds or s.at > sent_at + limits.clock_skew_seconds:
            raise BatchRefused("FUTURE", f"a sighting is dated {s.at - now} s ahead")
        if s.at < now - limits.max_age_seconds:
            raise BatchRefused("STALE", f"a sighting is {now - s.at} s old (at most {limits.max_age_seconds})")
    if sightings:
        span = max(s.at for s in sightings) - min(s.at for s in sightings) + 1
        if len(sightings) > limits.max_sightings_per_second * span:
            raise BatchRefused("BURST", f"{len(sightings)} sightings in {span} s is more than a detector can hear")
    own = _own_place(document, sent_at)
    _check_speed(sightings + ([own] if own else []), state)
    south, west, north, east = limits.city
    inside = [s for s in sightings if south <= s.lat <= north and west <= s.lon <= east]
    coarse = [
        Sighting(s.rotating_id, s.at, round(s.lat, COORDINATE_DECIMALS), round(s.lon, COORDINATE_DECIMALS), s.rssi)
        for s in inside
    ]
    where = own if own is not None else (max(sightings, key=lambda s: s.at) if sightings else None)
    place = None
    if where is not None and south <= where.lat <= north and west <= where.lon <= east:
        place = (round(where.lat, COORDINATE_DECIMALS), round(where.lon, COORDINATE_DECIMALS))
    return Checked(device, seq, coarse, len(sightings) - len(inside), place=place)


def _own_place(document: dict[str, Any], sent_at: int) -> Sighting | None:
    """The detector's own position when it sent (optional ``lat``/``lon``), as a pseudo-sighting at ``sent_at``.

    A phone that heard nothing still says where it watched, so its watch time counts for the
    district's coverage; a fixed detector sends its fixed place.
    """
    lat, lon = document.get("lat"), document.get("lon")
    if lat is None and lon is None:
        return None
    for name, value, bound in (("lat", lat, 90), ("lon", lon, 180)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not -bound <= value <= bound:
            raise BatchRefused("MALFORMED", f"{name}: the detector's own position, degrees within ±{bound}")
    return Sighting(b"", sent_at, float(lat), float(lon), None)  # type: ignore[arg-type]


def _fields(document: Any) -> tuple[int, int, list[Any]]:
    if not isinstance(document, dict):
        raise BatchRefused("MALFORMED", "the batch is not a JSON object")
    seq, sent_at, raw = document.get("seq"), document.get("sent_at"), document.get("sightings")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**63:
        raise BatchRefused("MALFORMED", "seq: a whole number from 0")
    if not isinstance(sent_at, int) or isinstance(sent_at, bool) or not 0 <= sent_at < 2**40:
        raise BatchRefused("MALFORMED", "sent_at: Unix seconds")
    if not isinstance(raw, list):
        raise BatchRefused("MALFORMED", "sightings: a list")
    return seq, sent_at, raw


def _sighting(index: int, raw: Any) -> Sighting:
    where = f"sightings[{index}]"
    if not isinstance(raw, dict):
        raise BatchRefused("MALFORMED", f"{where}: an object")
    rid, at, lat, lon, rssi = raw.get("id"), raw.get("at"), raw.get("lat"), raw.get("lon"), raw.get("rssi")
    try:
        rotating = bytes.fromhex(rid) if isinstance(rid, str) else b""
    except ValueError:
        rotating = b""
    if len(rotating) != ID_BYTES:
        raise BatchRefused("MALFORMED", f"{where}.id: {ID_BYTES * 2} hex digits")
    if not isinstance(at, int) or isinstance(at, bool) or not 0 <= at < 2**40:
        raise BatchRefused("MALFORMED", f"{where}.at: Unix seconds")
    for name, value, bound in (("lat", lat, 90), ("lon", lon, 180)):
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            raise BatchRefused("MALFORMED", f"{where}.{name}: a number")
        if abs(value) > bound:
            raise BatchRefused("MALFORMED", f"{where}.{name}: within ±{bound}")
    if rssi is not None and (not isinstance(rssi, int) or isinstance(rssi, bool) or not -150 <= rssi <= 20):
        raise BatchRefused("MALFORMED", f"{where}.rssi: dBm from -150 to 20")
    return Sighting(rotating, at, float(lat), float(lon), rssi)  # type: ignore[arg-type]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _check_speed(sightings: list[Sighting], state: DeviceState) -> None:
    """The device is where it heard the tags: consecutive positions must be reachable by car."""
    points = sorted((s.at, s.lat, s.lon) for s in sightings)
    if state.last_at is not None and state.last_lat is not None and state.last_lon is not None:
        points.insert(0, (state.last_at, state.last_lat, state.last_lon))
    for (t1, a1, o1), (t2, a2, o2) in zip(points, points[1:], strict=False):
        metres = distance_m(a1, o1, a2, o2)
        seconds = max(t2 - t1, 1)
        # a little slack for GPS: 200 m of jitter never counts as movement
        if metres > 200 and metres / seconds > MAX_SPEED_MPS:
            raise BatchRefused("IMPLAUSIBLE_SPEED", f"the device moved {metres:.0f} m in {seconds} s")
