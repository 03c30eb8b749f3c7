"""Batched JSON-RPC with typed errors: the indexer (and any reader of many blocks) uses this.

Nodes refuse answers that are too big (ours: more than 10,000 logs, batches over 1,000
calls or 8 MiB; geth, Besu and anvil have their own caps and their own wording).
``batch_within_limits`` splits a refused batch in halves until each part is answered, so
a limit slows the indexer down but never stops it.

Every request carries the node's service token when one is configured
(``TAKASAGO_NODE_SERVICE_TOKEN_FILE``, see ``ledger_client.node_access``): the indexer's reads
then run in the node's trusted lane, which anonymous clients cannot fill (issue 15, finding 7).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import orjson
import urllib3

from ledger_client.node_access import service_headers

# Our node: -32005 "query returned more than 10000 results" / "batch too large";
# geth: "query returned more than 10000 results", "batch too large", "response too large";
# Besu: -32005 "Requested range exceeds maximum range limit"; anvil: "query exceeds max results";
# Infura/Alchemy style: "log response size exceeded", "query timeout exceeded".
LIMIT_CODES = {-32005, -32011, 413}
LIMIT_WORDS = re.compile(r"too many|too large|too big|more than|exceed|limit|max(imum)? (results|range|block)", re.I)


class NodeUnavailable(ConnectionError):
    """The node did not answer (down, restarting, unreachable)."""


class RpcError(RuntimeError):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message', error)}")
        self.code = error.get("code")
        self.reason = str(error.get("message", ""))
        self.data = error.get("data")  # a revert's ABI-encoded reason (hex), decoded by ledger_client.errors

    @property
    def is_limit(self) -> bool:
        """True when the node refused because the request or its answer was too big (splitting may help)."""
        return self.code in LIMIT_CODES or bool(LIMIT_WORDS.search(self.reason))


class Rpc:
    """JSON-RPC over HTTP on one keep-alive connection pool (thread-safe).

    urllib3 directly, with orjson: ``requests`` re-reads the proxy environment, merges
    cookies and hooks on every call, which was a sixth of a wallet worker's CPU per payment
    (three calls each) under the lunchtime rush of issue 17.
    """

    def __init__(
        self, url: str, timeout: float = 30, headers: dict[str, str] | None = None, *, pool_size: int = 64
    ) -> None:
        """``headers`` default to the service token's (none when not configured); never logged.

        ``pool_size``: connections kept alive for threads calling at once (more are opened
        when needed and closed after use).
        """
        self.url = url
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", **(service_headers() if headers is None else headers)}
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=False, retries=False)
        self._ids = itertools.count(1)

    def _post(self, body: Any) -> Any:
        try:
            response = self._pool.request(
                "POST", self.url, body=orjson.dumps(body), headers=self.headers, timeout=self.timeout
            )
        except urllib3.exceptions.HTTPError as exc:
            raise NodeUnavailable(f"node at {self.url} unreachable: {type(exc).__name__}") from None
        if response.status == 413:
            return {"error": {"code": 413, "message": "request too large (HTTP 413)"}}
        try:
            return orjson.loads(response.data)
        except orjson.JSONDecodeError:
            raise NodeUnavailable(f"node at {self.url} answered with something that is not JSON") from None

    def reply(self, method: str, *params: Any) -> Any:
        """The node's whole JSON-RPC answer (``result`` or ``error``), for callers that judge errors themselves."""
        return self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)})

    def call(self, method: str, *params: Any) -> Any:
        reply = self.reply(method, *params)
        if "error" in reply:
            raise RpcError(method, reply["error"])
        return reply.get("result")

    def batch_results(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in call order, an :class:`RpcError` in place of each call the node refused.

        For callers that count refusals (a load generator sending 100 transactions at once);
        a batch refused as a whole still raises.
        """
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

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Results in call order; any error raises (a batch is all or nothing for the indexer)."""
        results = self.batch_results(calls)
        for result in results:
            if isinstance(result, RpcError):
                raise result
        return results

    def batch_within_limits(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Like ``batch``, but a batch the node refuses as too big is split in halves (down to single calls)."""
        try:
            return self.batch(calls)
        except RpcError as exc:
            if len(calls) < 2 or not exc.is_limit:
                raise
        middle = len(calls) // 2
        return self.batch_within_limits(calls[:middle]) + self.batch_within_limits(calls[middle:])
