"""The point system on an EVM node that is not ours: anvil, spoken to over standard JSON-RPC only.

anvil (from npm: Prague by default, chain 4242, zero base fee and gas price, no Takasago genesis)
is started behind three small recording JSON-RPC proxies: one for the CLI, one for the wallet
API, one for the indexer. With the project's own tools only:

- ``takasago deploy`` puts the whole suite on anvil; anvil has no genesis registry, so the
  deployment creates the AccountRegistry behind its ERC-1967 proxy itself;
- ``takasago account/merchant/roles/programme/mint`` register accounts and mint points;
- the wallet API (``takasago wallet init/serve``) signs a resident and a shop up, has an officer
  verify them (registered on-chain by the service) and pays the shop's payment request over HTTP;
- the indexer's follower syncs anvil into SQLite.

Every balance is then read back from anvil with plain web3 calls and from the index, and every
JSON-RPC method the components sent is checked to be a standard one (``docs/besu.md`` says why
that matters). The city admin is a fresh key with no ether: gas is free.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.logs import DISCARD

from contracts.deploy import TAKASAGO_REGISTRY_ADDRESS
from indexer import queries
from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.follower import Follower
from ledger_client.deployment import load_deployment
from ledger_client.rpc import Rpc
from tests.conftest import REPO, NodeProcess, free_port, rpc
from tests.points import MERCHANT, RESIDENT, PointsSystem
from tests.support import web3_for
from tests.wallet_support import WalletServer, database_url, member

CHAIN_ID = 4242
# The contracts are compiled for Prague; `TAKASAGO_ANVIL_HARDFORK=cancun` re-runs this on Cancun rules
# (the oldest fork they need: PUSH0, transient storage), as a Besu QBFT network without Prague runs.
HARDFORK = os.environ.get("TAKASAGO_ANVIL_HARDFORK", "prague")

# The methods of the Ethereum execution API (ethereum/execution-apis) plus net_/web3_ basics:
# what geth, Besu, Nethermind, Erigon and anvil all serve.
STANDARD_METHODS = frozenset(
    {
        "eth_blockNumber",
        "eth_call",
        "eth_chainId",
        "eth_estimateGas",
        "eth_feeHistory",
        "eth_gasPrice",
        "eth_getBalance",
        "eth_getBlockByHash",
        "eth_getBlockByNumber",
        "eth_getBlockReceipts",
        "eth_getBlockTransactionCountByHash",
        "eth_getBlockTransactionCountByNumber",
        "eth_getCode",
        "eth_getFilterChanges",
        "eth_getFilterLogs",
        "eth_getLogs",
        "eth_getProof",
        "eth_getStorageAt",
        "eth_getTransactionByBlockHashAndIndex",
        "eth_getTransactionByBlockNumberAndIndex",
        "eth_getTransactionByHash",
        "eth_getTransactionCount",
        "eth_getTransactionReceipt",
        "eth_maxPriorityFeePerGas",
        "eth_newBlockFilter",
        "eth_newFilter",
        "eth_sendRawTransaction",
        "eth_syncing",
        "eth_uninstallFilter",
        "net_version",
        "web3_clientVersion",
    }
)
# `takasago deploy` asks a node whether it is ours (to find the genesis registry); any other
# node answers "method not found" and the deployment goes on without it.
OPTIONAL_PROBES = frozenset({"takasago_nodeInfo"})


def find_anvil() -> str | None:
    for path in (
        os.environ.get("ANVIL_BIN", ""),
        str(REPO / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"),
        str(REPO / "node_modules" / ".bin" / "anvil"),
    ):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


ANVIL = find_anvil()
pytestmark = pytest.mark.skipif(
    ANVIL is None, reason="anvil not found (node_modules/.bin/anvil or $ANVIL_BIN); run `npm ci`"
)


@dataclass
class Anvil(NodeProcess):
    """anvil on a free port, shaped like the node fixture so the wallet test helpers accept it.

    ``data_dir`` holds a ``dev-keys.json`` with the city admin's key (a fresh key: anvil's
    funded accounts are not used).
    """

    def start(self, timeout: float = 30) -> None:
        assert ANVIL is not None
        self.log_path = self.data_dir / "anvil.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [ANVIL, "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(CHAIN_ID),
             "--base-fee", "0", "--gas-price", "0", "--hardfork", HARDFORK, "--silent"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"anvil exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                if "result" in rpc(self.url, "eth_chainId"):
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("anvil did not start in time")


@dataclass
class RecordingProxy:
    """Forwards JSON-RPC over HTTP to ``target`` and records every method name it carries."""

    target: str
    methods: set[str] = field(default_factory=set)
    port: int = field(default_factory=free_port)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        proxy = self
        session = requests.Session()
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    parsed = json.loads(body)
                    calls = parsed if isinstance(parsed, list) else [parsed]
                    with lock:
                        proxy.methods.update(str(c.get("method")) for c in calls if isinstance(c, dict))
                except ValueError:
                    pass
                with lock:  # one requests.Session is not meant for concurrent use
                    reply = session.post(
                        proxy.target, data=body, headers={"Content-Type": "application/json"}, timeout=60
                    )
                self.send_response(reply.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.content)))
                self.end_headers()
                self.wfile.write(reply.content)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="rpc-proxy", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class AnvilWallet(WalletServer):
    """The wallet API test server, pointed at its own recording proxy instead of the node."""

    proxy_url: str = ""

    @property
    def rpc_url(self) -> str:
        return self.proxy_url


@dataclass
class City:
    anvil: Anvil
    cli_proxy: RecordingProxy
    wallet_proxy: RecordingProxy
    indexer_proxy: RecordingProxy
    deployments: Path
    admin: LocalAccount
    audit_log: Path

    def takasago(self, *args: str) -> subprocess.CompletedProcess[str]:
        """One `takasago` command as an officer runs it (`python -m scripts.cli`), through the CLI proxy."""
        common = ["--rpc-url", self.cli_proxy.url, "--deployments", str(self.deployments),
                  "--dev-keys", str(self.anvil.data_dir / "dev-keys.json")]  # fmt: skip
        if args[0] != "deploy":
            common += ["--audit-log", str(self.audit_log), "--yes"]
        env = {**os.environ, "COLUMNS": "300", "TERM": "dumb"}
        return subprocess.run(
            [sys.executable, "-m", "scripts.cli", *args, *common],
            cwd=REPO, capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    base = tmp_path_factory.mktemp("anvil")
    admin = Account.create()
    (base / "dev-keys.json").write_text(
        json.dumps({"admin": {"address": admin.address, "privateKey": "0x" + admin.key.hex()}})
    )
    anvil = Anvil(base, free_port())
    anvil.start()
    cli, wallet, indexer = proxies = [RecordingProxy(anvil.url) for _ in range(3)]
    for proxy in proxies:
        proxy.start()
    try:
        yield City(anvil, cli, wallet, indexer, base / "deployments", admin, base / "audit.log")
    finally:
        for proxy in proxies:
            proxy.stop()
        anvil.stop()


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    text = result.stdout + result.stderr
    assert result.returncode == 0, text
    return " ".join(text.split())


def test_deploy_mint_and_pay_through_the_wallet_on_anvil(city: City, tmp_path: Path) -> None:
    w3 = web3_for(city.anvil.url)
    assert w3.eth.chain_id == CHAIN_ID
    # Gas is free, yet anvil still suggests a 1 gwei price: the sender must not follow it.
    assert w3.eth.get_block("latest")["baseFeePerGas"] == 0 and w3.eth.gas_price > 0
    assert w3.eth.get_balance(city.admin.address) == 0

    # (a) deploy: no genesis registry here, so `takasago deploy` creates it behind its proxy
    assert w3.eth.get_code(to_checksum_address(TAKASAGO_REGISTRY_ADDRESS)) == b""
    deployed = _ok(city.takasago("deploy"))
    for name in ("AccountRegistry", "RegionalPoints", "RewardProgrammes", "OracleReports"):
        assert f"deployed {name} at" in deployed, deployed
    assert "granted MINTER_ROLE to RewardProgrammes" in deployed
    assert "nothing to do" in _ok(city.takasago("deploy"))  # idempotent on anvil too
    deployment = load_deployment(w3, city.deployments)
    assert deployment.chainId == CHAIN_ID
    registry = deployment.contract(w3, "AccountRegistry")
    token = deployment.contract(w3, "RegionalPoints")
    programmes = deployment.contract(w3, "RewardProgrammes")
    for name, record in deployment.contracts.items():
        for address in (record.address, record.implementation):
            assert w3.eth.get_code(to_checksum_address(address)), name
    assert registry.address != TAKASAGO_REGISTRY_ADDRESS
    assert registry.functions.accountOf(city.admin.address).call()[:2] == (3, 1)  # city, active
    assert registry.functions.hasRole(b"\0" * 32, city.admin.address).call()
    assert token.functions.registry().call() == registry.address

    # (b) register accounts and mint from the CLI
    resident, shop = Account.create(), Account.create()
    _ok(city.takasago("account", "register", resident.address))
    _ok(city.takasago("merchant", "register", shop.address))
    assert registry.functions.accountOf(resident.address).call()[:2] == (RESIDENT, 1)
    assert registry.functions.accountOf(shop.address).call()[:2] == (MERCHANT, 1)
    _ok(city.takasago("roles", "grant", "minter", city.admin.address))
    created = _ok(city.takasago("programme", "create", "--name", "anvil compatibility", "--budget", "100000"))
    programme = re.search(r"programme id (\d+)", created)
    assert programme is not None, created
    _ok(city.takasago("mint", resident.address, "700", "--programme", programme[1]))
    assert token.functions.balanceOf(resident.address).call() == 700
    assert programmes.functions.programme(int(programme[1])).call()[10] == 700  # issued from the budget

    # (c) the wallet API on anvil: sign up, officer verification (on-chain registration), a payment
    points = PointsSystem(
        node=city.anvil, w3=w3, deployment=deployment, deployments_dir=city.deployments, admin=city.admin,
        registry=registry, token=token, programmes=programmes, reports=deployment.contract(w3, "OracleReports"),
        board=deployment.contract(w3, "HelpBoard"),
    )  # fmt: skip
    wallet_dir = tmp_path / "wallet"
    wallet_dir.mkdir()
    server = AnvilWallet(points, wallet_dir, database_url("sqlite", wallet_dir), proxy_url=city.wallet_proxy.url)
    server.init()  # `wallet init`, then `account authorise-service` by the city admin
    server.start()
    try:
        payer = member(server, "resident")
        merchant = member(server, "merchant", shop="高砂ベーカリー")
        payer_address, merchant_address = payer.info["address"], merchant.info["address"]
        assert registry.functions.accountOf(payer_address).call()[:2] == (RESIDENT, 1)
        assert registry.functions.accountOf(merchant_address).call()[:2] == (MERCHANT, 1)
        _ok(city.takasago("mint", payer_address, "1000", "--programme", programme[1]))
        assert payer.balance() == 1000

        request = merchant.post("/v1/payment-requests", {"amount": 480, "memo": "パン"}, key=None)
        assert request.status_code == 201, request.text
        uri = request.json()["uri"]
        assert f"@{CHAIN_ID}/" in uri, uri  # the QR names anvil's chain
        paid = payer.post("/v1/payments", {"uri": uri})
        assert paid.status_code == 200, paid.text
        assert paid.json()["payment_request"]["status"] == "paid"
        operation = paid.json()["operation"]
        assert operation["status"] == "confirmed", operation
    finally:
        server.stop()
    assert "unexpected" not in server.log(), server.log()[-3000:]

    # on-chain, read straight from anvil
    receipt = w3.eth.get_transaction_receipt(operation["tx_hash"])
    assert receipt["status"] == 1 and receipt["to"] == token.address
    assert receipt["blockNumber"] == operation["block_number"]
    (event,) = token.events.Paid().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["payer"] == payer_address and event["args"]["merchant"] == merchant_address
    assert event["args"]["amount"] == 480
    assert token.functions.balanceOf(payer_address).call() == 520
    assert token.functions.balanceOf(merchant_address).call() == 480
    assert token.functions.balanceOf(resident.address).call() == 700
    assert token.functions.totalSupply().call() == 1700
    for address in (city.admin.address, payer_address, merchant_address, server.service_address):
        assert w3.eth.get_balance(to_checksum_address(address)) == 0, address  # nobody needed ether

    # the indexer follows anvil too: it decodes the contracts where the deployment file puts them
    index_url = f"sqlite:///{tmp_path / 'indexer.db'}"
    upgrade(index_url)
    made = sessions_for(engine_for(index_url))
    report = Follower(Rpc(city.indexer_proxy.url), made, city.deployments).sync()
    assert report.blocks == w3.eth.block_number + 1
    with made() as db:
        assert queries.balance_of(db, payer_address) == 520 and queries.balance_of(db, merchant_address) == 480
        assert queries.supply(db).issued == 1700
        payment = queries.payment_by_request(db, request.json()["chain_request_id"])
        assert payment is not None and payment.amount == 480 and payment.from_address == payer_address
        kinds = queries.account_kinds(db)
        assert kinds[payer_address] == ("resident", "active") and kinds[merchant_address] == ("merchant", "active")

    # only standard JSON-RPC (plus the deploy's tolerated probe) ever reached the node
    assert city.wallet_proxy.methods, "the wallet sent nothing through its proxy"
    assert city.wallet_proxy.methods <= STANDARD_METHODS, sorted(city.wallet_proxy.methods - STANDARD_METHODS)
    assert "eth_sendRawTransaction" in city.wallet_proxy.methods
    cli_extra = city.cli_proxy.methods - STANDARD_METHODS
    for who, proxy in (("CLI", city.cli_proxy), ("wallet", city.wallet_proxy), ("indexer", city.indexer_proxy)):
        print(f"JSON-RPC methods sent by the {who}: {', '.join(sorted(proxy.methods))}")
    assert cli_extra <= OPTIONAL_PROBES, sorted(cli_extra)
    assert city.indexer_proxy.methods <= STANDARD_METHODS, sorted(city.indexer_proxy.methods - STANDARD_METHODS)
