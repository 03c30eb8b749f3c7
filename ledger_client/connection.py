"""One way to connect to the node: a Web3 over HTTP that knows this chain's habits.

Every caller (the CLI, the wallet, the oracle, the benchmarks) used to build its own
``Web3(HTTPProvider(...))``; they differed in timeouts, in whether they sent the node's
service token and in whether they waited out "server busy". :func:`connect` is the one
place that decides:

* the service token header when ``TAKASAGO_NODE_SERVICE_TOKEN_FILE`` (or ``token_file``)
  names one (:mod:`ledger_client.node_access`), so trusted services get the node's lane;
* "server busy" (-32005) refusals are retried with backoff for a few seconds
  (:class:`PatientProvider`), because the node refuses execution requests at once when
  its lane is full and expects clients to come back;
* blocks carry the QBFT/PoA seal in ``extraData`` (longer than 32 bytes), so web3's
  PoA middleware is installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import RPCEndpoint, RPCResponse

from ledger_client.node_access import NodeAccessError, web3_request_kwargs

BUSY_CODE = -32005  # the node's "server busy" (also its "limit exceeded"; only busy answers are retried)
BUSY_RETRY_SECONDS = 3.0  # how long a "server busy" refusal is waited out before the caller is told
DEFAULT_TIMEOUT_SECONDS = 60.0


def is_busy(error: object) -> bool:
    """True for the node's "server busy" refusal, which is worth retrying (-32005 also answers
    a query that is too big: that one is not)."""
    return isinstance(error, dict) and error.get("code") == BUSY_CODE and "busy" in str(error.get("message"))


class NodeUnreachable(ConnectionError):
    """The node cannot be reached, or its token file cannot be read; the message says which."""


class NodeBusy(TimeoutError):
    """The node kept answering "server busy" (-32005) past :data:`BUSY_RETRY_SECONDS`.

    A ``TimeoutError``, so every caller treats it like an unreachable node: a request is
    answered 503 ``NODE_UNAVAILABLE`` and an outbox worker retries later, never a 500.
    """


class PatientProvider(HTTPProvider):
    """JSON-RPC over HTTP that waits out the node's fast "server busy" refusals.

    The node refuses execution requests (``eth_call``, ``eth_estimateGas``) at once when
    its lane is full (issue 15, finding 7), expecting clients to retry; a burst of
    payments must not turn that into refusals or 500s.
    """

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return patiently(lambda: super(PatientProvider, self).make_request(method, params))  # type: ignore[return-value]


def patiently(request: Callable[[], Any]) -> Any:
    """``request()``'s JSON-RPC answer, asked again with backoff while the node answers "server busy".

    Raises :class:`NodeBusy` once :data:`BUSY_RETRY_SECONDS` have passed. Shared by the
    web3 provider above and by callers that speak JSON-RPC through ``ledger_client.rpc``.
    """
    deadline = time.monotonic() + BUSY_RETRY_SECONDS
    delay = 0.05
    while True:
        response = request()
        error = response.get("error") if isinstance(response, dict) else None
        if not is_busy(error):
            return response
        assert isinstance(error, dict)
        if time.monotonic() + delay > deadline:
            raise NodeBusy(str(error.get("message", "server busy"))[:200])
        time.sleep(delay)
        delay = min(delay * 2, 0.4)


def connect(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    token_file: Path | None = None,
    check: bool = False,
) -> Web3:
    """A Web3 for the node at ``url``.

    ``token_file``, else ``TAKASAGO_NODE_SERVICE_TOKEN_FILE``, names the service token; a
    bad token file is a :class:`NodeUnreachable` naming the file. With ``check`` the node is
    asked its chain id once, so an unreachable node is reported here rather than at the
    first real call.
    """
    try:
        request_kwargs = web3_request_kwargs(timeout, token_file)
    except NodeAccessError as exc:
        raise NodeUnreachable(str(exc)) from None
    w3 = Web3(PatientProvider(url, request_kwargs=request_kwargs))
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    if check:
        try:
            w3.eth.chain_id  # noqa: B018 - a cheap call that proves the node answers
        except Exception as exc:  # noqa: BLE001 - any transport failure means "cannot reach"
            raise NodeUnreachable(f"cannot reach the node at {url}: {exc}") from None
    return w3
