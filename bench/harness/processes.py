"""Children of a benchmark, each in its own process group, and what is measured about them.

A node starts helpers (the admission worker), so a child runs in a new session and is
stopped as a group: SIGTERM to the group, SIGKILL to whatever is left after the grace
period. Every child started here is also stopped at interpreter exit, and
``exit_on_signals`` turns SIGTERM/SIGHUP into ``SystemExit`` so ``finally`` blocks run:
a benchmark interrupted halfway leaves no node behind.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")

_LIVE: set[subprocess.Popen[bytes]] = set()


def spawn(
    argv: Sequence[str],
    log_path: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    append: bool = False,
) -> subprocess.Popen[bytes]:
    """Starts ``argv`` in its own session (pgid == pid), stdout and stderr to ``log_path``."""
    with open(log_path, "ab" if append else "wb") as handle:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _LIVE.add(proc)
    return proc


def track(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Registers a child started elsewhere (in its own session) for the clean-up at exit."""
    _LIVE.add(proc)
    return proc


def stop_groups(
    procs: Iterable[subprocess.Popen[bytes]],
    grace: float = 15.0,
    on_slow: Callable[[subprocess.Popen[bytes], str], None] | None = None,
) -> None:
    """SIGTERM every child's group at once; SIGKILL what is left of a group after ``grace`` seconds.

    ``on_slow(proc, what)`` is told about a child that needed SIGKILL or survived it.
    """
    running = [p for p in procs if p.poll() is None or group_members(p.pid)]
    for proc in running:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            if on_slow is not None:
                on_slow(proc, f"still running {grace:.0f}s after SIGTERM; SIGKILL")
        # the child, or a helper it left behind, still in the group: kill the group
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_members(proc.pid):
            _signal_group(proc, signal.SIGKILL)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            if on_slow is not None:
                on_slow(proc, f"pid {proc.pid} did not exit even after SIGKILL")
    for proc in procs:
        _LIVE.discard(proc)


def stop_group(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    stop_groups([proc], grace)


def interrupt_group(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """SIGINT (py-spy writes its output on SIGINT), then the usual stop."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    stop_group(proc, grace=5)


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)
    except ProcessLookupError:
        pass


def _stop_all() -> None:
    stop_groups(list(_LIVE), grace=5)


atexit.register(_stop_all)


def _exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks and the atexit clean-up


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP end the benchmark like Ctrl-C would: clean-up runs."""
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGHUP, _exit)


def log_tail(path: Path | None, n: int = 30) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


# --------------------------------------------------------------------------- measuring
def _processes() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the stat fields after the name) of every process now in /proc."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        # state, ppid, pgrp, ... (utime, stime at 11, 12)
        yield int(entry.name), stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :].split()


def _cpu_seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def group_members(pgid: int) -> dict[int, float]:
    """pid -> CPU seconds (user + system) of every process in process group ``pgid``."""
    return {pid: _cpu_seconds(fields) for pid, _name, fields in _processes() if int(fields[2]) == pgid}


def postgres_members() -> dict[int, float]:
    """pid -> CPU seconds of every PostgreSQL server process on this machine (postmaster and backends).

    So a benchmark on PostgreSQL can count the database server's CPU with the rest; each
    backend is a session of its own (``setsid``), so they are found by name, not by group.
    A backend that exits between two readings takes its CPU with it: benchmarks read while
    their connection pools are open.
    """
    return {pid: _cpu_seconds(fields) for pid, name, fields in _processes() if name == "postgres"}


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon and RssFile of ``pid`` in bytes (RssFile includes LMDB's memory map)."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def rss_bytes(pid: int) -> int | None:
    return proc_memory(pid).get("VmRSS")


def dir_bytes(path: Path) -> int:
    """Bytes allocated on disk (LMDB files are sparse: count blocks, not lengths)."""
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            total += p.stat().st_blocks * 512
    return total
