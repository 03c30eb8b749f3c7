"""EIP-681 payment URIs for merchants' payment requests (the text in the till's QR code).

A request to pay ``amount`` points to ``merchant`` against the merchant's printed
``reference`` is a call of ``RegionalPoints.pay(address,uint256,bytes32)``::

    ethereum:<token>@<chainId>/pay?address=<merchant>&uint256=<amount>&bytes32=<reference>

The contract records the payment under a request id it derives from all three,
:func:`payment_request_id` (``keccak256(abi.encode(merchant, amount, reference))``):
a payment of another amount against the same reference lands under another id, so it
can never satisfy the merchant's request. ``paymentOf``, ``refund`` and the ``Paid``
event use the derived id.

See ``docs/payment-uri.md``. Parsing is strict: a QR code scanned at a till is
untrusted input, and a wrong chain, token or amount must never be paid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from eth_abi import encode as abi_encode
from eth_utils import is_checksum_address, is_hex_address, keccak, to_checksum_address

MAX_AMOUNT = 2**40 - 1  # RegionalPoints.pay refuses larger amounts
_URI = re.compile(
    r"^ethereum:(?:pay-)?(?P<target>0x[0-9a-fA-F]{40})"
    r"(?:@(?P<chain>[0-9]+))?(?:/(?P<fn>[A-Za-z_]\w*))?(?:\?(?P<query>.*))?$"
)


class PaymentUriError(ValueError):
    """The URI is not a valid Takasago payment request; the message says what is wrong."""


@dataclass(frozen=True)
class PaymentRequest:
    """A merchant's request: ``reference`` is the ``bytes32`` printed in the QR code (the
    third argument of ``pay``), not the on-chain request id (:attr:`request_id`)."""

    token: str
    chain_id: int
    merchant: str
    amount: int
    reference: bytes

    @property
    def request_id(self) -> bytes:
        """The on-chain request id a payment of this request is recorded under."""
        return payment_request_id(self.merchant, self.amount, self.reference)


def _address(value: str, what: str) -> str:
    if not is_hex_address(value):
        raise PaymentUriError(f"{what} is not a 20-byte hex address: {value[:60]!r}")
    if value != value.lower() and value[2:] != value[2:].upper() and not is_checksum_address(value):
        raise PaymentUriError(f"{what} has a wrong EIP-55 checksum (a mistyped address): {value}")
    return to_checksum_address(value)


def build_payment_uri(request: PaymentRequest) -> str:
    if not 1 <= request.amount <= MAX_AMOUNT:
        raise PaymentUriError(f"amount must be between 1 and {MAX_AMOUNT} points, not {request.amount}")
    if len(request.reference) != 32 or request.reference == b"\0" * 32:
        raise PaymentUriError("the payment reference must be 32 bytes and not zero")
    return (
        f"ethereum:{to_checksum_address(request.token)}@{request.chain_id}/pay"
        f"?address={to_checksum_address(request.merchant)}&uint256={request.amount}"
        f"&bytes32=0x{request.reference.hex()}"
    )


def _amount(value: str) -> int:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise PaymentUriError(f"amount {value[:40]!r} is not a number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise PaymentUriError(f"amount {value[:40]!r} is not a whole number of points")
    amount = int(number)
    if not 1 <= amount <= MAX_AMOUNT:
        raise PaymentUriError(f"amount must be between 1 and {MAX_AMOUNT} points, not {amount}")
    return amount


def parse_payment_uri(uri: str, *, token: str | None = None, chain_id: int | None = None) -> PaymentRequest:
    """Parses and checks a payment URI; ``token``/``chain_id`` (when given) must match it."""
    if not isinstance(uri, str) or len(uri) > 512:
        raise PaymentUriError("not a payment request (expected an ethereum: URI of at most 512 characters)")
    match = _URI.match(uri.strip())
    if match is None:
        raise PaymentUriError("not a payment request: expected ethereum:<token>@<chainId>/pay?…")
    target = _address(match["target"], "the token address")
    if match["chain"] is None:
        raise PaymentUriError("the payment request names no chain id (@<chainId>)")
    uri_chain = int(match["chain"])
    if match["fn"] != "pay":
        raise PaymentUriError(f"the request calls {match['fn'] or 'no function'!r}, not pay")
    pairs = parse_qsl(match["query"] or "", keep_blank_values=True, strict_parsing=False)
    keys = [k for k, _ in pairs]
    if keys != ["address", "uint256", "bytes32"]:
        raise PaymentUriError("expected exactly the parameters address, uint256 and bytes32, in that order")
    values = dict(pairs)
    merchant = _address(values["address"], "the merchant address")
    amount = _amount(values["uint256"])
    raw_reference = values["bytes32"]
    if not re.fullmatch(r"0x[0-9a-fA-F]{64}", raw_reference):
        raise PaymentUriError("the payment reference must be 0x followed by 64 hex digits")
    reference = bytes.fromhex(raw_reference[2:])
    if reference == b"\0" * 32:
        raise PaymentUriError("the payment reference must not be zero")
    if token is not None and target != to_checksum_address(token):
        raise PaymentUriError(
            f"the request is for token {target}, not this city's points ({to_checksum_address(token)})"
        )
    if chain_id is not None and uri_chain != chain_id:
        raise PaymentUriError(f"the request is for chain {uri_chain}, not this ledger (chain {chain_id})")
    return PaymentRequest(target, uri_chain, merchant, amount, reference)


def payment_request_id(merchant: str, amount: int, reference: bytes) -> bytes:
    """The id ``RegionalPoints.pay(merchant, amount, reference)`` records its payment under.

    ``keccak256(abi.encode(merchant, amount, reference))``, as the contract's
    ``paymentRequestId`` computes it: the QR carries the ``reference``, and the chain's
    record (``paymentOf``, ``Paid``, ``refund``) is keyed by this id, which commits to the
    amount, so a payment of another amount against the same printed reference can never
    be taken for the merchant's request. Computed locally to spare a node round trip.
    """
    if len(reference) != 32:
        raise PaymentUriError("the payment reference must be 32 bytes")
    return keccak(abi_encode(["address", "uint256", "bytes32"], [to_checksum_address(merchant), amount, reference]))
