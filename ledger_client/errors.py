"""Turn revert data from the point contracts into precise, readable messages.

The contracts revert with custom errors that carry the numbers
(``InsufficientUnexpiredBalance(account, available, needed)``); a client (the CLI,
the wallet API) decodes them here instead of guessing from a bare "reverted".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from contracts.artifacts import BUILD_DIR, load_artifact

PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x31: "pop from an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


@dataclass(frozen=True)
class ContractError:
    """A decoded revert: the error's name and its arguments by name."""

    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        if self.name == "Error" and "reason" in self.args:
            return str(self.args["reason"])
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self.args.items())
        return f"{self.name}({inner})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def _type_string(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_type_string(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


@functools.cache
def _error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {
        keccak(text="Error(string)")[:4]: ("Error", ["string"], ["reason"]),
        keccak(text="Panic(uint256)")[:4]: ("Panic", ["uint256"], ["code"]),
    }
    for path in sorted(BUILD_DIR.glob("*.json")):
        for item in load_artifact(path.stem).abi:
            if item.get("type") != "error":
                continue
            types = [_type_string(i) for i in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], types, [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])])
    return table


def decode_revert(data: bytes | str | None) -> ContractError | None:
    """The error in revert ``data``, or None when it is empty or unknown."""
    if data is None:
        return None
    if isinstance(data, str):
        try:
            data = bytes.fromhex(data.removeprefix("0x"))
        except ValueError:
            return None
    if len(data) < 4:
        return None
    entry = _error_table().get(data[:4])
    if entry is None:
        return None
    name, types, names = entry
    try:
        values = abi_decode(types, data[4:])
    except (DecodingError, OverflowError, ValueError):
        return None
    normalised = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
    args = dict(zip(names, normalised, strict=True))
    if name == "Panic":
        code = int(args["code"])
        args = {"code": hex(code), "reason": PANIC_REASONS.get(code, "panic")}
    return ContractError(name, args)
