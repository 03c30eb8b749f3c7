"""Issue 15 finding 2: on a QBFT network no block is committed without a quorum's commit certificate.

A block carries its proposer's seal in the header; that proves one validator sealed it, not
that a quorum agreed. The review posted a block built offline with another validator's key to
``takasago_importBlock`` on the only running validator of four, and it became block #1. These
tests start a real validator process of a 4-validator network, and open the ledger itself to
check that every path to disk (not only the RPC method) demands the certificate.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_keys.datatypes import PrivateKey
from eth_utils import ValidationError

from node.genesis import load_genesis
from node.ledger import Ledger
from node.qbft.certificate import encode_certificate
from tests.network_support import Network, result


def _key(net: Network, name: str) -> PrivateKey:
    document = json.loads((net.directory / name / "dev-keys.json").read_text())
    return PrivateKey(bytes.fromhex(document["validator"]["privateKey"][2:]))


def _offline_block(net: Network, data_dir: Path, sealer: PrivateKey) -> bytes:
    """A block sealed by one real validator on a copy of the chain, as a rogue validator could make."""
    ledger = Ledger(data_dir, load_genesis(data_dir / "genesis.json"), sealer)
    try:
        return bytes(rlp.encode(ledger.build_block([]).block))
    finally:
        ledger.close()


@pytest.fixture()
def network(tmp_path: Path) -> Network:
    net = Network(tmp_path / "net", validators=4, observers=0)
    net.init()
    return net


def test_finding02_import_block_with_one_validators_seal_is_refused_on_a_qbft_node(
    network: Network, tmp_path: Path
) -> None:
    net = network
    v0, v1 = net.validator_names[:2]
    offline = tmp_path / "offline"
    shutil.copytree(net.directory / v0, offline)
    forged = _offline_block(net, offline, _key(net, v1))  # v1 is a real validator; its seal is genuine
    net.start(v0)  # one of four: no quorum, so no block can be decided
    try:
        url = net.url(v0)
        response = net.nodes[v0].call("takasago_importBlock", ["0x" + forged.hex()])
        assert "error" in response, response
        assert "QBFT" in response["error"]["message"] and "certificate" in response["error"]["message"]
        assert result(url, "eth_blockNumber") == "0x0"
        assert result(url, "eth_getBlockByNumber", ["0x1", False]) is None
    finally:
        net.stop_all()


def test_finding02_ledger_commits_on_a_qbft_node_only_with_a_quorum_certificate(
    network: Network, tmp_path: Path
) -> None:
    """Defence in depth: the ledger refuses the block whatever called it (RPC, sync, a future tool)."""
    net = network
    names = net.validator_names
    data_dir = tmp_path / "ledger"
    shutil.copytree(net.directory / names[0], data_dir)
    offline = tmp_path / "offline"
    shutil.copytree(net.directory / names[0], offline)
    block = rlp.decode(_offline_block(net, offline, _key(net, names[1])), sedes=_block_class())
    ledger = Ledger(data_dir, load_genesis(data_dir / "genesis.json"), _key(net, names[0]))
    try:
        ledger.require_certificates = True  # what the QBFT engine sets on every consensus node
        built = ledger.import_block(block)  # a genuine seal, a valid execution: only finality is missing
        with pytest.raises(ValidationError, match="no commit certificate"):
            ledger.commit(built)
        digest = built.block.hash
        one = encode_certificate(0, [_key(net, names[1]).sign_msg_hash(digest).to_bytes()])
        with pytest.raises(ValidationError, match="1 seals; 3 of 4"):
            ledger.commit(built, one)
        outsider = PrivateKey(b"\x09" * 32).sign_msg_hash(digest).to_bytes()
        seals = [_key(net, n).sign_msg_hash(digest).to_bytes() for n in names[:2]]
        with pytest.raises(ValidationError, match="not a validator"):
            ledger.commit(built, encode_certificate(0, [*seals, outsider]))
        assert ledger.head.block_number == 0
        quorum = encode_certificate(0, [_key(net, n).sign_msg_hash(digest).to_bytes() for n in names[:3]])
        ledger.commit(built, quorum)
        assert ledger.head.block_number == 1 and ledger.certificate(1) == quorum
    finally:
        ledger.close()


def _block_class() -> type:
    from node.execution import TakasagoVM

    return TakasagoVM.get_block_class()  # type: ignore[no-any-return]


def test_finding02_import_block_is_a_development_method_on_a_single_validator_chain(node_factory: Any) -> None:
    """Outside a --dev chain the method is gated like evm_*: a production node takes blocks from no one."""
    node = node_factory(start=False)
    config_path = node.data_dir / "node.json"
    config = json.loads(config_path.read_text())
    config["dev"] = False  # the same chain and keystore, run as production (passphrase from the environment)
    config_path.write_text(json.dumps(config))
    node.env = {"TAKASAGO_VALIDATOR_PASSWORD": node.dev_keys["passphrase"]}
    node.start()
    refused = node.call("takasago_importBlock", ["0xc0ffee"])
    assert refused["error"]["code"] == -32601 and "development chains only" in refused["error"]["message"]
    assert node.call("evm_mine")["error"]["code"] == -32601
