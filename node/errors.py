"""Errors the node reports to clients, with JSON-RPC codes (geth / EIP-1474)."""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # geth: nonce too low, gas limit, insufficient funds, ...
RESOURCE_NOT_FOUND = -32001
LIMIT_EXCEEDED = -32005
TRANSACTION_REJECTED = -32003  # EIP-1474: not permitted by the allowlist
EXECUTION_REVERTED = 3  # geth: data carries the ABI-encoded revert reason
UNAUTHORIZED = -32001


class RPCError(Exception):
    """An error returned to the client as a JSON-RPC error object."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class InvalidParams(RPCError):
    def __init__(self, message: str) -> None:
        super().__init__(INVALID_PARAMS, message)


class TransactionRejected(RPCError):
    """A transaction refused at admission; ``message`` says why."""

    def __init__(self, message: str, code: int = SERVER_ERROR) -> None:
        super().__init__(code, message)
