"""The gas limit to sign per contract function, learned from the node's estimates.

Issue 17: the precheck of every payment was an ``eth_estimateGas``, which the node answers
by executing the call four or five times (a run at the cap, then a search down to within
1.5%): 35-46 ms of the node's CPU against 8-9 ms for one ``eth_call``, measured on the
loaded benchmark machine, and the node's CPU is what 32 residents paying at once run out
of first. So the first call of each (contract, function) in a process, and every
:data:`REESTIMATE_EVERY`-th after it (by one caller of a burst: an estimate costs four or five
calls), is estimated; the others are checked with one
``eth_call`` (a revert is refused with the same decoded reason) and signed with
:data:`CEILING_FACTOR` times the largest estimate seen for that function.

Why a ceiling is safe here: a transaction pays for the gas it uses, not for its limit
(EIP-1559), and this network's fees are zero anyway; the functions the wallet calls have
bounded loops (a payment walks at most the expiry months ahead), so their cost varies
with state by far less than 2x (a first payment to a merchant writes a fresh slot: about
+20k on ~112k). The only price is block space reserved: ~224k of a 100M block per payment.
"""

from __future__ import annotations

import threading

from ledger_client.fees import with_headroom

CEILING_FACTOR = 2
REESTIMATE_EVERY = 100  # calls of one function between two real estimates (follows the state as it grows)


class GasBook:
    """Per (target, selector): the gas limit to sign and how many calls have used it since its estimate."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[tuple[str, bytes], int] = {}
        self._uses: dict[tuple[str, bytes], int] = {}

    def limit(self, target: str, calldata: bytes) -> int | None:
        """The gas to sign for this call without estimating it, or None when it is time to estimate."""
        key = (target.lower(), bytes(calldata[:4]))
        with self._lock:
            known = self._limits.get(key)
            uses = self._uses.get(key, 0)
            if known is None:
                return None
            if uses >= REESTIMATE_EVERY:
                # this caller estimates; the callers arriving meanwhile keep the known limit (32 residents
                # paying at once would otherwise all estimate together, each one costing the node 4-5 runs)
                self._uses[key] = 0
                return None
            self._uses[key] = uses + 1
            return known

    def learn(self, target: str, calldata: bytes, estimate: int) -> int:
        """Records a fresh estimate; returns the gas to sign for the call it was made for (the usual headroom)."""
        key = (target.lower(), bytes(calldata[:4]))
        with self._lock:
            self._limits[key] = max(self._limits.get(key, 0), int(estimate) * CEILING_FACTOR)
            self._uses[key] = 0
        return with_headroom(estimate)
