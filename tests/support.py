"""Small helpers for tests that drive the node with web3.py."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from web3 import Web3
from web3.contract import Contract
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxReceipt

from contracts.artifacts import load_artifact
from contracts.predeploys import REGISTRY_ADDRESS

KIND_RESIDENT = 1


def web3_for(url: str) -> Web3:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
    # PoA chains carry seals in extraData (> 32 bytes), as Besu QBFT and Clique do.
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def transact(w3: Web3, private_key: str, tx: dict[str, Any]) -> TxReceipt:
    account = Account.from_key(private_key)
    tx = {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending"), **tx}
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    tx.setdefault("maxFeePerGas", 0)
    tx.setdefault("maxPriorityFeePerGas", 0)
    tx.setdefault("chainId", w3.eth.chain_id)
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.02)


def deploy(w3: Web3, private_key: str, name: str, *args: Any) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    receipt = transact(w3, private_key, {"data": data, "gas": 5_000_000})
    assert receipt["status"] == 1, receipt
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)


def call_fn(w3: Web3, private_key: str, fn: Any, gas: int | None = None) -> TxReceipt:
    account = Account.from_key(private_key)
    tx: dict[str, Any] = {"to": fn.address, "data": fn._encode_transaction_data()}
    if gas is not None:
        tx["gas"] = gas
    else:
        tx["gas"] = fn.estimate_gas({"from": account.address})
    return transact(w3, private_key, tx)


def registry(w3: Web3) -> Contract:
    return w3.eth.contract(address=REGISTRY_ADDRESS, abi=load_artifact("AccountRegistry").abi)


def register_accounts(w3: Web3, admin_key: str, addresses: list[str], kind: int = KIND_RESIDENT) -> None:
    """Allowlist ``addresses`` through the registry (signed by the city admin)."""
    reg = registry(w3)
    admin = Account.from_key(admin_key)
    nonce = w3.eth.get_transaction_count(admin.address, "pending")
    hashes = []
    for offset, address in enumerate(addresses):
        tx = {
            "to": reg.address,
            "data": reg.functions.register(address, kind, b"\0" * 32)._encode_transaction_data(),
            "gas": 200_000,
            "nonce": nonce + offset,
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
            "chainId": w3.eth.chain_id,
        }
        hashes.append(w3.eth.send_raw_transaction(admin.sign_transaction(tx).raw_transaction))
    for tx_hash in hashes:
        assert w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.02)["status"] == 1
