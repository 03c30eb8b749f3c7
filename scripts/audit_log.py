"""The officers' audit log: one JSON line per write to the ledger, appended and fsync'd.

Who (the officer's address), what (command and arguments, never keys or personal
data), and the outcome (transaction hash, block, or the refusal). Read by auditors
next to the chain itself; ``--audit-log`` chooses the file.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_AUDIT_LOG = Path(".takasago/audit.log")


class AuditLog:
    def __init__(self, path: Path, officer: str) -> None:
        self.path = path
        self.officer = officer

    def record(self, command: str, details: dict[str, Any], outcome: dict[str, Any]) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "officer": self.officer,
            "command": command,
            **details,
            **outcome,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
