"""Many transactions from one account: signed ahead, sent in one JSON-RPC batch, receipts polled in one.

``Sender`` (transactions.py) does one transaction at a time: estimate, sign, send, wait —
right for a command that writes once. A bulk job (40,000 attestations in 100 transactions)
spends most of that on round trips and on web3's formatting of big receipts, while the
node could already be executing the next transaction. This module signs several
transactions with consecutive nonces, sends them as one JSON-RPC batch of
``eth_sendRawTransaction``, and asks for all their receipts in one JSON-RPC batch per
poll. Receipts are returned as the node's JSON (hex strings), unformatted: callers that
read thousands of logs decode only what they need.

It goes through the Web3 provider's session (``w3.provider.make_batch_request``), so the
service-token header, the timeout and the transport errors (``requests.ConnectionError``)
are those of :func:`ledger_client.connection.connect`.
"""

from __future__ import annotations

import time
from typing import Any

from ledger_client.connection import is_busy
from ledger_client.errors import decode_revert
from ledger_client.fees import fee_fields
from ledger_client.transactions import RECEIPT_TIMEOUT_SECONDS, Sender, TransactionFailed

POLL_SECONDS = 0.1
"""Between receipt polls: a bulk job keeps the node busy with the transactions behind, so a
later look costs nothing, while each poll takes the node's time from executing them."""


class TransactionPipeline:
    """Signs and sends transactions for ``sender``'s account with nonces it counts itself."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender
        self.w3 = sender.w3
        self.fees = fee_fields(self.w3)
        self.next_nonce = int(self.w3.eth.get_transaction_count(sender.address, "pending"))

    def sign(self, to: str, data: bytes, gas: int) -> tuple[str, bytes]:
        """(hash, raw bytes) of the next transaction; the nonce is taken even if it is never sent."""
        tx: dict[str, Any] = {"from": self.sender.address, "to": to, "data": data, "gas": gas, "nonce": self.next_nonce,
              "chainId": self.sender.chain_id, **self.fees}  # fmt: skip
        signed = self.sender.account.sign_transaction(tx)
        self.next_nonce += 1
        return "0x" + bytes(signed.hash).hex(), bytes(signed.raw_transaction)

    def _batch(self, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        responses = self.w3.provider.make_batch_request(calls)  # type: ignore[attr-defined, arg-type]
        if not isinstance(responses, list):  # the whole batch refused
            error = responses.get("error", {}) if isinstance(responses, dict) else {}
            raise TransactionFailed(f"the node refused the batch: {error.get('message', responses)}")
        by_id = {r.get("id"): r for r in responses}
        ids = sorted(by_id, key=lambda i: (not isinstance(i, int), i))
        return [by_id[i] for i in ids]

    def send(self, raws: list[bytes]) -> list[TransactionFailed | None]:
        """Sends ``raws`` in one JSON-RPC batch; per transaction, None (accepted) or why it was refused."""
        if not raws:
            return []
        responses = self._batch([("eth_sendRawTransaction", ["0x" + raw.hex()]) for raw in raws])
        out: list[TransactionFailed | None] = []
        for raw, response in zip(raws, responses, strict=True):
            error = response.get("error")
            if is_busy(error):  # the node's lane was full: once more alone, with the provider's patience
                error = self.w3.provider.make_request("eth_sendRawTransaction", ["0x" + raw.hex()]).get("error")  # type: ignore[arg-type]
            if error is None:
                out.append(None)
                continue
            decoded = decode_revert(error.get("data") if isinstance(error, dict) else None)
            message = str(decoded) if decoded is not None else str(error.get("message", error))
            out.append(TransactionFailed(message, decoded))
        return out

    def receipts(self, hashes: list[str]) -> dict[str, dict[str, Any]]:
        """The receipts that exist now among ``hashes`` (one JSON-RPC batch), keyed by hash."""
        if not hashes:
            return {}
        responses = self._batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        found = {}
        for tx_hash, response in zip(hashes, responses, strict=True):
            result = response.get("result")
            if result:
                found[tx_hash] = result
        return found

    def wait_first(self, hashes: list[str]) -> dict[str, dict[str, Any]]:
        """Polls until the receipt of ``hashes[0]`` exists; returns every receipt seen by then."""
        deadline = time.monotonic() + RECEIPT_TIMEOUT_SECONDS
        while True:
            found = self.receipts(hashes)
            if hashes[0] in found:
                return found
            if time.monotonic() > deadline:
                raise TransactionFailed(
                    f"no receipt for {hashes[0]} after {RECEIPT_TIMEOUT_SECONDS} s", tx_hash=hashes[0]
                )
            time.sleep(POLL_SECONDS)
