"""Stateful property test of the point contracts against the real node.

A hypothesis :class:`RuleBasedStateMachine` drives random sequences of registrations
(and suspensions, reactivations, recoveries after a lost phone), mints (single and
batch), programme attestations (single and batch; thanks bonuses, budget changes,
closing), thanks, payments, refunds, settlements, pauses, clock jumps (to the last
second of a month, the second after it, the end of a JST day, days) and sweeps of
expired points, as real transactions on one dev node. It keeps a Python model of
what the contracts document (``contracts/src``):

* residents' points sit in monthly JST buckets; spending takes the soonest-to-expire
  unexpired bucket first; thanks and recovery keep the months; a refund goes back to
  the bucket ``max(latest month the payment spent from, current month)`` of the payer
  (or the account that replaced it);
* thanks are capped per sender and JST day (10 thanks, 1,000 points);
* a programme pays ``units * rewardPoints / rewardUnits`` (rounded down), cut to the
  per-person cap of its period, to active residents only, once per claim id, never
  beyond its budget;
* expired points stay in their buckets (and in ``totalSupply``) until swept;
* a pause stops every movement of points; inactive accounts neither send nor receive;
* local circulation (issue 21): a shop or business pays only another shop or business
  (``payBusiness``) and rewards only residents (``rewardResident``, or a claim of its own
  business programme), within the city's per-transfer caps; a business's points keep their
  months, a shop's leave its ledger into the bucket ``merchantPointsMonths`` ahead. Every
  other movement touching a business (mint, plain transfer, thanks, shop payment,
  settlement, programme grant) is refused.

After every step the chain must agree with the model (balances, buckets, expired
points, merchant ledgers, payments, thanks sent today, totals, programme budget and
claims), and the issue's invariants must hold: unexpired balances + expired-unswept
points = ``totalSupply``; no programme exceeds its budget; no claim id pays twice;
settled <= received for every merchant. Every refusal the model expects is checked
by the decoded custom error.

One node serves the whole run: each example uses fresh accounts and a fresh
programme, and the clock only moves forward. Every transaction is pinned to the
model's clock (``evm_setNextBlockTimestamp``), kept ahead of the wall clock, so
``eth_estimateGas`` / ``eth_call`` (run at ``max(wall clock, head)``) and the block
see the same second.

Run with ``-s`` to see how often each outcome was reached.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3.types import TxReceipt

from ledger_client import jst
from ledger_client.payment_uri import payment_request_id
from tests.points import (
    ACTIVE,
    CAP_DAY,
    CAP_FISCAL_YEAR,
    CAP_MONTH,
    CAP_PROGRAMME,
    EXPIRY_DAYS_AFTER,
    EXPIRY_FISCAL_YEAR_END,
    MERCHANT,
    MINTER_ROLE,
    RESIDENT,
    REVOKED,
    SUSPENDED,
    PointsSystem,
    text32,
)

DAY = 86_400
FAR_FUTURE = 2**40 - 1
MAX_MONTHS_AHEAD = 24
THANKS_PER_DAY = 10  # the fixture's deployment settings
THANKS_POINTS_PER_DAY = 1_000
MAX_RESIDENTS = 6  # revoked accounts and their successors included
MAX_MERCHANTS = 4
MAX_BUSINESSES = 3
BUSINESS = 6  # AccountRegistry.Kind.Business
SKIP_CLAIM_USED, SKIP_NOT_ACTIVE_RESIDENT = 1, 2
# Claim ids over several bit positions and storage words of the claimed bitmap; repeats are common.
CLAIM_IDS = [0, 1, 7, 255, 256, 257, 2**32 + 5, 2**255 + 1]
# Never attested: a claim that marked one of these would have hit the wrong bit.
UNUSED_CLAIM_IDS = [2, 254, 258, 2**32 + 4, 2**255]

INDEX = st.integers(min_value=0, max_value=15)  # an account of the example, modulo how many there are
CLAIM = st.sampled_from(CLAIM_IDS)
REFUND_HOW = st.sampled_from(["part", "rest", "part", "too_much", "zero"])
WRONG_PARTY_CASES = [
    "mint_merchant",
    "attest_merchant",
    "attest_stranger",
    "thank_merchant",
    "pay_resident",
    "refund_unknown",
    "settle_resident",
]
# Who pays or is paid in a local-circulation movement.
LOCAL_PARTY = st.sampled_from(["merchant", "business", "business", "merchant", "resident", "stranger"])
BUSINESS_WRONG_CASES = [
    "mint_business",
    "transfer_to_resident",
    "transfer_to_shop",
    "resident_transfer",
    "resident_pay",
    "thank_business",
    "business_thanks",
    "business_pays_shop",
    "business_settles",
    "attest_business",
]
HOW_MUCH = st.sampled_from(["part", "part", "whole", "any"])  # of the payer's points, or as drawn


def how_much(how: str, amount: int, available: int) -> int:
    """``part``: 1..available; ``whole``: all of it; ``any`` (or nothing available): ``amount`` as drawn."""
    if how == "part" and available > 0:
        return 1 + amount % available
    if how == "whole" and available > 0:
        return available
    return amount


STATUS_ACTIONS = ["reactivate", "suspend", "recover", "reactivate", "recover", "recover_balance"]
PROGRAMME_ACTIONS = ["raise_budget", "raise_budget", "lower_budget", "budget_below_issued", "close"]


def programme_params(name: str, **overrides: Any) -> tuple[Any, ...]:
    """ProgrammeParams in field order (web3 does not encode this struct from a dict)."""
    now = int(time.time())
    params: dict[str, Any] = {
        "name": name,
        "verifierRole": MINTER_ROLE,  # the admin attests
        "rewardPoints": 1,
        "rewardUnits": 1,
        "capPerPeriod": 0,
        "capPeriod": CAP_PROGRAMME,
        "budget": 10**15,
        "startsAt": now - DAY,
        "endsAt": FAR_FUTURE,
        "expiryPolicy": EXPIRY_DAYS_AFTER,
        "expiryDays": 365,
    }
    params.update(overrides)
    return tuple(params.values())


# ---------------------------------------------------------------------------- the model


class Member:
    """What residents and merchants share in the model: an account, a status, a successor after recovery."""

    account: LocalAccount
    status: int
    successor: Self | None

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def holder(self) -> Self:
        """The account now holding this one's points: it, or the latest of its successors (at most 8 hops)."""
        account = self
        for _ in range(8):
            if account.successor is None:
                break
            account = account.successor
        return account


@dataclass
class Resident(Member):
    account: LocalAccount
    first_month: int  # no bucket of this account is older than this month
    buckets: dict[int, int] = field(default_factory=dict)  # month -> points, expired ones included
    status: int = ACTIVE
    successor: Resident | None = None  # the account that replaced it after a recovery
    thanks_day: int = -1
    thanks_count: int = 0
    thanks_points: int = 0

    def unexpired(self, month: int) -> int:
        return sum(v for m, v in self.buckets.items() if m >= month)

    def expired(self, month: int) -> int:
        return sum(v for m, v in self.buckets.items() if m < month)

    def add(self, month: int, amount: int) -> None:
        self.buckets[month] = self.buckets.get(month, 0) + amount

    def spend(self, month: int, amount: int) -> tuple[dict[int, int], int]:
        """Takes ``amount`` from the soonest unexpired buckets; returns what moved per month and the latest month."""
        assert self.unexpired(month) >= amount
        moved: dict[int, int] = {}
        remaining = amount
        last = 0
        for m in sorted(k for k, v in self.buckets.items() if k >= month and v > 0):
            if remaining == 0:
                break
            take = min(self.buckets[m], remaining)
            self.buckets[m] -= take
            moved[m] = take
            remaining -= take
            last = m
        return moved, last


@dataclass
class Business(Resident):
    """A business (法人): points in monthly buckets like a resident's, but it never thanks, pays
    a shop as a customer, or receives minted points; it pays shops and businesses and rewards residents."""


@dataclass
class Merchant(Member):
    account: LocalAccount
    balance: int = 0
    received: int = 0
    refunded: int = 0
    settled: int = 0
    status: int = ACTIVE
    successor: Merchant | None = None


@dataclass
class Payment:
    merchant: Merchant
    payer: Resident
    reference: bytes  # the bytes32 printed in the QR, the third argument of pay
    request_id: bytes  # what the contract records it under: keccak(merchant, amount, reference)
    amount: int
    month: int  # the latest bucket month the payment spent from
    refunded: int = 0


@dataclass
class ProgrammeModel:
    programme_id: int
    reward_points: int
    reward_units: int
    cap: int
    cap_period: int
    budget: int
    expiry_policy: int
    expiry_days: int
    issued: int = 0
    bonus_issued: int = 0  # thanks bonuses (they carry no claim id)
    closed: bool = False
    claims: dict[int, int] = field(default_factory=dict)  # claim id -> points granted
    usage: dict[str, tuple[int, int]] = field(default_factory=dict)  # person -> (period, points granted in it)

    def period(self, t: int) -> int:
        if self.cap_period == CAP_DAY:
            return jst.day_index(t)
        if self.cap_period == CAP_MONTH:
            return jst.month_index(t)
        if self.cap_period == CAP_FISCAL_YEAR:
            return jst.fiscal_year_end_month(jst.month_index(t))
        return 0

    def expiry_month(self, t: int) -> int:
        if self.expiry_policy == EXPIRY_FISCAL_YEAR_END:
            return jst.fiscal_year_end_month(jst.month_index(t))
        return jst.month_index(t + self.expiry_days * DAY)

    def reward(
        self, person: str, units: int, t: int, limit: int | None = None, usage: dict[str, tuple[int, int]] | None = None
    ) -> tuple[int, int]:
        """The points an attestation (or a thanks bonus, up to ``limit``) grants now, and the person's usage after."""
        points = units * self.reward_points // self.reward_units
        if limit is not None:
            points = min(points, limit)
        period = self.period(t)
        last_period, used = (self.usage if usage is None else usage).get(person, (0, 0))
        used = used if last_period == period else 0
        if self.cap != 0:
            points = min(points, max(self.cap - used, 0))
        return points, used + points

    def grant(self, person: Resident, points: int, used: int, t: int) -> None:
        """Records a grant of ``points`` (> 0) to ``person`` and credits its bucket."""
        self.usage[person.address] = (self.period(t), used)
        self.issued += points
        person.add(self.expiry_month(t), points)


@dataclass
class World:
    """What outlives one example: the node, the clock, and every account ever funded."""

    points: PointsSystem
    t: int = 0
    residents: list[tuple[str, int]] = field(default_factory=list)  # address, first month
    merchants: list[str] = field(default_factory=list)
    bonus_hook_set: bool = False  # the token calls the programmes contract on every thanks
    bonus_programme: int = 0  # the programme paying thanks bonuses (0: none)
    examples: int = 0
    steps: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # "function: ok" or "function: ErrorName"

    def check_global_supply(self) -> None:
        """Unexpired balances + expired-unswept points of every account ever used == totalSupply."""
        token = self.points.token.functions
        total = 0
        for address, first_month in self.residents:
            total += int(token.balanceOf(address).call())
            total += int(token.expiredBalanceOf(address, first_month).call())
        for address in self.merchants:
            total += int(token.balanceOf(address).call())
        supply = int(token.totalSupply().call())
        issued, settled, swept = (int(x) for x in token.totals().call())
        assert total == supply, f"balances + expired-unswept {total} != totalSupply {supply}"
        assert supply == issued - settled - swept


# ---------------------------------------------------------------------------- the machine


class PointsMachine(RuleBasedStateMachine):
    world: ClassVar[World]

    def __init__(self) -> None:
        super().__init__()
        self.points = self.world.points
        self.residents: list[Resident] = []
        self.merchants: list[Merchant] = []
        self.businesses: list[Business] = []
        self.payments: list[Payment] = []
        self.limits = (0, 0, 0)  # the city's local-circulation caps: payment, reward, shop points' months ahead
        self.business_programme: ProgrammeModel | None = None
        self.business_funder: Business | None = None
        self.programme: ProgrammeModel | None = None
        self.thanks_bonus = False
        self.paused = False
        self.claims_dirty = True
        # Points issued, settled and swept in this example; the chain's totals at its start.
        self.issued = self.settled = self.swept = 0
        self.base_totals: tuple[int, int, int] = (0, 0, 0)
        self.base_supply = 0

    # -- plumbing -------------------------------------------------------------------
    @property
    def t(self) -> int:
        return self.world.t

    @property
    def month(self) -> int:
        return jst.month_index(self.world.t)

    @property
    def prog(self) -> ProgrammeModel:
        assert self.programme is not None
        return self.programme

    def tx(self, account: LocalAccount, fn: Any) -> TxReceipt:
        """Sends a transaction in a block stamped exactly at the model's clock."""
        self.points.next_block_at(self.t)
        receipt = self.points.send(account, fn)
        self.world.outcomes[f"{fn.fn_name}: ok"] += 1
        self.claims_dirty |= fn.address == self.points.programmes.address
        return receipt

    def refused(self, account: LocalAccount, fn: Any, error: str) -> None:
        """Asserts the transaction is refused with custom error ``error`` (nothing is sent)."""
        self.points.next_block_at(self.t)
        self.points.reverts(account, fn, error)
        self.world.outcomes[f"{fn.fn_name}: {error}"] += 1

    def set_clock(self, timestamp: int) -> None:
        assert timestamp >= self.world.t
        self.world.t = timestamp
        self.points.mine_at(timestamp)

    def pick_resident(self, i: int) -> Resident:
        return self.residents[i % len(self.residents)]

    def pick_merchant(self, i: int) -> Merchant:
        return self.merchants[i % len(self.merchants)]

    def pick_business(self, i: int) -> Business:
        return self.businesses[i % len(self.businesses)]

    def pick_party(self, kind: str, i: int) -> Resident | Merchant | str:
        """A party of a local-circulation movement; a stranger is an unregistered address."""
        if kind == "merchant":
            return self.pick_merchant(i)
        if kind == "business":
            return self.pick_business(i)
        if kind == "resident":
            return self.pick_resident(i)
        return str(self.points.new_account().address)

    def register_business(self) -> Business:
        account = self.points.new_account()
        self.tx(
            self.points.admin, self.points.registry.functions.register(account.address, BUSINESS, keccak(account.key))
        )
        new = Business(account, self.month)
        self.businesses.append(new)
        self.world.residents.append((account.address, self.month))  # bucket holder: counted with the residents
        return new

    def register(self, kind: int, replacing: Resident | Merchant | None = None) -> Resident | Merchant:
        """Registers a new account (or, after a lost phone, one replacing ``replacing``)."""
        account = self.points.new_account()
        registry = self.points.registry.functions
        if replacing is None:
            self.tx(self.points.admin, registry.register(account.address, kind, keccak(account.key)))
        else:
            # Announced first; completed only once the registry's recovery delay has passed.
            self.tx(self.points.admin, registry.announceRecovery(replacing.address, account.address))
            self.refused(
                self.points.admin, registry.recover(replacing.address, account.address), "RecoveryDelayNotElapsed"
            )
            self.set_clock(self.t + int(registry.recoveryDelay().call()))
            self.tx(self.points.admin, registry.recover(replacing.address, account.address))
        new: Resident | Merchant
        if kind == RESIDENT:
            new = Resident(account, self.month)
            self.residents.append(new)
            self.world.residents.append((account.address, self.month))
        else:
            new = Merchant(account)
            self.merchants.append(new)
            self.world.merchants.append(account.address)
        return new

    # -- set-up ---------------------------------------------------------------------
    @initialize(
        reward_points=st.integers(1, 5),
        reward_units=st.integers(1, 3),
        cap=st.sampled_from([0, 0, 15, 60, 200]),
        cap_period=st.sampled_from([CAP_DAY, CAP_MONTH, CAP_FISCAL_YEAR, CAP_PROGRAMME]),
        budget=st.integers(20, 600),
        expiry=st.sampled_from([EXPIRY_DAYS_AFTER, EXPIRY_FISCAL_YEAR_END]),
        expiry_days=st.integers(1, 400),
        thanks_bonus=st.booleans(),
        funds=st.lists(st.tuples(st.integers(0, 3_000), st.integers(0, MAX_MONTHS_AHEAD)), min_size=2, max_size=2),
        opening_payment=st.integers(0, 600),
        limits=st.tuples(
            st.sampled_from([300, 100_000, 100_000, 0]),
            st.sampled_from([200, 10_000, 10_000, 0]),
            st.sampled_from([0, 6, 24]),
        ),
        funding=st.integers(0, 400),
    )
    def setup(
        self,
        reward_points: int,
        reward_units: int,
        cap: int,
        cap_period: int,
        budget: int,
        expiry: int,
        expiry_days: int,
        thanks_bonus: bool,
        funds: list[tuple[int, int]],
        opening_payment: int,
        limits: tuple[int, int, int],
        funding: int,
    ) -> None:
        """A fresh programme, two residents (funded), a merchant (perhaps paid already), a business
        running its own programme, and the city's local-circulation limits of this example."""
        world = self.world
        world.examples += 1
        # Keep the chain ahead of the wall clock, so that eth_call / eth_estimateGas (run
        # at max(wall clock, head)) see the same second as the pinned blocks.
        self.set_clock(max(self.points.now(), world.t, int(time.time()) + 3_600) + 1)
        # Every account of the earlier examples still adds up (even after a failed
        # example, whose model was abandoned).
        world.check_global_supply()
        token = self.points.token.functions
        if token.paused().call():  # left paused by an abandoned example
            self.tx(self.points.admin, token.unpause())
        self.base_supply = int(token.totalSupply().call())
        issued, settled, swept = (int(x) for x in token.totals().call())
        self.base_totals = (issued, settled, swept)

        params = programme_params(
            f"property programme {world.examples}",
            rewardPoints=reward_points,
            rewardUnits=reward_units,
            capPerPeriod=cap,
            capPeriod=cap_period,
            budget=budget,
            startsAt=self.t - DAY,
            expiryPolicy=expiry,
            expiryDays=expiry_days,
        )
        receipt = self.tx(self.points.admin, self.points.programmes.functions.createProgramme(params))
        (event,) = self.points.events(receipt, self.points.programmes, "ProgrammeCreated")
        programme_id = int(event["args"]["programmeId"])
        self.programme = ProgrammeModel(
            programme_id, reward_points, reward_units, cap, cap_period, budget, expiry, expiry_days
        )
        # Half the examples pay a bonus on every thanks from their programme (within cap and budget).
        if thanks_bonus and not world.bonus_hook_set:
            self.tx(self.points.admin, token.setThanksBonus(self.points.programmes.address))
            world.bonus_hook_set = True
        wanted = programme_id if thanks_bonus else 0
        if wanted != world.bonus_programme:
            self.tx(self.points.admin, self.points.programmes.functions.setThanksBonusProgramme(wanted))
            world.bonus_programme = wanted
        self.thanks_bonus = thanks_bonus

        self.register(RESIDENT)
        self.register(RESIDENT)
        self.register(MERCHANT)
        for i, (amount, ahead) in enumerate(funds):
            if amount:
                self.mint_points(i, amount, ahead)
        if 0 < opening_payment <= self.residents[0].unexpired(self.month):
            self.pay_merchant(0, 0, opening_payment, "any", "new")
        self.tx(self.points.admin, token.setLocalCirculationLimits(*limits))
        self.limits = limits
        funder = self.register_business()
        business_params = programme_params(f"business programme {world.examples}", budget=budget, startsAt=self.t - DAY)
        receipt = self.tx(funder.account, self.points.programmes.functions.createBusinessProgramme(business_params))
        (event,) = self.points.events(receipt, self.points.programmes, "BusinessProgrammeCreated")
        self.business_programme = ProgrammeModel(
            int(event["args"]["programmeId"]), 1, 1, 0, CAP_PROGRAMME, budget, 1, 365
        )
        self.business_funder = funder
        # The shop passes part of what it took to the business (B2B), so the business has points to move.
        if funding and self.merchants[0].balance:
            self.pay_business("merchant", 0, "business", 0, funding, "part")

    # -- registration ---------------------------------------------------------------
    @precondition(lambda self: len(self.residents) < MAX_RESIDENTS - 1 or len(self.merchants) < MAX_MERCHANTS - 1)
    @rule(merchant=st.booleans())
    def register_account(self, merchant: bool) -> None:
        if merchant and len(self.merchants) < MAX_MERCHANTS - 1 or len(self.residents) >= MAX_RESIDENTS - 1:
            self.register(MERCHANT)
        else:
            self.register(RESIDENT)

    @rule(action=st.sampled_from(["relink", "unlink", "sync", "relink"]))
    def kinds_mirror(self, action: str) -> None:
        """The token's copy of the registry's account kinds, invisible to every other rule: unlinked,
        every movement asks the registry; relinked, every earlier copy stops counting (the accounts of
        this example are then asked of the registry until synced); synced, they count again."""
        registry, token = self.points.registry.functions, self.points.token.functions
        linked = bool(token.kindsMirrorLinked().call())
        everyone = [m.address for m in (*self.residents, *self.merchants, *self.businesses)]
        if action == "sync":
            if linked:
                self.tx(self.points.admin, token.syncKinds(everyone))
                assert all(token.mirroredKindOf(a).call()[1] for a in everyone if registry.isAllowed(a).call())
            else:
                self.refused(self.points.admin, token.syncKinds(everyone), "KindsMirrorNotLinked")
            return
        if linked:
            self.tx(self.points.admin, registry.setKindsMirror("0x" + "00" * 20))
        if action == "relink":
            self.tx(self.points.admin, registry.setKindsMirror(self.points.token.address))
            assert not any(token.mirroredKindOf(a).call()[1] for a in everyone)
        assert bool(token.kindsMirrorLinked().call()) == (action == "relink")

    @rule(who=INDEX, merchant=st.booleans(), action=st.sampled_from(STATUS_ACTIONS))
    def change_status(self, who: int, merchant: bool, action: str) -> None:
        """Suspension and reactivation; recovery after a lost phone (the account is revoked and replaced,
        and its unexpired points, or a merchant's balance, follow with {recoverBalance})."""
        account: Resident | Merchant = self.pick_merchant(who) if merchant else self.pick_resident(who)
        registry = self.points.registry.functions
        if action in ("suspend", "reactivate"):
            status = SUSPENDED if action == "suspend" else ACTIVE
            fn = registry.setStatus(account.address, status)
            if account.status == REVOKED:
                self.refused(self.points.admin, fn, "AccountIsRevoked")
            else:
                self.tx(self.points.admin, fn)
                account.status = status
            return
        full = len(self.merchants) >= MAX_MERCHANTS if merchant else len(self.residents) >= MAX_RESIDENTS
        if action == "recover" and account.successor is not None:
            # An account is recovered once; a successor that is lost in turn is recovered itself.
            fn = registry.announceRecovery(account.address, self.points.new_account().address)
            self.refused(self.points.admin, fn, "AccountAlreadyRecovered")
        elif action == "recover" and not full:
            new = self.register(MERCHANT if merchant else RESIDENT, replacing=account)
            if isinstance(account, Resident):
                assert isinstance(new, Resident)
                account.successor = new
            else:
                assert isinstance(new, Merchant)
                account.successor = new
            account.status = REVOKED
        fn = self.points.token.functions.recoverBalance(account.address)
        successor = account.holder()  # the latest successor, if the first one was lost and recovered too
        if successor is account:
            self.refused(self.points.admin, fn, "NoSuccessor")
        elif self.paused:
            self.refused(self.points.admin, fn, "EnforcedPause")  # recoverBalance can be called again later
        elif not successor.active:
            self.refused(self.points.admin, fn, "AccountNotActive")
        else:
            receipt = self.tx(self.points.admin, fn)
            if isinstance(account, Resident):
                assert isinstance(successor, Resident)
                moved = {m: v for m, v in account.buckets.items() if m >= self.month and v}
                for m, v in moved.items():  # unexpired points keep their months; expired ones stay (to be swept)
                    successor.add(m, v)
                    del account.buckets[m]
                amount = sum(moved.values())
            else:
                assert isinstance(successor, Merchant)
                amount = account.balance
                successor.balance += amount
                successor.received += amount
                account.balance = 0
            (recovered,) = self.points.events(receipt, self.points.token, "BalanceRecovered")
            assert int(recovered["args"]["amount"]) == amount
            self.world.outcomes[f"recoverBalance: {'moved points' if amount else 'nothing to move'}"] += 1

    # -- minting --------------------------------------------------------------------
    def mint_points(self, who: int, amount: int, ahead: int) -> None:
        resident = self.pick_resident(who)
        month = self.month + ahead
        fn = self.points.token.functions.mint(resident.address, amount, month)
        if not 0 <= ahead <= MAX_MONTHS_AHEAD:
            self.refused(self.points.admin, fn, "ExpiryOutOfRange")
        elif amount == 0:
            self.refused(self.points.admin, fn, "InvalidAmount")
        elif self.paused:
            self.refused(self.points.admin, fn, "EnforcedPause")
        elif not resident.active:
            self.refused(self.points.admin, fn, "AccountNotActive")
        else:
            self.tx(self.points.admin, fn)
            resident.add(month, amount)
            self.issued += amount

    @rule(
        who=INDEX,
        amount=st.integers(0, 3_000),
        # Often a bucket that expires soon, so that expiry and sweeping have something to do.
        ahead=st.integers(0, 3) | st.integers(-1, MAX_MONTHS_AHEAD + 1),
    )
    def mint(self, who: int, amount: int, ahead: int) -> None:
        self.mint_points(who, amount, ahead)

    @rule(
        recipients=st.lists(st.tuples(INDEX, st.integers(0, 800)), min_size=1, max_size=4),
        ahead=st.integers(-1, MAX_MONTHS_AHEAD + 1),
        merchant_among=st.booleans(),
    )
    def mint_batch(self, recipients: list[tuple[int, int]], ahead: int, merchant_among: bool) -> None:
        """One bucket for every recipient (a resident may appear twice); a merchant among them spoils the batch."""
        month = self.month + ahead
        entries: list[tuple[Resident | Merchant, int]] = [(self.pick_resident(i), a) for i, a in recipients]
        if merchant_among:
            entries.insert(recipients[0][0] % (len(entries) + 1), (self.pick_merchant(recipients[0][0]), 1))
        fn = self.points.token.functions.mintBatch([e.address for e, _ in entries], [a for _, a in entries], month)
        if not 0 <= ahead <= MAX_MONTHS_AHEAD:
            self.refused(self.points.admin, fn, "ExpiryOutOfRange")
            return
        for entry, amount in entries:  # issued in order: the first bad entry is reported
            if amount == 0:
                self.refused(self.points.admin, fn, "InvalidAmount")
                return
            if self.paused:
                self.refused(self.points.admin, fn, "EnforcedPause")
                return
            if not entry.active:
                self.refused(self.points.admin, fn, "AccountNotActive")
                return
            if isinstance(entry, Merchant):
                self.refused(self.points.admin, fn, "TransferNotPermitted")
                return
        self.tx(self.points.admin, fn)
        for entry, amount in entries:
            assert isinstance(entry, Resident)
            entry.add(month, amount)
            self.issued += amount

    # -- programmes -----------------------------------------------------------------
    @rule(who=INDEX, units=st.integers(0, 80), claim=CLAIM)
    def attest(self, who: int, units: int, claim: int) -> None:
        programme = self.prog
        resident = self.pick_resident(who)
        evidence = keccak(text=f"evidence {claim}")
        fn = self.points.programmes.functions.attest(programme.programme_id, resident.address, units, evidence, claim)
        if programme.closed:
            self.refused(self.points.admin, fn, "ProgrammeNotActive")
            return
        if not resident.active:
            self.refused(self.points.admin, fn, "BeneficiaryNotActiveResident")
            return
        if claim in programme.claims:
            self.refused(self.points.admin, fn, "ClaimAlreadyUsed")
            return
        points, used = programme.reward(resident.address, units, self.t)
        if points > programme.budget - programme.issued:
            self.refused(self.points.admin, fn, "BudgetExceeded")
            return
        if points and self.paused:  # zero points move nothing, so a pause does not stop them
            self.refused(self.points.admin, fn, "EnforcedPause")
            return
        receipt = self.tx(self.points.admin, fn)
        (attested,) = self.points.events(receipt, self.points.programmes, "Attested")
        assert (int(attested["args"]["claimId"]), int(attested["args"]["points"])) == (claim, points)
        programme.claims[claim] = points
        if points:
            programme.grant(resident, points, used, self.t)
            (issued,) = self.points.events(receipt, self.points.token, "PointsIssued")
            assert int(issued["args"]["expiresAt"]) == jst.month_end(programme.expiry_month(self.t))
            self.issued += points

    @rule(
        items=st.lists(
            st.tuples(st.sampled_from(["resident", "resident", "resident", "merchant", "stranger"]), INDEX,
                      st.integers(0, 60), CLAIM),
            min_size=1,
            max_size=5,
        )
    )  # fmt: skip
    def attest_batch(self, items: list[tuple[str, int, int, int]]) -> None:
        """Entries for non-residents or used claims are skipped; the whole batch is refused past the budget."""
        programme = self.prog
        batch: list[tuple[str, int, bytes, int]] = []
        attested: list[tuple[int, int]] = []  # claim id, points
        skipped: list[tuple[int, int]] = []  # claim id, reason
        grants: list[tuple[Resident, int, int]] = []
        claims = dict(programme.claims)
        usage = dict(programme.usage)
        for kind, i, units, claim in items:
            resident = self.pick_resident(i) if kind == "resident" else None
            if resident is not None and not resident.active:
                address, resident = resident.address, None
                batch.append((address, units, keccak(text=f"batch {claim}"), claim))
                skipped.append((claim, SKIP_NOT_ACTIVE_RESIDENT))
                continue
            if resident is not None:
                address = resident.address
            elif kind == "merchant":
                address = self.pick_merchant(i).address
            else:
                address = self.points.new_account().address
            batch.append((address, units, keccak(text=f"batch {claim}"), claim))
            if resident is None:
                skipped.append((claim, SKIP_NOT_ACTIVE_RESIDENT))
            elif claim in claims:
                skipped.append((claim, SKIP_CLAIM_USED))
            else:
                # Entries run one after the other: the cap counts earlier entries of the batch.
                points, used = programme.reward(address, units, self.t, usage=usage)
                if points:
                    usage[address] = (programme.period(self.t), used)
                claims[claim] = points
                grants.append((resident, points, used))
                attested.append((claim, points))
        fn = self.points.programmes.functions.attestBatch(programme.programme_id, batch)
        total = sum(points for _, points, _ in grants)
        if programme.closed:
            self.refused(self.points.admin, fn, "ProgrammeNotActive")
            return
        if total > programme.budget - programme.issued:
            self.refused(self.points.admin, fn, "BudgetExceeded")
            return
        if total and self.paused:
            self.refused(self.points.admin, fn, "EnforcedPause")
            return
        receipt = self.tx(self.points.admin, fn)
        events = self.points.events(receipt, self.points.programmes, "Attested")
        assert [(int(e.args["claimId"]), int(e.args["points"])) for e in events] == attested
        events = self.points.events(receipt, self.points.programmes, "AttestationSkipped")
        assert [(int(e.args["claimId"]), int(e.args["reason"])) for e in events] == skipped
        programme.claims = claims
        for resident, points, used in grants:
            if points:
                programme.grant(resident, points, used, self.t)
                self.issued += points

    @rule(action=st.sampled_from(PROGRAMME_ACTIONS), delta=st.integers(0, 300))
    def programme_admin(self, action: str, delta: int) -> None:
        """The city tops a budget up (e.g. with swept points), trims it (not below issued), or closes the programme."""
        programme = self.prog
        functions = self.points.programmes.functions
        pid = programme.programme_id
        if action == "close":
            if programme.closed:
                self.refused(self.points.admin, functions.closeProgramme(pid), "ProgrammeAlreadyClosed")
            else:
                self.tx(self.points.admin, functions.closeProgramme(pid))
                programme.closed = True
            return
        budget = {
            "raise_budget": programme.budget + delta,
            "lower_budget": max(programme.issued, programme.budget - delta),
            "budget_below_issued": programme.issued - 1 - delta,
        }[action]
        if budget < 0:
            return  # nothing issued yet: no budget is below it
        fn = functions.setBudget(pid, budget)
        if budget < programme.issued:
            self.refused(self.points.admin, fn, "BudgetBelowIssued")
        else:
            self.tx(self.points.admin, fn)
            programme.budget = budget

    # -- thanks ---------------------------------------------------------------------
    def thank_once(self, sender: Resident, to: Resident | Merchant, amount: int) -> bool:
        """One thanks, refused or not as the model says; True if it went through."""
        fn = self.points.token.functions.thank(to.address, amount, text32("help"), keccak(b"memo"))
        today = jst.day_index(self.t)
        count, sent = (sender.thanks_count, sender.thanks_points) if sender.thanks_day == today else (0, 0)
        if to.address == sender.address:
            self.refused(sender.account, fn, "CannotThankYourself")
        elif amount == 0:
            self.refused(sender.account, fn, "InvalidAmount")
        elif count >= THANKS_PER_DAY:
            self.refused(sender.account, fn, "DailyThanksLimitReached")
        elif sent + amount > THANKS_POINTS_PER_DAY:
            self.refused(sender.account, fn, "DailyThanksPointsExceeded")
        elif self.paused:
            self.refused(sender.account, fn, "EnforcedPause")
        elif not sender.active or not to.active:
            self.refused(sender.account, fn, "AccountNotActive")
        elif isinstance(to, Merchant):
            self.refused(sender.account, fn, "TransferNotPermitted")
        elif sender.unexpired(self.month) < amount:
            self.refused(sender.account, fn, "InsufficientUnexpiredBalance")
        else:
            receipt = self.tx(sender.account, fn)
            moved, _ = sender.spend(self.month, amount)
            for m, v in moved.items():
                to.add(m, v)
            sender.thanks_day, sender.thanks_count, sender.thanks_points = today, count + 1, sent + amount
            self.thanks_bonus_for(to, amount, receipt)
            return True
        return False

    def thanks_bonus_for(self, to: Resident, amount: int, receipt: TxReceipt) -> None:
        """The bonus programme grants its reward for the thanked points, within the cap and what is left of budget."""
        programme = self.prog
        points = 0
        if self.thanks_bonus and not programme.closed:
            points, used = programme.reward(to.address, amount, self.t, limit=programme.budget - programme.issued)
            if points:
                programme.grant(to, points, used, self.t)
                programme.bonus_issued += points
                self.issued += points
                self.world.outcomes["thank: with bonus"] += 1
        events = self.points.events(receipt, self.points.programmes, "Attested")
        assert [(int(e.args["claimId"]), int(e.args["points"])) for e in events] == ([(0, points)] if points else [])

    @rule(
        frm=INDEX,
        to=INDEX,
        how=st.sampled_from(["part", "any", "part", "rest_of_cap", "over_cap", "whole_balance", "over_balance"]),
        amount=st.integers(0, 450),
    )
    def thank(self, frm: int, to: int, how: str, amount: int) -> None:
        sender = self.pick_resident(frm)
        sent = sender.thanks_points if sender.thanks_day == jst.day_index(self.t) else 0
        balance = sender.unexpired(self.month)
        amount = {
            "any": amount,
            "part": 1 + amount % balance if balance else amount,
            "rest_of_cap": THANKS_POINTS_PER_DAY - sent,
            "over_cap": THANKS_POINTS_PER_DAY - sent + 1,
            "whole_balance": min(balance, THANKS_POINTS_PER_DAY - sent) or amount,
            "over_balance": balance + 1,
        }[how]
        self.thank_once(sender, self.pick_resident(to), amount)

    @rule(frm=INDEX, to=INDEX, count=st.integers(1, 12) | st.just(THANKS_PER_DAY + 1), amount=st.integers(1, 8))
    def thank_many_small(self, frm: int, to: int, count: int, amount: int) -> None:
        """Bursts of small thanks reach the daily count cap."""
        sender, receiver = self.pick_resident(frm), self.pick_resident(to)
        if receiver is sender:
            receiver = self.residents[(self.residents.index(sender) + 1) % len(self.residents)]
        for _ in range(count):
            if not self.thank_once(sender, receiver, amount):
                break  # the same thanks would be refused again

    # -- payments -------------------------------------------------------------------
    def pay_merchant(self, payer: int, shop: int, amount: int, how: str, request: str) -> None:
        resident, merchant = self.pick_resident(payer), self.pick_merchant(shop)
        available = resident.unexpired(self.month)
        if how == "whole_balance" and available > 0:
            amount = available
        elif how == "part" and available > 0:
            amount = 1 + amount % available
        elif how == "over_balance":
            amount = available + 1
        earlier = [p for p in self.payments if p.merchant is merchant]
        if request in ("repeat", "repeat_other_amount") and earlier:
            # The same printed reference again: with the amount it was paid with (the same
            # request), or with another amount (another request id, issue 15 finding 3).
            reference = earlier[-1].reference
            if request == "repeat":
                amount = earlier[-1].amount
        elif request == "zero":
            reference = b"\0" * 32
        else:
            reference = secrets.token_bytes(32)
        request_id = payment_request_id(merchant.address, amount, reference)
        fn = self.points.token.functions.pay(merchant.address, amount, reference)
        if reference == b"\0" * 32:
            self.refused(resident.account, fn, "InvalidRequestId")
        elif amount == 0:
            self.refused(resident.account, fn, "InvalidAmount")
        elif any(p.request_id == request_id for p in earlier):
            self.refused(resident.account, fn, "PaymentRequestAlreadyPaid")
        elif self.paused:
            self.refused(resident.account, fn, "EnforcedPause")
        elif not resident.active or not merchant.active:
            self.refused(resident.account, fn, "AccountNotActive")
        elif available < amount:
            self.refused(resident.account, fn, "InsufficientUnexpiredBalance")
        else:
            self.tx(resident.account, fn)
            _, last = resident.spend(self.month, amount)
            merchant.balance += amount
            merchant.received += amount
            self.payments.append(Payment(merchant, resident, reference, request_id, amount, last))

    @rule(
        payer=INDEX,
        shop=INDEX,
        amount=st.integers(0, 1_500),
        how=st.sampled_from(["part", "any", "part", "whole_balance", "over_balance"]),
        request=st.sampled_from(["new", "new", "new", "new", "repeat", "repeat_other_amount", "zero"]),
    )
    def pay(self, payer: int, shop: int, amount: int, how: str, request: str) -> None:
        self.pay_merchant(payer, shop, amount, how, request)

    @precondition(lambda self: bool(self.payments))
    @rule(which=INDEX, how=REFUND_HOW, part=st.integers(1, 1_500))
    def refund(self, which: int, how: str, part: int) -> None:
        self.refund_payment(self.payments[-1 - which % len(self.payments)], how, part)  # shrinks to the latest

    @precondition(lambda self: bool(self.payments))
    @rule(which=INDEX, how=REFUND_HOW, part=st.integers(1, 1_500), late=st.integers(0, 2))
    def refund_after_month_end(self, which: int, how: str, part: int, late: int) -> None:
        """The month the payment spent from ends (late=0: the second after; or months later), then a refund."""
        refundable = [p for p in self.payments if p.refunded < p.amount and p.merchant.balance > 0]
        payments = refundable or self.payments
        payment = payments[-1 - which % len(payments)]
        self.set_clock(jst.month_end(max(payment.month, self.month) + late) + 1)
        self.refund_payment(payment, how, part)

    def refund_payment(self, payment: Payment, how: str, part: int) -> None:
        merchant, holder = payment.merchant, payment.payer.holder()  # a recovered payer's points go to its successor
        refundable = payment.amount - payment.refunded
        amount = {
            "rest": refundable,
            "part": min(part, refundable, merchant.balance) or part,
            "too_much": refundable + 1,
            "zero": 0,
        }[how]
        fn = self.points.token.functions.refund(payment.request_id, amount)
        if amount == 0 or amount > refundable:
            self.refused(merchant.account, fn, "RefundExceedsPayment")
        elif self.paused:
            self.refused(merchant.account, fn, "EnforcedPause")
        elif not merchant.active or not holder.active:
            self.refused(merchant.account, fn, "AccountNotActive")
        elif amount > merchant.balance:
            self.refused(merchant.account, fn, "ERC20InsufficientBalance")
        else:
            receipt = self.tx(merchant.account, fn)
            (refunded,) = self.points.events(receipt, self.points.token, "Refunded")
            assert refunded["args"]["payer"] == holder.address
            assert int(refunded["args"]["totalRefunded"]) == payment.refunded + amount
            payment.refunded += amount
            merchant.balance -= amount
            merchant.refunded += amount
            # Back to the latest month the payment spent from, or this month if that one has ended.
            holder.add(max(payment.month, self.month), amount)
            ended = payment.month < self.month
            self.world.outcomes[f"refund: into {'this month (payment month ended)' if ended else 'payment month'}"] += 1

    # -- settlement -----------------------------------------------------------------
    @rule(shop=INDEX, how=st.sampled_from(["part", "all", "part", "too_much", "zero"]), part=st.integers(1, 1_500))
    def settle(self, shop: int, how: str, part: int) -> None:
        merchant = self.pick_merchant(shop)
        amount = {
            "all": merchant.balance,
            "part": min(part, merchant.balance) or part,
            "too_much": merchant.balance + 1,
            "zero": 0,
        }[how]
        fn = self.points.token.functions.requestSettlement(amount, text32(f"INV-{part}"))
        if amount == 0:
            self.refused(merchant.account, fn, "InvalidAmount")
        elif self.paused:
            self.refused(merchant.account, fn, "EnforcedPause")
        elif not merchant.active:
            self.refused(merchant.account, fn, "AccountNotActive")
        elif amount > merchant.balance:
            self.refused(merchant.account, fn, "ERC20InsufficientBalance")
        else:
            self.tx(merchant.account, fn)
            merchant.balance -= amount
            merchant.settled += amount
            self.settled += amount

    # -- movements between the wrong kinds of account -------------------------------
    @rule(case=st.sampled_from(WRONG_PARTY_CASES), who=INDEX, other=INDEX, amount=st.integers(1, 80), claim=CLAIM)
    def wrong_party_is_refused(self, case: str, who: int, other: int, amount: int, claim: int) -> None:
        programme = self.prog
        resident, merchant = self.pick_resident(who), self.pick_merchant(other)
        functions = self.points.token.functions
        if case == "mint_merchant":
            fn = functions.mint(merchant.address, amount, self.month)
            self.refused(self.points.admin, fn, self.kinds_error(merchant))
        elif case in ("attest_merchant", "attest_stranger"):
            # A merchant or an unregistered address never receives programme points, and its
            # claim id stays unused, whatever the reward (even one that rounds to zero points).
            stranger = case == "attest_stranger"
            beneficiary = self.points.new_account().address if stranger else merchant.address
            units = amount - 1
            fn = self.points.programmes.functions.attest(programme.programme_id, beneficiary, units, b"\1" * 32, claim)
            error = "ProgrammeNotActive" if programme.closed else "BeneficiaryNotActiveResident"
            self.refused(self.points.admin, fn, error)
        elif case == "thank_merchant":
            self.thank_once(resident, merchant, amount)
        elif case == "pay_resident":
            # The kinds are checked before any bucket is touched, whatever the balance.
            payee = self.pick_resident(other)
            fn = functions.pay(payee.address, amount, secrets.token_bytes(32))
            self.refused(resident.account, fn, self.kinds_error(resident, payee))
        elif case == "refund_unknown":
            self.refused(merchant.account, functions.refund(secrets.token_bytes(32), amount), "UnknownPayment")
        else:
            fn = functions.requestSettlement(amount, text32("INV"))
            self.refused(resident.account, fn, self.kinds_error(resident))

    def kinds_error(self, *parties: Resident | Merchant) -> str:
        """The refusal of a movement the kinds of its parties never allow: a pause, an inactive party, or the rule."""
        if self.paused:
            return "EnforcedPause"
        return "TransferNotPermitted" if all(p.active for p in parties) else "AccountNotActive"

    # -- local circulation (issue 21) -------------------------------------------------
    @precondition(lambda self: len(self.businesses) < MAX_BUSINESSES)
    @rule()
    def register_another_business(self) -> None:
        self.register_business()

    @rule(who=INDEX, suspend=st.booleans())
    def business_status(self, who: int, suspend: bool) -> None:
        business = self.pick_business(who)
        status = SUSPENDED if suspend else ACTIVE
        self.tx(self.points.admin, self.points.registry.functions.setStatus(business.address, status))
        business.status = status

    def local_move(self, payer: Resident | Merchant, payee: Resident | Merchant, amount: int) -> None:
        """The model's side of a local-circulation movement that went through."""
        months_ahead = self.limits[2]
        if isinstance(payer, Merchant):
            payer.balance -= amount
            if isinstance(payee, Merchant):
                payee.balance += amount
                payee.received += amount
            else:
                payee.add(self.month + months_ahead, amount)
            return
        moved, _ = payer.spend(self.month, amount)
        if isinstance(payee, Merchant):
            payee.balance += amount
            payee.received += amount
        else:
            for m, v in moved.items():
                payee.add(m, v)

    def local_refusal(self, payer: Resident | Merchant, payee: Resident | Merchant | str, allowed: bool) -> str | None:
        """The refusal of a movement past its argument checks: pause, an inactive party, the rule, the funds."""
        if self.paused:
            return "EnforcedPause"
        if not payer.active or isinstance(payee, str) or not payee.active:
            return "AccountNotActive"
        if not allowed:
            return "TransferNotPermitted"
        return None

    @rule(payer=LOCAL_PARTY, i=INDEX, payee=LOCAL_PARTY, j=INDEX, amount=st.integers(0, 1_500), how=HOW_MUCH)
    def pay_business(self, payer: str, i: int, payee: str, j: int, amount: int, how: str) -> None:
        """B2B: only a shop or business to another shop or business, within the city's cap."""
        payer = "business" if payer == "stranger" else payer  # a stranger cannot send at all
        sender = self.pick_party(payer, i)
        to = self.pick_party(payee, j)
        assert not isinstance(sender, str)
        available = sender.balance if isinstance(sender, Merchant) else sender.unexpired(self.month)
        amount = how_much(how, amount, available)
        to_address = to if isinstance(to, str) else to.address
        fn = self.points.token.functions.payBusiness(to_address, amount, text32("INV"))
        allowed = payer in ("merchant", "business") and payee in ("merchant", "business")
        error = None
        if to_address == sender.address:
            error = "CannotPayYourself"
        elif amount == 0:
            error = "InvalidAmount"
        elif amount > self.limits[0]:
            error = "LocalTransferLimitExceeded"
        else:
            error = self.local_refusal(sender, to, allowed)
        if error is None and available < amount:
            error = "ERC20InsufficientBalance" if isinstance(sender, Merchant) else "InsufficientUnexpiredBalance"
        if error is not None:
            self.refused(sender.account, fn, error)
            return
        assert not isinstance(to, str)
        receipt = self.tx(sender.account, fn)
        (paid,) = self.points.events(receipt, self.points.token, "BusinessPaid")
        assert (paid["args"]["from"], paid["args"]["to"], int(paid["args"]["amount"])) == (
            sender.address,
            to.address,
            amount,
        )
        self.local_move(sender, to, amount)
        self.world.outcomes[f"payBusiness: {payer}->{payee}"] += 1

    @rule(
        giver=LOCAL_PARTY,
        i=INDEX,
        to=LOCAL_PARTY,
        j=INDEX,
        amount=st.integers(0, 600),
        how=HOW_MUCH,
        category=st.integers(0, 9),
    )
    def reward_resident(self, giver: str, i: int, to: str, j: int, amount: int, how: str, category: int) -> None:
        """A shop or business rewards a resident from its own points, within the city's cap; nobody else."""
        giver = "merchant" if giver == "stranger" else giver  # a stranger cannot send at all
        sender = self.pick_party(giver, i)
        recipient = self.pick_party(to, j)
        assert not isinstance(sender, str)
        available = sender.balance if isinstance(sender, Merchant) else sender.unexpired(self.month)
        amount = how_much(how, amount, available)
        address = recipient if isinstance(recipient, str) else recipient.address
        fn = self.points.token.functions.rewardResident(address, amount, text32("commute") if category else b"\0" * 32)
        allowed = giver in ("merchant", "business") and to == "resident"
        if not category:
            error: str | None = "InvalidCategory"
        elif amount == 0:
            error = "InvalidAmount"
        elif amount > self.limits[1]:
            error = "LocalTransferLimitExceeded"
        else:
            error = self.local_refusal(sender, recipient, allowed)
        if error is None and available < amount:
            error = "ERC20InsufficientBalance" if isinstance(sender, Merchant) else "InsufficientUnexpiredBalance"
        if error is not None:
            self.refused(sender.account, fn, error)
            return
        assert not isinstance(recipient, str)
        receipt = self.tx(sender.account, fn)
        (rewarded,) = self.points.events(receipt, self.points.token, "BusinessRewarded")
        assert (rewarded["args"]["resident"], int(rewarded["args"]["amount"])) == (recipient.address, amount)
        self.local_move(sender, recipient, amount)
        self.world.outcomes[f"rewardResident: {giver}"] += 1

    @rule(who=INDEX, units=st.integers(0, 400), how=HOW_MUCH, claim=CLAIM)
    def business_attest(self, who: int, units: int, how: str, claim: int) -> None:
        """A claim of the business's own programme: once per claim id, paid from its points, never minted."""
        programme, funder = self.business_programme, self.business_funder
        assert programme is not None and funder is not None
        resident = self.pick_resident(who)
        available = funder.unexpired(self.month)
        units = how_much(how, units, available)
        fn = self.points.programmes.functions.attest(programme.programme_id, resident.address, units, b"\1" * 32, claim)
        if not resident.active:
            error: str | None = "BeneficiaryNotActiveResident"
        elif claim in programme.claims:
            error = "ClaimAlreadyUsed"
        elif units > programme.budget - programme.issued:
            error = "BudgetExceeded"
        elif units and available < units:
            error = "BusinessFundsExhausted"
        elif units and units > self.limits[1]:
            error = "LocalTransferLimitExceeded"
        elif units:
            error = self.local_refusal(funder, resident, True)
        else:
            error = None
        if error is not None:
            self.refused(funder.account, fn, error)
            return
        if not funder.active:
            return  # a zero grant would go through, but the node admits active senders only
        self.tx(funder.account, fn)
        programme.claims[claim] = units
        programme.issued += units
        if units:
            self.local_move(funder, resident, units)
        self.world.outcomes[f"business attest: {'paid' if units else 'zero'}"] += 1

    @rule(case=st.sampled_from(BUSINESS_WRONG_CASES), who=INDEX, other=INDEX, amount=st.integers(1, 80), claim=CLAIM)
    def business_wrong_movement(self, case: str, who: int, other: int, amount: int, claim: int) -> None:
        """Nothing but the local-circulation movements became possible for a business."""
        business, resident, merchant = self.pick_business(who), self.pick_resident(other), self.pick_merchant(other)
        functions = self.points.token.functions
        sender, fn, parties = {
            "mint_business": (self.points.admin, functions.mint(business.address, amount, self.month), [business]),
            "transfer_to_resident": (
                business.account,
                functions.transfer(resident.address, amount),
                [business, resident],
            ),
            "transfer_to_shop": (business.account, functions.transfer(merchant.address, amount), [business, merchant]),
            "resident_transfer": (resident.account, functions.transfer(business.address, amount), [resident, business]),
            "resident_pay": (
                resident.account,
                functions.pay(business.address, amount, secrets.token_bytes(32)),
                [resident, business],
            ),
            "thank_business": (
                resident.account,
                functions.thank(business.address, amount, text32("help"), keccak(b"memo")),
                [resident, business],
            ),
            "business_thanks": (
                business.account,
                functions.thank(resident.address, amount, text32("help"), keccak(b"memo")),
                [business, resident],
            ),
            "business_pays_shop": (
                business.account,
                functions.pay(merchant.address, amount, secrets.token_bytes(32)),
                [business, merchant],
            ),
            "business_settles": (business.account, functions.requestSettlement(amount, text32("INV")), [business]),
            "attest_business": (
                self.points.admin,
                self.points.programmes.functions.attest(
                    self.prog.programme_id, business.address, amount, b"\1" * 32, claim
                ),
                [],
            ),
        }[case]
        if case == "attest_business":
            self.refused(sender, fn, "ProgrammeNotActive" if self.prog.closed else "BeneficiaryNotActiveResident")
            return
        if case in ("thank_business", "business_thanks"):
            thanker = parties[0]
            assert isinstance(thanker, Resident)
            today = jst.day_index(self.t)
            count, sent = (thanker.thanks_count, thanker.thanks_points) if thanker.thanks_day == today else (0, 0)
            if count >= THANKS_PER_DAY or sent + amount > THANKS_POINTS_PER_DAY:
                return  # the daily caps answer first; thanks_once covers them
        self.refused(sender, fn, self.kinds_error(*parties))

    # -- emergency pause --------------------------------------------------------------
    @rule(pause=st.booleans())
    def pause_or_resume(self, pause: bool) -> None:
        """Pausing stops every movement of points (the rules above expect EnforcedPause), nothing else."""
        functions = self.points.token.functions
        fn = functions.pause() if pause else functions.unpause()
        if pause == self.paused:
            self.refused(self.points.admin, fn, "EnforcedPause" if pause else "ExpectedPause")
        else:
            self.tx(self.points.admin, fn)
            self.paused = pause

    # -- time -----------------------------------------------------------------------
    @rule(
        how=st.sampled_from(["months", "after_month_end", "month_end", "after_day_end", "day_end", "days", "seconds"]),
        n=st.integers(1, 45),
    )
    def advance(self, how: str, n: int) -> None:
        t = self.t
        next_day = (jst.day_index(t) + 1) * DAY - 9 * 3600  # first second of the next JST day
        target = {
            "month_end": jst.month_end(self.month),  # the last second points of this month are spendable
            "after_month_end": jst.month_end(self.month) + 1,
            "months": jst.month_end(self.month + n % 3) + 1 + n,  # past one to three month ends
            "day_end": next_day - 1,
            "after_day_end": next_day,
            "days": t + n * DAY,
            "seconds": t + n,
        }[how]
        self.set_clock(max(target, t))
        self.world.outcomes[f"advance: {how}"] += 1

    # -- sweeping -------------------------------------------------------------------
    def sweep_accounts(self, accounts: list[Resident | Merchant], from_month: int, caller: LocalAccount) -> None:
        current = self.month
        fn = self.points.token.functions.sweepExpired([a.address for a in accounts], from_month)
        if self.paused:
            self.refused(caller, fn, "EnforcedPause")
            return
        if from_month >= current:
            self.refused(caller, fn, "MonthNotExpired")
            return
        receipt = self.tx(caller, fn)
        expected: list[tuple[str, int]] = []
        for account in accounts:
            if isinstance(account, Merchant):
                continue  # merchants' points do not expire
            months = [m for m in account.buckets if from_month <= m < current]
            swept = sum(account.buckets.pop(m) for m in months)
            if swept:
                expected.append((account.address, swept))
                self.swept += swept
        events = self.points.events(receipt, self.points.token, "ExpiredPointsSwept")
        assert [(e["args"]["account"], int(e["args"]["amount"])) for e in events] == expected
        self.world.outcomes[f"sweepExpired: {'swept' if expected else 'nothing to sweep'}"] += 1

    @rule(
        who=st.lists(st.tuples(st.booleans(), INDEX), min_size=1, max_size=4),
        back=st.integers(-1, 30),
        expire_first=st.sampled_from([0, None, None, 1, 2]),
    )
    def sweep(self, who: list[tuple[bool, int]], back: int, expire_first: int | None) -> None:
        """Anyone sweeps some accounts from ``back`` months ago; or, after a month end, every account of the example."""
        if expire_first is None:
            accounts: list[Resident | Merchant] = [
                self.pick_merchant(i) if merchant else self.pick_resident(i) for merchant, i in who
            ]
            caller = self.pick_merchant(0) if back % 2 else self.pick_resident(0)
            # Anyone may sweep (the node only admits active senders).
            self.sweep_accounts(accounts, self.month - back, caller.account if caller.active else self.points.admin)
            return
        self.set_clock(jst.month_end(self.month + expire_first) + 1)
        everyone: list[Resident | Merchant] = [*self.residents, *self.businesses, *self.merchants]
        from_month = min(self.month - 1, min(r.first_month for r in self.residents) + back % 4 - 1)
        self.sweep_accounts(everyone, from_month, self.points.admin)
        if back % 2:
            self.sweep_accounts(everyone, from_month - 1, self.points.admin)  # again: nothing left

    # -- invariants -----------------------------------------------------------------
    @invariant()
    def chain_matches_model(self) -> None:
        if self.programme is None:  # before set-up
            return
        self.world.steps += 1
        token = self.points.token.functions
        assert self.points.now() == self.t
        assert int(token.currentMonth().call()) == self.month
        assert bool(token.paused().call()) == self.paused
        current, today = self.month, jst.day_index(self.t)

        example_total = 0
        for r in self.residents:
            balance = int(token.balanceOf(r.address).call())
            assert balance == r.unexpired(current), f"balanceOf {r.address}"
            expires, amounts = token.bucketsOf(r.address).call()
            expected = [(jst.month_end(m), v) for m, v in sorted(r.buckets.items()) if m >= current and v > 0]
            assert list(zip(expires, amounts, strict=True)) == expected, f"bucketsOf {r.address}"
            expired = int(token.expiredBalanceOf(r.address, r.first_month).call())
            assert expired == r.expired(current), f"expiredBalanceOf {r.address}"
            example_total += balance + expired
            count, sent = token.thanksSentToday(r.address).call()
            model = (r.thanks_count, r.thanks_points) if r.thanks_day == today else (0, 0)
            assert (count, sent) == model, f"thanksSentToday {r.address}"

        for b in self.businesses:
            balance = int(token.balanceOf(b.address).call())
            assert balance == b.unexpired(current), f"balanceOf business {b.address}"
            expires, amounts = token.bucketsOf(b.address).call()
            expected = [(jst.month_end(m), v) for m, v in sorted(b.buckets.items()) if m >= current and v > 0]
            assert list(zip(expires, amounts, strict=True)) == expected, f"bucketsOf business {b.address}"
            expired = int(token.expiredBalanceOf(b.address, b.first_month).call())
            assert expired == b.expired(current), f"expiredBalanceOf business {b.address}"
            example_total += balance + expired

        for m in self.merchants:
            ledger = tuple(int(x) for x in token.merchantLedgerOf(m.address).call())
            assert ledger == (m.balance, m.received, m.refunded, m.settled), f"merchantLedgerOf {m.address}"
            assert int(token.balanceOf(m.address).call()) == m.balance
            balance, received, refunded, settled = ledger
            assert settled <= received, f"merchant {m.address} settled more than it received"
            example_total += balance

        for p in self.payments:
            payer, amount, refunded = token.paymentOf(p.merchant.address, p.request_id).call()
            assert (payer, int(amount), int(refunded)) == (p.payer.address, p.amount, p.refunded)
            assert refunded <= amount

        # Unexpired balances + expired-unswept points = totalSupply (the accounts of earlier
        # examples are untouched, so they still hold what the supply held at set-up).
        supply = int(token.totalSupply().call())
        assert supply == self.base_supply + example_total, "balances + expired-unswept != totalSupply"
        assert supply == self.base_supply + self.issued - self.settled - self.swept
        issued, settled, swept = (int(x) for x in token.totals().call())
        base_issued, base_settled, base_swept = self.base_totals
        assert (issued - base_issued, settled - base_settled, swept - base_swept) == (
            self.issued,
            self.settled,
            self.swept,
        )
        assert supply == issued - settled - swept

        # No programme exceeds its budget; no claim id pays twice.
        programme = self.prog
        stored = self.points.programmes.functions.programme(programme.programme_id).call()
        closed, budget, issued_by_programme = bool(stored[6]), int(stored[9]), int(stored[10])
        assert (closed, budget, issued_by_programme) == (programme.closed, programme.budget, programme.issued)
        assert issued_by_programme <= budget
        assert sum(programme.claims.values()) + programme.bonus_issued == programme.issued
        business_programme = self.business_programme
        assert business_programme is not None
        stored = self.points.programmes.functions.programme(business_programme.programme_id).call()
        assert int(stored[10]) == business_programme.issued == sum(business_programme.claims.values())
        assert business_programme.issued <= int(stored[9])
        if self.claims_dirty:  # claims change only with a programmes transaction
            self.check_claims()

    def check_claims(self) -> None:
        for programme in (self.prog, self.business_programme):
            assert programme is not None
            for claim in CLAIM_IDS + UNUSED_CLAIM_IDS:
                claimed = bool(self.points.programmes.functions.isClaimed(programme.programme_id, claim).call())
                assert claimed == (claim in programme.claims), f"isClaimed({claim}) of {programme.programme_id}"
        self.claims_dirty = False

    def teardown(self) -> None:
        if self.programme is not None:
            self.check_claims()
            self.world.check_global_supply()


def test_points_invariants_hold_over_random_sequences(fresh_points: PointsSystem) -> None:
    world = World(fresh_points)
    PointsMachine.world = world
    run_state_machine_as_test(
        PointsMachine,
        settings=settings(
            max_examples=7,
            stateful_step_count=25,
            deadline=None,
            database=None,  # no .hypothesis directory in the repository
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        ),
    )
    world.check_global_supply()
    print(f"\n{world.examples} examples, {world.steps} checked steps; outcomes:")  # shown with -s
    for outcome, count in sorted(world.outcomes.items()):
        print(f"  {count:5d}  {outcome}")
