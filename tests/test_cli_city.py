"""The city officers' commands against a real node: accounts, roles, programmes, pause, mint (one and CSV)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_account import Account
from typer.main import get_command

from scripts.cli import app as typer_app
from tests.conftest import free_port
from tests.points import ACTIVE, REVOKED, SUSPENDED, PointsSystem

runner = CliRunner(mix_stderr=False)
OFFICER = "Sato Hanako (registry desk)"
app = get_command(typer_app)


def run(points: PointsSystem, tmp: Path, *args: str, input: str | None = None) -> Any:
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir),
              "--dev-keys", str(points.node.data_dir / "dev-keys.json"), "--audit-log", str(tmp / "audit.log"),
              "--officer", OFFICER]  # fmt: skip
    result = runner.invoke(app, [*args, *common], input=input, env={"COLUMNS": "300", "TERM": "dumb"})
    result.text = " ".join((result.stdout + result.stderr).split())  # rich may wrap long lines
    return result


def read(points: PointsSystem, *args: str) -> Any:
    """A listing or reporting command: the node and the deployment only, no key, no audit log."""
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir)]
    result = runner.invoke(app, [*args, *common], env={"COLUMNS": "300", "TERM": "dumb"})
    result.text = " ".join((result.stdout + result.stderr).split())
    return result


def audit(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_account_lifecycle_with_audit_log_and_dry_run(points: PointsSystem, tmp_path: Path) -> None:
    address = Account.create().address
    dry = run(points, tmp_path, "account", "register", address, "--dry-run")
    assert dry.exit_code == 0 and "would succeed" in dry.text
    assert points.registry.functions.accountOf(address).call()[0] == 0 and audit(tmp_path) == []
    record = "0x" + "ab" * 32
    assert run(points, tmp_path, "account", "register", address, "--record-hash", record).exit_code == 0
    assert points.registry.functions.accountOf(address).call() == (1, ACTIVE, bytes.fromhex("ab" * 32))
    again = run(points, tmp_path, "account", "register", address)
    assert again.exit_code == 2 and "already registered" in again.text
    assert run(points, tmp_path, "account", "suspend", address).exit_code == 0
    assert points.registry.functions.accountOf(address).call()[1] == SUSPENDED
    assert run(points, tmp_path, "account", "reactivate", address).exit_code == 0
    assert run(points, tmp_path, "account", "revoke", address).exit_code == 0
    assert points.registry.functions.accountOf(address).call()[1] == REVOKED
    back = run(points, tmp_path, "account", "reactivate", address)
    assert back.exit_code == 2 and "never returns" in back.text
    entries = audit(tmp_path)
    assert [(e["command"], e["status"]) for e in entries] == [
        ("resident register", "done"),
        ("account register", "bad input"),  # failed attempts are recorded too, with the officer
        ("account suspend", "done"),
        ("account reactivate", "done"),
        ("account revoke", "done"),
        ("account reactivate", "bad input"),
    ]
    assert all(e["officer"] == OFFICER and e["key"] == points.admin.address for e in entries)
    assert all(e["tx"].startswith("0x") for e in entries if e["status"] == "done")
    assert "already registered" in entries[1]["error"] and entries[1]["address"] == address
    assert "privateKey" not in (tmp_path / "audit.log").read_text()


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("0x1234", "not a 20-byte hex address"),
        ("0x" + "ab" * 20, "not EIP-55 checksummed"),
        ("0x52908400098527886E0F7030069857D2E4169EE7".replace("E0F", "e0F"), "not EIP-55 checksummed"),
    ],
)
def test_bad_addresses_are_refused_with_exit_2(
    points: PointsSystem, tmp_path: Path, address: str, message: str
) -> None:
    result = run(points, tmp_path, "account", "register", address)
    assert result.exit_code == 2 and message in result.text and "Traceback" not in result.text


def test_roles_grant_and_revoke(points: PointsSystem, tmp_path: Path) -> None:
    officer = points.resident().address
    assert run(points, tmp_path, "roles", "grant", "minter", officer).exit_code == 0
    assert points.registry.functions.hasRole(bytes.fromhex(
        "9f2df0fed2c77648de5860a4cc508cd0818c85b8b8a1ab4ceeef8d981c8956a6"), officer).call()  # fmt: skip
    assert "nothing to do" in run(points, tmp_path, "roles", "grant", "minter", officer).text
    assert run(points, tmp_path, "roles", "revoke", "minter", officer).exit_code == 0
    unknown = run(points, tmp_path, "roles", "grant", "king", officer)
    assert unknown.exit_code == 2 and "unknown role" in unknown.text


def test_programme_create_list_budget_close(points: PointsSystem, tmp_path: Path) -> None:
    created = run(points, tmp_path, "programme", "create", "--name", "CO2 reduction, FY2026", "--reward-points", "10",
                  "--reward-units", "1000", "--cap", "3000", "--cap-period", "month", "--budget", "5000000",
                  "--expiry", "fiscal-year", "--verifier-role", "quorum-reporter")  # fmt: skip
    assert created.exit_code == 0, created.text
    programme_id = int(re.search(r"programme id (\d+)", created.text)[1])  # type: ignore[index]
    listed = read(points, "programme", "list")
    assert "CO2 reduction, FY2026" in listed.text and "3,000/month" in listed.text and "0 / 5,000,000" in listed.text
    assert run(points, tmp_path, "programme", "budget", str(programme_id), "6000000").exit_code == 0
    assert run(points, tmp_path, "programme", "close", str(programme_id)).exit_code == 0
    closed = run(points, tmp_path, "programme", "close", str(programme_id))
    assert closed.exit_code == 2 and "already closed" in closed.text
    for args, message in [
        (["--cap-period", "week"], "--cap-period"),
        (["--expiry", "days:0"], "--expiry"),
        (["--starts", "2026-13-01"], "not a date"),
        (["--verifier-role", "nobody"], "--verifier-role"),
    ]:
        bad = run(points, tmp_path, "programme", "create", "--name", "x", "--budget", "1", *args)
        assert bad.exit_code == 2 and message in bad.text, bad.text
    unknown = run(points, tmp_path, "programme", "close", "99999")
    assert unknown.exit_code == 2 and "unknown programme" in unknown.text


def test_pause_and_unpause(points: PointsSystem, tmp_path: Path) -> None:
    assert run(points, tmp_path, "pause").exit_code == 0
    try:
        assert points.token.functions.paused().call()
        assert "already paused" in run(points, tmp_path, "pause").text
    finally:
        assert run(points, tmp_path, "unpause").exit_code == 0
    assert not points.token.functions.paused().call()


def test_on_chain_refusal_exits_3_and_unreachable_node_exits_4(points: PointsSystem, tmp_path: Path) -> None:
    outsider = points.resident()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"admin": {"privateKey": "0x" + outsider.key.hex()}}))
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir), "--dev-keys", str(keys),
              "--audit-log", str(tmp_path / "audit.log")]  # fmt: skip
    refused = runner.invoke(app, ["pause", *common], env={"COLUMNS": "300"})
    assert refused.exit_code == 3 and "AccessControlUnauthorizedAccount" in refused.stderr
    down = runner.invoke(app, ["pause", "--rpc-url", f"http://127.0.0.1:{free_port()}", "--dev-keys", str(keys)])
    assert down.exit_code == 4 and "cannot reach the node" in " ".join(down.stderr.split())


def test_mint_one_is_idempotent_per_day(points: PointsSystem, tmp_path: Path) -> None:
    programme = points.create_programme()
    resident = points.resident()
    first = run(points, tmp_path, "mint", resident.address, "５００", "--programme", str(programme))
    assert first.exit_code == 0, first.text
    assert points.balance(resident) == 500
    second = run(points, tmp_path, "mint", resident.address, "500", "--programme", str(programme))
    assert second.exit_code == 0 and "already paid" in second.text
    assert points.balance(resident) == 500
    third = run(points, tmp_path, "mint", resident.address, "500", "--programme", str(programme), "--claim-id", "7")
    assert third.exit_code == 0 and points.balance(resident) == 1000
    merchant = points.merchant()
    shop = run(points, tmp_path, "mint", merchant.address, "1", "--programme", str(programme))
    assert shop.exit_code == 2 and "merchant, not a resident" in shop.text
    # ("-5" never reaches us: the command line refuses it as an unknown option, also with exit code 2.)
    for amount, message in [
        ("0", "zero"),
        ("1.5", "whole number"),
        ("abc", "not a number"),
        ("９９９９９９９９９９９９９", "too large"),
    ]:
        bad = run(points, tmp_path, "mint", resident.address, amount, "--programme", str(programme))
        assert bad.exit_code == 2 and message in bad.text, bad.text
    missing = run(points, tmp_path, "mint", resident.address, "1", "--programme", "99999")
    assert missing.exit_code == 2 and "unknown programme" in missing.text


def write_csv(path: Path, lines: list[str], encoding: str) -> Path:
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n")
    return path


def test_csv_problems_are_all_reported_with_line_numbers_and_nothing_is_sent(
    points: PointsSystem, tmp_path: Path
) -> None:
    programme = points.create_programme()
    good = [points.resident() for _ in range(3)]
    suspended = points.resident()
    points.send(points.admin, points.registry.functions.setStatus(suspended.address, SUSPENDED))
    merchant = points.merchant()
    lines = [
        "アドレス,ポイント,備考",
        f"{good[0].address},１，０００,自治会",  # full-width digits and separator: fine
        f"{good[1].address},0,",
        f"{good[2].address.lower()},10,",
        f"{good[0].address},5,",
        f"{Account.create().address},10,",
        f"{suspended.address},10,",
        f"{merchant.address},10,",
        f"{good[1].address},-3,",
        f"{good[2].address},2.5,",
        f"{good[2].address},{2**64},",
        "0xnot-an-address,1,",
    ]
    path = write_csv(tmp_path / "rows.csv", lines, "cp932")
    result = run(points, tmp_path, "mint", "--csv", str(path), "--programme", str(programme), "--batch-id", "11")
    assert result.exit_code == 2, result.text
    expected = {3: "zero", 4: "checksummed", 5: "duplicate of line 2", 6: "not registered", 7: "suspended",
                8: "merchant, not a resident", 9: "negative", 10: "whole number", 11: "too large", 12: "not an address"}  # fmt: skip
    for line, message in expected.items():
        assert re.search(rf"rows.csv:{line}: [^|]*{message}", result.text), (line, message, result.text)
    assert "nothing sent" in result.text and "rows.csv:2:" not in result.text
    assert points.balance(good[0]) == 0
    skipped = run(
        points,
        tmp_path,
        "mint",
        "--csv",
        str(path),
        "--programme",
        str(programme),
        "--batch-id",
        "11",
        "--skip-invalid",
    )
    assert skipped.exit_code == 0, skipped.text
    assert points.balance(good[0]) == 1000 and points.balance(good[1]) == 0


def test_csv_encodings_and_resume(points: PointsSystem, tmp_path: Path) -> None:
    programme = points.create_programme()
    residents = [points.resident() for _ in range(6)]
    rows = ["address,points,note"] + [f"{r.address},{100 + i},row {i}" for i, r in enumerate(residents)]
    utf8_bom = tmp_path / "bom.csv"
    utf8_bom.write_bytes(b"\xef\xbb\xbf" + "\n".join(rows).encode())
    first = run(points, tmp_path, "mint", "--csv", str(utf8_bom), "--programme", str(programme), "--batch-id", "5",
                "--batch-size", "4")  # fmt: skip
    assert first.exit_code == 0 and "(utf-8-sig)" in first.text, first.text
    assert [points.balance(r) for r in residents] == [100 + i for i in range(6)]
    again = run(points, tmp_path, "mint", "--csv", str(utf8_bom), "--programme", str(programme), "--batch-id", "5")
    assert again.exit_code == 0 and "6 rows were already minted" in again.text and "nothing to do" in again.text
    assert [points.balance(r) for r in residents] == [100 + i for i in range(6)]
    batches = [e for e in audit(tmp_path) if e["command"] == "mint batch"]
    assert [e["rows"] for e in batches] == [4, 2] and all(e["status"] == "done" for e in batches)
    missing = tmp_path / "missing.csv"
    write_csv(missing, ["name,points", "x,1"], "utf-8")
    bad = run(points, tmp_path, "mint", "--csv", str(missing), "--programme", str(programme), "--batch-id", "6")
    assert bad.exit_code == 2 and "missing column address" in bad.text
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"address,points\n\xff\xfe\xfa,1\n")
    bad = run(
        points,
        tmp_path,
        "mint",
        "--csv",
        str(garbage),
        "--programme",
        str(programme),
        "--batch-id",
        "6",
        "--encoding",
        "utf-8",
    )
    assert bad.exit_code == 2 and "line 2: not valid utf-8" in bad.text
    no_batch = run(points, tmp_path, "mint", "--csv", str(utf8_bom), "--programme", str(programme))
    assert no_batch.exit_code == 2 and "--batch-id is required" in no_batch.text


def test_budget_is_checked_before_sending(points: PointsSystem, tmp_path: Path) -> None:
    programme = points.create_programme(budget=150)
    residents = [points.resident() for _ in range(2)]
    path = write_csv(tmp_path / "b.csv", ["address,points"] + [f"{r.address},100" for r in residents], "utf-8")
    result = run(points, tmp_path, "mint", "--csv", str(path), "--programme", str(programme), "--batch-id", "1")
    assert result.exit_code == 2 and "150 points of budget left" in result.text
    assert points.balance(residents[0]) == 0


def test_settle_lists_and_exports_a_periods_settlements(points: PointsSystem, tmp_path: Path) -> None:
    from datetime import datetime

    from ledger_client.jst import JST

    payer, bakery, grocer = points.resident(), points.merchant(), points.merchant()
    points.mint(payer, 5_000)
    points.pay(payer, bakery, 1_200)
    points.pay(payer, grocer, 800)
    points.send(bakery, points.token.functions.requestSettlement(1_000, b"INV-001".ljust(32, b"\0")))
    points.send(grocer, points.token.functions.requestSettlement(800, "八百屋-11月".encode().ljust(32, b"\0")))
    today = datetime.fromtimestamp(points.now(), JST).strftime("%Y-%m-%d")
    out_csv = tmp_path / "settle.csv"
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir)]
    result = runner.invoke(app, ["settle", "--from", today, "--to", today, "--csv", str(out_csv), "--encoding", "cp932", *common],
                           env={"COLUMNS": "300"})  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    text = out_csv.read_bytes().decode("cp932")
    assert "INV-001" in text and "八百屋-11月" in text
    rows = [line.split(",") for line in text.strip().splitlines()]
    assert rows[0][:4] == ["settlement_id", "requested_at", "merchant", "amount_yen"]
    mine = {r[2]: int(r[3]) for r in rows[1:] if r[2] in (bakery.address, grocer.address)}
    assert mine == {bakery.address: 1_000, grocer.address: 800}
    only = runner.invoke(app, ["settle", "--from", today, "--to", today, "--merchant", grocer.address, *common])
    assert only.exit_code == 0 and "800" in only.stdout and "1,000" not in only.stdout
    bad = runner.invoke(app, ["settle", "--from", today, "--to", "2020-01-01", *common])
    assert bad.exit_code == 2 and "before" in bad.stderr


def test_status_shows_supply_circulation_and_budgets(points: PointsSystem, tmp_path: Path) -> None:
    programme = points.create_programme(name="status check programme", budget=10_000)
    resident = points.resident()
    points.send(points.admin, points.programmes.functions.attest(programme, resident.address, 250, b"\0" * 32, 1))
    result = runner.invoke(app, ["status", "--rpc-url", points.node.url, "--deployments", str(points.deployments_dir)],
                           env={"COLUMNS": "300"})  # fmt: skip
    text = " ".join(result.stdout.split())
    assert result.exit_code == 0, result.stderr
    supply = points.token.functions.totalSupply().call()
    assert f"total supply {supply:,} points" in text
    assert "status check programme" in text and "250 / 10,000" in text
    assert "validators: 0x" in text and "paused: no" in text


def test_officer_key_from_an_encrypted_keystore_unlocked_by_environment(points: PointsSystem, tmp_path: Path) -> None:
    address = Account.create().address
    keystore = points.node.data_dir / "keys" / "admin.json"
    args = ["account", "register", address, "--rpc-url", points.node.url, "--deployments", str(points.deployments_dir),
            "--keystore", str(keystore), "--audit-log", str(tmp_path / "audit.log")]  # fmt: skip
    result = runner.invoke(app, args, env={"TAKASAGO_KEYSTORE_PASSWORD": "insecure-dev-passphrase"})
    assert result.exit_code == 0, result.stdout + result.stderr
    assert points.registry.functions.isAllowed(address).call()
    wrong = runner.invoke(app, args, env={"TAKASAGO_KEYSTORE_PASSWORD": "guess"})
    assert wrong.exit_code == 2 and "wrong passphrase" in wrong.stderr


def test_mint_refuses_closed_and_expired_programmes(points: PointsSystem, tmp_path: Path) -> None:
    resident = points.resident()
    now = points.now()
    expired = points.create_programme(startsAt=now - 7200, endsAt=now - 3600)
    result = run(points, tmp_path, "mint", resident.address, "10", "--programme", str(expired))
    assert result.exit_code == 2 and "outside its validity window" in result.text
    closed = points.create_programme()
    points.send(points.admin, points.programmes.functions.closeProgramme(closed))
    result = run(points, tmp_path, "mint", resident.address, "10", "--programme", str(closed))
    assert result.exit_code == 2 and "is closed" in result.text
    assert points.balance(resident) == 0


def test_large_mints_ask_for_confirmation(points: PointsSystem, tmp_path: Path) -> None:
    programme = points.create_programme()
    resident = points.resident()
    args = ["mint", resident.address, "5000", "--programme", str(programme), "--confirm-above", "1000"]
    declined = run(points, tmp_path, *args, input="n\n")
    assert declined.exit_code == 2 and "not confirmed; nothing was sent" in declined.text
    assert points.balance(resident) == 0
    accepted = run(points, tmp_path, *args, input="y\n")
    assert accepted.exit_code == 0, accepted.text
    assert points.balance(resident) == 5000
    small = run(points, tmp_path, "mint", resident.address, "10", "--programme", str(programme), "--confirm-above", "1000",
                "--claim-id", "99")  # fmt: skip
    assert small.exit_code == 0 and "move" not in small.text
