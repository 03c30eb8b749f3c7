"""Officers' recovery in two steps, the wallet service's narrow role, and the audit trail of
failed privileged attempts (issue 15, finding 15 and the operators' trail), on a real node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from eth_account import Account
from eth_utils import keccak
from typer.main import get_command

from scripts.cli import app as typer_app
from tests.points import CITY, ENROLLER_ROLE, REGISTRAR_ROLE, RESIDENT, REVOKED, PointsSystem

runner = CliRunner(mix_stderr=False)
app = get_command(typer_app)
COMMUNITY_VERIFIER_ROLE = keccak(text="COMMUNITY_VERIFIER_ROLE")


def run(points: PointsSystem, tmp: Path, *args: str, key: str = "admin", env: dict[str, str] | None = None) -> Any:
    """``takasago ARGS`` signed with ``key`` of the dev chain (a dev-keys.json holding only that key)."""
    keyfile = points.node.data_dir / "dev-keys.json"
    if key != "admin":  # a key made by the test (private key hex), in the dev-keys.json layout
        keyfile = tmp / f"key-{key[2:10]}.json"
        keyfile.write_text(json.dumps({"admin": {"privateKey": key}}))
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir),
              "--dev-keys", str(keyfile), "--audit-log", str(tmp / "audit.log")]  # fmt: skip
    result = runner.invoke(app, [*args, *common], env={"COLUMNS": "300", "TERM": "dumb", **(env or {})})
    result.text = " ".join((result.stdout + result.stderr).split())
    return result


def audit(tmp: Path) -> list[dict[str, Any]]:
    path = tmp / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_finding15_recover_is_announced_then_executed_after_the_delay(points: PointsSystem, tmp_path: Path) -> None:
    lost = points.resident()
    points.mint(lost, 700)
    new = Account.create().address
    officer = {"TAKASAGO_OFFICER": "Tanaka (recovery desk)"}
    announced = run(points, tmp_path, "account", "recover", lost.address, new, env=officer)
    assert announced.exit_code == 0, announced.text
    assert "recovery announced" in announced.text and "--execute" in announced.text
    assert points.registry.functions.recoveryOf(lost.address).call()[0] == new
    assert points.balance(lost) == 700 and points.registry.functions.accountOf(new).call()[0] == 0
    again = run(points, tmp_path, "account", "recover", lost.address, new)
    assert again.exit_code == 2 and "already announced" in again.text
    early = run(points, tmp_path, "account", "recover", lost.address, new, "--execute", env=officer)
    assert early.exit_code == 2 and "can be completed from" in early.text and "JST" in early.text
    assert points.balance(new) == 0
    # Cancelled by another officer, announced again, then completed once the delay has passed.
    other = Account.create().address
    wrong = run(points, tmp_path, "account", "recover", lost.address, other, "--cancel")
    assert wrong.exit_code == 2 and f"is to {new}" in wrong.text
    assert run(points, tmp_path, "account", "recover", lost.address, new, "--cancel").exit_code == 0
    assert points.registry.functions.recoveryOf(lost.address).call()[0] == "0x" + "00" * 20
    assert run(points, tmp_path, "account", "recover", lost.address, new).exit_code == 0
    _, executable_at = points.registry.functions.recoveryOf(lost.address).call()
    points.mine_at(executable_at)
    done = run(points, tmp_path, "account", "recover", lost.address, new, "--execute", env=officer)
    assert done.exit_code == 0, done.text
    assert points.balance(new) == 700 and points.balance(lost) == 0
    assert points.registry.functions.accountOf(lost.address).call()[1] == REVOKED
    reader = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir)]  # no key: it only reads
    show = runner.invoke(app, ["account", "show", new, *reader], env={"COLUMNS": "300", "TERM": "dumb"})
    show.text = " ".join((show.stdout + show.stderr).split())
    assert "resident, active" in show.text and "700 points" in show.text
    steps = [(e["command"], e["status"], e["officer"]) for e in audit(tmp_path)]
    assert steps[0] == ("account recover-announce", "done", "Tanaka (recovery desk)")
    assert ("account recover", "bad input", "Tanaka (recovery desk)") in steps  # the early --execute
    assert steps[-2:] == [
        ("account recover", "done", "Tanaka (recovery desk)"),
        ("account recover-balance", "done", "Tanaka (recovery desk)"),
    ]


def test_finding15_authorise_service_grants_enroller_not_registrar(points: PointsSystem, tmp_path: Path) -> None:
    service = Account.create()
    # A service key authorised by an older version still holds REGISTRAR: it loses it.
    points.register(CITY, service)
    points.grant(REGISTRAR_ROLE, service)
    result = run(points, tmp_path, "account", "authorise-service", service.address)
    assert result.exit_code == 0, result.text
    roles = points.registry.functions.hasRole
    assert roles(ENROLLER_ROLE, service.address).call() and roles(COMMUNITY_VERIFIER_ROLE, service.address).call()
    assert not roles(REGISTRAR_ROLE, service.address).call()
    # With that key the CLI's recovery and status changes are refused by the registry, and recorded.
    lost = points.resident()
    key = "0x" + service.key.hex()
    for args in (["account", "recover", lost.address, Account.create().address], ["account", "suspend", lost.address]):
        refused = run(points, tmp_path, *args, key=key, env={"TAKASAGO_OFFICER": "wallet-service"})
        assert refused.exit_code == 3 and "AccessControlUnauthorizedAccount" in refused.text, refused.text
    assert points.registry.functions.accountOf(lost.address).call()[:2] == (RESIDENT, 1)
    failed = [e for e in audit(tmp_path) if e["officer"] == "wallet-service"]
    assert [(e["command"], e["status"], e["key"]) for e in failed] == [
        ("account recover-announce", "refused", service.address),
        ("account suspend", "refused", service.address),
    ]
    assert all("AccessControlUnauthorizedAccount" in e["error"] for e in failed)
    # The registration the wallet's approval sends still works with the narrow role.
    enrolled = Account.create().address
    assert run(points, tmp_path, "account", "register", enrolled, key=key).exit_code == 0
    assert points.registry.functions.isAllowed(enrolled).call()


def test_failed_attempts_before_any_transaction_are_recorded_with_the_officer(
    points: PointsSystem, tmp_path: Path
) -> None:
    """Bad input after authentication and a key that does not unlock are audited too."""
    keystore = points.node.data_dir / "keys" / "admin.json"
    address = Account.create().address
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir),
              "--audit-log", str(tmp_path / "audit.log")]  # fmt: skip
    wrong = runner.invoke(
        app,
        ["account", "register", address, "--keystore", str(keystore), *common],
        env={"TAKASAGO_KEYSTORE_PASSWORD": "guess", "TAKASAGO_OFFICER": "Suzuki"},
    )
    assert wrong.exit_code == 2
    bad = run(points, tmp_path, "account", "register", address, "--record-hash", "0x1234")
    assert bad.exit_code == 2 and "--record-hash" in bad.text
    nameless = run(points, tmp_path, "account", "register", address, "--officer", "x" * 65)
    assert nameless.exit_code == 2 and "--officer" in nameless.text
    entries = audit(tmp_path)
    assert [(e["officer"], e["command"], e["status"], e["key"]) for e in entries] == [
        ("Suzuki", "account register", "authentication failed", None),
        (entries[1]["officer"], "account register", "bad input", points.admin.address),
    ]
    assert entries[1]["officer"]  # the OS login when no --officer is given
    assert "TAKASAGO_KEYSTORE_PASSWORD" not in (tmp_path / "audit.log").read_text()
    assert "guess" not in (tmp_path / "audit.log").read_text()
    assert (tmp_path / "audit.log").stat().st_mode & 0o077 == 0
    assert not points.registry.functions.isAllowed(address).call()
