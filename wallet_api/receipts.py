"""Receipts for the transactions this process is waiting on, fetched together in one batched poll.

Issue 17: with 32 residents paying at once, each request used to poll the node for its own
receipt every 20 ms (a database read and an ``eth_getTransactionReceipt`` each time), so the
node answered hundreds of receipt calls a second for a few dozen payments. Here one thread
per process asks for every awaited receipt in a single JSON-RPC batch, and a request blocks
on its own event and is woken as soon as the batch that found its receipt returns.

When a batch is sent (issue 18): on each new head from the node's WebSocket subscription
(:class:`~ledger_client.heads.HeadListener`), since a receipt can only appear with a new
block. A timer of :data:`POLL_SECONDS` made every confirmation wait for the next tick: a
help request whose block took a little longer than a payment's waited one more period and
measured 1.8x a payment for ~1.2x the work. While the subscription is down the thread polls
every :data:`POLL_SECONDS` as before; while it is up it still polls every
:data:`SUBSCRIBED_POLL_SECONDS`, so a lost notification only delays. A waiter that arrives
after its block's head was seen is served by an immediate batch (the head count moved
since the last batch), so no confirmation waits on the slow timer in a race.

Receipts are returned raw (hex strings as the node sent them) with ``status`` and
``blockNumber`` as ints, which is all the pipeline reads, plus the raw ``logs``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ledger_client.heads import HeadListener
from ledger_client.rpc import Rpc, RpcError

log = logging.getLogger("wallet_api.receipts")

POLL_SECONDS = 0.01  # without the head subscription: one batch per 10 ms while anyone waits
SUBSCRIBED_POLL_SECONDS = 0.1  # with it: a safety net only (blocks are announced as they are sealed)
HEARD_SECONDS = 0.5  # a node that sent a head or answered a batch this recently, subscription up, is up


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """A node's receipt with ``status`` and ``blockNumber`` as ints (the rest left as sent)."""
    return {**raw, "status": int(raw["status"], 16), "blockNumber": int(raw["blockNumber"], 16)}


def ws_url_of(rpc_url: str) -> str | None:
    """The node's WebSocket endpoint (same host and port as its HTTP JSON-RPC), None for other schemes."""
    return "ws" + rpc_url.removeprefix("http") if rpc_url.startswith(("http://", "https://")) else None


class ReceiptWatcher:
    """Waits for receipts by transaction hash; one batched poll, sent on each new head, serves every waiter."""

    def __init__(self, rpc: Rpc, ws_url: str | None = None) -> None:
        self.rpc = rpc
        self.ws_url = ws_url
        self._lock = threading.Condition()
        self._waiting: dict[str, list[_Waiter]] = {}
        self._thread: threading.Thread | None = None
        self._heads: HeadListener | None = None
        self._head_count = 0  # heads announced so far
        self._polled_at_head = -1  # the head count when the last batch was sent
        self._heard_at = float("-inf")  # monotonic time of the node's last head or answered batch

    def node_heard(self) -> bool:
        """True while the head subscription is up and the node spoke within :data:`HEARD_SECONDS`.

        Lets a payment skip its own "is the node up?" call under load (issue 17: one more
        round trip per payment, on the API's and the node's CPU), when blocks are arriving
        anyway. A killed node closes the subscription's socket at once; a quiet one is asked.
        """
        heads = self._heads
        return heads is not None and heads.subscribed and time.monotonic() - self._heard_at < HEARD_SECONDS

    def wait(self, tx_hash: str, timeout: float) -> dict[str, Any] | None:
        """The receipt of ``tx_hash`` (normalised), or None if it has none within ``timeout`` seconds."""
        waiter = _Waiter()
        key = tx_hash.lower()
        with self._lock:
            self._waiting.setdefault(key, []).append(waiter)
            if self._thread is None or not self._thread.is_alive():
                self._start()
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

    def _start(self) -> None:
        """Starts the polling thread (and the head subscription, once), on the first wait of the process."""
        if self._heads is None and self.ws_url is not None:
            self._heads = HeadListener(self.ws_url, on_head=self._on_head, name="wallet-heads")
            self._heads.start()
        self._thread = threading.Thread(target=self._poll, name="wallet-receipts", daemon=True)
        self._thread.start()

    def _on_head(self) -> None:
        with self._lock:
            self._head_count += 1
            self._heard_at = time.monotonic()
            self._lock.notify()

    def _due(self, last_batch: float) -> float:
        """Seconds until the next batch is due (0: now); only called with the lock held and someone waiting."""
        if self._head_count != self._polled_at_head:
            return 0.0
        subscribed = self._heads is not None and self._heads.subscribed
        period = SUBSCRIBED_POLL_SECONDS if subscribed else POLL_SECONDS
        return max(0.0, last_batch + period - time.monotonic())

    def _poll(self) -> None:
        last_batch = 0.0
        while True:
            with self._lock:
                while True:
                    if not self._waiting:
                        self._lock.wait()
                    elif (delay := self._due(last_batch)) > 0:
                        self._lock.wait(delay)
                    else:
                        break
                hashes = list(self._waiting)
                self._polled_at_head = self._head_count
            last_batch = time.monotonic()
            try:
                results = self.rpc.batch_results([("eth_getTransactionReceipt", [h]) for h in hashes])
                self._heard_at = time.monotonic()
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


class _Waiter:
    __slots__ = ("event", "receipt")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.receipt: dict[str, Any] | None = None
