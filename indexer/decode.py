"""Decoding the point contracts' logs and calls with their ABIs (from ``contracts/build``).

A ``Transfer`` of points gets a *kind* from the events around it in the same
transaction: issued, thanks, payment, refund, settled, swept, recovered, help, and (issue
21, points that stay local) ``b2b`` (a shop or business paying another) and
``business-reward`` (a shop or business rewarding a resident, directly or through its own
programme) — the hops the explorer and the data platform count as the local multiplier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from contracts.artifacts import load_artifact

ZERO = "0x0000000000000000000000000000000000000000"
KIND_NAMES = {0: "none", 1: "resident", 2: "merchant", 3: "city", 4: "oracle", 5: "validator", 6: "business"}
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
    "post": "help",
    "complete": "help",
    "withdraw": "help",
    "choose": "help",
    "cancel": "help",
    "stepBack": "help",
    "expire": "help",
    "dispute": "help",
    "resolve": "help",
    "remove": "help",
    "payBusiness": "b2b",
    "rewardResident": "business-reward",
    "createBusinessProgramme": "business-programme",
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


@lru_cache(maxsize=1 << 16)
def checksum_address(hex40: str) -> str:
    """EIP-55 checksum of 40 hex digits (what ``to_checksum_address`` gives, without its input checks:
    the caller has a well-formed word). Cached: a backfill sees the same residents again and again."""
    lower = hex40.lower()
    digest = keccak(text=lower).hex()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(lower, digest, strict=False))


WORD_TYPES = re.compile(r"^(address|bool|u?int\d*|bytes([1-9]|[12]\d|3[0-2]))$")


def _one_word(abi_type: str) -> bool:
    return bool(WORD_TYPES.match(abi_type))


def _word(abi_type: str, word: str) -> Any:
    """One 32-byte word (64 hex digits) as ``eth_abi`` + ``_plain`` give it; None if the word is not
    a valid encoding of ``abi_type`` (the caller then lets ``eth_abi`` refuse it)."""
    if len(word) != 64:
        return None
    try:
        number = int(word, 16)
    except ValueError:
        return None
    if abi_type == "address":
        return checksum_address(word[24:]) if number >> 160 == 0 else None
    if abi_type == "bool":
        return bool(number) if number in (0, 1) else None
    if abi_type.startswith("bytes"):
        size = int(abi_type[5:])
        return "0x" + word[: 2 * size].lower() if number & ((1 << (256 - 8 * size)) - 1) == 0 else None
    bits = int(abi_type.lstrip("uint") or 256)
    if abi_type.startswith("uint"):
        return number if number >> bits == 0 else None
    signed = number - (1 << 256) if number >> 255 else number  # intN: two's complement, sign-extended
    return signed if -(1 << (bits - 1)) <= signed < 1 << (bits - 1) else None


@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    inputs: list[dict[str, Any]]

    def decode(self, topics: list[str], data: str) -> dict[str, Any]:
        """The event's arguments by name (addresses checksummed, bytes as 0x hex, integers as int).

        Events whose arguments are all one-word static types (most of ours: ``Transfer``,
        ``Paid``, ``AccountRegistered``…) are read word by word from the hex; anything else, or
        a word that is not what its type allows, goes through ``eth_abi`` (which refuses it).
        """
        fast = self._decode_words(topics, data)
        return fast if fast is not None else self._decode_abi(topics, data)

    @cached_property
    def _word_types(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]] | None:
        """(indexed, plain) (name, type) pairs when every argument is one static word, else None."""
        if not all(_one_word(i["type"]) for i in self.inputs):
            return None
        indexed = [(i["name"], i["type"]) for i in self.inputs if i.get("indexed")]
        plain = [(i["name"], i["type"]) for i in self.inputs if not i.get("indexed")]
        return indexed, plain

    def _decode_words(self, topics: list[str], data: str) -> dict[str, Any] | None:
        types = self._word_types
        if types is None:
            return None
        indexed, plain = types
        body = data[2:]
        if len(body) != 64 * len(plain) or len(topics) - 1 < len(indexed):
            return None
        args: dict[str, Any] = {}
        words = [(item, topic[2:]) for item, topic in zip(indexed, topics[1:], strict=False)]
        words += [(item, body[64 * k : 64 * (k + 1)]) for k, item in enumerate(plain)]
        for (name, abi_type), word in words:
            value = _word(abi_type, word)
            if value is None:
                return None
            args[name] = value
        return args

    def _decode_abi(self, topics: list[str], data: str) -> dict[str, Any]:
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


CLASSIFYING_EVENTS = frozenset(
    {
        "Paid",
        "Refunded",
        "Thanked",
        "BalanceRecovered",
        "SettlementRequested",
        "RequestPosted",
        "HelpCompleted",
        "EscrowReturned",
        "DisputeResolved",
        "BusinessPaid",
        "BusinessRewarded",
    }
)
"""The events ``classify`` looks at; a transaction's other events (its many Transfers) never change a kind."""


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
        # local circulation (issue 21)
        if name == "BusinessPaid" and args["from"] == sender and args["to"] == receiver:
            return "b2b", None
        if name == "BusinessRewarded" and args["business"] == sender and args["resident"] == receiver:
            return "business-reward", None
        # help matching (HelpBoard): thanks into escrow, paid to the helper, or returned to the requester
        if name == "RequestPosted" and args["requester"] == sender:
            return "help-escrow", None
        if name in ("HelpCompleted", "DisputeResolved") and args["helper"] == receiver:
            return "help", None
        if name in ("EscrowReturned", "DisputeResolved") and args["requester"] == receiver:
            return "help-return", None
    if sender == ZERO:
        return "issued", None
    if receiver == ZERO:
        if "SettlementRequested" in names:
            return "settled", None
        return "swept", None
    return "transfer", None
