"""Four validator processes agreeing by QBFT on loopback: crashes, restarts, a halt without quorum,
dishonest validators, and an auditor's node that syncs from genesis trusting no one.

Each node is a real ``takasago node run`` process created by ``takasago network init``'s code;
the load is signed ERC-20 transfers over JSON-RPC; every check compares what the nodes
themselves answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
import rlp
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_keys import keys
from eth_utils import keccak, to_checksum_address

from node.genesis import DEFAULT_REGISTRY_ADDRESS
from node.qbft.peers import Gossip, PeerNode
from tests.conftest import REPO, free_port
from tests.fault_proxy import FaultProxy
from tests.network_support import Network, Token, free_port_run, result, wait_receipt, wait_until

REGISTRY = to_checksum_address(DEFAULT_REGISTRY_ADDRESS)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    net = Network(tmp_path_factory.mktemp("qbft") / "net")
    net.init()
    net.start(*net.validator_names)
    try:
        yield net
    finally:
        net.stop_all()


def node_info(net: Network, name: str) -> dict:  # type: ignore[type-arg]
    return result(net.url(name), "takasago_nodeInfo")  # type: ignore[no-any-return]


def test_four_validators_agree_survive_crashes_and_halt_safely_without_quorum(network: Network) -> None:
    net = network
    v0, v1, v2, v3 = net.validator_names
    net.wait_for_height(3)
    net.assert_same_chain()
    certificate = result(net.url(v1), "takasago_getCommitCertificate", ["0x2"])
    validators = {net.address(v).lower() for v in net.validator_names}
    assert len(certificate["signers"]) >= 3 and {s.lower() for s in certificate["signers"]} <= validators
    assert {v.lower() for v in result(net.url(v2), "qbft_getValidatorsByBlockNumber", ["0x2"])} == validators
    assert int(result(net.url(v0), "net_peerCount"), 16) == 3

    token = Token.deploy(net.url(v0), net.dev_keys())
    recipient = Account.create().address
    senders = token.accounts[1:]
    live = [net.url(v) for v in (v0, v1, v2)]

    # Load through the three validators that stay up; the fourth is killed half-way.
    acknowledged: list[str] = []
    count = 150

    def load() -> None:
        for i in range(count):
            acknowledged.append(token.send(live[i % 3], senders[i % len(senders)], recipient, 1))
            time.sleep(0.02)

    sender = threading.Thread(target=load)
    sender.start()
    wait_until(lambda: len(acknowledged) >= count // 3, 30, "load to start")
    killed_at = net.head(v3)
    net.nodes[v3].kill()
    sender.join()
    for tx_hash in acknowledged:
        wait_receipt(net.url(v0), tx_hash)
    assert token.balance(net.url(v1), recipient) == count  # nothing acknowledged was lost
    net.wait_for_height(killed_at + 3, [v0, v1, v2])
    net.assert_same_chain([v0, v1, v2])

    # The crashed validator restarts and catches up: same blocks, including those it had committed.
    net.start(v3)
    head = net.head(v0)
    net.wait_for_height(head, [v3])
    net.assert_same_chain([v0, v1, v2, v3], upto=head)
    assert token.balance(net.url(v3), recipient) == count

    # Two of four down: no quorum, so nothing is finalised (and nothing conflicting).
    net.nodes[v2].kill()
    net.nodes[v3].kill()
    settled: dict[str, dict[str, int]] = {}

    def settled_heads() -> bool:  # a block already holding its commits may still land; then nothing
        heads = {v: net.head(v) for v in (v0, v1)}
        unchanged = heads == settled.get("last")
        settled["last"] = heads
        if not unchanged:
            time.sleep(net.request_timeout + 0.5)
        return unchanged

    wait_until(settled_heads, 60, "the two survivors to stop moving")
    stalled = settled["last"]
    pending = token.send(net.url(v0), senders[0], recipient, 1)
    time.sleep(3 * net.request_timeout + 1)  # several rounds: none can gather a quorum
    assert {v: net.head(v) for v in (v0, v1)} == stalled
    assert result(net.url(v1), "eth_getTransactionReceipt", [pending]) is None
    net.assert_same_chain([v0, v1])

    # One returns: quorum again, the chain resumes and the waiting transfer is included.
    net.start(v2)
    wait_receipt(net.url(v1), pending, timeout=90)
    net.start(v3)
    head = net.head(v0)
    net.wait_for_height(head, [v2, v3], timeout=90)
    net.assert_same_chain([v0, v1, v2, v3], upto=head)
    assert token.balance(net.url(v2), recipient) == count + 1

    # An auditor's node started only now syncs from genesis, checking every certificate and re-executing.
    observer = next(e["name"] for e in net.entries if e["role"] == "observer")
    net.start(observer)
    head = net.head(v0)
    net.wait_for_height(head, [observer], timeout=90)
    net.assert_same_chain([v0, observer], upto=head)
    assert token.balance(net.url(observer), recipient, hex(head)) == token.balance(net.url(v0), recipient, hex(head))
    assert result(net.url(observer), "eth_syncing") is False  # level with its peers again
    info = node_info(net, observer)["consensus"]
    assert info["validator"] is False and info["synced"] >= head - 1
    assert result(net.url(observer), "takasago_getCommitCertificate", [hex(head)])["blockHash"] == net.block_hash(
        v0, head
    )
    # The auditors' own check, from the specification: header hashes, seals and a commit quorum per block.
    audit = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "audit", "verify", "--chain-only", "--rpc-url", net.url(observer)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr
    summary = re.search(r"audit at block (\d+): .* (\d+) commit certificates verified", " ".join(audit.stdout.split()))
    assert summary is not None and int(summary[1]) >= head and int(summary[2]) == int(summary[1]), audit.stdout

    # The explorer, following the auditor's node, shows who made each block final.
    port = free_port()
    explorer = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", "indexer", "serve", "--data-dir", str(net.directory / "explorer"),
         "--rpc-url", net.url(observer), "--deployments-dir", str(net.directory / "deployments"), "--port", str(port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        page: dict[str, str] = {}

        def block_page() -> bool:
            response = requests.get(f"http://127.0.0.1:{port}/block/{head}?lang=en", timeout=5)
            page["text"] = response.text
            return response.status_code == 200

        wait_until(block_page, 60, "the explorer's block page")
        finality = re.search(r'<dd id="finality">final: commit seals from (\d) of 4 validators', page["text"])
        assert finality is not None and int(finality[1]) >= 3, page["text"][-2000:]
    finally:
        explorer.terminate()
        explorer.wait(30)


def proposer_of(net: Network, number: int) -> str:
    """The validator proposing round 0 at ``number`` (round robin over the registry's order)."""
    validators = result(net.url(net.validator_names[0]), "qbft_getValidatorsByBlockNumber", [hex(number - 1)])
    return str(validators[number % len(validators)]).lower()


def test_an_equivocating_or_invalid_proposer_is_ignored(network: Network) -> None:
    net = network
    v0, v1, v2, v3 = net.validator_names
    bad = net.address(v3).lower()
    honest = [v0, v1, v2]
    for fault in ("equivocate", "invalid-block"):
        net.nodes[v3].stop()
        net.start(v3, env={"TAKASAGO_QBFT_FAULT": fault})
        wait_until(lambda: net.head(v3) >= net.head(v0), 60, "the faulty validator to catch up")
        start = net.head(v0)
        net.wait_for_height(start + 5, honest, timeout=120)
        net.assert_same_chain(honest)
        faulty_heights = [n for n in range(start + 1, start + 5) if proposer_of(net, n) == bad]  # 4 in a row
        assert faulty_heights, "the faulty validator never led round 0"
        log = Path(str(net.nodes[v3].log_path)).read_text()
        if fault == "equivocate":
            assert "equivocating at height" in log
        else:
            invalid = sum(node_info(net, v)["consensus"]["invalid_proposals"] for v in honest)
            assert invalid >= len(faulty_heights)
            for n in faulty_heights:  # decided in a later round, proposed by someone honest
                block = result(net.url(v0), "eth_getBlockByNumber", [hex(n), False])
                assert block["miner"].lower() != bad
                assert int(result(net.url(v1), "takasago_getCommitCertificate", [hex(n)])["round"], 16) >= 1
    # A power cut the moment a COMMIT is journaled: on restart the validator resumes that height
    # from its vote journal (what it sent and prepared) instead of starting it afresh.
    net.nodes[v3].stop()
    net.nodes[v3].env = {"TAKASAGO_QBFT_FAILPOINT": "exit-after-commit"}
    net.nodes[v3].launch()  # not waited for: the failpoint may stop it before its RPC first answers
    process = net.nodes[v3].process
    assert process is not None
    wait_until(lambda: process.poll() is not None, 60, "the failpoint to stop validator-3")
    assert process.returncode == 3
    net.start(v3)
    head = net.head(v0)
    net.wait_for_height(head, [v3], timeout=60)
    net.assert_same_chain(upto=head)
    assert "resuming height" in Path(str(net.nodes[v3].log_path)).read_text()


def test_malformed_frames_from_an_authenticated_peer_change_nothing(network: Network) -> None:
    """An allowed peer (the observer's key) sends every kind of broken frame; the validator shrugs them off."""
    net = network
    v0 = net.validator_names[0]
    observer = next(e for e in net.entries if e["role"] == "observer")
    key = keys.PrivateKey(bytes.fromhex(
        json.loads((net.directory / observer["name"] / "dev-keys.json").read_text())["node"]["privateKey"][2:]
    ))  # fmt: skip
    target = next(e for e in net.entries if e["name"] == v0)
    chain_id = int(result(net.url(v0), "eth_chainId"), 16)
    head = net.head(v0)
    garbage = [
        b"", b"\x00", b"\x09junk", b"\x01", b"\x01" + b"\xc0", b"\x01" + b"\xff" * 100,
        b"\x02" + b"\xc3\x01\x02\x03", b"\x02" + rlp.encode([b"\x00" * 200]), b"\x02not rlp",
        b"\x03" + rlp.encode([10**12, b"\x00" * 32]), b"\x03" + b"\x80", b"\x04" + rlp.encode([1, 10**9]),
        b"\x04" + rlp.encode([10**15, 5]), b"\x05" + rlp.encode([[b"not a block", b""]]), b"\x05\xff",
        b"\x01" + rlp.encode([rlp.encode([0x12, head + 1, 0, b"\x00" * 32, b"x", []]), b"\x00" * 65]),
    ]  # fmt: skip

    async def send_all() -> None:
        received: list[bytes] = []

        async def handler(frame: bytes, _origin: bytes) -> None:
            received.append(frame)

        validators = {bytes.fromhex(net.address(v)[2:]) for v in net.validator_names}
        node = PeerNode(key, chain_id, validators, Gossip(handler))
        async with aiohttp.ClientSession() as session:
            await node.dial(session, f"ws://127.0.0.1:{target['p2pPort']}/p2p")
            while not node.gossip.peers:  # the link registers on its own task
                await asyncio.sleep(0.01)
            peer = next(iter(node.gossip.peers.values()))
            for frame in garbage * 5:
                await peer.send(frame)
            await asyncio.sleep(1.0)
            await node.close()

    asyncio.run(send_all())
    net.wait_for_height(head + 3, [v0])
    net.assert_same_chain(net.validator_names)
    log = Path(str(net.nodes[v0].log_path)).read_text()
    assert "Traceback" not in log


def vote(net: Network, voter: str, candidate: str, add: bool) -> dict:  # type: ignore[type-arg]
    """``voter`` (a validator) signs voteValidator directly, as `takasago network vote` does."""
    key = json.loads((net.directory / voter / "dev-keys.json").read_text())["validator"]["privateKey"]
    account = Account.from_key(key)
    url = net.url(voter)
    data = keccak(text="voteValidator(address,bool)")[:4] + abi_encode(["address", "bool"], [candidate, add])
    tx = {
        "to": REGISTRY, "data": data, "gas": 300_000, "gasPrice": 0, "value": 0,
        "nonce": int(result(url, "eth_getTransactionCount", [account.address, "pending"]), 16),
        "chainId": int(result(url, "eth_chainId"), 16),
    }  # fmt: skip
    tx_hash = result(url, "eth_sendRawTransaction", ["0x" + account.sign_transaction(tx).raw_transaction.hex()])
    return wait_receipt(url, tx_hash)


def header_set(net: Network, name: str, number: int) -> list[str]:
    """The validator list in block ``number``'s header: the set that agreed on it."""
    return [a.lower() for a in result(net.url(name), "qbft_getValidatorsByBlockNumber", [hex(number)])]


def test_validators_vote_a_new_member_in_and_an_old_one_out(network: Network) -> None:
    net = network
    v0, v1, v2, v3 = net.validator_names
    observer = next(e["name"] for e in net.entries if e["role"] == "observer")
    newcomer = net.address(observer)
    if net.nodes[observer].process is None:
        net.start(observer)
    before = header_set(net, v0, net.head(v0))

    # The CLI casts the first vote; 3 of 4 are needed, so nothing changes until the third.
    cli = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "network", "vote", newcomer, "--add", "--rpc-url", net.url(v1),
         "--dev-keys", str(net.directory / v1 / "dev-keys.json")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "1 of 3 votes" in cli.stdout
    vote(net, v2, newcomer, True)
    deciding = vote(net, v0, newcomer, True)
    changed_from = int(deciding["blockNumber"], 16) + 1
    net.wait_for_height(changed_from + 10, [v0, v1, v2, v3, observer])
    in_header = result(net.url(v3), "qbft_getValidatorsByBlockNumber", [hex(changed_from)])
    assert [a.lower() for a in in_header] == [*before, newcomer.lower()]
    assert [
        a.lower() for a in result(net.url(v3), "qbft_getValidatorsByBlockNumber", [hex(changed_from - 1)])
    ] == before
    assert node_info(net, observer)["consensus"]["validator"] is True
    proposers = {
        result(net.url(v0), "eth_getBlockByNumber", [hex(n), False])["miner"].lower()
        for n in range(changed_from, changed_from + 10)  # its round-0 turn comes twice
    }
    assert newcomer.lower() in proposers  # the newcomer now takes its turn proposing
    signers = result(net.url(observer), "takasago_getCommitCertificate", [hex(changed_from + 5)])["signers"]
    assert len(signers) >= 4  # ⌈2·5/3⌉ of the five

    # Now five: removing validator-3 needs 3 votes. Once out, stopping it costs nothing.
    bad = net.address(v3).lower()
    for voter in (v0, v1, v2):
        receipt = vote(net, voter, net.address(v3), False)
    removed_from = int(receipt["blockNumber"], 16) + 1
    net.wait_for_height(removed_from + 1, [v0])
    assert header_set(net, v0, removed_from) == [a for a in header_set(net, v0, removed_from - 1) if a != bad]
    net.nodes[v3].stop()
    head = net.head(v0)
    net.wait_for_height(head + 4, [v0, v1, v2, observer], timeout=60)
    net.assert_same_chain([v0, v1, v2, observer])


def test_delayed_cut_and_partitioned_links_do_not_break_safety(tmp_path: Path) -> None:
    """Every link between validators runs through a proxy that delays each chunk up to 150 ms and
    cuts links at random (losing what was in flight); then one validator is cut off entirely."""
    net = Network(tmp_path / "net", observers=0)
    net.init()
    proxy = FaultProxy(seed=8)
    names = [e["name"] for e in net.entries]
    real = {e["name"]: e["p2pPort"] for e in net.entries}
    by_address = {e["address"].lower(): e["name"] for e in net.entries}
    first = free_port_run(len(names) * len(names))
    for i, dialer in enumerate(names):  # each dialer reaches each listener through its own proxy port
        config_path = net.directory / dialer / "node.json"
        config = json.loads(config_path.read_text())
        for peer in config["network"]["peers"]:
            listener = by_address[peer["address"].lower()]
            port = first + i * len(names) + names.index(listener)
            proxy.add(port, real[listener], (dialer, listener))
            peer["url"] = f"ws://127.0.0.1:{port}/p2p"
        config_path.write_text(json.dumps(config))
    proxy.faults.max_delay = 0.15
    proxy.faults.cut_probability = 0.01
    try:
        net.start(*net.validator_names)
        v0, v1, v2, v3 = net.validator_names
        token = Token.deploy(net.url(v0), net.dev_keys(), holders=3)
        recipient = Account.create().address
        hashes = [token.send(net.url(net.validator_names[i % 4]), token.accounts[1 + i % 2], recipient, 1)
                  for i in range(24)]  # fmt: skip
        for tx_hash in hashes:
            wait_receipt(net.url(v1), tx_hash, timeout=120)
        net.wait_for_height(net.head(v0) + 3, timeout=120)
        net.assert_same_chain()
        assert proxy.counters.cuts > 0 and proxy.counters.delayed > 100

        # A partition: validator-3 hears nothing and is heard by no one; the other three go on.
        proxy.isolate(v3)
        isolated_at = net.head(v3)
        net.wait_for_height(isolated_at + 3, [v0, v1, v2], timeout=120)
        assert net.head(v3) <= isolated_at + 1
        proxy.heal()
        head = net.head(v0)
        net.wait_for_height(head, [v3], timeout=120)
        net.assert_same_chain(upto=head)
        assert token.balance(net.url(v3), recipient) == 24
    finally:
        net.stop_all()
        proxy.close()
