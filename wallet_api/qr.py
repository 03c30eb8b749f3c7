"""QR images of payment requests, cards and one-time codes (segno), as PNG or SVG."""

from __future__ import annotations

import io

import segno

from wallet_api.errors import ApiError

MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def render(text: str, fmt: str, scale: int = 8) -> tuple[bytes, str]:
    """The QR of ``text`` (error correction M, quiet zone 4) as ``fmt`` bytes and its media type."""
    if fmt not in MEDIA_TYPES:
        raise ApiError("VALIDATION_ERROR", {"format": "png or svg"})
    if not 1 <= scale <= 40:
        raise ApiError("VALIDATION_ERROR", {"scale": "between 1 and 40"})
    code = segno.make(text, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind=fmt, scale=scale, border=4)
    return buffer.getvalue(), MEDIA_TYPES[fmt]
