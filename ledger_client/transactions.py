"""Sign, send and confirm transactions for one account, with precise errors.

Shared by the deployment, the CLI and the services: every transaction is
estimated first (so a revert is reported before anything is sent, decoded by
:mod:`ledger_client.errors`), signed locally (keys never leave the process), sent as
raw bytes over standard JSON-RPC, and confirmed by its receipt.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxReceipt

from ledger_client.errors import ContractError, decode_revert
from ledger_client.fees import fee_fields, with_headroom

RECEIPT_TIMEOUT_SECONDS = 120


class TransactionFailed(Exception):
    """A transaction was refused or reverted; ``error`` is the decoded contract error, if any."""

    def __init__(self, message: str, error: ContractError | None = None, tx_hash: str | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.tx_hash = tx_hash


def _revert_data(exc: Exception) -> bytes | str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if data is None and isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, dict):
        error: Any = exc.rpc_response.get("error") or {}
        data = error.get("data") if isinstance(error, dict) else None
    return data if isinstance(data, bytes | str) else None


def explain(exc: Exception) -> TransactionFailed:
    """A TransactionFailed for a web3 exception, with the contract error decoded when present."""
    error = decode_revert(_revert_data(exc))
    if error is not None:
        return TransactionFailed(str(error), error)
    message = getattr(exc, "message", None) or str(exc)
    return TransactionFailed(str(message))


class Sender:
    """Sends transactions from ``account``; nonces are taken from the node's pending count."""

    def __init__(self, w3: Web3, account: LocalAccount) -> None:
        self.w3 = w3
        self.account = account
        self.address = account.address
        self._chain_id: int | None = None

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self.w3.eth.chain_id
        return self._chain_id

    def estimate(self, to: str | None, data: bytes) -> int:
        """Gas for the transaction; raises TransactionFailed with the decoded revert."""
        request: dict[str, Any] = {"from": self.address, "data": data}
        if to is not None:
            request["to"] = to
        try:
            return int(self.w3.eth.estimate_gas(request))  # type: ignore[arg-type]
        except (ContractLogicError, Web3RPCError) as exc:
            raise explain(exc) from None

    def submit(self, to: str | None, data: bytes, gas: int | None = None, nonce: int | None = None) -> str:
        """Signs and sends without waiting; returns the transaction hash."""
        if gas is None:
            gas = with_headroom(self.estimate(to, data))
        tx: dict[str, Any] = {
            "from": self.address,
            "data": data,
            "gas": gas,
            "nonce": self.w3.eth.get_transaction_count(self.address, "pending") if nonce is None else nonce,
            "chainId": self.chain_id,
            **fee_fields(self.w3),
        }
        if to is not None:
            tx["to"] = to
        signed = self.account.sign_transaction(tx)
        try:
            return "0x" + bytes(self.w3.eth.send_raw_transaction(signed.raw_transaction)).hex()
        except Web3RPCError as exc:
            raise explain(exc) from None

    def wait(self, tx_hash: str) -> TxReceipt:
        """The receipt of ``tx_hash``; raises TransactionFailed if it reverted or never came."""
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                tx_hash,  # type: ignore[arg-type]
                timeout=RECEIPT_TIMEOUT_SECONDS,
                poll_latency=0.02,
            )
        except TimeExhausted:
            message = f"no receipt for {tx_hash} after {RECEIPT_TIMEOUT_SECONDS} s"
            raise TransactionFailed(message, tx_hash=tx_hash) from None
        if receipt["status"] != 1:
            raise TransactionFailed(
                f"transaction {tx_hash} reverted in block {receipt['blockNumber']}", tx_hash=tx_hash
            )
        return receipt

    def send(self, to: str | None, data: bytes, gas: int | None = None) -> TxReceipt:
        """Estimates, signs, sends and waits; returns the successful receipt."""
        return self.wait(self.submit(to, data, gas))

    def call_function(self, fn: Any, gas: int | None = None) -> TxReceipt:
        """Sends a web3 contract function call (``contract.functions.f(...)``)."""
        return self.send(fn.address, bytes.fromhex(fn._encode_transaction_data()[2:]), gas)
