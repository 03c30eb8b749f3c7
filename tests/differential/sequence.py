"""The differential sequence: which transactions are sent, and which views are read after each.

A step is one signed transaction, described without a chain: ``to`` may name a contract
created earlier in the sequence (``"@token"``, ``"@probe"``), resolved per chain when run.
The steps cover what a client notices when an EVM differs: deployments that succeed and
revert, ERC-20 transfers and their custom errors, legacy / access-list / 1559 transactions,
refunds, out-of-gas, Prague's calldata floor (EIP-7623) and its BLS precompile (EIP-2537).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from contracts.artifacts import load_artifact

CHAIN_ID = 1337
TOKEN_SUPPLY = 1_000_000 * 10**18
ALICE = to_checksum_address("0x" + "a1" * 20)
BOB = to_checksum_address("0x" + "b0" * 20)
CAROL = to_checksum_address("0x" + "c4" * 20)
ZERO = "0x" + "00" * 20

View = tuple[str, str, bytes]
"""(label, target contract such as ``"@token"``, calldata) of an ``eth_call`` read after each step."""


@dataclass
class Step:
    name: str
    data: bytes
    to: str | None  # None: contract creation; "@token"/"@probe": a created contract
    sender: str = "main"  # "main" or "spender"
    gas: int = 500_000
    tx_type: int = 2
    access_list: list[dict[str, Any]] | None = None
    expect_success: bool = True


def encoder(name: str) -> Any:
    """A web3 contract object for the artifact ``name``, used only to encode calldata and constructors."""
    artifact = load_artifact(name)
    return Web3().eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)


def build_sequence(main: str, spender: str) -> list[Step]:
    """The steps, in order, for the sender ``main`` and the approved spender ``spender``.

    With ``spender == main`` the step that needs a spender without tokens is left out.
    """
    token = encoder("TestToken")
    probe = encoder("Probe")

    def tok(fn: str, *args: Any) -> bytes:
        return bytes.fromhex(token.encode_abi(fn, list(args))[2:])

    def prb(fn: str, *args: Any) -> bytes:
        return bytes.fromhex(probe.encode_abi(fn, list(args))[2:])

    def create(contract: Any, *args: Any) -> bytes:
        return bytes.fromhex(contract.constructor(*args).data_in_transaction[2:])

    same_spender = spender.lower() == main.lower()
    big = b"\xff" * 4000  # calldata-heavy: the EIP-7623 floor price applies (Prague)
    bls_g1add_inf = b"\x00" * 256  # G1ADD(inf, inf) = inf: Prague precompile 0x0b
    steps = [
        Step("deploy TestToken", create(token, main, TOKEN_SUPPLY), None, gas=3_000_000),
        Step("deploy Probe", create(probe), None, gas=3_000_000),
        Step("deploy TestToken(holder=0) reverts", create(token, ZERO, 1), None, gas=3_000_000, expect_success=False),
        Step("deploy raw STOP initcode", b"\x00", None, gas=100_000),
        Step("transfer alice 1000", tok("transfer", ALICE, 1000), "@token"),
        Step("transfer bob 250 (legacy tx)", tok("transfer", BOB, 250), "@token", tx_type=0),
        Step("transfer > balance reverts", tok("transfer", ALICE, TOKEN_SUPPLY), "@token", expect_success=False),
        Step("transfer to 0 reverts", tok("transfer", ZERO, 1), "@token", expect_success=False),
        Step("approve spender 500", tok("approve", spender, 500), "@token"),
        Step("transferFrom carol 200", tok("transferFrom", main, CAROL, 200), "@token", sender="spender"),
        Step(
            "transferFrom over allowance reverts",
            tok("transferFrom", main, CAROL, 400),
            "@token",
            sender="spender",
            expect_success=False,
        ),
    ]
    if not same_spender:
        steps.append(
            Step(
                "spender transfer, no balance, reverts",
                tok("transfer", BOB, 1),
                "@token",
                sender="spender",
                expect_success=False,
            )
        )
    steps += [
        Step("probe.set(42)", prb("set", 42), "@probe"),
        Step("probe.set(42) again (no-op sstore)", prb("set", 42), "@probe"),
        Step("probe.set(0) (refund)", prb("set", 0), "@probe"),
        Step("probe.fail(7)", prb("fail", 7), "@probe", expect_success=False),
        Step("probe.failWithMessage()", prb("failWithMessage"), "@probe", expect_success=False),
        Step("probe.panic()", prb("panic"), "@probe", expect_success=False),
        Step("probe.burnGas(50)", prb("burnGas", 50), "@probe", gas=2_000_000),
        Step("probe.burnGas(50) again", prb("burnGas", 50), "@probe", gas=2_000_000),
        Step("probe.burnGas(200) out of gas", prb("burnGas", 200), "@probe", gas=200_000, expect_success=False),
        Step("probe.echo(small)", prb("echo", b"hello takasago"), "@probe"),
        Step("probe.echo(4000 bytes) calldata floor", prb("echo", big), "@probe", gas=1_000_000),
        Step("probe unknown selector reverts", bytes.fromhex("deadbeef"), "@probe", expect_success=False),
        Step(
            "probe.set(9) type-1 access list",
            prb("set", 9),
            "@probe",
            tx_type=1,
            access_list=[{"address": "@probe", "storageKeys": ["0x" + "00" * 32]}],
        ),
        Step(
            "probe.set(10) type-2 access list",
            prb("set", 10),
            "@probe",
            access_list=[
                {"address": "@probe", "storageKeys": ["0x" + "00" * 32, "0x" + "00" * 31 + "01"]},
                {"address": ALICE, "storageKeys": []},
            ],
        ),
        Step("value-0 transfer to EOA", b"", ALICE, gas=21_000),
        Step("value-0 call to EOA with data", b"\x00\x01hello", BOB, gas=30_000),
        Step("ecrecover precompile", b"\x00" * 128, "0x" + "00" * 19 + "01", gas=100_000),
        Step("sha256 precompile", b"abc", "0x" + "00" * 19 + "02", gas=100_000),
        Step("BLS12 G1ADD precompile (Prague)", bls_g1add_inf, "0x" + "00" * 19 + "0b", gas=100_000),
        Step("BLS12 G1ADD bad input fails", b"\x01" * 256, "0x" + "00" * 19 + "0b", gas=100_000, expect_success=False),
    ]
    return steps


def build_views(main: str, spender: str) -> list[View]:
    """The reads compared after every step: balances, allowance, supply and ``Probe.value``."""
    token = encoder("TestToken")
    probe = encoder("Probe")
    views: list[View] = []
    for label, who in (("main", main), ("spender", spender), ("alice", ALICE), ("bob", BOB), ("carol", CAROL)):
        views.append((f"balanceOf({label})", "@token", bytes.fromhex(token.encode_abi("balanceOf", [who])[2:])))
    views.append(
        ("allowance(main,spender)", "@token", bytes.fromhex(token.encode_abi("allowance", [main, spender])[2:]))
    )
    views.append(("totalSupply()", "@token", bytes.fromhex(token.encode_abi("totalSupply", [])[2:])))
    views.append(("probe.value()", "@probe", bytes.fromhex(probe.encode_abi("value", [])[2:])))
    return views
