"""Free TCP ports on 127.0.0.1 for the processes a benchmark starts.

Asking the kernel (bind to port 0) instead of picking numbers lets benchmarks and tests
run beside each other and beside a developer's own node on 8545.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_run(count: int, attempts: int = 200) -> int:
    """The first of ``count`` consecutive free ports (a QBFT network wants RPC and P2P ports side by side)."""
    for _ in range(attempts):
        base = free_port()
        if base + count > 65_000:
            continue
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError("no run of free ports")
