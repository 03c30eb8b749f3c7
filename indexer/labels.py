"""Public labels: the contracts, the city and validator accounts, and shop names.

Residents appear only as addresses. Shop and city names come from a public labels file
kept by the city (JSON ``{"0x…": "高砂ベーカリー", …}``, ``TAKASAGO_INDEXER_LABELS``);
nothing personal ever reaches the indexer.
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_utils import is_hex_address, to_checksum_address


class LabelError(ValueError):
    pass


def load_labels(path: Path | None) -> dict[str, str]:
    if path is None or not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LabelError(f"{path}: not a JSON object of address → name ({exc})") from None
    if not isinstance(document, dict):
        raise LabelError(f"{path}: expected a JSON object of address → name")
    labels: dict[str, str] = {}
    for address, name in document.items():
        if not is_hex_address(address) or not isinstance(name, str) or not 0 < len(name) <= 80:
            raise LabelError(f"{path}: {address!r} → {name!r} is not an address and a name of 1–80 characters")
        labels[str(to_checksum_address(address))] = name
    return labels


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"
