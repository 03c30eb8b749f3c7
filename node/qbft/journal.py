"""What this validator has said at the height in progress, on disk before anyone hears it.

QBFT's safety argument assumes a validator never takes a vote back. After a crash it must
still know that it already spoke in a round (so it never sends a second, different PROPOSAL,
PREPARE or COMMIT there) and which block it prepared, with the PREPARE quorum that proves
it (so its ROUND-CHANGE reports that block and a later round cannot decide another). The
journal keeps exactly that for one height and is rewritten before each message is sent:
temporary file, fsync, rename, fsync of the directory. A validator that restarts at the same
height picks up where it was; with the journal, a crash is a pause, not a fault.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import rlp

from node.qbft.instance import PreparedCertificate


@dataclass
class HeightRecord:
    height: int
    said: list[bytes] = field(default_factory=list)  # our own signed messages, encoded, in order
    prepared_round: int | None = None
    prepared_block: bytes = b""
    prepares: list[bytes] = field(default_factory=list)  # the PREPARE quorum, encoded

    def note_prepared(self, prepared: PreparedCertificate) -> None:
        """Keep the highest-round prepared certificate (a later one supersedes an earlier one)."""
        if self.prepared_round is None or self.prepared_round < prepared.round:
            self.prepared_round, self.prepared_block = prepared.round, prepared.block
            self.prepares = [p.encode() for p in prepared.prepares]

    def encode(self) -> bytes:
        prepared = [] if self.prepared_round is None else [self.prepared_round, self.prepared_block, self.prepares]
        return rlp.encode([self.height, self.said, prepared])


class VoteJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self, height: int) -> HeightRecord | None:
        """The record for ``height``, if the last one written is for it (anything unreadable counts as none)."""
        try:
            items = rlp.decode(self.path.read_bytes())
            number, said, prepared = items
            record = HeightRecord(int.from_bytes(number, "big"), list(said))
            if prepared:
                prepared_round, block, prepares = prepared
                record.prepared_round = int.from_bytes(prepared_round, "big")
                record.prepared_block, record.prepares = block, list(prepares)
        except (OSError, rlp.DecodingError, ValueError, TypeError):
            return None
        return record if record.height == height else None

    def write(self, record: HeightRecord) -> None:
        temporary = self.path.with_suffix(".tmp")
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(record.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
