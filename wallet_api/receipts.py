"""Receipts for the transactions this process is waiting on, fetched together in one batched poll.

Issue 17: with 32 residents paying at once, each request used to poll the node for its own
receipt every 20 ms (a database read and an ``eth_getTransactionReceipt`` each time), so the
node answered hundreds of receipt calls a second for a few dozen payments. Here one thread
per process asks for every awaited receipt in a single JSON-RPC batch each
:data:`POLL_SECONDS` (and sleeps when nobody waits); a request blocks on its own event and
is woken as soon as the batch that found its receipt returns.

Receipts are returned raw (hex strings as the node sent them) with ``status`` and
``blockNumber`` as ints, which is all the pipeline reads, plus the raw ``logs``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ledger_client.rpc import Rpc, RpcError

log = logging.getLogger("wallet_api.receipts")

POLL_SECONDS = 0.01  # one batch per 10 ms while anyone waits: the node seals instantly in dev, ~1 s in production


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """A node's receipt with ``status`` and ``blockNumber`` as ints (the rest left as sent)."""
    return {**raw, "status": int(raw["status"], 16), "blockNumber": int(raw["blockNumber"], 16)}


class ReceiptWatcher:
    """Waits for receipts by transaction hash; one batched poll serves every waiting request."""

    def __init__(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self._lock = threading.Condition()
        self._waiting: dict[str, list[_Waiter]] = {}
        self._thread: threading.Thread | None = None

    def wait(self, tx_hash: str, timeout: float) -> dict[str, Any] | None:
        """The receipt of ``tx_hash`` (normalised), or None if it has none within ``timeout`` seconds."""
        waiter = _Waiter()
        key = tx_hash.lower()
        with self._lock:
            self._waiting.setdefault(key, []).append(waiter)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._poll, name="wallet-receipts", daemon=True)
                self._thread.start()
            self._lock.notify()
        try:
            waiter.event.wait(timeout)
        finally:
            with self._lock:
                waiters = self._waiting.get(key)
                if waiters is not None and waiter in waiters:
                    waiters.remove(waiter)
                    if not waiters:
                        del self._waiting[key]
        return waiter.receipt

    def _poll(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._lock.wait()
                hashes = list(self._waiting)
            started = time.monotonic()
            try:
                results = self.rpc.batch_results([("eth_getTransactionReceipt", [h]) for h in hashes])
            except (ConnectionError, OSError, TimeoutError, RpcError) as exc:
                log.warning("receipt poll failed: %s", str(exc)[:200])
                results = []
            found = {h: r for h, r in zip(hashes, results, strict=False) if isinstance(r, dict)}
            if found:
                with self._lock:
                    for tx_hash, receipt in found.items():
                        for waiter in self._waiting.pop(tx_hash, []):
                            waiter.receipt = normalise(receipt)
                            waiter.event.set()
            time.sleep(max(0.0, POLL_SECONDS - (time.monotonic() - started)))


class _Waiter:
    __slots__ = ("event", "receipt")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.receipt: dict[str, Any] | None = None
