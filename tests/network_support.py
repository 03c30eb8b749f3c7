"""A local QBFT network of real node processes for tests: start, kill, restart, load and compare."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import keccak

from node.network_setup import init_network
from tests.conftest import REPO, NodeProcess, rpc

TRANSFER = keccak(text="transfer(address,uint256)")[:4]
BALANCE_OF = keccak(text="balanceOf(address)")[:4]


def free_port_run(count: int) -> int:
    """A first port of ``count`` consecutive free loopback ports, below the ephemeral range.

    Nodes are killed and restarted on the same ports; a port from the ephemeral range
    (32768+) could meanwhile be taken as the local end of some outgoing connection.
    """
    for _ in range(200):
        base = random.randrange(20_000, 32_000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no run of free ports")


def result(url: str, method: str, params: list[Any] | None = None) -> Any:
    response = rpc(url, method, params)
    if "error" in response:
        raise RuntimeError(f"{method}: {response['error']}")
    return response["result"]


@dataclass
class Network:
    directory: Path
    validators: int = 4
    observers: int = 1
    request_timeout: float = 1.0
    nodes: dict[str, NodeProcess] = field(default_factory=dict)
    entries: list[dict[str, Any]] = field(default_factory=list)

    def init(self) -> None:
        count = self.validators + self.observers
        rpc_base, p2p_base = free_port_run(count), free_port_run(count)
        init_network(
            self.directory,
            validators=self.validators,
            observers=self.observers,
            rpc_port=rpc_base,
            p2p_port=p2p_base,
            request_timeout=self.request_timeout,
        )
        self.entries = json.loads((self.directory / "network.json").read_text())["nodes"]
        for entry in self.entries:
            self.nodes[entry["name"]] = NodeProcess(self.directory / entry["name"], entry["rpcPort"])

    @property
    def validator_names(self) -> list[str]:
        return [e["name"] for e in self.entries if e["role"] == "validator"]

    def address(self, name: str) -> str:
        return next(e["address"] for e in self.entries if e["name"] == name)

    def start(self, *names: str, env: dict[str, str] | None = None) -> None:
        for name in names:
            self.nodes[name].env = env
            self.nodes[name].launch()
        for name in names:
            self.nodes[name].wait_ready()

    def stop_all(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def url(self, name: str) -> str:
        return self.nodes[name].url

    def running(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.process is not None and node.process.poll() is None]

    def head(self, name: str) -> int:
        return int(result(self.url(name), "eth_blockNumber"), 16)

    def block_hash(self, name: str, number: int) -> str | None:
        block = result(self.url(name), "eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"])

    def wait_for_height(self, height: int, names: list[str] | None = None, timeout: float = 60) -> None:
        names = names or self.running()
        wait_until(lambda: all(self.head(n) >= height for n in names), timeout, f"{names} to reach #{height}")

    def assert_same_chain(self, names: list[str] | None = None, upto: int | None = None) -> int:
        """Every named node holds identical blocks up to the lowest head (or ``upto``); returns that height."""
        names = names or self.running()
        top = min(self.head(n) for n in names) if upto is None else upto
        for number in range(1, top + 1):
            hashes = {n: self.block_hash(n, number) for n in names}
            assert len(set(hashes.values())) == 1, f"fork at #{number}: {hashes}"
        return top

    def dev_keys(self) -> dict[str, Any]:
        return json.loads((self.directory / self.validator_names[0] / "dev-keys.json").read_text())


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (requests.RequestException, RuntimeError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} ({last})")


@dataclass
class Token:
    """The test ERC-20, deployed by dev account 0, moved by signed transfers from several accounts."""

    address: str
    chain_id: int
    accounts: list[Any]
    nonces: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def deploy(cls, url: str, dev_keys: dict[str, Any], holders: int = 4) -> Token:
        chain_id = int(result(url, "eth_chainId"), 16)
        accounts = [Account.from_key(a["privateKey"]) for a in dev_keys["accounts"][:holders]]
        artifact = json.loads((REPO / "contracts" / "build" / "TestToken.json").read_text())
        deployer = accounts[0]
        code = bytes.fromhex(artifact["bytecode"].removeprefix("0x")) + abi_encode(
            ["address", "uint256"], [deployer.address, 10**30]
        )
        tx = {"nonce": 0, "gas": 3_000_000, "gasPrice": 0, "data": code, "chainId": chain_id, "value": 0}
        tx_hash = result(url, "eth_sendRawTransaction", ["0x" + deployer.sign_transaction(tx).raw_transaction.hex()])
        receipt = wait_receipt(url, tx_hash)
        token = cls(receipt["contractAddress"], chain_id, accounts, {deployer.address: 1})
        for holder in accounts[1:]:  # give each sender a stock
            token.send(url, deployer, holder.address, 10**24, wait=True)
        return token

    def transfer_raw(self, sender: Any, to: str, amount: int) -> bytes:
        with self.lock:
            nonce = self.nonces.get(sender.address, 0)
            self.nonces[sender.address] = nonce + 1
        data = TRANSFER + abi_encode(["address", "uint256"], [to, amount])
        tx = {"nonce": nonce, "gas": 60_000, "gasPrice": 0, "to": self.address, "data": data, "chainId": self.chain_id}
        return bytes(sender.sign_transaction(tx).raw_transaction)

    def send(self, url: str, sender: Any, to: str, amount: int, wait: bool = False) -> str:
        tx_hash = str(result(url, "eth_sendRawTransaction", ["0x" + self.transfer_raw(sender, to, amount).hex()]))
        if wait:
            wait_receipt(url, tx_hash)
        return tx_hash

    def balance(self, url: str, holder: str, block: str = "latest") -> int:
        data = BALANCE_OF + abi_encode(["address"], [holder])
        return int(result(url, "eth_call", [{"to": self.address, "data": "0x" + data.hex()}, block]), 16)


def wait_receipt(url: str, tx_hash: str, timeout: float = 60) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def ready() -> bool:
        receipt = result(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            found.update(receipt)
        return receipt is not None

    wait_until(ready, timeout, f"receipt of {tx_hash}")
    assert found["status"] == "0x1", found
    return found
