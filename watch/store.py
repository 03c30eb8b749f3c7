"""The watch service's database (issue 19): detectors, wards' tags, accepted batches and sightings.

SQLite (WAL) by default, PostgreSQL by URL; schema by Alembic (``watch/migrations``). What is
personal stays sealed: a tag's secret (it identifies the ward to whoever holds it) is kept
AES-256-GCM under a key-encryption key held apart from the database (``watch.sealing``);
wards are known here only by an opaque id and their family's pseudonym. Sightings are
deleted after the retention period (:meth:`WatchStore.purge`). Nothing here goes on-chain.

A batch is kept in one transaction with its sightings and the device's new last state, so an
acknowledged batch is never half kept, and the same batch sent again finds its record.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Boolean,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from watch.batches import BatchRefused, Checked, DeviceState, Limits, check, device_of, public_key
from watch.districts import DEFAULT_FILE, District, district_of, load
from watch.resolver import Resolver
from watch.sealing import Sealer

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
JST_OFFSET = 9 * 3600  # JST has no daylight saving: a fixed offset gives the hour of day
BIG = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    pass


class Device(Base):
    """A detector (a volunteer's phone, or a fixed detector at a school gate), enrolled by its verified owner."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # the owner's pseudonym (member code)
    owner_address: Mapped[str | None] = mapped_column(String(42), index=True)  # where their points go (none: city)
    public_key: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean)
    enrolled_at: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    last_at: Mapped[int | None] = mapped_column(BigInteger)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    watching: Mapped[bool] = mapped_column(Boolean, default=True)  # the owner's watch mode switch
    label: Mapped[str] = mapped_column(String(40), default="")  # the owner's own name for it ("my phone")


class Ward(Base):
    """A child or elderly resident with a tag: an opaque id, the family's pseudonym, the sealed tag secret."""

    __tablename__ = "wards"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    family: Mapped[str] = mapped_column(String(64), index=True)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean)
    registered_at: Mapped[int] = mapped_column(BigInteger)


class BatchRecord(Base):
    """Each accepted batch (its hash, counts) — the acknowledgement a resent batch gets again."""

    __tablename__ = "batches"
    __table_args__ = (
        UniqueConstraint("device", "seq", name="uq_batches_device_seq"),
        Index("ix_batches_district_hour", "received_at", "district", "hour"),
    )

    id: Mapped[int] = mapped_column(BIG, primary_key=True)
    device: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[int] = mapped_column(BigInteger, index=True)
    sightings: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    outside: Mapped[int] = mapped_column(Integer)
    watching: Mapped[bool] = mapped_column(Boolean, default=True)  # watch mode was on: it counts for points
    district: Mapped[str | None] = mapped_column(String(24))  # where the detector was (coverage), if known
    hour: Mapped[int | None] = mapped_column(SmallInteger)  # JST hour of day it arrived (coverage)


class SightingRow(Base):
    """A ward seen: when, roughly where (~100 m), by which batch. Deleted after the retention period."""

    __tablename__ = "sightings"

    id: Mapped[int] = mapped_column(BIG, primary_key=True)
    ward: Mapped[str] = mapped_column(ForeignKey("wards.id"), index=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    batch: Mapped[int] = mapped_column(ForeignKey("batches.id"))


class Alert(Base):
    """A family's "missing" alert for a ward: raised, and cleared (both recorded, with who)."""

    __tablename__ = "alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ward: Mapped[str] = mapped_column(ForeignKey("wards.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))  # what the family chose to share with volunteers
    raised_by: Mapped[str] = mapped_column(String(64))
    raised_at: Mapped[int] = mapped_column(BigInteger)
    cleared_by: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[int | None] = mapped_column(BigInteger)
    # the family allows the city to share this alert's sightings with others it names (e.g. the police)
    share_outside: Mapped[bool] = mapped_column(Boolean, default=False)


class RulesRow(Base):
    """The city's watch-over rules (one row): watch hours, daily cap, the reward programme; who set them."""

    __tablename__ = "rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hours: Mapped[str] = mapped_column(String(100))  # "7-9,14-18"
    max_minutes_per_day: Mapped[int] = mapped_column(Integer)
    programme_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[int] = mapped_column(BigInteger)


class Share(Base):
    """An alert's sightings shared by the city with someone the family allowed (e.g. the police), until expiry."""

    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # sha256 of the link's token; the token is shown once
    alert: Mapped[str] = mapped_column(ForeignKey("alerts.id"), index=True)
    granted_to: Mapped[str] = mapped_column(String(80))
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class AccessEntry(Base):
    """Who read or changed what on the city's side (officers, shared links), when and why."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BIG, primary_key=True)
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))


class VolunteerDay(Base):
    """A volunteer's settled day: active minutes, points granted, or why nothing was (``watch.settlement``)."""

    __tablename__ = "volunteer_days"
    __table_args__ = (UniqueConstraint("address", "day", name="uq_volunteer_days_address_day"),)

    id: Mapped[int] = mapped_column(BIG, primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    day: Mapped[int] = mapped_column(Integer)  # days since 1970-01-01 (JST dates)
    minutes: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # paid, skipped, nothing, pending
    reason: Mapped[str] = mapped_column(String(200))
    tx_hash: Mapped[str] = mapped_column(String(66))


@dataclass(frozen=True)
class Ack:
    """What the detector is told: the batch's seq and counts (no ward, no identity)."""

    device: str
    seq: int
    sightings: int
    outside: int
    again: bool  # this exact batch had been kept before

    def as_json(self) -> dict[str, Any]:
        return {"device": self.device, "seq": self.seq, "kept": self.sightings, "outside_city": self.outside,
                "already_received": self.again}  # fmt: skip


def engine_for(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=4, max_overflow=4, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def upgrade(url: str) -> None:
    """Migrates the schema to the latest revision (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


class WatchStore:
    """Enrolment, ingest (check → resolve → keep, one transaction) and retention."""

    def __init__(
        self,
        url: str,
        sealer: Sealer,
        limits: Limits | None = None,
        retention_days: int = 30,
        districts_file: Path = DEFAULT_FILE,
    ) -> None:
        upgrade(url)
        self.districts: tuple[District, ...] = load(districts_file)
        self.engine = engine_for(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.sealer = sealer
        self.limits = limits or Limits()
        self.retention_days = retention_days
        self.resolver = Resolver(self._secrets)
        self._writer = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    # -- enrolment ----------------------------------------------------------------------------
    def enrol_device(
        self, device: str, owner: str, key: str, now: int, owner_address: str | None = None, label: str = ""
    ) -> None:
        """A detector's public key, enrolled by its owner (a verified resident, whose points go to
        ``owner_address``, or the city's fixed detectors, with none)."""
        public_key(key)  # refuses a malformed key
        if owner_address is not None and not (owner_address.startswith("0x") and len(owner_address) == 42):
            raise BatchRefused("MALFORMED", "owner_address: a 0x-prefixed 20-byte address")
        with self.sessions.begin() as db:
            if db.get(Device, device) is not None:
                raise BatchRefused("DEVICE_EXISTS", f"device {device} is already enrolled")
            db.add(Device(id=device, owner=owner, owner_address=owner_address, public_key=key, active=True,
                          enrolled_at=now, last_seq=-1, last_hash="", watching=True, label=label))  # fmt: skip

    def set_device_active(self, device: str, active: bool) -> None:
        with self.sessions.begin() as db:
            row = db.get(Device, device)
            if row is None:
                raise BatchRefused("UNKNOWN_DEVICE", f"device {device} is not enrolled")
            row.active = active

    def register_ward(self, family: str, secret: bytes, now: int) -> str:
        """A ward's tag (its secret sealed), registered by their family with consent; the ward's opaque id."""
        ward = str(uuid.uuid4())
        with self.sessions.begin() as db:
            db.add(Ward(id=ward, family=family, sealed_secret=self.sealer.seal(secret, ward), active=True,
                        registered_at=now))  # fmt: skip
        self.resolver.forget()
        return ward

    def _secrets(self) -> list[tuple[str, bytes]]:
        with self.sessions() as db:
            rows = db.execute(select(Ward.id, Ward.sealed_secret).where(Ward.active)).all()
        return [(ward, self.sealer.open(sealed, ward)) for ward, sealed in rows]

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, body: bytes, signature: str, now: int) -> Ack:
        """Checks a signed batch, resolves its rotating ids to wards, keeps it whole; or :class:`BatchRefused`."""
        digest = hashlib.sha256(body).hexdigest()
        device = device_of(body)
        self.resolver.warm(now)  # a new window's table is built here, not while other batches wait on the writer
        # one writer at a time in this process: SQLite would otherwise make concurrent read-then-write
        # transactions wait on each other's locks (and PostgreSQL serialises them on the device row anyway)
        with self._writer, self.sessions.begin() as db:
            row = db.get(Device, device, with_for_update=True)
            state = _state(row) if row is not None else None
            checked = check(body, signature, state, digest, now, self.limits)
            if checked.replay:
                last = db.scalar(
                    select(BatchRecord).where(BatchRecord.device == device, BatchRecord.seq == checked.seq)
                )
                return Ack(device, checked.seq, last.sightings if last else 0, last.outside if last else 0, True)
            assert row is not None
            return self._keep(db, row, checked, digest, now)

    def _keep(self, db: Session, row: Device, checked: Checked, digest: str, now: int) -> Ack:
        wards = [self.resolver.resolve(s.rotating_id, s.at) for s in checked.sightings]
        district = district_of(*checked.place, self.districts) if checked.place else None
        record = BatchRecord(device=row.id, seq=checked.seq, digest=digest, received_at=now,
                             sightings=len(checked.sightings), resolved=sum(w is not None for w in wards),
                             outside=checked.outside, watching=row.watching, district=district,
                             hour=(now + JST_OFFSET) // 3600 % 24)  # fmt: skip
        db.add(record)
        db.flush()
        db.add_all(
            SightingRow(ward=ward, at=s.at, lat=s.lat, lon=s.lon, batch=record.id)
            for s, ward in zip(checked.sightings, wards, strict=True)
            if ward is not None
        )
        row.last_seq, row.last_hash = checked.seq, digest
        if checked.sightings:
            latest = max(checked.sightings, key=lambda s: s.at)
            row.last_at, row.last_lat, row.last_lon = latest.at, latest.lat, latest.lon
        return Ack(row.id, checked.seq, len(checked.sightings), checked.outside, False)

    # -- reading and retention ------------------------------------------------------------------
    def sightings_of(self, ward: str, since: int) -> list[tuple[int, float, float]]:
        """A ward's sightings since ``since``, newest first: (time, lat, lon) to ~100 m."""
        with self.sessions() as db:
            rows = db.execute(
                select(SightingRow.at, SightingRow.lat, SightingRow.lon)
                .where(SightingRow.ward == ward, SightingRow.at >= since)
                .order_by(SightingRow.at.desc())
            ).all()
        return [(int(at), float(lat), float(lon)) for at, lat, lon in rows]

    def purge(self, now: int) -> int:
        """Deletes sightings older than the retention period; how many."""
        cutoff = now - self.retention_days * 86400
        with self.sessions.begin() as db:
            result = db.execute(delete(SightingRow).where(SightingRow.at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _state(row: Device) -> DeviceState:
    return DeviceState(public_key(row.public_key), row.active, row.last_seq, row.last_hash, row.last_at, row.last_lat,
                       row.last_lon)  # fmt: skip
