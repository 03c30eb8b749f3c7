"""``takasago account register --kind business`` and ``takasago business …`` on a real node (issue 21)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from eth_account import Account
from typer.main import get_command

from scripts.cli import app as typer_app
from tests.points import PointsSystem, text32

runner = CliRunner(mix_stderr=False)
app = get_command(typer_app)
BUSINESS = 6


def run(points: PointsSystem, tmp: Path, *args: str, key: str = "admin") -> Any:
    """``takasago ARGS`` signed with the dev chain's admin, or with a key made by the test (hex)."""
    keyfile = points.node.data_dir / "dev-keys.json"
    if key != "admin":
        keyfile = tmp / f"key-{key[2:10]}.json"
        keyfile.write_text(json.dumps({"admin": {"privateKey": key}}))
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir),
              "--dev-keys", str(keyfile), "--audit-log", str(tmp / "audit.log")]  # fmt: skip
    result = runner.invoke(app, [*args, *common], env={"COLUMNS": "300", "TERM": "dumb"})
    result.text = " ".join((result.stdout + result.stderr).split())
    return result


def test_the_city_registers_a_business_which_pays_a_shop_and_rewards_an_employee(
    points: PointsSystem, tmp_path: Path
) -> None:
    firm = Account.create()
    registered = run(points, tmp_path, "account", "register", firm.address, "--kind", "business")
    assert registered.exit_code == 0, registered.text
    assert points.registry.functions.accountOf(firm.address).call()[0] == BUSINESS
    wrong = run(points, tmp_path, "account", "register", Account.create().address, "--kind", "company")
    assert wrong.exit_code == 2 and "resident, merchant, business" in wrong.text

    shop, employee = points.merchant(), points.resident()
    customer = points.resident()
    points.mint(customer, 1_000)
    points.pay(customer, shop, 1_000)
    points.send(shop, points.token.functions.payBusiness(firm.address, 400, text32("INV-1")))

    limits = runner.invoke(
        app, ["business", "limits", "--rpc-url", points.node.url, "--deployments", str(points.deployments_dir)],
        env={"COLUMNS": "300", "TERM": "dumb"},
    )  # fmt: skip
    limits.text = " ".join((limits.stdout + limits.stderr).split())
    assert limits.exit_code == 0 and "100,000 points" in limits.text and "6 month(s)" in limits.text
    changed = run(points, tmp_path, "business", "set-limits", "--max-payment", "300", "--max-reward", "50")
    assert changed.exit_code == 0, changed.text
    assert points.token.functions.localCirculationLimits().call() == [300, 50, 6]
    refused = run(points, tmp_path, "business", "set-limits", "--max-payment", "1", key="0x" + firm.key.hex())
    assert refused.exit_code != 0 and "AccessControlUnauthorizedAccount" in refused.text

    as_firm = "0x" + firm.key.hex()
    over = run(points, tmp_path, "business", "pay", shop.address, "301", key=as_firm)
    assert over.exit_code != 0 and "LocalTransferLimitExceeded" in over.text
    to_resident = run(points, tmp_path, "business", "pay", employee.address, "10", key=as_firm)
    assert to_resident.exit_code != 0 and "TransferNotPermitted" in to_resident.text
    paid = run(points, tmp_path, "business", "pay", shop.address, "250", "--reference", "INV-2", key=as_firm)
    assert paid.exit_code == 0, paid.text
    rewarded = run(points, tmp_path, "business", "reward", employee.address, "50", key=as_firm)
    assert rewarded.exit_code == 0, rewarded.text
    assert points.balance(firm.address) == 100 and points.balance(employee) == 50
    assert points.token.functions.merchantLedgerOf(shop.address).call()[0] == 1_000 - 400 + 250
    run(points, tmp_path, "business", "set-limits")  # back to the defaults
    assert points.token.functions.localCirculationLimits().call() == [100_000, 10_000, 6]
