"""``takasago watch …``: the watch-over service (issue 19) and its operators' commands.

    takasago watch serve                                   detectors' signed batches in (127.0.0.1:8900)
    takasago watch enrol-device DEVICE --owner CODE --key-out PEM    a detector's key pair, its public key enrolled
    takasago watch register-ward --family CODE --secret-out FILE     a tag's secret (to program the tag), sealed here
    takasago watch purge                                   delete sightings past the retention period now
    takasago watch settle --day 2026-12-03 --programme ID  volunteers' points for a JST day (attestBatch, once)
    takasago watch simulate --device ID --key PEM --tag-secret FILE   a volunteer walking past a ward (demo, tests)
    takasago watch detect --device ID --key PEM --lat … --lon …       a fixed BLE detector (needs bleak)

Exit codes: 0 done; 2 bad input; 3 refused on-chain; 4 the node cannot be reached.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from scripts.cli.common import (
    DEFAULT_DEPLOYMENTS,
    DEFAULT_RPC_URL,
    EXIT_BAD_INPUT,
    EXIT_CONNECTION,
    EXIT_REJECTED,
    DeploymentsDir,
    DevKeys,
    ErrorRule,
    Keystore,
    NodeTokenFile,
    PasswordFile,
    RpcUrl,
    database_failure,
    exits_on,
    out,
    plain,
    service_settings,
)

watch = typer.Typer(no_args_is_help=True, help="Watch-over (みまもり): tags, detectors, sightings.")
DataDir = Annotated[
    Path | None,
    typer.Option(help="Watch data directory (env TAKASAGO_WATCH_DATA_DIR).", show_default=".takasago/watch"),
]
Pseudonym = r"[A-Za-z0-9._-]{1,64}"


def _error_rules() -> list[ErrorRule]:
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from sqlalchemy.exc import SQLAlchemyError

    from ledger_client.connection import NodeUnreachable
    from ledger_client.deployment import DeploymentError
    from ledger_client.transactions import TransactionFailed
    from scripts.cli.signing import SignerError
    from watch.batches import BatchRefused

    return [
        ((TransactionFailed,), plain("refused", EXIT_REJECTED)),
        ((RequestsConnectionError, NodeUnreachable), plain("unreachable", EXIT_CONNECTION)),
        ((BatchRefused, SignerError, DeploymentError, ValueError, OSError), plain("bad input", EXIT_BAD_INPUT)),
        ((SQLAlchemyError,), database_failure),
    ]


_errors = exits_on(_error_rules)


def _settings(data_dir: Path | None) -> Any:
    from watch.settings import WatchSettings

    return service_settings(WatchSettings, data_dir=data_dir)


def _store(data_dir: Path | None) -> Any:
    from watch.sealing import Sealer
    from watch.store import WatchStore

    settings = _settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return WatchStore(settings.database, Sealer.from_file(settings.kek, create=True),
                      retention_days=settings.retention_days)  # fmt: skip


def _private_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


@watch.command()
@_errors
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Bind address.", show_default="127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port.", min=1, max=65535, show_default="8900")] = None,
) -> None:
    """Run the watch service: detectors' signed batches in; sightings kept for the retention period."""
    import uvicorn

    _store(data_dir).close()  # migrates, and a store or KEK that cannot be opened is told here
    settings = _settings(data_dir)
    os.environ["TAKASAGO_WATCH_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run("watch.main:app", host=host or settings.host, port=port or settings.port, log_level="info",
                access_log=False)  # fmt: skip


@watch.command("enrol-device")
@_errors
def enrol_device(
    device: Annotated[str, typer.Argument(help="The detector's id (e.g. gate-takasago-elementary).")],
    owner: Annotated[str, typer.Option(help="Its owner's member code (a verified resident, or CITY).")],
    key_out: Annotated[Path, typer.Option(help="Where to write the detector's private key (PEM, 0600).")],
    owner_address: Annotated[
        str | None, typer.Option(help="The owner's account, where watch points go.", show_default="none (the city)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a detector's Ed25519 key pair and enrol its public key (the private key goes to the detector only)."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from watch.batches import new_device_key

    if not re.fullmatch(Pseudonym, device) or not re.fullmatch(Pseudonym, owner):
        raise ValueError("a device id and an owner code are 1 to 64 letters, digits or ._-")
    key, public = new_device_key()
    store = _store(data_dir)
    try:
        address = None
        if owner_address is not None:
            from eth_utils import is_hex_address, to_checksum_address

            if not is_hex_address(owner_address):
                raise ValueError(f"--owner-address {owner_address!r} is not an address")
            address = to_checksum_address(owner_address)
        store.enrol_device(device, owner.upper(), public, int(time.time()), address)
    finally:
        store.close()
    _private_file(key_out, key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    out.print(f"device {device} enrolled; its private key is in {key_out} (0600)")


@watch.command("register-ward")
@_errors
def register_ward(
    family: Annotated[str, typer.Option(help="The family's member code (they consented at registration).")],
    secret_out: Annotated[Path, typer.Option(help="Where to write the tag's secret (hex, 0600) to program the tag.")],
    data_dir: DataDir = None,
) -> None:
    """Make a new tag secret, seal it here, and write it once for the tag; prints the ward's opaque id."""
    if not re.fullmatch(Pseudonym, family):
        raise ValueError("a family code is 1 to 64 letters, digits or ._-")
    secret = secrets.token_bytes(32)
    store = _store(data_dir)
    try:
        ward = store.register_ward(family.upper(), secret, int(time.time()))
    finally:
        store.close()
    _private_file(secret_out, secret.hex().encode() + b"\n")
    out.print(f"ward {ward} registered for {family.upper()}; program the tag from {secret_out}, then delete the file")


@watch.command()
@_errors
def purge(data_dir: DataDir = None) -> None:
    """Delete sightings older than the retention period now (the service also does it every hour)."""
    store = _store(data_dir)
    try:
        removed = store.purge(int(time.time()))
    finally:
        store.close()
    out.print(f"deleted {removed} sightings past {store.retention_days} days")


@watch.command()
@_errors
def settle(
    day: Annotated[str, typer.Option(help="The JST day to settle, YYYY-MM-DD (usually yesterday).")],
    programme: Annotated[
        int | None, typer.Option(help="The watch-over reward programme's id.", min=1, show_default="the city's rules")
    ] = None,
    max_minutes: Annotated[
        int | None,
        typer.Option(help="Most minutes a volunteer earns a day.", min=1, max=1440, show_default="the city's rules"),
    ] = None,
    hours: Annotated[
        str | None, typer.Option(help="The watch hours (JST), e.g. 7-9,14-18.", show_default="the city's rules")
    ] = None,
    rpc_url: RpcUrl = DEFAULT_RPC_URL,
    node_token_file: NodeTokenFile = None,
    deployments: DeploymentsDir = DEFAULT_DEPLOYMENTS,
    keystore: Keystore = None,
    password_file: PasswordFile = None,
    dev_keys: DevKeys = None,
    data_dir: DataDir = None,
) -> None:
    """Attest each volunteer's active watch minutes of DAY (one transaction per 500); a rerun pays nobody twice.

    The hours, the daily cap and the programme are the city's rules (set on the officer desk) unless
    given here. Signs with a key holding the programme's verifier role. Each volunteer-day's outcome is
    kept for the app.
    """
    from dataclasses import replace
    from datetime import date

    from ledger_client.contract_set import ContractSet
    from ledger_client.transactions import Sender
    from scripts.cli.common import connect_node
    from scripts.cli.signing import load_signer
    from watch.chain import attest_batch
    from watch.city import current_rules
    from watch.settlement import compute_day, parse_hours, settle_day

    try:
        settled = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"--day must be YYYY-MM-DD, not {day!r}") from None
    try:
        spans = parse_hours(hours) if hours is not None else None
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    store = _store(data_dir)
    try:
        rules, stored_programme = current_rules(store)
        if spans is not None:
            rules = replace(rules, hours=spans)
        if max_minutes is not None:
            rules = replace(rules, max_minutes_per_day=max_minutes)
        programme_id = programme or stored_programme
        if programme_id is None:
            raise ValueError("--programme: no watch-over programme is set in the city's rules; give its id")
        w3 = connect_node(rpc_url, node_token_file)
        signer = load_signer(keystore, password_file, dev_keys, "admin")
        sender = Sender(w3, signer)
        programmes = ContractSet.load(w3, deployments).programmes
        results = compute_day(store, settled, rules)
        summary = settle_day(store, settled, programme_id, results,
                             lambda items: attest_batch(sender, programmes, programme_id, items))  # fmt: skip
    finally:
        store.close()
    out.print(
        f"{settled}: {summary['volunteers']} volunteers, {summary['earning']} with watch time; "
        f"{summary['transactions']} transaction(s), {summary['paid']} paid, {summary['skipped']} skipped"
    )


def _sender(url: str, device: str, key: Path, state: Path | None) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from watch.detector import Sender

    private = load_pem_private_key(key.read_bytes(), None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{key} is not an Ed25519 private key")
    return Sender(url, device, private, state or key.with_suffix(".seq"))


WatchUrl = Annotated[str, typer.Option(help="The watch service.")]
DeviceKey = Annotated[Path, typer.Option("--key", help="The device's private key (PEM, from enrol-device).")]
SeqState = Annotated[Path | None, typer.Option(help="Where the batch counter is kept.", show_default="KEY with .seq")]


@watch.command()
@_errors
def simulate(
    device: Annotated[str, typer.Option(help="The enrolled device to report as.")],
    key: DeviceKey,
    tag_secrets: Annotated[
        list[Path], typer.Option("--tag-secret", help="A ward's tag secret file (repeatable).", show_default="none")
    ] = [],  # noqa: B006
    minutes: Annotated[int, typer.Option(help="How long the walk lasts (it ends now).", min=1, max=300)] = 20,
    url: WatchUrl = "http://127.0.0.1:8900",
    state: SeqState = None,
) -> None:
    """A volunteer walks past the school gate while the wards walk the other way (replayed up to now)."""
    from watch.detector import Walker
    from watch.detector import simulate as run

    now = int(time.time())
    start = now - minutes * 60
    gate, station = (34.7661, 134.7906), (34.7560, 134.8010)  # 高砂市役所 → 宝殿駅の方へ, about 1.4 km
    volunteer = Walker([gate, station], start)
    wards = [(bytes.fromhex(p.read_text().strip()), Walker([station, gate], start + 60 * i)) for i, p in
             enumerate(tag_secrets)]  # fmt: skip
    acks = list(run(_sender(url, device, key, state), volunteer, wards, start, now))
    kept = sum(int(a.get("kept", 0)) for a in acks)
    refused = [a["error"]["code"] for a in acks if "error" in a]
    out.print(f"{len(acks)} batches sent, {kept} sightings kept" + (f", refused: {refused}" if refused else ""))


@watch.command()
@_errors
def detect(
    device: Annotated[str, typer.Option(help="The enrolled device to report as.")],
    key: DeviceKey,
    lat: Annotated[float, typer.Option(help="Where this fixed detector stands.", min=-90, max=90)],
    lon: Annotated[float, typer.Option(help="Where this fixed detector stands.", min=-180, max=180)],
    interval: Annotated[int, typer.Option(help="Seconds between batches.", min=5, max=600)] = 30,
    url: WatchUrl = "http://127.0.0.1:8900",
    state: SeqState = None,
) -> None:
    """Run a fixed BLE detector (school gate, shop): scan for tags and report every INTERVAL seconds (bleak)."""
    from watch.detector import scan_ble

    scan_ble(_sender(url, device, key, state), lat, lon, interval)
