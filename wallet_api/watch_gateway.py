"""Residents to the watch-over service (issue 19): the wallet authenticates, the watch service decides.

The resident app talks only to the wallet. For ``/v1/watch/…`` the wallet forwards the call
over HTTP to the watch service with the resident's member code (``X-Watch-Member``) and the
service token the two services share (``X-Watch-Service-Token``, a 0600 file), and returns
the watch service's answer unchanged (its refusals are already coded in Japanese and
English). The wallet imports nothing of the watch service, and keeps no watch data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import urllib3

from wallet_api.errors import ApiError

TIMEOUT = urllib3.Timeout(connect=2.0, read=10.0)


class WatchGateway:
    def __init__(self, url: str, token_file: Path | None) -> None:
        self.url = url.rstrip("/")
        self.token_file = token_file
        self.pool = urllib3.PoolManager(maxsize=8)
        self._token: str | None = None  # read once, when first needed (the file may appear after start-up)

    def _headers(self, member: str, officer: str | None = None) -> dict[str, str]:
        if self._token is None:
            if self.token_file is None or not self.token_file.exists():
                raise ApiError("WATCH_UNAVAILABLE", status=503)
            self._token = self.token_file.read_text(encoding="utf-8").strip()
        who = {"X-Watch-Officer": officer} if officer is not None else {"X-Watch-Member": member}
        return {"X-Watch-Service-Token": self._token, "Content-Type": "application/json", **who}

    def call(
        self, member: str, method: str, path: str, body: Any = None, officer: str | None = None
    ) -> tuple[int, Any]:
        """The watch service's (status, JSON answer) for ``member`` (or, on the desk, ``officer``);
        503 WATCH_UNAVAILABLE if it cannot be reached."""
        try:
            payload = None if body is None else json.dumps(body).encode()
            response = self.pool.request(method, self.url + path, headers=self._headers(member, officer),
                                         timeout=TIMEOUT, body=payload, retries=False)  # fmt: skip
        except urllib3.exceptions.HTTPError:
            raise ApiError("WATCH_UNAVAILABLE", status=503) from None
        if response.status == 204:
            return 204, None
        try:
            return response.status, json.loads(response.data or b"null")
        except ValueError:
            raise ApiError("WATCH_UNAVAILABLE", status=503) from None

    def stream(self, member: str, path: str) -> Iterator[bytes]:
        """The watch service's server-sent events for ``member``, passed through chunk by chunk."""
        try:
            response = self.pool.request("GET", self.url + path, headers=self._headers(member), preload_content=False,
                                         timeout=urllib3.Timeout(connect=2.0, read=None), retries=False)  # fmt: skip
        except urllib3.exceptions.HTTPError:
            raise ApiError("WATCH_UNAVAILABLE", status=503) from None
        if response.status != 200:
            response.release_conn()
            raise ApiError("NOT_FOUND")
        return self._chunks(response)

    @staticmethod
    def _chunks(response: Any) -> Iterator[bytes]:
        try:
            yield from response.stream(1024, decode_content=False)
        finally:
            response.release_conn()
