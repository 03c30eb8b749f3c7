"""Decoding the point contracts' logs and calls with their ABIs (from ``contracts/build``).

A ``Transfer`` of points gets a *kind* from the events around it in the same
transaction: issued, thanks, payment, refund, settled, swept, recovered (or transfer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from contracts.artifacts import load_artifact

ZERO = "0x0000000000000000000000000000000000000000"
KIND_NAMES = {0: "none", 1: "resident", 2: "merchant", 3: "city", 4: "oracle", 5: "validator"}
STATUS_NAMES = {0: "unregistered", 1: "active", 2: "suspended", 3: "revoked"}
METHOD_KINDS = {
    "thank": "thanks",
    "pay": "payment",
    "refund": "refund",
    "requestSettlement": "settlement",
    "mint": "issue",
    "mintBatch": "issue",
    "attest": "issue",
    "attestBatch": "issue",
    "submitReport": "co2-report",
    "grant": "issue",
    "sweepExpired": "sweep",
    "recoverBalance": "recovery",
    "register": "registration",
    "registerBatch": "registration",
    "setStatus": "registration",
    "recover": "recovery",
}


def _type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        return "(" + ",".join(_type(c) for c in item["components"]) + ")" + item["type"][5:]
    return str(item["type"])


def _plain(value: Any, abi_type: str) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return [_plain(v, abi_type) for v in value]
    if abi_type == "address" and isinstance(value, str):
        return to_checksum_address(value)
    return value


@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    inputs: list[dict[str, Any]]

    def decode(self, topics: list[str], data: str) -> dict[str, Any]:
        indexed = [i for i in self.inputs if i.get("indexed")]
        plain = [i for i in self.inputs if not i.get("indexed")]
        args: dict[str, Any] = {}
        for item, topic in zip(indexed, topics[1:], strict=False):
            raw = bytes.fromhex(topic[2:])
            if item["type"] in ("string", "bytes") or item["type"].endswith("]") or item["type"].startswith("tuple"):
                args[item["name"]] = "0x" + raw.hex()  # hashed in the topic
            else:
                (value,) = abi_decode([item["type"]], raw)
                args[item["name"]] = _plain(value, item["type"])
        values = abi_decode([_type(i) for i in plain], bytes.fromhex(data[2:])) if plain else ()
        for item, value in zip(plain, values, strict=True):
            args[item["name"]] = _plain(value, _type(item))
        return args


class Decoder:
    """Knows the events and functions of the deployed point contracts, by address."""

    def __init__(self, addresses: dict[str, str]) -> None:
        self.addresses = {a.lower(): name for name, a in addresses.items()}
        self.events: dict[tuple[str, str], EventSpec] = {}
        self.functions: dict[bytes, str] = {}
        for name in set(addresses):
            for item in load_artifact(name).abi:
                signature = f"{item.get('name')}({','.join(_type(i) for i in item.get('inputs', []))})"
                if item.get("type") == "event":
                    topic = "0x" + keccak(text=signature).hex()
                    self.events[(name, topic)] = EventSpec(name, item["name"], item["inputs"])
                elif item.get("type") == "function":
                    self.functions[keccak(text=signature)[:4]] = item["name"]

    def contract_of(self, address: str) -> str | None:
        return self.addresses.get(address.lower())

    def event(self, log: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
        """(contract, event name, arguments) of a log of one of our contracts, else None."""
        contract = self.contract_of(log["address"])
        if contract is None or not log["topics"]:
            return None
        spec = self.events.get((contract, log["topics"][0]))
        if spec is None:
            return None
        try:
            return contract, spec.name, spec.decode(log["topics"], log["data"])
        except (DecodingError, ValueError, OverflowError):
            return None

    def method(self, to: str | None, data: str) -> str | None:
        if to is None or self.contract_of(to) is None or len(data) < 10:
            return None
        return self.functions.get(bytes.fromhex(data[2:10]))


def classify(transfer: dict[str, Any], siblings: list[tuple[str, dict[str, Any]]]) -> tuple[str, str | None]:
    """The kind of one point Transfer, and its payment request id, from its transaction's events."""
    sender, receiver = transfer["from"], transfer["to"]
    names = {name for name, _ in siblings}
    for name, args in siblings:
        if name == "Paid" and args["payer"] == sender and args["merchant"] == receiver:
            return "payment", args["requestId"]
        if name == "Refunded" and args["merchant"] == sender and args["payer"] == receiver:
            return "refund", args["requestId"]
        if name == "Thanked" and args["from"] == sender and args["to"] == receiver:
            return "thanks", None
        if name == "BalanceRecovered" and args["lostAccount"] == sender and args["newAccount"] == receiver:
            return "recovered", None
    if sender == ZERO:
        return "issued", None
    if receiver == ZERO:
        if "SettlementRequested" in names:
            return "settled", None
        return "swept", None
    return "transfer", None
