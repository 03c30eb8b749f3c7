"""The tag's rotating identifier (issue 19): what a watch-over tag broadcasts, and how the service resolves it.

A tag holds a 32-byte secret, shared only with the watch service at registration. In every
window of :data:`WINDOW_SECONDS` (15 minutes, counted from the Unix epoch) it broadcasts

    rotating id = HMAC-SHA256(secret, "takasago-watch/v1" || window as 8 bytes big-endian)[:16]

16 bytes fit a BLE advertisement (a 128-bit service-data field). A bystander who records
the ids cannot link two windows of one tag without the secret (HMAC is a PRF), so a tag
cannot be followed over time; the service, which holds every secret, computes the ids of
the windows around a sighting and finds the tag. Tags have no clock of great accuracy, so
the service also accepts the neighbouring windows (:data:`DRIFT_WINDOWS`).

This module is deliberately small and dependency-free (``hmac``, ``hashlib``): tag makers
port it, and check their port against ``watch/test_vectors.json`` (``python -m
watch.rotating_id --vectors`` writes it; ``tests/test_watch_rotating_id.py`` checks it).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from pathlib import Path

SCHEME = "takasago-watch/v1"
WINDOW_SECONDS = 900
ID_BYTES = 16
SECRET_BYTES = 32
DRIFT_WINDOWS = 1  # a tag's clock may be one window early or late
VECTORS = Path(__file__).with_name("test_vectors.json")


def window_of(unix_seconds: int) -> int:
    """The window number a moment falls in."""
    if unix_seconds < 0:
        raise ValueError("time before 1970")
    return unix_seconds // WINDOW_SECONDS


def rotating_id(secret: bytes, window: int) -> bytes:
    """The 16-byte id a tag with ``secret`` broadcasts during ``window``."""
    if len(secret) != SECRET_BYTES:
        raise ValueError(f"a tag secret is {SECRET_BYTES} bytes, not {len(secret)}")
    if not 0 <= window < 2**64:
        raise ValueError("window out of range")
    message = SCHEME.encode() + window.to_bytes(8, "big")
    return hmac.new(secret, message, hashlib.sha256).digest()[:ID_BYTES]


def candidate_windows(unix_seconds: int) -> range:
    """The windows a sighting at ``unix_seconds`` may carry (its own and the drift on either side)."""
    w = window_of(unix_seconds)
    return range(max(0, w - DRIFT_WINDOWS), w + DRIFT_WINDOWS + 1)


def vectors() -> dict[str, object]:
    """Fixed secrets and windows with their ids: what a tag maker's port must reproduce exactly."""
    secrets = [bytes(range(32)), bytes([0xFF] * 32), hashlib.sha256(b"takasago").digest()]
    moments = [0, 899, 900, 1_764_806_400, 1_764_806_400 + 899, 1_764_806_400 + 900]  # 2025-12-04 00:00 UTC …
    cases = [
        {
            "secret": s.hex(),
            "unix_seconds": t,
            "window": window_of(t),
            "rotating_id": rotating_id(s, window_of(t)).hex(),
        }
        for s in secrets
        for t in moments
    ]
    return {"scheme": SCHEME, "window_seconds": WINDOW_SECONDS, "id_bytes": ID_BYTES, "cases": cases}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The watch-over tag's rotating id (docs/watch-over.md).")
    parser.add_argument("--vectors", action="store_true", help=f"write the test vectors to {VECTORS}")
    parser.add_argument("--secret", help="a tag secret (64 hex digits): print its id now")
    args = parser.parse_args(argv)
    if args.vectors:
        VECTORS.write_text(json.dumps(vectors(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {VECTORS}")
        return 0
    if args.secret:
        import time

        try:
            secret = bytes.fromhex(args.secret)
            print(rotating_id(secret, window_of(int(time.time()))).hex())
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
