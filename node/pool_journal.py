"""The transaction pool's journal: acknowledged transactions survive a crash of the node.

The pool lives in memory. Without a journal, a transaction the node acknowledged
(``eth_sendRawTransaction`` returned its hash) but had not yet put in a block was lost when
the node died, and its sender's later transactions queued behind the nonce gap forever.
Every transaction admitted from a client is therefore appended to this file and fsync'd
*before* its JSON-RPC answer leaves the node; on start the node re-admits the journaled
transactions (checked again against the head, so ones already included or no longer valid
fall away); the file is rewritten with only the still-pending ones as blocks include them.

Costs are kept off the hot path by group commit: appends go to a buffer on the event loop,
and one writer thread writes and fsyncs whatever accumulated when a request waits for it, so
the transactions of a JSON-RPC batch (and of concurrent requests) share one fsync.

File format: records of ``length (4 bytes, big-endian) · crc32 (4 bytes) · raw transaction``.
A torn or corrupt tail (power cut mid-write) ends the journal; it is cut off on open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from node.errors import TransactionRejected

if TYPE_CHECKING:
    from node.ledger import CommittedBlock
    from node.txpool import TransactionPool

log = logging.getLogger("takasago.node")

JOURNAL_FILE = "txpool-journal.bin"
_HEADER = struct.Struct(">II")
MAX_RECORD_BYTES = 1024 * 1024  # far above the pool's 128 KiB transaction limit: a larger length is corruption
# Rewrite the file when it holds this many more records than the pool still has pending.
COMPACT_SLACK = 4_096
UNWAITED_FLUSH_SECONDS = 0.05


def encode_record(raw: bytes) -> bytes:
    return _HEADER.pack(len(raw), zlib.crc32(raw)) + raw


def read_records(path: Path) -> tuple[list[bytes], int]:
    """The journal's intact records and the byte length they span (a torn tail excluded)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    records: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        end = start + length
        if length > MAX_RECORD_BYTES or end > len(data):
            break
        raw = data[start:end]
        if zlib.crc32(raw) != crc:
            break
        records.append(raw)
        offset = end
    return records, offset


def _open_private(path: Path, flags: int, mode: str) -> IO[Any]:
    """Open for writing, created 0600: pending transactions are nobody else's business."""
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # also when an older file was created with wider rights
    return os.fdopen(fd, mode, buffering=0)


def _write_all(fd: int, data: bytes) -> None:
    """Unbuffered, so a failed write leaves nothing behind in a buffer to be written later."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PoolJournal:
    """Append-only, fsync'd record of the transactions this node acknowledged to clients.

    Loop-thread API: :meth:`append` (buffer a record), :meth:`durable` (wait
    until a record is on disk), :meth:`rewrite` (replace the contents by the still-pending
    transactions). Disk work runs on one writer thread, one job at a time, in order.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records, valid = read_records(path)
        self._file = _open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, "ab")
        if self._file.tell() != valid:  # cut a torn tail so new records follow intact ones
            self._file.truncate(valid)
            self._file.flush()
            os.fsync(self._file.fileno())
            log.warning("transaction journal: cut a torn tail after %d intact records", len(self.records))
        self.count = len(self.records)  # records in the file (live or not)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool-journal")
        self._buffer: list[bytes] = []
        self._appended = 0  # sequence number of the last record appended
        self._durable = 0  # sequence number of the last record on disk
        self._rewrite_with: list[bytes] | None = None
        self._flushing = False
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None

    # -- loop thread -------------------------------------------------------------------------------
    def append(self, raw: bytes) -> int:
        """Buffer ``raw`` for the journal; returns its sequence number.

        Writing starts when someone waits for it (:meth:`durable`): a batch's transactions are
        appended one by one and its last one waits, so the batch costs one write and one fsync.
        Starting a flush at every append would instead fsync each transaction of a batch on
        its own (admitting one takes longer than an fsync). A timer flushes records nobody
        waits for soon after anyway.
        """
        self._buffer.append(encode_record(raw))
        self._appended += 1
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(UNWAITED_FLUSH_SECONDS, self._timed_flush)
        return self._appended

    def _timed_flush(self) -> None:
        self._timer = None
        self._kick()

    async def durable(self, sequence: int) -> None:
        """Return once the record ``sequence`` (and every earlier one) is fsync'd."""
        if sequence <= self._durable:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((sequence, future))
        self._kick()
        await future

    def rewrite(self, live: list[bytes]) -> None:
        """Replace the journal's contents by ``live`` (the still-pending acknowledged transactions)."""
        self._rewrite_with = live
        self._kick()

    def _kick(self) -> None:
        if self._flushing or (not self._buffer and self._rewrite_with is None):
            return
        self._flushing = True
        records, self._buffer = self._buffer, []
        rewrite, self._rewrite_with = self._rewrite_with, None
        sequence = self._appended
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self._writer, self._write, records, rewrite)
        job.add_done_callback(lambda done: self._written(done, sequence, len(records), rewrite))

    def _written(self, done: asyncio.Future[None], sequence: int, appended: int, rewrite: list[bytes] | None) -> None:
        self._flushing = False
        error = None if done.cancelled() else done.exception()
        if error is not None:
            # The transactions stay in the pool and will most likely be mined; only a crash
            # before that would lose them, as it did before the journal existed.
            log.error("transaction journal: could not write %d record(s): %s", appended, error)
        else:
            self.count = (len(rewrite) if rewrite is not None else self.count) + appended
        self._durable = sequence
        still_waiting = []
        for wanted, future in self._waiters:
            if wanted <= sequence:
                if not future.done():
                    future.set_result(None)
            else:
                still_waiting.append((wanted, future))
        self._waiters = still_waiting
        self._kick()

    # -- writer thread -----------------------------------------------------------------------------
    def _write(self, records: list[bytes], rewrite: list[bytes] | None) -> None:
        if rewrite is not None:
            self._replace([encode_record(raw) for raw in rewrite])
        if records:
            end = self._file.tell()
            try:
                _write_all(self._file.fileno(), b"".join(records))
                os.fdatasync(self._file.fileno())
            except OSError:
                # A half-written record would hide every later one from the reader: cut it off.
                with contextlib.suppress(OSError):
                    self._file.truncate(end)
                raise

    def _replace(self, records: list[bytes]) -> None:
        """Atomically swap in a journal holding ``records`` (write, fsync, rename, fsync the directory).

        An empty journal is the common case (the pool drained): truncating is atomic enough,
        and costs one fsync instead of three.
        """
        if not records:
            self._file.truncate(0)
            self._file.flush()
            os.fsync(self._file.fileno())
            return
        temporary = self.path.with_suffix(".tmp")
        with _open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "wb") as out:
            _write_all(out.fileno(), b"".join(records))
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        _fsync_directory(self.path.parent)
        self._file.close()
        self._file = _open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, "ab")

    def replace_now(self, live: list[bytes]) -> None:
        """Synchronous rewrite, for start-up before the event loop serves anyone."""
        self._replace([encode_record(raw) for raw in live])
        self.count = len(live)
        self.records = []

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._writer.shutdown(wait=True)
        self._file.close()


class TransactionJournal:
    """Keeps the journal in step with the pool: replay at start, record admissions, compact after blocks."""

    def __init__(self, pool: TransactionPool, data_dir: Path) -> None:
        self.pool = pool
        self.journal = PoolJournal(data_dir / JOURNAL_FILE)
        self.live: dict[bytes, bytes] = {}  # hash → raw: journaled and, as far as we know, still pending
        self.restored = self._replay()

    def _replay(self) -> int:
        """Re-admit the journaled transactions against the current head; keep only those admitted.

        Re-admission runs every admission check again, so a transaction a block already
        included (nonce too low), one whose sender lost permission, or a duplicate record
        simply falls away. They are re-admitted as if from a peer: the QBFT engine, not yet
        started, shares the pool with each peer as its link comes up.
        """
        records = self.journal.records
        for raw in records:
            try:
                tx_hash = self.pool.add(raw, from_peer=True)
            except TransactionRejected:
                continue
            self.live[tx_hash] = raw
        if records or self.journal.count:
            self.journal.replace_now(list(self.live.values()))
            log.info("transaction journal: re-admitted %d of %d journaled transactions", len(self.live), len(records))
        return len(self.live)

    def admitted(self, tx_hash: bytes, raw: bytes) -> int:
        """Record a transaction just admitted from a client; returns the sequence to wait for."""
        self.live[tx_hash] = raw
        return self.journal.append(raw)

    async def durable(self, sequence: int) -> None:
        await self.journal.durable(sequence)

    def on_block(self, committed: CommittedBlock) -> None:
        """Forget what the block included or dropped; compact when the file is mostly dead records."""
        live = self.live
        if not live and not self.journal.count:
            return
        if committed.included:  # built here: the pool's own entries, hashes at hand
            for pending in committed.included:
                live.pop(pending.hash, None)
        else:
            for record in committed.transactions:
                live.pop(bytes.fromhex(record["hash"][2:]), None)
        for pending, _reason in committed.dropped:
            live.pop(pending.hash, None)
        if live and self.journal.count <= 2 * len(live) + COMPACT_SLACK:
            return
        # Also forget transactions the pool dropped outside a block (e.g. replaced by a peer's).
        self.live = {h: raw for h, raw in live.items() if self.pool.get(h) is not None}
        self.journal.rewrite(list(self.live.values()))
        self.journal.count = len(self.live)  # what the file will hold; corrected when the rewrite lands
