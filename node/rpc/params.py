"""Strict parsing of JSON-RPC parameters: every malformed value is an InvalidParams
error that names the parameter, never an exception from deeper code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_typing import Address
from eth_utils import is_hex_address, to_canonical_address

from node.calls import AccountOverride, StateOverrides
from node.errors import InvalidParams

MAX_QUANTITY = 2**256 - 1
BLOCK_TAGS = ("latest", "earliest", "pending", "safe", "finalized")


def quantity(value: Any, name: str, maximum: int = MAX_QUANTITY) -> int:
    if isinstance(value, str) and value.startswith("0x") and 2 < len(value) <= 66:
        try:
            number = int(value, 16)
        except ValueError:
            raise InvalidParams(f"{name}: invalid hex quantity {value!r}") from None
        if number > maximum:
            raise InvalidParams(f"{name}: {value} is out of range")
        return number
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum:
        return value
    raise InvalidParams(f"{name}: expected a 0x-prefixed hex quantity, got {_show(value)}")


def data(value: Any, name: str, length: int | None = None, max_length: int = 10 * 1024 * 1024) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise InvalidParams(f"{name}: expected 0x-prefixed hex data, got {_show(value)}")
    if len(value) > 2 + 2 * max_length:
        raise InvalidParams(f"{name}: data too long")
    body = value[2:]
    if len(body) % 2:
        raise InvalidParams(f"{name}: hex data has an odd number of digits")
    try:
        raw = bytes.fromhex(body)
    except ValueError:
        raise InvalidParams(f"{name}: invalid hex data") from None
    if length is not None and len(raw) != length:
        raise InvalidParams(f"{name}: expected {length} bytes, got {len(raw)}")
    return raw


def address(value: Any, name: str) -> Address:
    if not isinstance(value, str) or not is_hex_address(value):
        raise InvalidParams(f"{name}: expected a 20-byte hex address, got {_show(value)}")
    return Address(to_canonical_address(value))


def boolean(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidParams(f"{name}: expected true or false, got {_show(value)}")
    return value


@dataclass(frozen=True)
class BlockRef:
    """A block named by tag, number or hash (EIP-1898)."""

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None
    require_canonical: bool = False


def block_ref(value: Any, name: str = "block") -> BlockRef:
    if value is None:
        return BlockRef(tag="latest")
    if isinstance(value, str):
        if value in BLOCK_TAGS:
            return BlockRef(tag=value)
        if value.startswith("0x") and len(value) == 66:
            return BlockRef(hash=data(value, name, 32))
        return BlockRef(number=quantity(value, name, 2**63 - 1))
    if isinstance(value, dict):
        if "blockHash" in value:
            return BlockRef(
                hash=data(value["blockHash"], f"{name}.blockHash", 32),
                require_canonical=boolean(value.get("requireCanonical", False), f"{name}.requireCanonical"),
            )
        if "blockNumber" in value:
            return block_ref(value["blockNumber"], f"{name}.blockNumber")
        raise InvalidParams(f"{name}: expected blockHash or blockNumber")
    if isinstance(value, int) and not isinstance(value, bool):
        return BlockRef(number=quantity(value, name, 2**63 - 1))
    raise InvalidParams(f"{name}: expected a block number, tag or hash, got {_show(value)}")


def expect(params: Any, minimum: int, maximum: int) -> list[Any]:
    """Positional parameters as a list padded with None to ``maximum``."""
    if params is None:
        params = []
    if not isinstance(params, list):
        raise InvalidParams("params must be an array")
    if not minimum <= len(params) <= maximum:
        if minimum == maximum:
            raise InvalidParams(f"expected {minimum} parameter(s), got {len(params)}")
        raise InvalidParams(f"expected {minimum} to {maximum} parameters, got {len(params)}")
    return params + [None] * (maximum - len(params))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


MAX_OVERRIDDEN_ACCOUNTS = 1_000
MAX_OVERRIDDEN_SLOTS = 10_000
OVERRIDE_FIELDS = frozenset({"balance", "nonce", "code", "state", "stateDiff"})


def state_overrides(value: Any, name: str = "stateOverrides") -> StateOverrides | None:
    """geth's state-override set ``{address: {balance, nonce, code, state | stateDiff}}``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParams(f"{name}: expected an object keyed by address")
    if len(value) > MAX_OVERRIDDEN_ACCOUNTS:
        raise InvalidParams(f"{name}: at most {MAX_OVERRIDDEN_ACCOUNTS} accounts")
    result: StateOverrides = {}
    slots = 0
    for key, fields in value.items():
        account = address(key, f"{name} key")
        where = f"{name}[{key}]"
        if not isinstance(fields, dict):
            raise InvalidParams(f"{where}: expected an object")
        unknown = set(fields) - OVERRIDE_FIELDS
        if unknown:
            raise InvalidParams(f"{where}: unsupported field(s) {', '.join(sorted(unknown))}")
        if fields.get("state") is not None and fields.get("stateDiff") is not None:
            raise InvalidParams(f"account {key} has both 'state' and 'stateDiff'")
        storage = {}
        for kind in ("state", "stateDiff"):
            entries = fields.get(kind)
            if entries is None:
                continue
            if not isinstance(entries, dict):
                raise InvalidParams(f"{where}.{kind}: expected an object of slot: value")
            slots += len(entries)
            if slots > MAX_OVERRIDDEN_SLOTS:
                raise InvalidParams(f"{name}: at most {MAX_OVERRIDDEN_SLOTS} storage slots")
            storage[kind] = {
                int.from_bytes(data(slot, f"{where}.{kind} key", 32), "big"): int.from_bytes(
                    data(word, f"{where}.{kind}[{slot}]", 32), "big"
                )
                for slot, word in entries.items()
            }
        result[account] = AccountOverride(
            balance=quantity(fields["balance"], f"{where}.balance") if fields.get("balance") is not None else None,
            nonce=quantity(fields["nonce"], f"{where}.nonce", 2**64 - 1) if fields.get("nonce") is not None else None,
            code=data(fields["code"], f"{where}.code", max_length=0x6000 * 2)
            if fields.get("code") is not None
            else None,
            state=storage.get("state"),
            state_diff=storage.get("stateDiff"),
        )
    return result
