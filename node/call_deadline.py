"""Wall-clock budget for read-only EVM execution (``eth_call``, ``eth_estimateGas``).

geth bounds these with ``RPCEVMTimeout``: a call that loops for minutes would otherwise
hold the interpreter (and the GIL) while every other request waits. The deadline is
per thread and set only by ``calls.py``; block execution never sets one, so consensus
results cannot depend on timing. The interpreter loop (``evm_speedups.LeanInterpreterMixin``)
reads it once per message and checks the clock every few thousand instructions.
"""

from __future__ import annotations

import threading

CHECK_EVERY_INSTRUCTIONS = 4096
"""Instructions run between two reads of the clock."""

_deadline = threading.local()


class ExecutionTimeout(Exception):
    """A read-only call ran past its wall-clock budget (see :func:`set_call_deadline`)."""


def set_call_deadline(deadline: float | None) -> None:
    """Abort EVM execution on this thread after ``deadline`` (``time.monotonic()``); None: no limit."""
    _deadline.value = deadline


def current_call_deadline() -> float | None:
    """The deadline set on this thread, if any."""
    return getattr(_deadline, "value", None)
