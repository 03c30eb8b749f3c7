"""The indexed chain. Every row hangs off its block (``ON DELETE CASCADE``), so rolling
back a block removes everything derived from it in one statement.

Amounts are whole points; SQLite and PostgreSQL both store them as 64-bit integers
(points are capped at 2^40 per movement by the contracts).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates


class Base(DeclarativeBase):
    pass


class Block(Base):
    __tablename__ = "blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(66), unique=True)
    parent_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)
    proposer: Mapped[str] = mapped_column(String(42))
    tx_count: Mapped[int] = mapped_column(Integer)
    gas_used: Mapped[int] = mapped_column(BigInteger)
    transactions_root: Mapped[str] = mapped_column(String(66))


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_block_index", "block_number", "tx_index"),)

    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    block_number: Mapped[int] = mapped_column(ForeignKey("blocks.number", ondelete="CASCADE"))
    tx_index: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(42), index=True)
    to: Mapped[str | None] = mapped_column(String(42), index=True)
    status: Mapped[int] = mapped_column(Integer)
    gas_used: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    counterparty: Mapped[str | None] = mapped_column(String(42))
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)


TOPIC_SLOTS = 4  # a log has at most four topics


class Event(Base):
    """Every log of the point contracts, decoded (name and arguments).

    ``topics`` is kept whole (what ``/api`` getLogs answers); each topic is also a lowercase
    column of its own, indexed with the block number, so getLogs filters and pages in the
    database with an index instead of reading JSON row by row (issue 17). The columns are
    filled from ``topics`` whenever it is set.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("block_number", "log_index", name="uq_events_position"),
        Index("ix_events_contract_name_position", "contract", "name", "block_number", "log_index"),
        Index("ix_events_address_position", "address", "block_number", "log_index"),
        Index("ix_events_topic0_position", "topic0", "block_number", "log_index"),
        Index("ix_events_topic1_block", "topic1", "block_number"),
        Index("ix_events_topic2_block", "topic2", "block_number"),
        Index("ix_events_topic3_block", "topic3", "block_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(ForeignKey("blocks.number", ondelete="CASCADE"), index=True)
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    contract: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(42))
    name: Mapped[str] = mapped_column(String(48))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    topics: Mapped[list[str]] = mapped_column(JSON)
    data: Mapped[str] = mapped_column(String)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    topic0: Mapped[str | None] = mapped_column(String(66))
    topic1: Mapped[str | None] = mapped_column(String(66))
    topic2: Mapped[str | None] = mapped_column(String(66))
    topic3: Mapped[str | None] = mapped_column(String(66))

    @validates("topics")
    def _spread_topics(self, _key: str, topics: list[str]) -> list[str]:
        for slot in range(TOPIC_SLOTS):
            setattr(self, f"topic{slot}", topics[slot].lower() if slot < len(topics) else None)
        return topics


class PointMovement(Base):
    """One ERC-20 ``Transfer`` of points, with the kind the surrounding events give it."""

    __tablename__ = "movements"
    __table_args__ = (
        UniqueConstraint("block_number", "log_index", name="uq_movements_position"),
        Index("ix_movements_from_position", "from_address", "block_number", "log_index"),
        Index("ix_movements_to_position", "to_address", "block_number", "log_index"),
        Index("ix_movements_block", "block_number", "log_index"),
        # the local hops per month (issue 21): a few kinds over time, read from the index alone
        Index("ix_movements_kind_time", "kind", "timestamp", "amount"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(ForeignKey("blocks.number", ondelete="CASCADE"))
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    from_address: Mapped[str] = mapped_column(String(42))
    to_address: Mapped[str] = mapped_column(String(42))
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    request_id: Mapped[str | None] = mapped_column(String(66), index=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)


class Checkpoint(Base):
    """How far the chain is indexed: the last block written, with its hash (to detect rewinds)."""

    __tablename__ = "checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    genesis_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    rolled_back: Mapped[int] = mapped_column(Integer, default=0)
