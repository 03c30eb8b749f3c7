"""The officers' audit log: one JSON line per privileged CLI action, appended and fsync'd.

Who (the officer's identity — ``--officer``, ``TAKASAGO_OFFICER`` or the OS login — and
the key address that signed), what (command and arguments, never keys or personal data),
and the outcome: the transaction hash and block, or why the attempt failed (refused by a
role or a rule on-chain, bad input, a key that would not unlock). Failed attempts are
recorded as well as successful writes: an auditor needs to see who tried what. Read next
to the chain itself; ``--audit-log`` chooses the file.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_AUDIT_LOG = Path(".takasago/audit.log")
MAX_OFFICER_NAME = 64


class OfficerNameError(ValueError):
    """The officer's name cannot go into the log (empty, too long, or with control characters)."""


def officer_identity(name: str | None) -> str:
    """Who is acting: ``name`` (``--officer`` / ``TAKASAGO_OFFICER``), else the OS login.

    A key may be shared by a desk or kept in a service; the name says which person used
    it. The OS login is the default because it is what the machine already authenticated.
    """
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):  # no login name (e.g. a container without /etc/passwd entry)
            name = f"uid:{os.getuid()}"
    name = name.strip()
    if not name or len(name) > MAX_OFFICER_NAME or not name.isprintable():
        raise OfficerNameError(
            f"--officer must be 1 to {MAX_OFFICER_NAME} printable characters (the officer's name or staff id)"
        )
    return name


class AuditLog:
    def __init__(self, path: Path, officer: str, key: str | None = None) -> None:
        self.path = path
        self.officer = officer
        self.key = key

    def record(self, command: str, details: dict[str, Any], outcome: dict[str, Any]) -> None:
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "officer": self.officer,
            "key": self.key,
            "command": command,
            **details,
            **outcome,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
