"""What a benchmark prints besides its figures: progress lines, tables, and the stamp of the run.

A figure in docs/benchmarks.md is only worth quoting with the code it measured (commit,
and whether the tree had uncommitted changes), when, and on what machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def log(msg: str) -> None:
    """A progress line on stderr (stdout carries only the report)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def git_commit() -> str:
    """Short commit hash, with `` (with uncommitted changes)`` when tracked files differ from it."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip() or "unknown"
    return commit + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def machine() -> str:
    """``"2 cores, CPython 3.12.3"``."""
    return f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> str:
    """A GitHub table; ``align`` per column: ``"---"`` (default) or ``"---:"`` for numbers."""
    marks = list(align) if align is not None else ["---"] * len(head)
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n:.0f} B"
