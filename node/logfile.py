"""The node's own log file, rotated by size (issue 15, finding 27).

Why: a node logging to an ever-growing file (``takasago up`` appended its standard error
to ``logs/node.log``) fills the disk over the years. With a log file configured (node.json
``log.file`` or ``takasago node run --log-file``) records go to that file only, rotated at
``log.maxBytes`` with ``log.backupCount`` old files kept; the files are private to the
node's user (0600), since they name addresses and peers.
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating handler whose files are created 0600 (the stdlib uses the umask)."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)


def use_rotating_log(path: Path, max_bytes: int, backup_count: int) -> RotatingFileHandler:
    """Sends every log record to ``path`` (rotated) instead of standard error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
    root = logging.getLogger()
    level = root.level
    handler.setFormatter(logging.Formatter(FORMAT))
    for existing in list(root.handlers):
        if isinstance(existing, logging.StreamHandler) and not isinstance(existing, logging.FileHandler):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level if level != logging.NOTSET else logging.INFO)
    return handler
