"""Points that stay local (issue 21) on the real node: business accounts, shop/business
payments (B2B), business rewards and business programmes, and what stays refused; the
indexer's decoding of these hops; and the command line (`takasago account register --kind
business`, `takasago business limits|set-limits|pay|reward`)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from typer.main import get_command

from scripts.cli import app as typer_app
from tests.points import (
    CAP_PROGRAMME,
    ENROLLER_ROLE,
    MERCHANT,
    RESIDENT,
    SUSPENDED,
    PointsSystem,
    programme_tuple,
    text32,
)

BUSINESS = 6  # AccountRegistry.Kind.Business (appended after Validator)
MAX_PAYMENT, MAX_REWARD, SHOP_MONTHS = 100_000, 10_000, 6  # DeploySettings' defaults
INTENT_BUSINESS_PAYMENT, INTENT_BUSINESS_REWARD = 9, 10
INVOICE = text32("INV-2026-001")
COMMUTE = text32("commute")


def business(points: PointsSystem) -> LocalAccount:
    account = points.new_account()
    points.register(BUSINESS, account)
    return account


def paid_shop(points: PointsSystem, amount: int) -> LocalAccount:
    """A shop holding ``amount`` points, paid by a resident (the only way points reach a shop)."""
    shop, customer = points.merchant(), points.resident()
    points.mint(customer, amount)
    points.pay(customer, shop, amount)
    return shop


def buckets(points: PointsSystem, account: LocalAccount) -> list[tuple[int, int]]:
    expires, amounts = points.token.functions.bucketsOf(account.address).call()
    return list(zip(expires, amounts, strict=True))


def test_the_city_registers_business_accounts_and_deploy_set_the_limits(points: PointsSystem) -> None:
    token, registry = points.token.functions, points.registry.functions
    assert token.localCirculationLimits().call() == [MAX_PAYMENT, MAX_REWARD, SHOP_MONTHS]
    assert token.rewardProgrammes().call() == points.programmes.address
    firm = business(points)
    kind, status, _ = registry.accountOf(firm.address).call()
    assert (kind, status) == (BUSINESS, 1)
    # A resident may not register one; the wallet's enroller key may (after an officer's approval).
    resident = points.resident()
    other = points.new_account()
    points.reverts(
        resident, registry.register(other.address, BUSINESS, keccak(b"x")), "AccessControlUnauthorizedAccount"
    )
    service = points.resident()
    points.grant(ENROLLER_ROLE, service)
    points.send(service, registry.register(other.address, BUSINESS, keccak(b"x")))
    # Status changes stay with the officers (REGISTRAR), not the enroller.
    points.reverts(service, registry.setStatus(other.address, SUSPENDED), "AccessControlUnauthorizedAccount")
    points.send(points.admin, registry.setStatus(other.address, SUSPENDED))
    # Only the city sets the limits.
    points.reverts(firm, token.setLocalCirculationLimits(1, 1, 1), "AccessControlUnauthorizedAccount")
    points.reverts(points.admin, token.setLocalCirculationLimits(1, 1, 25), "InvalidLocalCirculationLimits")


def test_a_shop_pays_a_supplier_and_the_points_keep_circulating_with_their_months(points: PointsSystem) -> None:
    token = points.token.functions
    bakery = paid_shop(points, 1_000)
    mill, farm = business(points), business(points)
    flour_shop = points.merchant()
    month = points.current_month()
    # Shop -> business: the shop's non-expiring points start a bucket SHOP_MONTHS ahead.
    receipt = points.send(bakery, token.payBusiness(mill.address, 400, INVOICE))
    (paid,) = points.events(receipt, points.token, "BusinessPaid")
    assert (paid["args"]["from"], paid["args"]["to"], paid["args"]["amount"]) == (bakery.address, mill.address, 400)
    assert paid["args"]["invoiceReference"] == INVOICE
    assert points.balance(bakery) == 600 and points.balance(mill) == 400
    assert buckets(points, mill) == [(token.expiryOf(month + SHOP_MONTHS).call(), 400)]
    # Business -> business: the months travel with the points.
    points.send(mill, token.payBusiness(farm.address, 150, INVOICE))
    assert buckets(points, farm) == [(token.expiryOf(month + SHOP_MONTHS).call(), 150)]
    # Business -> shop: the points join the shop's ledger (owed yen, as any payment).
    points.send(mill, token.payBusiness(flour_shop.address, 50, INVOICE))
    assert token.merchantLedgerOf(flour_shop.address).call() == [50, 50, 0, 0]
    # Shop -> shop: ledger to ledger; the receiving shop may settle it.
    points.send(bakery, token.payBusiness(flour_shop.address, 100, INVOICE))
    assert token.merchantLedgerOf(bakery.address).call()[0] == 500
    assert token.merchantLedgerOf(flour_shop.address).call() == [150, 150, 0, 0]
    points.send(flour_shop, token.requestSettlement(150, text32("INV-9")))
    assert points.balance(mill) == 200 and points.balance(farm) == 150


def test_a_business_spends_its_soonest_points_first_whichever_order_they_arrived_in(points: PointsSystem) -> None:
    """A business's spending starts at the bucket group its last spending ended in (the token keeps
    that hint to skip empty groups): points that arrive later in a sooner month are still spent
    first, by a business that received them from a shop or from another business."""
    token = points.token.functions
    bakery = paid_shop(points, 1_000)
    mill, farm, employee = business(points), business(points), points.resident()
    month = points.current_month()
    later, soon = token.expiryOf(month + SHOP_MONTHS).call(), token.expiryOf(month).call()
    points.send(bakery, token.payBusiness(mill.address, 100, INVOICE))
    points.send(bakery, token.payBusiness(farm.address, 100, INVOICE))
    points.send(mill, token.rewardResident(employee.address, 10, COMMUTE))  # the hints move to SHOP_MONTHS ahead
    points.send(farm, token.rewardResident(employee.address, 10, COMMUTE))
    try:
        points.send(points.admin, token.setLocalCirculationLimits(MAX_PAYMENT, MAX_REWARD, 0))
        points.send(bakery, token.payBusiness(mill.address, 50, INVOICE))  # this month: before mill's hint
        assert buckets(points, mill) == [(soon, 50), (later, 90)]
        points.send(mill, token.rewardResident(employee.address, 30, COMMUTE))
        assert buckets(points, mill) == [(soon, 20), (later, 90)]
        # Business to business, months kept: into a group before the farm's hint.
        points.send(mill, token.payBusiness(farm.address, 20, INVOICE))
        assert buckets(points, farm) == [(soon, 20), (later, 90)]
        points.send(farm, token.payBusiness(mill.address, 25, INVOICE))  # 20 of this month, then 5 of later
        assert buckets(points, farm) == [(later, 85)]
        assert buckets(points, mill) == [(soon, 20), (later, 95)]
        assert buckets(points, employee) == [(soon, 30), (later, 20)]
    finally:
        points.send(points.admin, token.setLocalCirculationLimits(MAX_PAYMENT, MAX_REWARD, SHOP_MONTHS))


def test_a_recovered_business_spends_the_recovered_points_first_when_they_are_sooner(points: PointsSystem) -> None:
    """A business replaced after a lost key may spend before its old points are recovered; the
    recovered points, sooner than the ones it spent from, are still spent first afterwards."""
    token = points.token.functions
    bakery = paid_shop(points, 1_000)
    lost, successor, employee = business(points), points.new_account(), points.resident()
    month = points.current_month()
    try:
        points.send(points.admin, token.setLocalCirculationLimits(MAX_PAYMENT, MAX_REWARD, 1))
        points.send(bakery, token.payBusiness(lost.address, 40, INVOICE))  # next month's bucket
        points.send(points.admin, token.setLocalCirculationLimits(MAX_PAYMENT, MAX_REWARD, SHOP_MONTHS))
        points.recover(lost, successor)
        points.send(bakery, token.payBusiness(successor.address, 100, INVOICE))
        points.send(successor, token.rewardResident(employee.address, 10, COMMUTE))  # its hint: SHOP_MONTHS ahead
        points.send(points.admin, token.recoverBalance(lost.address))
        soon, later = token.expiryOf(month + 1).call(), token.expiryOf(month + SHOP_MONTHS).call()
        assert buckets(points, successor) == [(soon, 40), (later, 90)]
        points.send(successor, token.rewardResident(employee.address, 30, COMMUTE))
        assert buckets(points, successor) == [(soon, 10), (later, 90)]
    finally:
        points.send(points.admin, token.setLocalCirculationLimits(MAX_PAYMENT, MAX_REWARD, SHOP_MONTHS))


def test_a_b2b_payment_to_a_resident_a_stranger_or_over_the_limit_moves_nothing(points: PointsSystem) -> None:
    token = points.token.functions
    shop = paid_shop(points, 500)
    resident, supplier, stranger = points.resident(), business(points), points.new_account()
    error = points.reverts(shop, token.payBusiness(resident.address, 10, INVOICE), "TransferNotPermitted")
    assert (error.args["fromKind"], error.args["toKind"], error.args["intent"]) == (
        MERCHANT,
        RESIDENT,
        INTENT_BUSINESS_PAYMENT,
    )
    error = points.reverts(shop, token.payBusiness(stranger.address, 10, INVOICE), "AccountNotActive")
    assert error.args["status"] == 0
    error = points.reverts(
        shop, token.payBusiness(supplier.address, MAX_PAYMENT + 1, INVOICE), "LocalTransferLimitExceeded"
    )
    assert (error.args["amount"], error.args["limit"]) == (MAX_PAYMENT + 1, MAX_PAYMENT)
    points.reverts(shop, token.payBusiness(supplier.address, 501, INVOICE), "ERC20InsufficientBalance")
    points.reverts(shop, token.payBusiness(shop.address, 10, INVOICE), "CannotPayYourself")
    points.reverts(shop, token.payBusiness(supplier.address, 0, INVOICE), "InvalidAmount")
    # A resident cannot use the B2B path to pay a business (residents pay shops only).
    payer = points.resident()
    points.mint(payer, 100)
    points.reverts(payer, token.payBusiness(supplier.address, 10, INVOICE), "TransferNotPermitted")
    # A suspended supplier receives nothing.
    points.send(points.admin, points.registry.functions.setStatus(supplier.address, SUSPENDED))
    points.reverts(shop, token.payBusiness(supplier.address, 10, INVOICE), "AccountNotActive")
    assert points.balance(shop) == 500 and points.balance(supplier) == 0 and points.balance(payer) == 100


def test_a_business_rewards_an_employee_and_a_shop_its_customer(points: PointsSystem) -> None:
    token = points.token.functions
    shop = paid_shop(points, 1_000)
    firm = business(points)
    employee, customer = points.resident(), points.resident()
    month = points.current_month()
    points.send(shop, token.payBusiness(firm.address, 600, INVOICE))
    # Business -> resident: the months of the business's points travel.
    receipt = points.send(firm, token.rewardResident(employee.address, 120, COMMUTE))
    (rewarded,) = points.events(receipt, points.token, "BusinessRewarded")
    assert rewarded["args"]["business"] == firm.address and rewarded["args"]["resident"] == employee.address
    assert (rewarded["args"]["amount"], rewarded["args"]["category"], rewarded["args"]["programmeId"]) == (
        120,
        COMMUTE,
        0,
    )
    assert buckets(points, employee) == [(token.expiryOf(month + SHOP_MONTHS).call(), 120)]
    # Shop -> resident: from the shop's ledger into a bucket SHOP_MONTHS ahead.
    points.send(shop, token.rewardResident(customer.address, 30, text32("regular")))
    assert buckets(points, customer) == [(token.expiryOf(month + SHOP_MONTHS).call(), 30)]
    assert points.balance(shop) == 370 and points.balance(firm) == 480
    # The resident spends it like any point (a payment at a shop).
    points.pay(employee, shop, 20)
    assert points.balance(employee) == 100
    # Refusals: to a shop or a business, over the cap, without a category, more than held.
    other = business(points)
    error = points.reverts(firm, token.rewardResident(other.address, 5, COMMUTE), "TransferNotPermitted")
    assert error.args["intent"] == INTENT_BUSINESS_REWARD
    points.reverts(firm, token.rewardResident(shop.address, 5, COMMUTE), "TransferNotPermitted")
    points.reverts(firm, token.rewardResident(employee.address, MAX_REWARD + 1, COMMUTE), "LocalTransferLimitExceeded")
    points.reverts(firm, token.rewardResident(employee.address, 5, b"\0" * 32), "InvalidCategory")
    points.reverts(firm, token.rewardResident(employee.address, 481, COMMUTE), "InsufficientUnexpiredBalance")
    # A resident has no reward path.
    points.reverts(employee, token.rewardResident(customer.address, 5, COMMUTE), "TransferNotPermitted")
    assert points.balance(firm) == 480 and points.balance(employee) == 100


def test_nothing_else_became_possible_for_a_business(points: PointsSystem) -> None:
    """A business only pays shops and businesses and rewards residents: no mint, no plain transfer,
    no thanks, no shop payment as a resident, no settlement, no refund."""
    token = points.token.functions
    shop = paid_shop(points, 300)
    firm = business(points)
    resident = points.resident()
    points.mint(resident, 100)
    points.send(shop, token.payBusiness(firm.address, 200, INVOICE))
    month = points.current_month()
    points.reverts(points.admin, token.mint(firm.address, 10, month), "TransferNotPermitted")
    points.reverts(firm, token.transfer(resident.address, 10), "TransferNotPermitted")
    points.reverts(firm, token.transfer(shop.address, 10), "TransferNotPermitted")
    points.reverts(shop, token.transfer(firm.address, 10), "TransferNotPermitted")
    points.reverts(resident, token.transfer(firm.address, 10), "TransferNotPermitted")
    points.reverts(resident, token.pay(firm.address, 10, secrets.token_bytes(32)), "TransferNotPermitted")
    points.reverts(firm, token.thank(resident.address, 10, text32("help"), b"\0" * 32), "TransferNotPermitted")
    points.reverts(firm, token.pay(shop.address, 10, secrets.token_bytes(32)), "TransferNotPermitted")
    points.reverts(firm, token.requestSettlement(10, INVOICE), "TransferNotPermitted")
    points.reverts(resident, token.thank(firm.address, 10, text32("help"), b"\0" * 32), "TransferNotPermitted")
    points.reverts(firm, token.rewardFromProgramme(firm.address, resident.address, 10, 1), "NotRewardProgrammes")
    assert points.balance(firm) == 200 and points.balance(resident) == 100 and points.balance(shop) == 100


def business_programme(points: PointsSystem, owner: LocalAccount, budget: int) -> int:
    now = points.now()
    params = {
        "name": "自転車通勤 / cycling to work",
        "verifierRole": b"\0" * 32,  # ignored: the business attests its own claims
        "rewardPoints": 10,
        "rewardUnits": 1,
        "capPerPeriod": 0,
        "capPeriod": CAP_PROGRAMME,
        "budget": budget,
        "startsAt": now - 86400,
        "endsAt": 2**40 - 1,
        "expiryPolicy": 1,
        "expiryDays": 365,
    }
    receipt = points.send(owner, points.programmes.functions.createBusinessProgramme(programme_tuple(params)))
    (created,) = points.events(receipt, points.programmes, "BusinessProgrammeCreated")
    assert created["args"]["business"] == owner.address
    return int(created["args"]["programmeId"])


def test_a_business_programme_pays_each_claim_once_from_the_business_and_stops_when_it_runs_out(
    points: PointsSystem,
) -> None:
    token, programmes = points.token.functions, points.programmes.functions
    shop = paid_shop(points, 1_000)
    firm = business(points)
    points.send(shop, token.payBusiness(firm.address, 250, INVOICE))
    employee, other = points.resident(), points.resident()
    programme = business_programme(points, firm, budget=10_000)
    assert programmes.funderOf(programme).call() == firm.address
    supply = token.totalSupply().call()
    receipt = points.send(firm, programmes.attest(programme, employee.address, 12, b"\1" * 32, 7))
    (rewarded,) = points.events(receipt, points.token, "BusinessRewarded")
    assert (rewarded["args"]["amount"], rewarded["args"]["programmeId"]) == (120, programme)
    assert points.balance(employee) == 120 and points.balance(firm) == 130
    assert token.totalSupply().call() == supply  # paid from the business, nothing minted
    # The same claim id never pays twice.
    points.reverts(firm, programmes.attest(programme, employee.address, 1, b"\1" * 32, 7), "ClaimAlreadyUsed")
    # Out of points: refused with the numbers, the claim id stays unused.
    error = points.reverts(
        firm, programmes.attest(programme, other.address, 14, b"\1" * 32, 8), "BusinessFundsExhausted"
    )
    assert (error.args["available"], error.args["needed"]) == (130, 140)
    assert not programmes.isClaimed(programme, 8).call()
    points.send(firm, programmes.attest(programme, other.address, 13, b"\1" * 32, 8))
    assert points.balance(other) == 130 and points.balance(firm) == 0
    # Only the business attests; only a business or shop runs one; no batches, no thanks bonus.
    points.reverts(points.admin, programmes.attest(programme, other.address, 1, b"\1" * 32, 9), "NotProgrammeFunder")
    params = programmes.programme(programme).call()
    assert params[-1] == "自転車通勤 / cycling to work"
    resident_params = programme_tuple(
        {
            "name": "x",
            "verifierRole": b"\0" * 32,
            "rewardPoints": 1,
            "rewardUnits": 1,
            "capPerPeriod": 0,
            "capPeriod": CAP_PROGRAMME,
            "budget": 10,
            "startsAt": points.now() - 10,
            "endsAt": 2**40 - 1,
            "expiryPolicy": 1,
            "expiryDays": 10,
        }
    )
    points.reverts(employee, programmes.createBusinessProgramme(resident_params), "NotABusiness")
    points.reverts(
        firm, programmes.attestBatch(programme, [(other.address, 1, b"\1" * 32, 10)]), "BusinessProgrammeNotAllowed"
    )
    points.reverts(points.admin, programmes.setThanksBonusProgramme(programme), "BusinessProgrammeNotAllowed")
    # The business closes its own programme; another business may not.
    points.reverts(business(points), programmes.closeProgramme(programme), "NotProgrammeFunder")
    points.send(firm, programmes.closeProgramme(programme))
    # A shop's programme pays from its ledger, within the budget.
    shop_programme = business_programme(points, shop, budget=50)
    points.send(shop, programmes.attest(shop_programme, employee.address, 5, b"\2" * 32, 1))
    points.reverts(shop, programmes.attest(shop_programme, employee.address, 1, b"\2" * 32, 2), "BudgetExceeded")
    assert points.balance(employee) == 170


def test_the_indexer_tells_b2b_payments_and_business_rewards_apart(points: PointsSystem) -> None:
    """The explorer and the data platform count these hops: each Transfer gets its own kind."""
    from indexer.decode import Decoder, classify

    token = points.token.functions
    shop = paid_shop(points, 300)
    firm, employee = business(points), points.resident()
    decoder = Decoder({"RegionalPoints": points.token.address, "AccountRegistry": points.registry.address})
    kinds = []
    for sender, fn in (
        (shop, token.payBusiness(firm.address, 200, INVOICE)),
        (firm, token.rewardResident(employee.address, 50, COMMUTE)),
    ):
        receipt = points.send(sender, fn)
        logs = [
            {
                "address": log["address"],
                "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
                "data": "0x" + bytes(log["data"]).hex(),
            }
            for log in receipt["logs"]
        ]
        events = [decoded for log in logs if (decoded := decoder.event(log)) is not None]
        siblings = [(name, args) for _, name, args in events]
        (transfer,) = [args for _, name, args in events if name == "Transfer"]
        kinds.append(classify(transfer, siblings)[0])
        assert decoder.method(fn.address, fn._encode_transaction_data()) == fn.fn_name
    assert kinds == ["b2b", "business-reward"]
    registered = points.send(
        points.admin, points.registry.functions.register(points.new_account().address, BUSINESS, keccak(b"y"))
    )
    (event,) = points.events(registered, points.registry, "AccountRegistered")
    from indexer.decode import KIND_NAMES

    assert KIND_NAMES[event["args"]["kind"]] == "business"


# -- the command line: `takasago account register --kind business`, `takasago business …` ---------
runner = CliRunner(mix_stderr=False)
app: Any = get_command(typer_app)


@dataclass
class Outcome:
    exit_code: int
    text: str  # stdout and stderr, whitespace collapsed


def run(points: PointsSystem, tmp: Path, *args: str, key: str | None = "admin") -> Outcome:
    """``takasago ARGS`` signed with the dev chain's admin, or with a key made by the test (hex);
    ``key=None``: a reading command (no key, no audit log)."""
    common = ["--rpc-url", points.node.url, "--deployments", str(points.deployments_dir)]
    if key is not None:
        keyfile = points.node.data_dir / "dev-keys.json"
        if key != "admin":
            keyfile = tmp / f"key-{key[2:10]}.json"
            keyfile.write_text(json.dumps({"admin": {"privateKey": key}}))
        common += ["--dev-keys", str(keyfile), "--audit-log", str(tmp / "audit.log")]
    result = runner.invoke(app, [*args, *common], env={"COLUMNS": "300", "TERM": "dumb"})
    return Outcome(result.exit_code, " ".join((result.stdout + result.stderr).split()))


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

    limits = run(points, tmp_path, "business", "limits", key=None)
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


def test_a_business_runs_its_own_programme_from_the_command_line(points: PointsSystem, tmp_path: Path) -> None:
    """`takasago business programme-create` (the business's key), then each claim with `takasago mint`
    signed by the same key: paid from the business's points, once per claim, nobody else may grant."""
    firm, employee = business(points), points.resident()
    points.send(paid_shop(points, 500), points.token.functions.payBusiness(firm.address, 100, INVOICE))
    as_firm = "0x" + firm.key.hex()
    created = run(
        points, tmp_path, "business", "programme-create", "--name", "Cycle to work",
        "--budget", "60", "--reward-points", "10", "--cap", "30", key=as_firm,
    )  # fmt: skip
    assert created.exit_code == 0, created.text
    programme = int(created.text.split("programme id ")[1].split()[0])
    assert points.programmes.functions.funderOf(programme).call() == firm.address
    supply = points.token.functions.totalSupply().call()
    granted = run(points, tmp_path, "mint", employee.address, "2", "--programme", str(programme), key=as_firm)
    assert granted.exit_code == 0, granted.text
    assert points.balance(employee) == 20 and points.balance(firm) == 80
    assert points.token.functions.totalSupply().call() == supply  # moved, never minted
    again = run(points, tmp_path, "mint", employee.address, "2", "--programme", str(programme), key=as_firm)
    assert again.exit_code == 0 and "already minted today" in again.text and points.balance(employee) == 20
    by_city = run(points, tmp_path, "mint", employee.address, "1", "--programme", str(programme))
    assert by_city.exit_code != 0 and f"{firm.address}'s own programme" in by_city.text
    rows = tmp_path / "rows.csv"
    rows.write_text(f"address,points\n{employee.address},1\n")
    batch = run(points, tmp_path, "mint", "--csv", str(rows), "--batch-id", "7", "--programme", str(programme),
                key=as_firm)  # fmt: skip
    assert batch.exit_code != 0 and "one claim at a time" in batch.text
    assert points.balance(employee) == 20
    bad = run(points, tmp_path, "business", "programme-create", "--name", "x", "--budget", "1",
              "--cap-period", "week", key=as_firm)  # fmt: skip
    assert bad.exit_code != 0 and "--cap-period 'week'" in bad.text
