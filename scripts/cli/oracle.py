"""``takasago oracle …``: the CO2 oracle's service and its operators' commands.

    takasago oracle serve                        the ingest endpoint for gateways (127.0.0.1:8800)
    takasago oracle gateway-key GATEWAY          a gateway's Ed25519 key pair; registers its public key
    takasago oracle sign-batch FILE --key PEM    a gateway's signature of a batch (for tools and tests)
    takasago oracle generate --households N --month 2026-04 --out DIR   synthetic meters for tests/demos
    takasago oracle settle --programme ID --month 2026-04 …              verify, report, sign, post, grant
    takasago oracle proof --report FILE --household 0x…                 a household's own Merkle proof

Exit codes: 0 done; 2 bad input; 3 refused on-chain; 4 the node cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from scripts.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CONNECTION,
    EXIT_REJECTED,
    ErrorRule,
    NodeTokenFile,
    console,
    database_failure,
    exits_on,
    out,
    plain,
    service_settings,
)

oracle = typer.Typer(
    no_args_is_help=True, help="The CO2 oracle: meter evidence in, verified reductions and grants out."
)
DataDir = Annotated[
    Path | None,
    typer.Option(help="Oracle data directory (env TAKASAGO_ORACLE_DATA_DIR).", show_default=".takasago/oracle"),
]


def _error_rules() -> list[ErrorRule]:
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from sqlalchemy.exc import SQLAlchemyError

    from ledger_client.connection import NodeUnreachable
    from ledger_client.deployment import DeploymentError
    from ledger_client.transactions import TransactionFailed
    from oracle.settlement import SettlementError

    return [
        ((TransactionFailed,), plain("refused", EXIT_REJECTED)),
        # unreachable, or a bad --node-token-file (the message says which)
        # (or the wallet whose approved households are settled: a builtin ConnectionError)
        ((RequestsConnectionError, NodeUnreachable, ConnectionError), plain("unreachable", EXIT_CONNECTION)),
        ((SettlementError, DeploymentError, ValueError, OSError), plain("bad input", EXIT_BAD_INPUT)),
        ((SQLAlchemyError,), database_failure),  # the evidence store (TAKASAGO_ORACLE_DATABASE_URL)
    ]


_errors = exits_on(_error_rules)


def _settings(data_dir: Path | None) -> Any:
    from oracle.settings import OracleSettings

    return service_settings(OracleSettings, data_dir=data_dir)


def _month(text: str) -> tuple[int, int, int, int]:
    from oracle.generator import JST

    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"--month must be YYYY-MM, not {text!r}")
    year, month = int(match[1]), int(match[2])
    start = int(datetime(year, month, 1, tzinfo=JST).timestamp())
    end = int(datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST).timestamp())
    return year, month, start, end


@oracle.command()
@_errors
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Bind address.", show_default="127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="Port.", min=1, max=65535, show_default="8800")] = None,
) -> None:
    """Run the ingest endpoint for home gateways, and the public totals and proofs."""
    import uvicorn

    from oracle.evidence import upgrade

    settings = _settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.evidence_url)  # a store that cannot be opened is told here, not in the server's log
    os.environ["TAKASAGO_ORACLE_DATA_DIR"] = str(settings.data_dir)
    uvicorn.run(
        "oracle.main:app", host=host or settings.host, port=port or settings.port, log_level="info", access_log=False
    )


@oracle.command("gateway-key")
@_errors
def gateway_key(
    gateway: Annotated[str, typer.Argument(help="The gateway's id (e.g. its serial number).")],
    key_out: Annotated[Path, typer.Option(help="Where to write the gateway's private key (PEM, 0600).")],
    meters: Annotated[
        list[str],
        typer.Option(
            "--meter", help="A meter this gateway reports (repeatable); it may report no other.", show_default="none"
        ),
    ] = [],  # noqa: B006
    data_dir: DataDir = None,
) -> None:
    """Create a gateway's Ed25519 key pair and register its public key and meters with this oracle."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from oracle.gateways import gateway_entry, new_gateway_key

    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", gateway):
        raise ValueError("a gateway id is 1 to 64 letters, digits or ._-")
    settings = _settings(data_dir)
    registry = json.loads(settings.gateways.read_text(encoding="utf-8")) if settings.gateways.exists() else {}
    if gateway in registry:
        raise ValueError(f"gateway {gateway} is already registered")
    key, public = new_gateway_key()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    registry[gateway] = gateway_entry(public, meters)
    settings.gateways.parent.mkdir(parents=True, exist_ok=True)
    settings.gateways.write_text(json.dumps(registry, indent=1), encoding="utf-8")
    out.print(f"gateway {gateway}: public key {public}")


@oracle.command("sign-batch")
@_errors
def sign_batch_command(
    batch: Annotated[Path, typer.Argument(help="The batch file, exactly as it will be sent.")],
    key: Annotated[Path, typer.Option(help="The gateway's private key (PEM).")],
) -> None:
    """Print a gateway's base64 Ed25519 signature of BATCH (the X-Signature header)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from oracle.gateways import sign_batch

    private = load_pem_private_key(key.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{key} is not an Ed25519 private key")
    typer.echo(sign_batch(private, batch.read_bytes()))


@oracle.command()
@_errors
def generate(
    households: Annotated[int, typer.Option(help="How many homes.", min=1, max=100_000)],
    month: Annotated[str, typer.Option(help="The JST month, YYYY-MM.")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for readings.jsonl, households.csv and history.json.")
    ],
    seed: Annotated[int, typer.Option(help="Random seed (the same seed gives the same data).")] = 1,
    fault_rate: Annotated[float, typer.Option(help="Share of homes with one injected fault.", min=0, max=1)] = 0.1,
) -> None:
    """Synthetic smart-meter data with known answers (and a baseline history), for tests and demos."""
    import random
    import secrets

    from eth_account import Account

    from oracle.generator import FAULTS, write_jsonl
    from oracle.generator import generate as make

    year, number, _, _ = _month(month)
    rng = random.Random(seed)
    faults = {i: {rng.choice(FAULTS)} for i in range(households) if rng.random() < fault_rate}
    homes = make(households, year, number, seed=seed, faults=faults)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(homes, out_dir / "readings.jsonl")
    lines = ["household_id,meter_ids,address,salt"]
    lines += [
        f"{h.household_id},{h.meter_id};{h.meter_id}-NEW,{Account.create().address},{secrets.token_hex(32)}"
        for h in homes
    ]
    (out_dir / "households.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    history = {h.household_id: {f"{year - 1}-{number:02d}": h.true_wh * rng.randint(95, 115) // 100} for h in homes}
    (out_dir / "history.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    truth = {h.household_id: {"true_wh": h.true_wh, "faults": sorted(h.faults)} for h in homes}
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1), encoding="utf-8")
    out.print(f"{households} homes, {sum(len(h.rows) for h in homes)} readings, {len(faults)} with a fault → {out_dir}")


@oracle.command()
@_errors
def settle(
    programme: Annotated[int, typer.Option(help="The CO2 reward programme's id.", min=1)],
    month: Annotated[str, typer.Option(help="The JST month to settle, YYYY-MM (period YYYYMM).")],
    households_file: Annotated[
        Path | None,
        typer.Option(
            "--households",
            help="household_id,meter_ids,address,salt: a hand-kept list, for a city without the wallet.",
            show_default="the wallet's approved households",
        ),
    ] = None,
    history_file: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help='JSON {household: {"YYYY-MM": Wh}} of verified months, imported into the evidence store first.',
            show_default="the store's verified months",
        ),
    ] = None,
    readings: Annotated[
        list[Path],
        typer.Option("--readings", help="Readings files (repeatable).", show_default="the evidence store's batches"),
    ] = [],  # noqa: B006
    factor: Annotated[int, typer.Option(help="Emission factor, g-CO2 per kWh.", min=1, max=2000)] = 350,
    factor_source: Annotated[
        str, typer.Option(help="Where the factor is published.")
    ] = "Kansai Electric Power FY2018 basic, 0.35 kg-CO2/kWh",
    operator_keys: Annotated[
        list[Path],
        typer.Option("--operator-key", help="An operator's key file (hex, 0600); repeat k times.", show_default="none"),
    ] = [],  # noqa: B006
    rpc_url: Annotated[str, typer.Option(help="Node JSON-RPC URL.")] = "http://127.0.0.1:8545",
    node_token_file: NodeTokenFile = None,
    deployments_dir: Annotated[Path, typer.Option(help="Deployment files.")] = Path(".takasago/deployments"),
    batch_size: Annotated[int, typer.Option(help="Households per grant transaction.", min=1, max=500)] = 100,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Verify and build the report; sign and send nothing.", show_default="off"),
    ] = False,
    wallet_url: Annotated[
        str | None,
        typer.Option(
            help="The wallet whose approved households are settled (env TAKASAGO_ORACLE_WALLET_URL).",
            show_default="http://127.0.0.1:8600",
        ),
    ] = None,
    service_token_file: Annotated[
        Path | None,
        typer.Option(
            help="The token shared with the wallet, 0600 (env TAKASAGO_ORACLE_SERVICE_TOKEN_FILE).",
            show_default="DATA_DIR/service-token",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Verify a month's readings, build and save the report, sign it with k operators, post it, grant (once).

    The households are those residents enrolled in the wallet with their consent and the city
    approved, read from the wallet now (``--households FILE`` instead, for a city without it).
    Every household's result (excluded ones with their reason) is kept for its own view.

    The month is read in columns and every household verified at once (``oracle.settle_month``);
    baselines come from the evidence store's verified months, and this month's verified
    figures go back into it once the report is saved (not on a dry run).
    """
    from eth_account import Account

    from ledger_client.contract_set import ContractSet
    from ledger_client.transactions import Sender
    from oracle.columnar_readings import Source
    from oracle.enrolment import (
        district_totals,
        month_rows,
        period_totals,
        read_token,
        save_district_totals,
        wallet_households,
    )
    from oracle.evidence import EvidenceStore
    from oracle.reduction import EmissionFactor
    from oracle.settlement import (
        SettlementError,
        build_report,
        load_households,
        post,
        save,
        settle_month,
        sign_report,
    )
    from scripts.cli.common import connect_node

    year, number, start, end = _month(month)
    settings = _settings(data_dir)
    districts: dict[str, str] = {}  # household id → district code (from the wallet; issue 22)
    if households_file is not None:
        homes = load_households(households_file.read_text(encoding="utf-8"), households_file.name)
        listed_in = households_file.name
    else:
        token_file = service_token_file or settings.service_token
        if token_file is None:
            raise ValueError(
                "give --households FILE, or the token shared with the wallet (--service-token-file) "
                "to settle the households it approved"
            )
        homes, districts = wallet_households(wallet_url or settings.wallet_url, read_token(token_file))
        listed_in = "the wallet's approved households"
    store = EvidenceStore(settings.evidence_url)
    if history_file is not None:
        store.import_history(json.loads(history_file.read_text(encoding="utf-8")))
    history = store.history([h.household_id for h in homes.values()], year * 100 + number)
    sources = (
        [Source(p.name, path=p) for p in readings] if readings else store.sources_between(start, end)
    )  # fmt: skip
    started = time.monotonic()
    settled = settle_month(
        homes, sources, history, year, number, start, end, EmissionFactor(year, factor, factor_source)
    )
    results, columns = settled.results, settled.columns
    verified_in = time.monotonic() - started
    for problem in columns.errors[:50]:
        console.print(f"skipped {problem}")
    if len(columns.errors) > 50:
        console.print(f"… and {len(columns.errors) - 50} more rows skipped")
    for meter, count in sorted(columns.unknown.items())[:50]:
        console.print(f"skipped {count} reading(s) from unknown meter {meter} (not in {listed_in})")
    period = year * 100 + number
    try:
        report = build_report(results, programme, period)
    except SettlementError:
        if not dry_run:  # the households still see the month, and why it earned nothing
            store.record_results(programme, period, month_rows(homes, results, None))
            store.record_period(programme, period, period_totals(results), None)
        raise
    path = save(report, settings.reports)
    save_district_totals(settings.reports, programme, period, district_totals(homes, results, districts))
    if not dry_run:
        store.record_results(programme, period, month_rows(homes, results, report))
        store.record_period(programme, period, period_totals(results), None)
        verified = {(hid, year * 100 + number): v.consumption_wh for hid, v in settled.verdicts.items() if v.ok}
        store.record_months({key: wh for key, wh in verified.items() if wh is not None}, "settled")
    totals = report.totals
    out.print(
        f"period {report.period}: {totals['households_verified']} verified, {totals['households_excluded']} excluded, "
        f"{len(report.leaves)} with a reduction; {totals['co2_g']:,} g CO2; report {path}"
    )
    for key, value in totals.items():
        if key.startswith("excluded_"):
            out.print(f"  {key.removeprefix('excluded_')}: {value}")
    out.print(f"{columns.rows_read:,} readings read and {len(homes):,} households verified in {verified_in:.1f} s")
    if dry_run:
        return
    if not operator_keys:
        raise ValueError("give the operators' keys (--operator-key, k times) or use --dry-run")
    operators = []
    for key_path in operator_keys:
        if key_path.stat().st_mode & 0o077:
            raise ValueError(f"{key_path} is readable by other users; chmod 600 it")
        operators.append(Account.from_key(key_path.read_text(encoding="ascii").strip()))
    w3 = connect_node(rpc_url, node_token_file)
    reports = ContractSet.load(w3, deployments_dir).oracle_reports
    signatures = sign_report(report, operators, w3.eth.chain_id, reports.address)
    started = time.monotonic()
    first_block = int(w3.eth.block_number) + 1
    result = post(Sender(w3, operators[0]), reports, report, signatures, batch_size=batch_size)
    store.record_period(programme, period, period_totals(results), (first_block, int(w3.eth.block_number)))
    state = "accepted now" if result.accepted_now else "already accepted"
    out.print(
        f"report {state}; {result.batches} grant batch(es) sent; each household is paid at most once "
        f"({result.transactions} transaction(s) in {time.monotonic() - started:.1f} s)"
    )


@oracle.command()
@_errors
def proof(
    report_file: Annotated[Path, typer.Option("--report", help="A saved report (report-<programme>-<period>.json).")],
    household: Annotated[str, typer.Option(help="The household's salted hash (0x + 64 hex).")],
) -> None:
    """Print a household's leaf and Merkle proof, to check against the root accepted on-chain."""
    from oracle.settlement import Report, proof_of

    if not re.fullmatch(r"0x[0-9a-f]{64}", household):
        raise ValueError("--household is the salted hash: 0x and 64 lowercase hex digits")
    typer.echo(json.dumps(proof_of(Report.from_json(report_file.read_text(encoding="utf-8")), household), indent=1))
