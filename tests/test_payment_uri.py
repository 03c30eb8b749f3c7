"""EIP-681 payment URIs: round trip, strict parsing of untrusted QR text, and paying what the URI says."""

from __future__ import annotations

import secrets

import pytest

from ledger_client.payment_uri import PaymentRequest, PaymentUriError, build_payment_uri, parse_payment_uri
from tests.points import PointsSystem
from tests.wallet_support import shared_points

# the worker's shared chain (no deployment of its own): fresh accounts, no settings changed
points = shared_points

TOKEN = "0x330b75Fb42d5354c9c4704a463846d479006F28A"
SHOP = "0x92f2634E1121A7C60Fa047070770D144C42868D2"
RID = bytes.fromhex("ab" * 32)


def test_round_trip() -> None:
    request = PaymentRequest(TOKEN, 1337, SHOP, 420, RID)
    uri = build_payment_uri(request)
    assert uri == f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=420&bytes32=0x{'ab' * 32}"
    assert parse_payment_uri(uri, token=TOKEN, chain_id=1337) == request
    assert parse_payment_uri(uri.replace("uint256=420", "uint256=4.2e2")).amount == 420
    assert parse_payment_uri(uri.replace("ethereum:", "ethereum:pay-")) == request


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://example.com", "not a payment request"),
        (f"ethereum:{TOKEN}/pay?address={SHOP}&uint256=1&bytes32=0x{'ab' * 32}", "no chain id"),
        (f"ethereum:{TOKEN}@1337/transfer?address={SHOP}&uint256=1", "not pay"),
        (f"ethereum:{TOKEN}@1337/pay?uint256=1&address={SHOP}&bytes32=0x{'ab' * 32}", "in that order"),
        (f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=0&bytes32=0x{'ab' * 32}", "between 1 and"),
        (f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=1.5&bytes32=0x{'ab' * 32}", "whole number"),
        (f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=abc&bytes32=0x{'ab' * 32}", "not a number"),
        (f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=1e30&bytes32=0x{'ab' * 32}", "between 1 and"),
        (f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=1&bytes32=0x1234", "64 hex digits"),
        (f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=1&bytes32=0x{'00' * 32}", "must not be zero"),
        (
            f"ethereum:{TOKEN}@1337/pay?address=0x92F2634E1121A7C60Fa047070770D144C42868D2&uint256=1&bytes32=0x{'ab' * 32}",
            "checksum",
        ),
        (f"ethereum:{TOKEN}@1337/pay?address=0x1234&uint256=1&bytes32=0x{'ab' * 32}", "not a 20-byte"),
        (f"ethereum:{TOKEN}@1337/pay?address={SHOP}&uint256=1&bytes32=0x{'ab' * 32}" + "&x" * 300, "at most 512"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(uri: str, message: str) -> None:
    with pytest.raises(PaymentUriError, match=message):
        parse_payment_uri(uri)


def test_wrong_token_or_chain_is_refused() -> None:
    uri = build_payment_uri(PaymentRequest(TOKEN, 1337, SHOP, 1, RID))
    with pytest.raises(PaymentUriError, match="not this city's points"):
        parse_payment_uri(uri, token=SHOP)
    with pytest.raises(PaymentUriError, match="not this ledger"):
        parse_payment_uri(uri, chain_id=1)


def test_paying_a_parsed_request_on_the_node(points: PointsSystem) -> None:
    payer, shop = points.resident(), points.merchant()
    points.mint(payer, 500)
    chain_id = points.w3.eth.chain_id
    uri = build_payment_uri(PaymentRequest(points.token.address, chain_id, shop.address, 420, secrets.token_bytes(32)))
    request = parse_payment_uri(uri, token=points.token.address, chain_id=chain_id)
    points.send(payer, points.token.functions.pay(request.merchant, request.amount, request.reference))
    # The chain records it under the id derived from (merchant, amount, reference), not the printed reference.
    assert request.request_id == points.token.functions.paymentRequestId(shop.address, 420, request.reference).call()
    assert points.token.functions.paymentOf(shop.address, request.request_id).call() == [payer.address, 420, 0]
