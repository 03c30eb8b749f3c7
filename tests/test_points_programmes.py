"""Reward programmes: attestation once per claim, per-person caps, budgets, windows, verifier roles, thanks bonus."""

from __future__ import annotations

from eth_utils import keccak

from ledger_client import jst
from tests.points import (
    CAP_DAY,
    CAP_MONTH,
    EXPIRY_DAYS_AFTER,
    EXPIRY_FISCAL_YEAR_END,
    MINTER_ROLE,
    ORACLE_ROLE,
    PointsSystem,
    programme_tuple,
    text32,
)

EVIDENCE = keccak(text="photo of the litter picked up")


def attest(p: PointsSystem, programme: int, beneficiary: str, units: int, claim: int, signer=None):  # type: ignore[no-untyped-def]
    return p.send(signer or p.admin, p.programmes.functions.attest(programme, beneficiary, units, EVIDENCE, claim))


def test_create_programme_validates_and_is_admin_only(points: PointsSystem) -> None:
    resident = points.resident()
    now = points.now()
    good = {
        "name": "CO2 reduction, FY2026",
        "verifierRole": MINTER_ROLE,
        "rewardPoints": 10,
        "rewardUnits": 1000,
        "capPerPeriod": 3000,
        "capPeriod": CAP_MONTH,
        "budget": 5_000_000,
        "startsAt": now - 10,
        "endsAt": now + 365 * 86400,
        "expiryPolicy": EXPIRY_FISCAL_YEAR_END,
        "expiryDays": 0,
    }
    points.reverts(
        resident, points.programmes.functions.createProgramme(programme_tuple(good)), "AccessControlUnauthorizedAccount"
    )
    for field, value, reason in [
        ("name", "", "name"),
        ("verifierRole", b"\0" * 32, "verifierRole"),
        ("rewardUnits", 0, "reward"),
        ("endsAt", now - 20, "window"),
    ]:
        error = points.reverts(
            points.admin,
            points.programmes.functions.createProgramme(programme_tuple({**good, field: value})),
            "InvalidProgramme",
        )
        assert error.args["reason"] == reason
    bad_days = {**good, "expiryPolicy": EXPIRY_DAYS_AFTER, "expiryDays": 701}
    points.reverts(
        points.admin, points.programmes.functions.createProgramme(programme_tuple(bad_days)), "InvalidProgramme"
    )
    receipt = points.send(points.admin, points.programmes.functions.createProgramme(programme_tuple(good)))
    (event,) = points.events(receipt, points.programmes, "ProgrammeCreated")
    programme = points.programmes.functions.programme(event["args"]["programmeId"]).call()
    assert programme[-1] == "CO2 reduction, FY2026"
    expected = jst.fiscal_year_end_month(points.current_month())
    assert points.programmes.functions.expiryMonthOf(event["args"]["programmeId"]).call() == expected


def test_attest_grants_reward_once_per_claim(points: PointsSystem) -> None:
    programme = points.create_programme(rewardPoints=10, rewardUnits=1000)  # 10 points per kg, units in grams
    resident = points.resident()
    receipt = attest(points, programme, resident.address, 12_345, claim=7)
    (event,) = points.events(receipt, points.programmes, "Attested")
    assert (event["args"]["units"], event["args"]["points"], event["args"]["evidenceHash"]) == (12_345, 123, EVIDENCE)
    assert points.balance(resident) == 123
    assert points.programmes.functions.isClaimed(programme, 7).call()
    error = points.reverts(
        points.admin,
        points.programmes.functions.attest(programme, resident.address, 1, EVIDENCE, 7),
        "ClaimAlreadyUsed",
    )
    assert (error.args["programmeId"], error.args["claimId"]) == (programme, 7)
    assert not points.programmes.functions.isClaimed(programme, 8).call()


def test_only_the_programme_verifier_role_attests(points: PointsSystem) -> None:
    programme = points.create_programme(verifierRole=ORACLE_ROLE)
    resident = points.resident()
    error = points.reverts(
        points.admin,
        points.programmes.functions.attest(programme, resident.address, 1, EVIDENCE, 1),
        "AccessControlUnauthorizedAccount",
    )
    assert error.args["neededRole"] == ORACLE_ROLE
    points.reverts(
        resident,
        points.programmes.functions.attest(programme, resident.address, 1, EVIDENCE, 1),
        "AccessControlUnauthorizedAccount",
    )
    points.reverts(
        points.admin, points.programmes.functions.attest(999_999, resident.address, 1, EVIDENCE, 1), "UnknownProgramme"
    )


def test_per_person_cap_per_period_cuts_the_reward(points: PointsSystem) -> None:
    programme = points.create_programme(capPerPeriod=3_000, capPeriod=CAP_MONTH)
    resident = points.resident()
    attest(points, programme, resident.address, 2_500, claim=1)
    receipt = attest(points, programme, resident.address, 2_500, claim=2)
    assert points.events(receipt, points.programmes, "Attested")[0]["args"]["points"] == 500
    receipt = attest(points, programme, resident.address, 10, claim=3)
    assert points.events(receipt, points.programmes, "Attested")[0]["args"]["points"] == 0
    assert points.balance(resident) == 3_000
    assert points.programmes.functions.grantedThisPeriod(programme, resident.address).call() == 3_000


def test_budget_is_never_exceeded(points: PointsSystem) -> None:
    programme = points.create_programme(budget=1_000)
    a, b = points.resident(), points.resident()
    attest(points, programme, a.address, 900, claim=1)
    error = points.reverts(
        points.admin, points.programmes.functions.attest(programme, b.address, 101, EVIDENCE, 2), "BudgetExceeded"
    )
    assert (error.args["remaining"], error.args["needed"]) == (100, 101)
    assert not points.programmes.functions.isClaimed(programme, 2).call()
    attest(points, programme, b.address, 100, claim=2)
    stored = points.programmes.functions.programme(programme).call()
    assert (stored[9], stored[10]) == (1_000, 1_000)  # budget, issued
    points.reverts(points.admin, points.programmes.functions.setBudget(programme, 999), "BudgetBelowIssued")
    receipt = points.send(points.admin, points.programmes.functions.setBudget(programme, 2_000))
    assert points.events(receipt, points.programmes, "BudgetChanged")[0]["args"]["newBudget"] == 2_000


def test_validity_window_and_closing(points: PointsSystem) -> None:
    now = points.now()
    future = points.create_programme(startsAt=now + 3_600, endsAt=now + 7_200)
    resident = points.resident()
    error = points.reverts(
        points.admin, points.programmes.functions.attest(future, resident.address, 1, EVIDENCE, 1), "ProgrammeNotActive"
    )
    assert error.args["startsAt"] == now + 3_600
    programme = points.create_programme()
    points.reverts(resident, points.programmes.functions.closeProgramme(programme), "AccessControlUnauthorizedAccount")
    receipt = points.send(points.admin, points.programmes.functions.closeProgramme(programme))
    assert points.events(receipt, points.programmes, "ProgrammeClosed")
    points.reverts(
        points.admin,
        points.programmes.functions.attest(programme, resident.address, 1, EVIDENCE, 1),
        "ProgrammeNotActive",
    )
    points.reverts(points.admin, points.programmes.functions.closeProgramme(programme), "ProgrammeAlreadyClosed")


def test_attest_batch_skips_used_claims_and_inactive_beneficiaries(points: PointsSystem) -> None:
    programme = points.create_programme(budget=10_000)
    residents = [points.resident() for _ in range(3)]
    merchant = points.merchant()
    batch = 5 << 32
    items = [(r.address, 100 * (i + 1), EVIDENCE, batch | i) for i, r in enumerate(residents)]
    items.append((merchant.address, 50, EVIDENCE, batch | 3))
    receipt = points.send(points.admin, points.programmes.functions.attestBatch(programme, items))
    assert len(points.events(receipt, points.programmes, "Attested")) == 3
    (skipped,) = points.events(receipt, points.programmes, "AttestationSkipped")
    assert (skipped["args"]["beneficiary"], skipped["args"]["reason"]) == (merchant.address, 2)
    assert [points.balance(r) for r in residents] == [100, 200, 300]
    # Re-sending the batch (a resumed CLI run) grants nothing twice.
    again = points.send(points.admin, points.programmes.functions.attestBatch(programme, items))
    assert points.events(again, points.programmes, "Attested") == []
    assert [e["args"]["reason"] for e in points.events(again, points.programmes, "AttestationSkipped")] == [1, 1, 1, 2]
    assert [points.balance(r) for r in residents] == [100, 200, 300]
    assert not points.programmes.functions.isClaimed(programme, batch | 3).call()
    over = [(residents[0].address, 20_000, EVIDENCE, batch | 10)]
    points.reverts(points.admin, points.programmes.functions.attestBatch(programme, over), "BudgetExceeded")


def test_units_out_of_range_are_refused(points: PointsSystem) -> None:
    programme = points.create_programme()
    resident = points.resident()
    points.reverts(
        points.admin,
        points.programmes.functions.attest(programme, resident.address, 2**128 + 1, EVIDENCE, 1),
        "UnitsOutOfRange",
    )


def test_thanks_bonus_from_a_programme_within_cap_and_budget(points: PointsSystem) -> None:
    bonus = points.create_programme(rewardPoints=1, rewardUnits=10, capPerPeriod=8, capPeriod=CAP_DAY, budget=100_000)
    a, b = points.resident(), points.resident()
    points.mint(a, 1_000)
    points.reverts(a, points.programmes.functions.onThanks(a.address, b.address, 10, text32("help")), "OnlyToken")
    points.send(points.admin, points.programmes.functions.setThanksBonusProgramme(bonus))
    points.send(points.admin, points.token.functions.setThanksBonus(points.programmes.address))
    try:
        receipt = points.thank(a, b, 50)
        (event,) = points.events(receipt, points.programmes, "Attested")
        assert (event["args"]["beneficiary"], event["args"]["points"]) == (b.address, 5)
        assert points.balance(b) == 55
        points.thank(a, b, 50)  # capped at 8 for the day: 3 more
        assert points.balance(b) == 108
        points.thank(a, b, 50)  # cap reached: the thanks still goes through, no bonus
        assert points.balance(b) == 158
    finally:
        points.send(points.admin, points.token.functions.setThanksBonus("0x" + "00" * 20))
        points.send(points.admin, points.programmes.functions.setThanksBonusProgramme(0))


def test_attest_rewards_active_residents_only_even_when_the_reward_rounds_to_zero(points: PointsSystem) -> None:
    programme = points.create_programme(rewardPoints=1, rewardUnits=10)
    shop, stranger, suspended = points.merchant(), points.new_account(), points.resident()
    points.send(points.admin, points.registry.functions.setStatus(suspended.address, 2))
    for claim, beneficiary in ((1, shop.address), (2, stranger.address), (3, suspended.address)):
        for units in (5, 50):  # 0 points (rounded down) and 5 points
            fn = points.programmes.functions.attest(programme, beneficiary, units, EVIDENCE, claim)
            error = points.reverts(points.admin, fn, "BeneficiaryNotActiveResident")
            assert error.args["beneficiary"] == beneficiary
        assert not points.programmes.functions.isClaimed(programme, claim).call()
