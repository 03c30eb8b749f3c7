"""Start a node from its data directory and serve RPC until told to stop."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
import json
import logging
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from eth_account import Account
from eth_keys.datatypes import PrivateKey

from node import evm_patches
from node.admission import AdmissionWorkers
from node.config import NodeConfig, load_dev_keys, load_node_config
from node.dev_clock import DevClock
from node.genesis import DEFAULT_GAS_LIMIT, build_genesis_document, load_genesis, parse_genesis
from node.keys import read_keystore, resolve_passphrase, write_keystore
from node.ledger import Ledger
from node.logfile import use_rotating_log
from node.qbft.engine import ConsensusEngine
from node.qbft.faults import FaultInjection
from node.qbft.journal import VoteJournal
from node.qbft.network import PeerAddress, PeerNetwork
from node.rpc.api import EthAPI
from node.rpc.server import RPCServer
from node.service import NodeService, pool_following
from node.storage import exclusive_data_dir

log = logging.getLogger("takasago.node")

DEV_ACCOUNT_COUNT = 10
DEV_PASSPHRASE = "insecure-dev-passphrase"
GIL_SWITCH_SECONDS = 0.001  # CPython default 0.005; see serve()


@dataclass(frozen=True)
class InitResult:
    data_dir: Path
    chain_id: int
    validator: str
    admin: str
    dev_accounts: list[str]


def init_data_dir(
    data_dir: Path,
    *,
    chain_id: int,
    dev: bool,
    passphrase: str | None,
    block_period: int = 1,
    gas_limit: int | None = None,
) -> InitResult:
    """Create keys and genesis for a new single-validator chain in ``data_dir``."""
    from contracts.artifacts import load_artifact

    if (data_dir / "genesis.json").exists():
        raise FileExistsError(f"{data_dir} already holds a chain (genesis.json exists); choose another --data-dir")
    if passphrase is None:
        if not dev:
            raise ValueError("a passphrase is required to encrypt the keys")
        passphrase = DEV_PASSPHRASE
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    validator = secrets.token_bytes(32)
    admin = secrets.token_bytes(32)
    dev_accounts = [secrets.token_bytes(32) for _ in range(DEV_ACCOUNT_COUNT)] if dev else []
    validator_address = write_keystore(data_dir / "keys" / "validator.json", validator, passphrase, light=dev)
    admin_address = write_keystore(data_dir / "keys" / "admin.json", admin, passphrase, light=dev)
    dev_addresses = [Account.from_key(k).address for k in dev_accounts]
    document = build_genesis_document(
        chain_id=chain_id,
        validators=[validator_address],
        admins=[admin_address],
        registry_creation_code=load_artifact("AccountRegistry").bytecode,
        proxy_creation_code=load_artifact("TakasagoProxy").bytecode,
        extra_accounts=dev_addresses,
        block_period=block_period,
        gas_limit=gas_limit or DEFAULT_GAS_LIMIT,
    )
    parse_genesis(document)  # what we write must load
    (data_dir / "genesis.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    from node.config import write_node_config

    write_node_config(data_dir, "keys/validator.json", dev)
    if dev:
        plain = {
            "WARNING": "INSECURE development keys in plain text. Never use this chain or these keys for real points.",
            "chainId": chain_id,
            "passphrase": passphrase,
            "validator": {"address": validator_address, "privateKey": "0x" + validator.hex()},
            "admin": {"address": admin_address, "privateKey": "0x" + admin.hex()},
            "accounts": [
                {"address": a, "privateKey": "0x" + k.hex()} for a, k in zip(dev_addresses, dev_accounts, strict=True)
            ],
        }
        fd = os.open(data_dir / "dev-keys.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(plain, handle, indent=2)
    return InitResult(data_dir, chain_id, validator_address, admin_address, dev_addresses)


def unlock_node_key(config: NodeConfig, password_file: Path | None) -> PrivateKey | None:
    """An observer's link key (validators link with their validator key)."""
    if config.network is None or config.network.node_keystore is None:
        return None
    if config.dev:
        return PrivateKey(bytes.fromhex(load_dev_keys(config)["node"]["privateKey"][2:]))
    passphrase = resolve_passphrase(password_file, "TAKASAGO_VALIDATOR_PASSWORD", "Node key passphrase: ")
    return read_keystore(config.network.node_keystore, passphrase)


def unlock_validator(config: NodeConfig, password_file: Path | None) -> PrivateKey | None:
    if config.validator_keystore is None:
        return None
    if config.dev:
        dev_keys = load_dev_keys(config)
        return PrivateKey(bytes.fromhex(dev_keys["validator"]["privateKey"][2:]))
    passphrase = resolve_passphrase(password_file, "TAKASAGO_VALIDATOR_PASSWORD", "Validator key passphrase: ")
    return read_keystore(config.validator_keystore, passphrase)


def check_bind(host: str, token: str | None) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and not token:
        raise ValueError(
            f"refusing to serve RPC on non-loopback address {host} without --rpc-token-file: "
            "anyone on the network could submit transactions"
        )


async def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8545,
    mode: str = "instant",
    block_period: float | None = None,
    token: str | None = None,
    password_file: Path | None = None,
    ready_file: Path | None = None,
    log_file: Path | None = None,
) -> None:
    evm_patches.install()  # refuses (PatchTargetChanged) on a py-evm the node's changes were not written for
    check_bind(host, token)
    config = load_node_config(data_dir)
    log_path = log_file or config.log.file
    if log_path is not None:
        use_rotating_log(log_path, config.log.max_bytes, config.log.backup_count)
    genesis = load_genesis(config.genesis_path)
    validator_key = unlock_validator(config, password_file)
    link_key = validator_key or unlock_node_key(config, password_file)
    if config.network is not None:
        if link_key is None:
            raise ValueError("a network node needs a validator key or network.nodeKeystore to authenticate its links")
        mode = "qbft"
        validator_key = link_key  # an observer voted into the validator set takes part with its link key
    with exclusive_data_dir(data_dir):
        execution = config.execution_worker
        if execution == "auto" and config.network is not None:
            # measured on one machine (docs/benchmarks.md, issue 23): a QBFT network gained nothing from the
            # worker (564 transfers/s in-process, 539 with a CPython worker, 513 warm on PyPy); ask by name
            execution = "off"
        ledger = Ledger(
            data_dir,
            genesis,
            validator_key,
            execution_worker=execution,
            worker_min_transactions=config.execution_worker_min_transactions,
        )
        clock = DevClock() if config.dev and config.network is None else None
        service = NodeService(
            ledger,
            pool_following(ledger),
            mode=mode,
            block_period=block_period,
            dev_clock=clock,
            read_limits=config.rpc,
            summary_every=config.log.summary_every_blocks,
        )
        admission = AdmissionWorkers(genesis.chain_id, ledger.head.gas_limit)
        engine = network = None
        if config.network is not None and link_key is not None:
            settings = config.network
            network = PeerNetwork(
                link_key,
                genesis.chain_id,
                set(),
                [PeerAddress(p.address, p.url) for p in settings.peers],
                settings.host,
                settings.port,
            )
            engine = ConsensusEngine(
                service,
                validator_key,
                network,
                observers=set(settings.observers),
                request_timeout=settings.request_timeout,
                block_period=service.block_period,
                max_block_transactions=settings.max_block_transactions,
                admission=admission,
                journal=VoteJournal(data_dir / "consensus-journal.rlp"),
                faults=FaultInjection.from_environment(),  # none unless a test's environment asks
            )
        await asyncio.get_running_loop().run_in_executor(None, admission.warm_up)
        api = EthAPI(service, rpc_gas_cap=config.rpc_gas_cap, admission=admission, consensus=engine)
        # Long-lived state (caches, tries) makes CPython's default collector thresholds
        # rescan a large heap many times per block; collect less often, skip the boot heap.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 1000)
        # The event loop (RPC, admission) waits for the GIL while the block writer executes: each
        # hand-over (a request arriving, the admission worker's answer, the journal's fsync done)
        # costs up to one switch interval, several per JSON-RPC batch at CPython's 5 ms.
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        server = RPCServer(api, auth_token=token, limits=config.rpc, bind_host=host)
        runner = web.AppRunner(server.app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
        await site.start()
        service.start()
        p2p_port = None
        if network is not None and engine is not None:
            p2p_port = await network.start()
            engine.start()
        actual_port = port
        sockets = getattr(site._server, "sockets", None)  # noqa: SLF001 - port 0 support
        if sockets:
            actual_port = sockets[0].getsockname()[1]
        log.info(
            "node up: chain %d, head #%d, %s sealing, RPC http://%s:%d (WebSocket on the same port)",
            genesis.chain_id, ledger.head.block_number, mode, host, actual_port,
        )  # fmt: skip
        if ready_file is not None:
            ready = {"port": actual_port, "pid": os.getpid(), "p2pPort": p2p_port}
            ready_file.write_text(json.dumps(ready), encoding="utf-8")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping: finishing the block in progress")
        if engine is not None and network is not None:
            await engine.stop()
            await network.stop()
        await service.stop()
        admission.shutdown()
        await server.close_websockets()
        await runner.cleanup()
        ledger.close()
