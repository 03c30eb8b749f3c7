"""Deployment is idempotent; UUPS upgrades keep balances, buckets and history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode

from contracts.artifacts import load_artifact
from contracts.deploy import DeploySettings, deploy, implementation_of
from ledger_client.deployment import DeploymentError, read_deployment, write_deployment
from tests.points import PointsSystem, text32

UPGRADEABLE = ("AccountRegistry", "RegionalPoints", "RewardProgrammes", "OracleReports", "HelpBoard")


def test_redeploying_changes_nothing(fresh_points: PointsSystem) -> None:
    p = fresh_points
    path = p.deployments_dir / f"{p.w3.eth.chain_id}.json"
    before = path.read_bytes()
    head = p.w3.eth.block_number
    report = deploy(p.w3, p.sender(p.admin), p.deployments_dir, DeploySettings())
    assert report.actions == [] and report.pending_upgrades == []
    assert path.read_bytes() == before
    assert p.w3.eth.block_number == head


def test_a_deployment_file_of_another_chain_is_refused(fresh_points: PointsSystem, tmp_path: Path) -> None:
    p = fresh_points
    path = p.deployments_dir / f"{p.w3.eth.chain_id}.json"
    document = json.loads(path.read_text())
    document["genesisHash"] = "0x" + "ab" * 32
    other = tmp_path / "other"
    other.mkdir()
    (other / path.name).write_text(json.dumps(document))
    with pytest.raises(DeploymentError, match="another chain"):
        deploy(p.w3, p.sender(p.admin), other)


def test_a_changed_implementation_is_reported_and_upgraded_only_when_asked(fresh_points: PointsSystem) -> None:
    p = fresh_points
    path = p.deployments_dir / f"{p.w3.eth.chain_id}.json"
    deployment = read_deployment(path)
    assert deployment is not None
    deployment.contracts["RewardProgrammes"].bytecodeHash = "0x" + "00" * 32  # as if built from older sources
    write_deployment(path, deployment)
    old_implementation = implementation_of(p.w3, deployment.address("RewardProgrammes"))
    report = deploy(p.w3, p.sender(p.admin), p.deployments_dir)
    assert report.actions == [] and len(report.pending_upgrades) == 1
    report = deploy(p.w3, p.sender(p.admin), p.deployments_dir, upgrade=True)
    assert report.actions and report.actions[0].startswith("upgraded RewardProgrammes")
    assert implementation_of(p.w3, deployment.address("RewardProgrammes")) != old_implementation
    assert deploy(p.w3, p.sender(p.admin), p.deployments_dir).actions == []


def test_upgrading_the_token_re_applies_the_citys_own_local_circulation_limits(fresh_points: PointsSystem) -> None:
    """The token's copies of the pause and the kinds link sit beside the limits and are written with
    them: a deploy that upgrades the token writes the city's limits again, unchanged."""
    p = fresh_points
    token = p.token.functions
    p.send(p.admin, token.setLocalCirculationLimits(7_000, 70, 3))
    path = p.deployments_dir / f"{p.w3.eth.chain_id}.json"
    deployment = read_deployment(path)
    assert deployment is not None
    deployment.contracts["RegionalPoints"].bytecodeHash = "0x" + "00" * 32  # as if built from older sources
    write_deployment(path, deployment)
    report = deploy(p.w3, p.sender(p.admin), p.deployments_dir, upgrade=True)
    assert report.actions[0].startswith("upgraded RegionalPoints")
    assert "re-applied the local-circulation limits after the token's upgrade" in report.actions
    assert token.localCirculationLimits().call() == [7_000, 70, 3]
    assert deploy(p.w3, p.sender(p.admin), p.deployments_dir).actions == []


def test_a_chain_from_before_help_matching_gets_its_board_linked_on_the_token_upgrade(
    fresh_points: PointsSystem,
) -> None:
    """Issue 18 on a running city: deploy adds the HelpBoard; the token (older) is linked only with --upgrade."""
    p = fresh_points
    path = p.deployments_dir / f"{p.w3.eth.chain_id}.json"
    deployment = read_deployment(path)
    assert deployment is not None
    old_board = deployment.address("HelpBoard")
    del deployment.contracts["HelpBoard"]  # as if deployed before issue 18 ...
    deployment.contracts["RegionalPoints"].bytecodeHash = "0x" + "00" * 32  # ... with the token of then
    write_deployment(path, deployment)
    report = deploy(p.w3, p.sender(p.admin), p.deployments_dir)
    assert report.actions[0].startswith("deployed HelpBoard") and "set 9 help task types" in report.actions
    assert any("help board is linked" in pending for pending in report.pending_upgrades)
    assert p.token.functions.helpBoard().call() == old_board  # untouched until the upgrade
    report = deploy(p.w3, p.sender(p.admin), p.deployments_dir, upgrade=True)
    new_board = read_deployment(path).address("HelpBoard")  # type: ignore[union-attr]
    assert report.actions[0].startswith("upgraded RegionalPoints")
    assert f"set the token's help board to {new_board}" in report.actions
    assert p.token.functions.helpBoard().call() == new_board != old_board
    assert deploy(p.w3, p.sender(p.admin), p.deployments_dir).actions == []


def test_help_board_upgrade_keeps_requests_and_escrow(fresh_points: PointsSystem) -> None:
    p = fresh_points
    requester = p.resident()
    p.mint(requester, 500)
    now = p.now()
    p.send(requester, p.board.functions.post(0, 300, now + 3600, now + 7200, b"\x03" * 32))
    before = p.board.functions.requestOf(1).call()
    receipt = p.sender(p.admin).send(None, load_artifact("HelpBoard").bytecode)
    implementation = receipt["contractAddress"]
    p.reverts(requester, p.board.functions.upgradeToAndCall(implementation, b""), "AccessControlUnauthorizedAccount")
    p.send(p.admin, p.board.functions.upgradeToAndCall(implementation, b""))
    assert implementation_of(p.w3, p.board.address) == implementation
    assert p.board.functions.requestOf(1).call() == before
    p.send(requester, p.board.functions.withdraw(1))
    assert p.balance(requester) == 500


def test_every_upgradeable_contract_keeps_its_state_in_erc7201_namespaces() -> None:
    for name in (*UPGRADEABLE, "RegionalPointsV2"):
        assert load_artifact(name).storage_layout["storage"] == [], name


def test_token_upgrade_keeps_balances_buckets_and_history(fresh_points: PointsSystem) -> None:
    p = fresh_points
    a, b, shop = p.resident(), p.resident(), p.merchant()
    month = p.current_month()
    p.mint(a, 300, month + 2)
    p.mint(a, 200, month + 9)
    p.thank(a, b, 50)
    reference = b"receipt 0001".ljust(32, b"\0")
    request = p.pay(a, shop, 120, reference)
    p.send(shop, p.token.functions.requestSettlement(20, text32("INV-1")))
    token = p.token.functions
    # Issue 21: a business holding points from a B2B payment, and the city's limits.
    firm = p.new_account()
    p.register(6, firm)  # AccountRegistry.Kind.Business
    supplier_of_firm = p.merchant()
    p.pay(b, supplier_of_firm, 30)
    p.send(supplier_of_firm, token.payBusiness(firm.address, 30, text32("INV-2")))
    p.send(p.admin, token.setLocalCirculationLimits(5_000, 700, 3))
    snapshot = {
        "a": token.bucketsOf(a.address).call(),
        "b": token.bucketsOf(b.address).call(),
        "shop": token.merchantLedgerOf(shop.address).call(),
        "payment": token.paymentOf(shop.address, request).call(),
        "totals": token.totals().call(),
        "supply": token.totalSupply().call(),
        "thanks": token.thanksSentToday(a.address).call(),
        "limits": token.thanksLimits().call(),
        "name": token.name().call(),
        "firm": token.bucketsOf(firm.address).call(),
        "local": token.localCirculationLimits().call(),
        "programmes": token.rewardProgrammes().call(),
    }
    v2 = load_artifact("RegionalPointsV2")
    receipt = p.sender(p.admin).send(None, v2.bytecode)
    implementation = receipt["contractAddress"]
    p.reverts(a, token.upgradeToAndCall(implementation, b""), "AccessControlUnauthorizedAccount")
    p.send(p.admin, token.upgradeToAndCall(implementation, b""))
    upgraded = p.w3.eth.contract(address=p.token.address, abi=v2.abi).functions
    assert upgraded.version().call() == "2"
    assert implementation_of(p.w3, p.token.address) == implementation
    assert {
        "a": upgraded.bucketsOf(a.address).call(),
        "b": upgraded.bucketsOf(b.address).call(),
        "shop": upgraded.merchantLedgerOf(shop.address).call(),
        "payment": upgraded.paymentOf(shop.address, request).call(),
        "totals": upgraded.totals().call(),
        "supply": upgraded.totalSupply().call(),
        "thanks": upgraded.thanksSentToday(a.address).call(),
        "limits": upgraded.thanksLimits().call(),
        "name": upgraded.name().call(),
        "firm": upgraded.bucketsOf(firm.address).call(),
        "local": upgraded.localCirculationLimits().call(),
        "programmes": upgraded.rewardProgrammes().call(),
    } == snapshot
    # The upgraded token keeps working under the same rules.
    p.send(shop, upgraded.refund(request, 100))
    p.reverts(a, upgraded.pay(shop.address, 120, reference), "PaymentRequestAlreadyPaid")
    assert p.balance(a) == 300 + 200 - 50 - 120 + 100
    p.send(firm, upgraded.rewardResident(b.address, 30, text32("commute")))
    assert p.balance(firm) == 0 and p.balance(b) == 50 - 30 + 30
    # An implementation cannot be initialised or used directly.
    direct = p.w3.eth.contract(address=implementation, abi=v2.abi).functions
    p.reverts(p.admin, direct.initialize(p.registry.address, "x", "x", 1, 1), "InvalidInitialization")


def test_registry_upgrade_keeps_accounts_and_the_node_keeps_obeying_it(fresh_points: PointsSystem) -> None:
    p = fresh_points
    resident = p.resident()
    receipt = p.sender(p.admin).send(None, load_artifact("AccountRegistry").bytecode)
    implementation = receipt["contractAddress"]
    p.reverts(resident, p.registry.functions.upgradeToAndCall(implementation, b""), "AccessControlUnauthorizedAccount")
    p.send(p.admin, p.registry.functions.upgradeToAndCall(implementation, b""))
    assert implementation_of(p.w3, p.registry.address) == implementation
    assert p.registry.functions.isAllowed(resident.address).call()
    p.mint(resident, 10)
    p.pay(resident, p.merchant(), 10)
    p.send(p.admin, p.registry.functions.setStatus(resident.address, 2))
    assert not p.registry.functions.isAllowed(resident.address).call()


def test_a_token_from_before_the_kinds_mirror_upgrades_in_place_keeping_every_ledger(
    fresh_points: PointsSystem,
) -> None:
    """A running city's token (the implementation of commit 1910fac, before the token kept a copy of
    the registry's kinds) upgraded in place: the merchant ledgers whose slot now also holds the copy,
    the buckets, the pause and the thanks caps are kept; the token asks the registry until the
    registry links it and the accounts are copied, then reads its own copy."""
    p = fresh_points
    old = json.loads((Path(__file__).parent / "data" / "regional_points_1910fac.json").read_text())
    abi = load_artifact("RegionalPoints").abi
    sender = p.sender(p.admin)
    implementation = sender.send(None, old["bytecode"])["contractAddress"]
    init = p.w3.eth.contract(abi=abi).encode_abi("initialize", [p.registry.address, "Old", "OLD", 10, 1_000])
    proxy_code = load_artifact("TakasagoProxy").bytecode + abi_encode(
        ["address", "bytes"], [implementation, bytes.fromhex(init[2:])]
    )
    token = p.w3.eth.contract(address=sender.send(None, proxy_code)["contractAddress"], abi=abi)
    t = token.functions
    resident, other, shop = p.resident(), p.resident(), p.merchant()
    month = p.current_month()
    p.send(p.admin, t.mint(resident.address, 900, month + 2))
    p.send(resident, t.pay(shop.address, 300, b"\x01" * 32))
    p.send(resident, t.thank(other.address, 40, text32("help"), b"\0" * 32))
    p.send(
        shop,
        t.refund(p.w3.keccak(abi_encode(["address", "uint256", "bytes32"], [shop.address, 300, b"\x01" * 32])), 50),
    )
    p.send(shop, t.requestSettlement(20, text32("INV-1")))
    supplier = p.merchant()
    p.send(p.admin, t.setLocalCirculationLimits(1_000, 100, 6))
    p.send(p.admin, t.pause())
    snapshot = {
        "shop": t.merchantLedgerOf(shop.address).call(),
        "resident": t.bucketsOf(resident.address).call(),
        "other": t.bucketsOf(other.address).call(),
        "supply": t.totalSupply().call(),
        "limits": t.thanksLimits().call(),
        "paused": t.paused().call(),
    }
    assert snapshot["shop"] == [230, 300, 50, 20] and snapshot["paused"]
    new_implementation = sender.send(None, load_artifact("RegionalPoints").bytecode)["contractAddress"]
    p.send(p.admin, t.upgradeToAndCall(new_implementation, b""))
    assert implementation_of(p.w3, token.address) == new_implementation
    assert {
        "shop": t.merchantLedgerOf(shop.address).call(),
        "resident": t.bucketsOf(resident.address).call(),
        "other": t.bucketsOf(other.address).call(),
        "supply": t.totalSupply().call(),
        "limits": t.thanksLimits().call(),
        "paused": t.paused().call(),
    } == snapshot
    # The upgraded token is not linked: no account has a current copy; it asks the registry.
    assert not t.kindsMirrorLinked().call()
    assert [t.mirroredKindOf(a.address).call() for a in (resident, shop)] == [[0, False], [0, False]]
    # The pause holds for local circulation too: its copy of the pause is not made yet, so it reads the pause itself.
    p.reverts(shop, t.payBusiness(supplier.address, 5, text32("INV-2")), "EnforcedPause")
    p.send(p.admin, t.unpause())
    p.send(shop, t.payBusiness(supplier.address, 5, text32("INV-2")))
    p.send(resident, t.pay(shop.address, 100, b"\x02" * 32))
    p.send(p.admin, p.registry.functions.setStatus(other.address, 2))  # suspended; not pushed anywhere yet
    p.reverts(resident, t.thank(other.address, 1, text32("help"), b"\0" * 32), "AccountNotActive")
    # Linked and copied: the shop's copy sits beside its ledger, which is unchanged.
    p.send(p.admin, p.registry.functions.setKindsMirror(token.address))
    p.send(resident, t.syncKinds([resident.address, shop.address, other.address]))
    assert [t.mirroredKindOf(a.address).call() for a in (resident, shop, other)] == [
        [1, True],
        [2, True],
        [0, False],  # inactive accounts are not copied
    ]
    assert t.merchantLedgerOf(shop.address).call() == [325, 400, 50, 20]
    p.send(resident, t.pay(shop.address, 70, b"\x03" * 32))
    p.reverts(resident, t.thank(other.address, 1, text32("help"), b"\0" * 32), "AccountNotActive")
    assert t.merchantLedgerOf(shop.address).call() == [395, 470, 50, 20]
    assert t.localCirculationLimits().call() == [1_000, 100, 6]
    p.send(p.admin, t.pause())  # every pause now reaches local circulation through its copy
    p.reverts(shop, t.payBusiness(supplier.address, 5, text32("INV-3")), "EnforcedPause")
    p.send(p.admin, t.unpause())
    p.send(shop, t.payBusiness(supplier.address, 5, text32("INV-3")))
    assert t.merchantLedgerOf(supplier.address).call() == [10, 10, 0, 0]
    assert t.balanceOf(resident.address).call() == 900 - 300 - 40 + 50 - 100 - 70
