"""JSON-RPC for load generators: ``ledger_client``'s ``Rpc`` with what a benchmark adds.

Two additions, both for sending load: a keep-alive session per thread (submitter threads
share one ``BenchRpc``), and ``send_batch``, whose failed entries come back as values so a
rejected transaction in a batch of 100 is counted, not raised. Benchmarks send no service
token: they measure what an ordinary client sees.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from ledger_client.rpc import NodeUnavailable, Rpc, RpcError

__all__ = ["BenchRpc", "NodeUnavailable", "RpcError", "hex_int"]


def hex_int(value: str) -> int:
    return int(value, 16)


class BenchRpc(Rpc):
    def __init__(self, url: str, timeout: float = 120.0) -> None:
        super().__init__(url, timeout, headers={})
        self._local = threading.local()

    def _thread_session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _post(self, body: Any) -> Any:
        try:
            response = self._thread_session().post(self.url, json=body, timeout=self.timeout)
            if response.status_code == 413:
                return {"error": {"code": 413, "message": "request too large (HTTP 413)"}}
            return response.json()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise NodeUnavailable(f"node at {self.url} unreachable: {type(exc).__name__}") from None
        except ValueError:
            raise NodeUnavailable(f"node at {self.url} answered with something that is not JSON") from None

    def send_batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in call order, an ``RpcError`` in place of each entry the node refused."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls, strict=True)]
        replies = self._post(body)
        if not isinstance(replies, list):
            raise RpcError("batch", replies.get("error", {"message": "not a batch answer"}))
        by_id = {r.get("id"): r for r in replies}
        out: list[Any] = []
        for i, (method, _) in zip(ids, calls, strict=True):
            reply = by_id.get(i)
            if reply is None:
                out.append(RpcError(method, {"message": "missing from the batch answer"}))
            elif "error" in reply:
                out.append(RpcError(method, reply["error"]))
            else:
                out.append(reply.get("result"))
        return out
