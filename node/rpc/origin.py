"""Who may talk to the node from a browser: Content-Type, Origin and Host checks.

Why (issue 15, finding 19): a web page visited on the machine running ``takasago up``
could POST ``text/plain`` JSON-RPC to 127.0.0.1:8545 (a "simple" cross-origin request
needs no CORS preflight) or open a WebSocket to it, and so call development methods such
as ``evm_increaseTime``. And through DNS rebinding a page on ``evil.example`` can make
the browser treat the node as same-origin. So, like geth:

* a POST must say ``Content-Type: application/json`` (or ``application/json-rpc``,
  ``application/jsonrequest``): a page cannot send that cross-origin without a CORS
  preflight, which the node never grants;
* a request carrying an ``Origin`` header (browsers add it to cross-origin POSTs and to
  every WebSocket handshake) must come from the node's own origin or one configured in
  ``rpc.allowedOrigins``; programs (web3.py, ethers in Node.js, the services) send none;
* the ``Host`` header must name the node: ``localhost``, a loopback address, the address
  it is bound to, or one configured in ``rpc.allowedHosts`` (a rebound name fails this).
  A node serving a non-loopback address requires a bearer token, which a page cannot
  forge, so there any Host is accepted unless ``rpc.allowedHosts`` is set.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from aiohttp import web

JSON_CONTENT_TYPES = frozenset({"application/json", "application/json-rpc", "application/jsonrequest"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _host_name(host: str) -> str:
    """The name part of a Host header or URL netloc, lower-case, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class RequestGuard:
    """Decides whether a request may reach the JSON-RPC handlers; None if it may, else why not."""

    def __init__(self, bind_host: str, allowed_origins: tuple[str, ...], allowed_hosts: tuple[str, ...]) -> None:
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.any_origin = "*" in self.allowed_origins
        names = {_host_name(h) for h in allowed_hosts}
        bind = _host_name(bind_host)
        try:
            wildcard_bind = ipaddress.ip_address(bind).is_unspecified
        except ValueError:
            wildcard_bind = False
        # Bound beyond loopback (a bearer token is then required): any Host unless configured.
        self.any_host = "*" in names or (not allowed_hosts and not _is_loopback(bind))
        if not wildcard_bind:
            names.add(bind)
        self.hosts = frozenset(names)

    def host_problem(self, request: web.Request) -> str | None:
        if self.any_host:
            return None
        host = request.headers.get("Host")
        if host is None:
            return None  # HTTP/1.0 clients without Host; a browser always sends one
        name = _host_name(host)
        if _is_loopback(name) or name in self.hosts:
            return None
        return f"Host {host[:100]!r} is not allowed (add it to rpc.allowedHosts in node.json)"

    def origin_problem(self, request: web.Request) -> str | None:
        origin = request.headers.get("Origin")
        if origin is None or self.any_origin:
            return None
        normalised = origin.strip().rstrip("/").lower()
        if normalised in self.allowed_origins:
            return None
        parts = urlsplit(normalised)
        own_host = request.headers.get("Host", "").strip().lower()
        if parts.scheme in ("http", "https") and own_host and parts.netloc == own_host:
            return None  # the node's own origin
        return f"Origin {origin[:100]!r} is not allowed (add it to rpc.allowedOrigins in node.json)"

    def content_type_problem(self, request: web.Request) -> str | None:
        if request.content_type in JSON_CONTENT_TYPES:
            return None
        given = request.headers.get("Content-Type")
        shown = repr(given[:100]) if given else "none"
        return f"Content-Type must be application/json (got {shown})"
