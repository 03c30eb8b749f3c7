"""The ERC-20 transfer workload: signing client-side, sending setup in batches, reading balances.

The same client code runs against every ``System`` so throughput and latency compare the
ledgers, not the clients: transactions are signed with eth-account (coincurve) before the
clock starts and sent as raw JSON-RPC batches.
"""

from __future__ import annotations

import collections
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from bench.harness.rpc import BenchRpc, hex_int
from contracts.artifacts import load_artifact

if TYPE_CHECKING:
    from bench.harness.systems import System

TRANSFER_GAS = 60_000  # an OZ ERC-20 transfer to a fresh recipient uses ~51.5k
SETUP_GAS = 200_000
DEPLOY_GAS = 3_000_000
PEER_FEE_CAP = 10 * 10**9  # peers: 10 gwei cap, 0 tip; anvil's base fee stays 0
SENDER_ETHER = 10**18  # 1 ETH covers 100 transfers at the fee cap (0.0006 ETH each)
SENDER_TOKENS = 10**24
TOKEN_SUPPLY = 10**30
RECIPIENTS = 200

ERC20 = load_artifact("TestToken")
SEL_TRANSFER = keccak(text="transfer(address,uint256)")[:4]
SEL_BALANCE_OF = keccak(text="balanceOf(address)")[:4]


def encode_address(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def transfer_data(to: str, amount: int) -> bytes:
    return SEL_TRANSFER + encode_address(to) + amount.to_bytes(32, "big")


def balance_of_data(owner: str) -> str:
    return "0x" + (SEL_BALANCE_OF + encode_address(owner)).hex()


def sign(
    key: Any, chain_id: int, nonce: int, to: str | None, data: bytes, value: int, gas: int, fee_cap: int
) -> tuple[str, str]:
    """(raw, hash) of a type-2 transaction with no tip."""
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": fee_cap,
        "maxPriorityFeePerGas": 0,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = to
    signed = key.sign_transaction(tx)
    return "0x" + signed.raw_transaction.hex(), "0x" + signed.hash.hex()


def wait_receipts(rpc: BenchRpc, hashes: list[str], timeout: float = 300.0, batch: int = 100) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(hashes):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(hashes) - len(found)} of {len(hashes)} setup receipts missing after {timeout}s")
        todo = [h for h in hashes if h not in found][:1000]
        for i in range(0, len(todo), batch):
            chunk = todo[i : i + batch]
            for h, r in zip(chunk, rpc.batch([("eth_getTransactionReceipt", [h]) for h in chunk]), strict=True):
                if r is not None:
                    found[h] = r
        if len(found) < len(hashes):
            time.sleep(0.05)
    return [found[h] for h in hashes]


def send_setup(
    rpc: BenchRpc, system: System, calls: Sequence[tuple[str | None, bytes, int]], gas: int = SETUP_GAS
) -> list[dict[str, Any]]:
    """Send (to, data, value) from the funder, in batches, and require status 1."""
    key = Account.from_key(system.funder_key)
    chain_id = hex_int(rpc.call("eth_chainId"))
    nonce = hex_int(rpc.call("eth_getTransactionCount", key.address, "pending"))
    fee_cap = 0 if system.free_gas else PEER_FEE_CAP
    signed = [
        sign(key, chain_id, nonce + i, to, data, value, gas, fee_cap) for i, (to, data, value) in enumerate(calls)
    ]
    for i in range(0, len(signed), 100):
        rpc.batch([("eth_sendRawTransaction", [raw]) for raw, _ in signed[i : i + 100]])
    receipts = wait_receipts(rpc, [h for _, h in signed])
    bad = [r for r in receipts if hex_int(r["status"]) != 1]
    if bad:
        raise RuntimeError(f"{system.name}: {len(bad)} setup transactions failed, e.g. {bad[0]}")
    return receipts


def token_balances(rpc: BenchRpc, token: str, owners: list[str]) -> dict[str, int]:
    out = {}
    for i in range(0, len(owners), 100):
        chunk = owners[i : i + 100]
        results = rpc.batch([("eth_call", [{"to": token, "data": balance_of_data(o)}, "latest"]) for o in chunk])
        out.update({o: int(r, 16) for o, r in zip(chunk, results, strict=True)})
    return out


@dataclass
class Workload:
    """A deployed token, funded senders and their next nonces: what each round signs from."""

    chain_id: int
    token: str
    sender_keys: list[Any]
    recipients: Sequence[str]
    fee_cap: int
    next_nonce: list[int]

    def sign_round(self, per_sender: int) -> tuple[list[list[tuple[str, str]]], dict[str, int], float]:
        """per-sender lists of (raw, hash), expected token deltas, seconds spent signing."""
        txs: list[list[tuple[str, str]]] = []
        delta: dict[str, int] = collections.defaultdict(int)
        started = time.perf_counter()
        for s, key in enumerate(self.sender_keys):
            mine = []
            for j in range(per_sender):
                nonce = self.next_nonce[s] + j
                to = self.recipients[(s * 7 + nonce) % len(self.recipients)]
                amount = 1 + (s + nonce) % 5
                delta[to] += amount
                delta[key.address] -= amount
                mine.append(
                    sign(
                        key, self.chain_id, nonce, self.token, transfer_data(to, amount), 0, TRANSFER_GAS, self.fee_cap
                    )
                )
            txs.append(mine)
            self.next_nonce[s] += per_sender
        return txs, delta, time.perf_counter() - started


def setup_system(system: System, rpc: BenchRpc, senders: int) -> Workload:
    """Deploys ``TestToken``, creates ``senders`` fresh senders, prepares and funds them (not timed)."""
    chain_id = hex_int(rpc.call("eth_chainId"))
    funder = Account.from_key(system.funder_key)
    ctor = ERC20.bytecode + encode_address(funder.address) + TOKEN_SUPPLY.to_bytes(32, "big")
    receipt = send_setup(rpc, system, [(None, ctor, 0)], gas=DEPLOY_GAS)[0]
    token = to_checksum_address(receipt["contractAddress"])
    sender_keys = [Account.from_key(secrets.token_bytes(32)) for _ in range(senders)]
    addresses = [k.address for k in sender_keys]
    system.prepare(rpc, addresses)
    send_setup(rpc, system, [(token, transfer_data(a, SENDER_TOKENS), 0) for a in addresses])
    recipients = [
        to_checksum_address(keccak(b"takasago-bench-recipient" + i.to_bytes(4, "big"))[:20]) for i in range(RECIPIENTS)
    ]
    # the declared gas must cover the costliest transfer (to a fresh recipient)
    estimate = hex_int(
        rpc.call(
            "eth_estimateGas",
            {"from": addresses[0], "to": token, "data": "0x" + transfer_data(recipients[0], 5).hex()},
        )
    )
    if estimate > TRANSFER_GAS:
        raise RuntimeError(f"{system.name}: transfer needs {estimate} gas > {TRANSFER_GAS}")
    return Workload(chain_id, token, sender_keys, recipients, 0 if system.free_gas else PEER_FEE_CAP, [0] * senders)
