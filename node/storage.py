"""Durable on-disk storage for py-evm: an LMDB-backed database with a write buffer.

Why LMDB (and not LevelDB via plyvel): an LMDB write transaction is atomic and, with
``sync=True``, durable when ``commit`` returns — one fsync'd copy-on-write B+tree
commit per block. Everything a block writes (trie nodes, header, body, canonical
head pointer, receipt and log indices) is buffered in memory while the block is
built and then committed in *one* LMDB transaction, so a crash either keeps the
whole block or none of it: the head can never point at missing data. LMDB readers
never block the writer and read through a memory map, which suits py-evm's many
small trie-node reads. LevelDB's ``WriteBatch(sync=True)`` would give the same
atomicity, but with compaction stalls and a single-process lock on reads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lmdb
from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB

# Sparse on 64-bit Linux: the file grows only as data is written.
DEFAULT_MAP_SIZE = 1 << 40

_DELETED = None


class BufferedWrites(BaseDB):
    """A py-evm ``BaseDB`` whose writes stay in a buffer (a deletion is ``None``) over durable data.

    Reads see the buffer first, then :meth:`get_durable`. The node's store (:class:`LMDBStore`)
    and the execution worker's view of one LMDB read transaction (``execution_worker.py``) are
    this same thing over different durable data.
    """

    def __init__(self) -> None:
        self._buffer: dict[bytes, bytes | None] = {}

    def get_durable(self, key: bytes) -> bytes | None:
        """Read only what has been committed (never the buffer)."""
        raise NotImplementedError

    def __getitem__(self, key: bytes) -> bytes:
        buffered = self._buffer.get(key, self)
        if buffered is not self:
            if buffered is _DELETED:
                raise KeyError(key)
            return buffered  # type: ignore[return-value]
        value = self.get_durable(key)
        if value is None:
            raise KeyError(key)
        return value

    def _exists(self, key: bytes) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._buffer[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._buffer[key] = _DELETED

    @property
    def buffered(self) -> dict[bytes, bytes | None]:
        """The writes not yet made durable (None deletes)."""
        return self._buffer


class LMDBStore(BufferedWrites):
    """A py-evm ``BaseDB`` over LMDB whose writes stay in memory until :meth:`flush`.

    Reads see buffered writes first, then the last durable commit. ``flush`` applies
    the buffer in one LMDB transaction; only after it returns is the data on disk.
    """

    def __init__(self, path: Path, map_size: int = DEFAULT_MAP_SIZE) -> None:
        super().__init__()
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._env = lmdb.open(
            str(path),
            map_size=map_size,
            subdir=True,
            sync=True,
            metasync=True,
            readahead=False,
            max_dbs=0,
            lock=True,
        )
        self._lock = threading.Lock()
        # Bumped by every discard: a block executed under an older generation lost its state.
        self.generation = 0

    def get_durable(self, key: bytes) -> bytes | None:
        """Read only what has been committed to disk (never the pending buffer)."""
        with self._env.begin(buffers=False) as txn:
            return txn.get(key)  # type: ignore[no-any-return]

    def buffer_writes(self, writes: dict[bytes, bytes | None]) -> None:
        """Buffer many writes at once (None deletes): a block executed by the execution worker."""
        self._buffer.update(writes)

    @property
    def pending_writes(self) -> int:
        return len(self._buffer)

    def flush(self) -> None:
        """Durably commit every buffered write in one atomic LMDB transaction."""
        with self._lock:
            if not self._buffer:
                return
            items = sorted(self._buffer.items())
            with self._env.begin(write=True) as txn:
                for key, value in items:
                    if value is None:
                        txn.delete(key)
                    else:
                        txn.put(key, value)
            self._buffer = {}

    def discard(self) -> None:
        """Drop buffered writes (a block that failed half-way)."""
        self._buffer = {}
        self.generation += 1

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    def close(self) -> None:
        self._env.close()


def open_database(data_dir: Path) -> tuple[AtomicDB, LMDBStore]:
    """Open the chain database under ``data_dir/chaindata``.

    Returns the ``AtomicDB`` py-evm works with and the store behind it (to flush).
    """
    store = LMDBStore(data_dir / "chaindata")
    return AtomicDB(store), store


@contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """Refuse to run two nodes on one data directory (a second writer would fork it)."""
    import fcntl

    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / "LOCK"
    fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(f"data directory {data_dir} is in use by another node process") from None
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
