"""JSON-RPC for load generators: ``ledger_client``'s ``Rpc`` with what a benchmark adds.

One addition, for sending load: ``send_batch``, whose failed entries come back as values so a
rejected transaction in a batch of 100 is counted, not raised. Benchmarks send no service
token: they measure what an ordinary client sees.
"""

from __future__ import annotations

from typing import Any

from ledger_client.rpc import NodeUnavailable, Rpc, RpcError

__all__ = ["BenchRpc", "NodeUnavailable", "RpcError", "hex_int"]


def hex_int(value: str) -> int:
    return int(value, 16)


class BenchRpc(Rpc):
    def __init__(self, url: str, timeout: float = 120.0) -> None:
        super().__init__(url, timeout, headers={})

    def send_batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in call order, an ``RpcError`` in place of each entry the node refused."""
        return self.batch_results(calls)
