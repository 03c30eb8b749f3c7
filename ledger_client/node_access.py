"""How a trusted local service proves itself to the node: the service token header.

The node runs ``eth_call``, ``eth_estimateGas`` and heavy reads in bounded lanes; anonymous
clients share one small lane, and a request carrying ``X-Takasago-Service-Token: <secret>``
runs in a lane of its own, exempt from the per-client caps (issue 15, finding 7). Trust is
never granted by IP address: every local user and every page in a local browser also arrives
from 127.0.0.1. So the wallet, the indexer and the oracle read the secret from a file the
node also reads (``rpc.serviceTokenFile`` in node.json, created by ``takasago up``) and send
it on every request.

The file is named by ``TAKASAGO_NODE_SERVICE_TOKEN_FILE`` (``takasago up`` sets it for its
children) or passed explicitly (``--node-token-file``). A file other users can read, or an
empty one, is refused with a message naming the file, never the secret: a leaked token
lets anyone on the host take the services' lane. Not configured means no header: the
service then shares the anonymous lane, as any other client does.
"""

from __future__ import annotations

import os
from pathlib import Path

SERVICE_TOKEN_HEADER = "X-Takasago-Service-Token"  # the node's name for it: node.rpc.limits
TOKEN_FILE_ENV = "TAKASAGO_NODE_SERVICE_TOKEN_FILE"
MIN_TOKEN_CHARS = 16  # the node refuses shorter secrets in rpc.serviceTokenFile


class NodeAccessError(ValueError):
    """The service token file cannot be used; the message names the file and the fix, never the token."""


def token_file_from_env() -> Path | None:
    """The token file named by ``TAKASAGO_NODE_SERVICE_TOKEN_FILE``, or None when unset or empty."""
    value = os.environ.get(TOKEN_FILE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def read_service_token(path: Path) -> str:
    """The secret in ``path``: readable by its owner only, and not empty (or too short for the node)."""
    try:
        mode = path.stat().st_mode
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NodeAccessError(
            f"cannot read the node service token file {path}: {exc.strerror} / "
            f"ノードのサービストークンファイル {path} を読めません"
        ) from None
    except UnicodeDecodeError:
        raise NodeAccessError(
            f"the node service token file {path} is not text / {path} はテキストではありません"
        ) from None
    if mode & 0o077:
        raise NodeAccessError(
            f"the node service token file {path} is readable by other users; chmod 600 it / "
            f"{path} が他のユーザーから読めます。chmod 600 にしてください"
        )
    if not token:
        raise NodeAccessError(f"the node service token file {path} is empty / {path} が空です")
    if len(token) < MIN_TOKEN_CHARS:
        raise NodeAccessError(
            f"the token in {path} is shorter than {MIN_TOKEN_CHARS} characters (the node refuses it) / "
            f"{path} のトークンが {MIN_TOKEN_CHARS} 文字未満です"
        )
    return token


def service_headers(token_file: Path | None = None) -> dict[str, str]:
    """The HTTP headers that put this service's requests in the node's trusted lane.

    ``token_file`` if given, else ``TAKASAGO_NODE_SERVICE_TOKEN_FILE``; an empty dict when
    neither is set. Callers must not log the result.
    """
    path = token_file if token_file is not None else token_file_from_env()
    if path is None:
        return {}
    return {SERVICE_TOKEN_HEADER: read_service_token(path)}


def use_token_file(token_file: Path | None) -> None:
    """Checks ``token_file`` and names it in this process's environment for the code that connects later.

    Used by the ``serve`` commands: uvicorn imports the app (and its node clients) after the
    command returns control, so the explicit ``--node-token-file`` travels the same way as the
    one ``takasago up`` sets. A bad file is refused here, before the service starts.
    """
    if token_file is not None:
        os.environ[TOKEN_FILE_ENV] = str(token_file.expanduser().resolve())
    service_headers()


def web3_request_kwargs(timeout: float, token_file: Path | None = None) -> dict[str, object]:
    """``request_kwargs`` for web3's ``HTTPProvider``: the timeout, and the token header when configured.

    A ``headers`` entry replaces web3's own (``Content-Type: application/json``, which the node
    requires of every POST), so those are kept and the token added to them.
    """
    from web3 import HTTPProvider

    headers = service_headers(token_file)
    if not headers:
        return {"timeout": timeout}
    return {"timeout": timeout, "headers": {**HTTPProvider.get_request_headers(), **headers}}
