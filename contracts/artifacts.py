"""Load the committed contract artifacts in ``contracts/build/``.

Runtime code uses this module only; it needs no compiler (it must not import
solcx). The artifacts are produced by ``python -m contracts.compile``; see
:mod:`contracts.compile` for their format.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUILD_DIR = Path(__file__).resolve().parent / "build"


@dataclass(frozen=True)
class Artifact:
    """A compiled contract: ABI, creation and runtime bytecode, storage layout."""

    contract_name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    storage_layout: dict[str, Any]
    source_hash: str


def _hex_to_bytes(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


@functools.cache  # == functools.lru_cache(maxsize=None)
def load_artifact(name: str) -> Artifact:
    """Returns the artifact of contract ``name`` from ``contracts/build/<name>.json``.

    Cached: the same object is returned on every call. Raises FileNotFoundError
    (saying how to build it) if there is no such artifact, ValueError if ``name``
    is not a contract name.
    """
    if not name.isidentifier():
        raise ValueError(f"not a contract name: {name!r}")
    path = BUILD_DIR / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no artifact for contract {name!r} at {path}; run `python -m contracts.compile`"
        ) from None
    return Artifact(
        contract_name=data["contractName"],
        abi=data["abi"],
        bytecode=_hex_to_bytes(data["bytecode"]),
        deployed_bytecode=_hex_to_bytes(data["deployedBytecode"]),
        storage_layout=data["storageLayout"],
        source_hash=data["sourceHash"],
    )
