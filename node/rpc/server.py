"""HTTP and WebSocket transport for JSON-RPC (one port, as geth can serve both).

Hardening: bodies over ``MAX_BODY_BYTES`` are refused, batches over ``MAX_BATCH``
too, malformed JSON and absurd nesting get -32700, malformed request objects
-32600, and an unexpected failure inside a method is logged and reported as
-32603 without internals. With ``auth_token`` set every request needs
``Authorization: Bearer <token>``.

Issue 15 hardening: WebSocket clients are written to through bounded per-connection
queues (``outbox.py``), so no client I/O sits on the block path; code execution and
heavy reads run off the event loop in lanes with fast refusal, batches have a work
budget, and WebSockets and filters are capped per client (``limits.py``); browsers'
cross-origin and DNS-rebinding requests are refused (``origin.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import secrets
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from node.errors import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, InvalidParams, RPCError
from node.records import block_json, hex_bytes
from node.rpc import params as p
from node.rpc.api import EthAPI
from node.rpc.eth.transactions import PRECHECKED, precheck_batch
from node.rpc.filters import parse_criteria
from node.rpc.limits import (
    CALLER,
    HEAVY_METHODS,
    SERVICE_TOKEN_HEADER,
    BatchBudget,
    Caller,
    ClientCounter,
    RPCLimits,
    WorkLanes,
)
from node.rpc.origin import RequestGuard
from node.rpc.outbox import Outbox

log = logging.getLogger("takasago.rpc")

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BATCH = 1_000
MAX_NESTING = 64
WARN_INTERVAL_SECONDS = 60.0


def _dumps(value: Any) -> bytes:
    """Serialise a response; stored records arrive as ``orjson.Fragment`` (already JSON)."""
    return orjson.dumps(value)


def _error(request_id: Any, error: RPCError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _too_deep(value: Any, limit: int) -> bool:
    """True if arrays/objects nest more than ``limit`` levels (orjson already stops
    at 1024; this keeps absurd structures out of the method handlers)."""
    if isinstance(value, list):
        if limit <= 0:
            return True
        return any(isinstance(item, list | dict) and _too_deep(item, limit - 1) for item in value)
    if isinstance(value, dict):
        if limit <= 0:
            return True
        return any(isinstance(item, list | dict) and _too_deep(item, limit - 1) for item in value.values())
    return False


class RPCServer:
    def __init__(
        self,
        api: EthAPI,
        auth_token: str | None = None,
        limits: RPCLimits | None = None,
        bind_host: str = "127.0.0.1",
    ) -> None:
        self.api = api
        self.auth_token = auth_token
        self.limits = limits or RPCLimits()
        self.guard = RequestGuard(bind_host, self.limits.allowed_origins, self.limits.allowed_hosts)
        readers = api.service.readers
        self.lanes = readers if isinstance(readers, WorkLanes) else WorkLanes(self.limits)
        self.websockets = ClientCounter(
            "WebSocket connections", self.limits.max_websockets, self.limits.max_websockets_per_client
        )
        api.filters.configure(self.limits.max_filters, self.limits.max_filters_per_client)
        self._sockets: set[_Connection] = set()
        self.disconnected_slow = 0
        self._warned: dict[str, float] = {}
        api.service.add_listener(self._on_block)

    async def close_websockets(self) -> None:
        """Says goodbye (1001 going away) to every WebSocket client, so shutting down never waits on them."""
        for connection in list(self._sockets):
            await connection.outbox.stop()
            if not connection.ws.closed:
                try:
                    await asyncio.wait_for(
                        connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"node shutting down"), 2
                    )
                except (TimeoutError, ConnectionError, RuntimeError):
                    connection.abort()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_post("/", self.handle_http)
        app.router.add_get("/", self.handle_get)
        app.router.add_get("/health", self.handle_health)
        return app

    def _authorised(self, request: web.Request) -> bool:
        if not self.auth_token:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), self.auth_token)

    def _warn(self, message: str) -> None:
        """Logs a refusal, at most once a minute for the same text (refusals must not flood the log)."""
        now = time.monotonic()
        if now - self._warned.get(message, -WARN_INTERVAL_SECONDS) < WARN_INTERVAL_SECONDS:
            return
        if len(self._warned) > 1_000:
            self._warned.clear()
        self._warned[message] = now
        log.warning("%s", message)

    def _caller(self, request: web.Request) -> Caller:
        """The client a request is counted under: the trusted services, or its remote address."""
        if self.limits.is_service(request.headers.get(SERVICE_TOKEN_HEADER)):
            return Caller("service", True)
        return Caller(f"addr:{request.remote or '?'}", False)

    def _refused(self, request: web.Request, post: bool) -> web.Response | None:
        """A browser-borne request the node must not serve (finding 19), or None."""
        problem = self.guard.host_problem(request)
        status = 403
        if problem is None:
            problem = self.guard.origin_problem(request)
        if problem is None and post:
            problem = self.guard.content_type_problem(request)
            status = 415
        if problem is None:
            return None
        self._warn(f"refused {request.method} request from {request.remote}: {problem}")
        return web.json_response(_error(None, RPCError(INVALID_REQUEST, problem)), status=status)

    async def handle_health(self, request: web.Request) -> web.Response:
        problem = self.guard.host_problem(request)
        if problem is not None:
            return web.json_response(_error(None, RPCError(INVALID_REQUEST, problem)), status=403)
        head = self.api.ledger.head
        return web.json_response(
            {
                "status": "ok",
                "head": head.block_number,
                "websockets": len(self._sockets),
                "websocketsDropped": self.disconnected_slow,  # clients closed for not reading
            }
        )

    async def handle_get(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.json_response(
                _error(None, RPCError(INVALID_REQUEST, "send JSON-RPC requests with POST, or open a WebSocket")),
                status=405,
            )
        refused = self._refused(request, post=False)
        if refused is not None:
            return refused
        if not self._authorised(request):
            return web.json_response(
                _error(None, RPCError(-32001, "unauthorized: missing or wrong bearer token")), status=401
            )
        caller = self._caller(request)
        try:
            slot = self.websockets.acquire(caller)
        except RPCError as error:
            self._warn(f"refused a WebSocket from {request.remote}: {error.message}")
            return web.json_response(_error(None, error), status=503)
        try:
            CALLER.set(caller)
            transport = request.transport
            ws = web.WebSocketResponse(max_msg_size=MAX_BODY_BYTES, heartbeat=30)
            await ws.prepare(request)
            connection = _Connection(self, ws, transport, request.remote or "?")
            self._sockets.add(connection)
            try:
                async for message in ws:
                    if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                        response = await self.process_text(message.data, connection)
                        if response is not None:
                            await connection.outbox.answer(response.decode())
                    elif message.type == WSMsgType.ERROR:
                        break
                    if connection.outbox.closed and connection.outbox.close_reason is not None:
                        break
            finally:
                self._sockets.discard(connection)
                if connection.outbox.close_reason is not None:
                    self.disconnected_slow += 1
                await connection.outbox.stop()
        finally:
            self.websockets.release(slot)
        return ws

    async def handle_http(self, request: web.Request) -> web.Response:
        refused = self._refused(request, post=True)
        if refused is not None:
            return refused
        if not self._authorised(request):
            return web.json_response(
                _error(None, RPCError(-32001, "unauthorized: missing or wrong bearer token")), status=401
            )
        too_large = (request.content_length or 0) > MAX_BODY_BYTES
        try:
            if too_large:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length or 0)
            body = await request.read()
            CALLER.set(self._caller(request))
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(
                _error(None, RPCError(INVALID_REQUEST, f"request body too large (limit {MAX_BODY_BYTES} bytes)")),
                status=413,
            )
        response = await self.process_text(body, None)
        if response is None:
            return web.Response(status=204)
        return web.Response(body=response, content_type="application/json")

    async def process_text(self, text: str | bytes, connection: _Connection | None) -> bytes | None:
        # orjson, not the stdlib: its depth limit is fixed (1024), whereas the stdlib
        # parser recurses up to sys.getrecursionlimit(), which py-evm raises so high
        # that "[[[[…" would overflow the native stack and kill the node.
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return _dumps(_error(None, RPCError(PARSE_ERROR, f"parse error: {exc}")))
        if _too_deep(document, MAX_NESTING):
            return _dumps(_error(None, RPCError(INVALID_REQUEST, f"request nested deeper than {MAX_NESTING} levels")))
        if isinstance(document, list):
            if not document:
                return _dumps(_error(None, RPCError(INVALID_REQUEST, "empty batch")))
            if len(document) > MAX_BATCH:
                return _dumps(
                    _error(
                        None,
                        RPCError(INVALID_REQUEST, f"batch too large: {len(document)} requests, at most {MAX_BATCH}"),
                    )
                )
            raws = [
                item["params"][0]
                for item in document
                if isinstance(item, dict)
                and item.get("method") == "eth_sendRawTransaction"
                and isinstance(item.get("params"), list)
                and len(item["params"]) == 1
                and isinstance(item["params"][0], str)
            ]
            token = PRECHECKED.set(await precheck_batch(self.api, raws) if len(raws) > 1 else None)
            budget = BatchBudget(self.limits)
            try:
                results = []
                for item in document:
                    result = await self.process_one(item, connection, budget)
                    if result is not None:
                        results.append(result)
            finally:
                PRECHECKED.reset(token)
            return _dumps(results) if results else None
        result = await self.process_one(document, connection)
        return None if result is None else _dumps(result)

    async def process_one(
        self, request: Any, connection: _Connection | None, budget: BatchBudget | None = None
    ) -> dict[str, Any] | None:
        if not isinstance(request, dict):
            return _error(None, RPCError(INVALID_REQUEST, "invalid request: expected a JSON object"))
        request_id = request.get("id")
        if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, str | int | float)):
            return _error(None, RPCError(INVALID_REQUEST, "invalid request: id must be a string, number or null"))
        if request.get("jsonrpc") != "2.0":
            return _error(request_id, RPCError(INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"'))
        method = request.get("method")
        if not isinstance(method, str):
            return _error(request_id, RPCError(INVALID_REQUEST, "invalid request: method must be a string"))
        is_notification = "id" not in request
        try:
            if method in ("eth_subscribe", "eth_unsubscribe"):
                if connection is None:
                    raise RPCError(-32601, "notifications not supported: use a WebSocket connection for eth_subscribe")
                result = await (connection.subscribe if method == "eth_subscribe" else connection.unsubscribe)(
                    request.get("params")
                )
            else:
                params = request.get("params")
                if budget is not None:
                    budget.charge(method, params)
                if method in HEAVY_METHODS and method in self.api.methods:
                    # Off the event loop (finding 8): block reads must not delay other clients.
                    result = await self.lanes.run_heavy(lambda: self.api.dispatch(method, params))
                else:
                    result = await self.api.dispatch(method, params)
        except RPCError as error:
            return None if is_notification else _error(request_id, error)
        except Exception:
            log.exception("internal error in %s", method)
            return None if is_notification else _error(request_id, RPCError(INTERNAL_ERROR, "internal error"))
        if is_notification:
            return None
        if method == "eth_sendRawTransaction":
            for conn in list(self._sockets):
                conn.notify_pending(result)
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _on_block(self, committed: Any) -> None:
        """Queues the block's notifications for every subscriber; never waits on a client (finding 1)."""
        if not self._sockets:
            return
        head = block_json(committed.header, 0, [])
        head.pop("transactions")
        head.pop("size")
        head_json = orjson.Fragment(orjson.dumps(head))
        for connection in list(self._sockets):
            connection.notify_block(head_json, committed.logs)


class _Connection:
    """One WebSocket client, its subscriptions and its outgoing queue."""

    def __init__(self, server: RPCServer, ws: web.WebSocketResponse, transport: Any, peer: str) -> None:
        self.server = server
        self.ws = ws
        self._transport = transport
        self.subscriptions: dict[str, tuple[str, Any]] = {}
        limits = server.limits
        self.outbox = Outbox(
            ws,
            self.abort,
            peer=peer,
            max_messages=limits.ws_queue_messages,
            max_bytes=limits.ws_queue_bytes,
            send_timeout=limits.ws_send_timeout,
        )

    def abort(self) -> None:
        """Drops the TCP connection at once (a stalled reader would never finish a close handshake).

        With linger 0 the kernel answers with a reset and frees the socket's unsent data at
        once; a plain close would queue the FIN behind data the client never reads, leaving
        the socket (and its send buffer) orphaned in the kernel and the client never told.
        """
        if self._transport is not None:
            sock = self._transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._transport.abort()
        else:  # pragma: no cover - aiohttp always has a transport for a live request
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().create_task(self.ws.close(code=WSCloseCode.POLICY_VIOLATION))

    async def subscribe(self, params: Any) -> str:
        args = p.expect(params, 1, 2)
        kind = args[0]
        if kind not in ("newHeads", "logs", "newPendingTransactions"):
            raise InvalidParams(f"unsupported subscription type {kind!r} (newHeads, logs, newPendingTransactions)")
        limit = self.server.limits.max_subscriptions_per_connection
        if len(self.subscriptions) >= limit:
            raise RPCError(-32005, f"too many subscriptions on this connection (limit {limit})")
        criteria = parse_criteria(args[1]) if kind == "logs" else None
        subscription_id = "0x" + secrets.token_hex(16)
        self.subscriptions[subscription_id] = (kind, criteria)
        return subscription_id

    async def unsubscribe(self, params: Any) -> bool:
        (subscription_id,) = p.expect(params, 1, 1)
        if not isinstance(subscription_id, str):
            raise InvalidParams("subscription id: expected a hex string")
        return self.subscriptions.pop(subscription_id.lower(), None) is not None

    def _message(self, subscription_id: str, result: Any) -> str:
        return orjson.dumps(
            {
                "jsonrpc": "2.0",
                "method": "eth_subscription",
                "params": {"subscription": subscription_id, "result": result},
            }
        ).decode()

    def notify_block(self, head: Any, logs: list[dict[str, Any]]) -> None:
        for subscription_id, (kind, criteria) in list(self.subscriptions.items()):
            if kind == "newHeads":
                if not self.outbox.offer(self._message(subscription_id, head)):
                    return
            elif kind == "logs" and logs:
                # One lazy entry per block: the writer formats the matching logs as it sends them.
                if not self.outbox.offer(self._log_messages(subscription_id, criteria, logs)):
                    return

    def _log_messages(self, subscription_id: str, criteria: Any, logs: list[dict[str, Any]]) -> Iterator[str]:
        for entry in logs:
            if criteria.matches(entry):
                yield self._message(subscription_id, entry)

    def notify_pending(self, tx_hash: Any) -> None:
        for subscription_id, (kind, _) in list(self.subscriptions.items()):
            if kind == "newPendingTransactions" and not self.outbox.offer(self._message(subscription_id, tx_hash)):
                return


__all__ = ["RPCServer", "hex_bytes"]
