"""A small JSON-RPC client with batches: the indexer reads the node only through this."""

from __future__ import annotations

import itertools
from typing import Any

import requests


class NodeUnavailable(ConnectionError):
    """The node did not answer (down, restarting, unreachable)."""


class RpcError(RuntimeError):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message', error)}")
        self.code = error.get("code")


class Rpc:
    def __init__(self, url: str, timeout: float = 30) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self._ids = itertools.count(1)

    def _post(self, body: Any) -> Any:
        try:
            response = self.session.post(self.url, json=body, timeout=self.timeout)
            return response.json()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise NodeUnavailable(f"node at {self.url} unreachable: {type(exc).__name__}") from None
        except ValueError:
            raise NodeUnavailable(f"node at {self.url} answered with something that is not JSON") from None

    def call(self, method: str, *params: Any) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in call order; any error raises (a batch is all or nothing for the indexer)."""
        if not calls:
            return []
        first = next(self._ids)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self._ids)
        replies = self._post(body)
        if not isinstance(replies, list):
            raise RpcError("batch", replies.get("error", {"message": "not a batch answer"}))
        by_id = {r.get("id"): r for r in replies}
        results = []
        for i, (method, _) in enumerate(calls):
            reply = by_id.get(first + i)
            if reply is None:
                raise RpcError(method, {"message": "missing from the batch answer"})
            if "error" in reply:
                raise RpcError(method, reply["error"])
            results.append(reply.get("result"))
        return results
