"""Watch-over's core (issue 19): the rotating-id scheme against its vectors, signed detector batches and every
refusal, resolution to wards, one kept copy of a resent batch, retention, sealed secrets; SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import REPO
from tests.watch_support import open_store
from watch.batches import BatchRefused, Limits, new_device_key, sign
from watch.rotating_id import ID_BYTES, VECTORS, WINDOW_SECONDS, rotating_id, vectors, window_of
from watch.sealing import Sealer
from watch.store import Base, WatchStore

NOW = 1_764_806_400 + 9 * 3600  # 2025-12-04 09:00 UTC (18:00 JST)
SCHOOL_GATE = (34.7661, 134.7906)  # 高砂市役所のあたり


def test_the_rotating_id_matches_its_published_vectors() -> None:
    """The committed vectors are what the library computes, and what a plain HMAC port computes too."""
    committed = json.loads(VECTORS.read_text(encoding="utf-8"))
    assert committed == vectors()
    for case in committed["cases"]:
        secret = bytes.fromhex(case["secret"])
        window = case["unix_seconds"] // committed["window_seconds"]
        port = hmac.new(secret, b"takasago-watch/v1" + window.to_bytes(8, "big"), hashlib.sha256).digest()[:16]
        assert port.hex() == case["rotating_id"] == rotating_id(secret, window).hex()
    secret = secrets.token_bytes(32)
    ids = {rotating_id(secret, window_of(NOW) + k) for k in range(96)}  # a day of windows
    assert len(ids) == 96  # a new id every 15 minutes: a bystander cannot link them
    with pytest.raises(ValueError):
        rotating_id(b"short", 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WatchStore]:
    watch = open_store(request.param, tmp_path)
    yield watch
    watch.close()


class Detector:
    """A volunteer's phone: its key, its next seq, batches of sightings signed like the real app's."""

    def __init__(self, store: WatchStore, name: str = "phone-1") -> None:
        self.key, public = new_device_key()
        self.name = name
        self.seq = 0
        store.enrol_device(name, "MEMBER01", public, NOW - 3600)

    def batch(self, sightings: list[dict[str, Any]], seq: int | None = None, sent_at: int = NOW) -> tuple[bytes, str]:
        if seq is None:
            self.seq += 1
            seq = self.seq
        body = json.dumps({"device": self.name, "seq": seq, "sent_at": sent_at, "sightings": sightings}).encode()
        return body, sign(self.key, body)


def seen(tag: bytes, at: int, where: tuple[float, float] = SCHOOL_GATE) -> dict[str, Any]:
    return {"id": rotating_id(tag, window_of(at)).hex(), "at": at, "lat": where[0], "lon": where[1], "rssi": -70}


def test_sightings_resolve_to_their_ward_coarsely_and_a_resent_batch_is_kept_once(store: WatchStore) -> None:
    tag, other = secrets.token_bytes(32), secrets.token_bytes(32)
    ward = store.register_ward("FAMILY01", tag, NOW - 86400)
    phone = Detector(store)
    stranger = {"id": secrets.token_hex(ID_BYTES), "at": NOW - 30, "lat": 34.77, "lon": 134.79}
    # a tag a little out of step (the previous window) still resolves; an unknown tag is kept nowhere
    late_tag = {**seen(tag, NOW - 20), "id": rotating_id(tag, window_of(NOW - 20) - 1).hex()}
    body, signature = phone.batch([seen(tag, NOW - 60), seen(other, NOW - 50), stranger, late_tag])
    ack = store.ingest(body, signature, NOW)
    assert (ack.sightings, ack.outside, ack.again) == (4, 0, False)
    sightings = store.sightings_of(ward, NOW - 3600)
    assert [at for at, _, _ in sightings] == [NOW - 20, NOW - 60]  # newest first; only this ward's
    assert all((lat, lon) == (34.766, 134.791) for _, lat, lon in sightings)  # ~100 m, not the exact spot
    # the phone lost the answer and sends the same batch again: acknowledged, nothing kept twice
    again = store.ingest(body, signature, NOW + 5)
    assert again.again and again.sightings == 4
    assert len(store.sightings_of(ward, NOW - 3600)) == 2


def test_every_bad_batch_is_refused_with_its_reason(store: WatchStore) -> None:
    tag = secrets.token_bytes(32)
    ward = store.register_ward("FAMILY02", tag, NOW - 86400)
    phone = Detector(store, "phone-2")
    ok = [seen(tag, NOW - 10)]

    def refused(body: bytes, signature: str, now: int = NOW) -> str:
        with pytest.raises(BatchRefused) as caught:
            store.ingest(body, signature, now)
        return caught.value.code

    body, signature = phone.batch(ok)
    assert refused(body.replace(b"phone-2", b"phone-9"), signature) == "UNKNOWN_DEVICE"
    assert refused(body.replace(b'"rssi": -70', b'"rssi": -71'), signature) == "BAD_SIGNATURE"  # tampered
    assert refused(body, "not-base64!") == "BAD_SIGNATURE"
    other_key, _ = new_device_key()
    assert refused(body, sign(other_key, body)) == "BAD_SIGNATURE"  # someone else's key
    assert refused(b"[1, 2]", signature) == "MALFORMED"
    store.ingest(body, signature, NOW)  # seq 1 kept
    older = phone.batch([seen(tag, NOW - 11)], seq=1)  # a different batch with a used seq: replayed or reordered
    assert refused(*older) == "REPLAYED"
    assert refused(*phone.batch([seen(tag, NOW + 600)])) == "FUTURE"  # clock skew beyond 2 minutes
    assert refused(*phone.batch(ok, sent_at=NOW + 3600)) == "FUTURE"
    assert refused(*phone.batch([seen(tag, NOW - 8 * 3600)])) == "STALE"
    burst = [{**seen(tag, NOW - 5), "id": secrets.token_hex(ID_BYTES)} for _ in range(600)]
    assert refused(*phone.batch(burst)) == "BURST"  # more than a batch may carry
    too_fast = [{**seen(tag, NOW - 5), "id": secrets.token_hex(ID_BYTES)} for _ in range(120)]
    assert refused(*phone.batch(too_fast)) == "BURST"  # 120 ids in one second
    # the phone was at the school gate a moment ago; 5 km away 30 s later is not a walk
    assert refused(*phone.batch([seen(tag, NOW + 20, (34.80, 134.74))], sent_at=NOW + 25), NOW + 30) == (
        "IMPLAUSIBLE_SPEED"
    )
    good = seen(tag, NOW)
    broken_ones = [{**good, "id": "xyz"}, {**good, "lat": "north"}, {**good, "lat": 91.0}, {**good, "rssi": 99},
                   {**good, "at": -1}]  # fmt: skip
    for broken in broken_ones:
        assert refused(*phone.batch([broken])) == "MALFORMED", broken
    store.set_device_active("phone-2", False)
    assert refused(*phone.batch(ok)) == "DEVICE_DISABLED"
    # after all that, the ward has only the one sighting that was acknowledged
    assert len(store.sightings_of(ward, 0)) == 1


def test_outside_the_city_is_dropped_not_refused_and_retention_deletes_old_sightings(store: WatchStore) -> None:
    tag = secrets.token_bytes(32)
    ward = store.register_ward("FAMILY03", tag, NOW - 86400 * 40)
    phone = Detector(store, "gate-1")
    old = NOW - 31 * 86400
    store.limits = Limits(max_age_seconds=40 * 86400)  # a fixed detector uploading its backlog
    assert store.ingest(*phone.batch([seen(tag, old)], sent_at=old + 60), NOW).sightings == 1
    edge, beyond = (34.7205, 134.80), (34.7195, 134.80)  # the city's south edge, and 110 m past it
    ack = store.ingest(*phone.batch([seen(tag, NOW - 10, edge), seen(tag, NOW - 5, beyond)]), NOW)
    assert (ack.sightings, ack.outside) == (1, 1)
    assert len(store.sightings_of(ward, 0)) == 2
    assert store.purge(NOW) == 1  # the 31-day-old one
    assert [at for at, _, _ in store.sightings_of(ward, 0)] == [NOW - 10]


def test_tag_secrets_are_sealed_and_the_schema_matches_its_migration(store: WatchStore, tmp_path: Path) -> None:
    tag = secrets.token_bytes(32)
    ward = store.register_ward("FAMILY04", tag, NOW)
    with store.engine.connect() as conn:
        sealed = conn.exec_driver_sql("SELECT sealed_secret FROM wards WHERE id = %s" if store.engine.dialect.name
                                      == "postgresql" else "SELECT sealed_secret FROM wards WHERE id = ?",
                                      (ward,)).scalar_one()  # fmt: skip
        assert tag not in bytes(sealed)
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    with pytest.raises(ValueError):
        Sealer(secrets.token_bytes(32)).open(bytes(sealed), ward)  # another KEK opens nothing
    with pytest.raises(ValueError):
        store.sealer.open(bytes(sealed), "another-ward")  # bound to its row
    loose = tmp_path / "loose-kek"
    loose.write_bytes(secrets.token_bytes(32))
    loose.chmod(0o644)
    with pytest.raises(PermissionError):
        Sealer.from_file(loose)


def test_the_window_is_fifteen_minutes_and_the_vectors_file_is_committed() -> None:
    assert WINDOW_SECONDS == 900 and window_of(899) == 0 and window_of(900) == 1
    assert (REPO / "watch" / "test_vectors.json").exists()
