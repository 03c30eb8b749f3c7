"""Stateful property test of the point contracts against the real node.

A hypothesis :class:`RuleBasedStateMachine` drives random sequences of registrations,
mints, programme attestations, thanks, payments, refunds, settlements, clock jumps
(to the last second of a month, the second after it, the end of a JST day, whole
days) and sweeps of expired points through real transactions on one dev node, and
keeps a Python model of what the contracts document (``contracts/src``):

* residents' points sit in monthly JST buckets; spending takes the soonest-to-expire
  unexpired bucket first; thanks keep the months; a refund goes back to the bucket
  ``max(month the payment last spent from, current month)``;
* thanks are capped per sender and JST day (10 thanks, 1,000 points);
* a programme pays ``units * rewardPoints / rewardUnits`` (rounded down), cut to the
  per-person cap of the period, once per claim id, never beyond its budget;
* expired points stay in their buckets (and in ``totalSupply``) until swept.

After every step the chain must agree with the model, and the issue's invariants
must hold: unexpired balances + expired-unswept points = ``totalSupply``; no
programme exceeds its budget; no claim id pays twice; settled <= received for
every merchant. Every expected refusal is checked by its decoded custom error.

One node serves the whole run: each example uses fresh accounts and a fresh
programme, and the clock only moves forward. Every transaction is pinned to the
model's clock (``evm_setNextBlockTimestamp``), which stays ahead of the wall clock,
so ``eth_estimateGas`` / ``eth_call`` (run at ``max(wall clock, head)``) and the
block see the same second.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, event, settings
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

from contracts import jst
from tests.points import (
    CAP_DAY,
    CAP_FISCAL_YEAR,
    CAP_MONTH,
    CAP_PROGRAMME,
    EXPIRY_DAYS_AFTER,
    EXPIRY_FISCAL_YEAR_END,
    MERCHANT,
    RESIDENT,
    PointsSystem,
    text32,
)

DAY = 86_400
MAX_MONTHS_AHEAD = 24
THANKS_PER_DAY = 10
THANKS_POINTS_PER_DAY = 1_000
MAX_RESIDENTS = 5
MAX_MERCHANTS = 3
CLAIM_IDS = 8

INDEX = st.integers(min_value=0, max_value=15)
# Programme ids are global; claims use small ids so repeats (and ClaimAlreadyUsed) are common.
CLAIM = st.integers(min_value=0, max_value=CLAIM_IDS - 1)


# ---------------------------------------------------------------------------- the model


@dataclass
class Resident:
    account: LocalAccount
    first_month: int  # no bucket of this account is older than this month
    buckets: dict[int, int] = field(default_factory=dict)  # month -> points, expired ones included
    thanks_day: int = -1
    thanks_count: int = 0
    thanks_points: int = 0

    @property
    def address(self) -> str:
        return str(self.account.address)

    def unexpired(self, month: int) -> int:
        return sum(v for m, v in self.buckets.items() if m >= month)

    def expired(self, month: int) -> int:
        return sum(v for m, v in self.buckets.items() if m < month)

    def add(self, month: int, amount: int) -> None:
        self.buckets[month] = self.buckets.get(month, 0) + amount

    def spend(self, month: int, amount: int) -> tuple[dict[int, int], int]:
        """Takes ``amount`` from the soonest unexpired buckets; returns what moved per month and the last month."""
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
class Merchant:
    account: LocalAccount
    balance: int = 0
    received: int = 0
    refunded: int = 0
    settled: int = 0

    @property
    def address(self) -> str:
        return str(self.account.address)


@dataclass
class Payment:
    merchant: Merchant
    payer: Resident
    request_id: bytes
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
    claims: dict[int, int] = field(default_factory=dict)  # claim id -> points granted
    usage: dict[str, tuple[int, int]] = field(default_factory=dict)  # person -> (period, points)

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

    def reward(self, person: str, units: int, t: int) -> tuple[int, int]:
        """The points an attestation grants now, and the person's usage after it."""
        points = units * self.reward_points // self.reward_units
        period = self.period(t)
        last_period, used = self.usage.get(person, (0, 0))
        used = used if last_period == period else 0
        if self.cap != 0:
            points = min(points, max(self.cap - used, 0))
        return points, used + points


@dataclass
class World:
    """What outlives one example: the node, the clock, and every account ever funded."""

    points: PointsSystem
    t: int = 0
    residents: list[tuple[str, int]] = field(default_factory=list)  # address, first month
    merchants: list[str] = field(default_factory=list)
    examples: int = 0
    steps: int = 0

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
        self.payments: list[Payment] = []
        self.programme: ProgrammeModel | None = None
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

    def tx(self, account: LocalAccount, fn: Any) -> TxReceipt:
        """Sends a transaction in a block stamped exactly at the model's clock."""
        self.points.next_block_at(self.t)
        receipt = self.points.send(account, fn)
        event(f"{fn.fn_name}: ok")
        return receipt

    def refused(self, account: LocalAccount, fn: Any, error: str) -> None:
        self.points.next_block_at(self.t)
        self.points.reverts(account, fn, error)
        event(f"{fn.fn_name}: {error}")

    def set_clock(self, timestamp: int) -> None:
        assert timestamp >= self.world.t
        self.world.t = timestamp
        self.points.mine_at(timestamp)

    def pick_resident(self, i: int) -> Resident:
        return self.residents[i % len(self.residents)]

    def pick_merchant(self, i: int) -> Merchant:
        return self.merchants[i % len(self.merchants)]

    def register(self, kind: int) -> LocalAccount:
        account = self.points.new_account()
        self.tx(self.points.admin, self.points.registry.functions.register(account.address, kind, keccak(account.key)))
        if kind == RESIDENT:
            self.residents.append(Resident(account, self.month))
            self.world.residents.append((account.address, self.month))
        else:
            self.merchants.append(Merchant(account))
            self.world.merchants.append(account.address)
        return account

    # -- set-up ---------------------------------------------------------------------
    @initialize(
        reward_points=st.integers(1, 5),
        reward_units=st.integers(1, 3),
        cap=st.sampled_from([0, 0, 15, 60, 200]),
        cap_period=st.sampled_from([CAP_DAY, CAP_MONTH, CAP_FISCAL_YEAR, CAP_PROGRAMME]),
        budget=st.integers(20, 600),
        expiry_policy=st.sampled_from([EXPIRY_DAYS_AFTER, EXPIRY_FISCAL_YEAR_END]),
        expiry_days=st.integers(1, 400),
    )
    def setup(
        self,
        reward_points: int,
        reward_units: int,
        cap: int,
        cap_period: int,
        budget: int,
        expiry_policy: int,
        expiry_days: int,
    ) -> None:
        world = self.world
        world.examples += 1
        # Keep the chain ahead of the wall clock, so eth_call / eth_estimateGas (run at
        # max(wall clock, head)) see the same second as the pinned blocks.
        self.set_clock(max(self.points.now(), world.t, int(time.time()) + 3_600) + 1)
        # Every account of the earlier examples still adds up (this also checks the chain
        # after a failed example, whose model was abandoned).
        world.check_global_supply()
        token = self.points.token.functions
        self.base_supply = int(token.totalSupply().call())
        issued, settled, swept = (int(x) for x in token.totals().call())
        self.base_totals = (issued, settled, swept)

        # ProgrammeParams in field order (web3 does not encode this struct from a dict).
        params = (
            f"property programme {world.examples}",  # name
            keccak(text="MINTER_ROLE"),  # verifierRole: the admin attests
            reward_points,
            reward_units,
            cap,  # capPerPeriod
            cap_period,
            budget,
            self.t - DAY,  # startsAt
            2**40 - 1,  # endsAt
            expiry_policy,
            expiry_days,
        )
        receipt = self.tx(self.points.admin, self.points.programmes.functions.createProgramme(params))
        (event,) = self.points.events(receipt, self.points.programmes, "ProgrammeCreated")
        self.programme = ProgrammeModel(
            int(event["args"]["programmeId"]), reward_points, reward_units, cap, cap_period, budget,
            expiry_policy, expiry_days,
        )  # fmt: skip
        self.register(RESIDENT)
        self.register(RESIDENT)
        self.register(MERCHANT)

    # -- registration ---------------------------------------------------------------
    @precondition(lambda self: len(self.residents) < MAX_RESIDENTS)
    @rule()
    def register_resident(self) -> None:
        self.register(RESIDENT)

    @precondition(lambda self: len(self.merchants) < MAX_MERCHANTS)
    @rule()
    def register_merchant(self) -> None:
        self.register(MERCHANT)

    # -- minting --------------------------------------------------------------------
    @rule(
        who=INDEX,
        amount=st.integers(1, 3_000) | st.just(0),
        ahead=st.integers(0, MAX_MONTHS_AHEAD) | st.sampled_from([0, 1, -1, MAX_MONTHS_AHEAD + 1]),
    )
    def mint(self, who: int, amount: int, ahead: int) -> None:
        resident = self.pick_resident(who)
        month = self.month + ahead
        fn = self.points.token.functions.mint(resident.address, amount, month)
        if not 0 <= ahead <= MAX_MONTHS_AHEAD:
            self.refused(self.points.admin, fn, "ExpiryOutOfRange")
        elif amount == 0:
            self.refused(self.points.admin, fn, "InvalidAmount")
        else:
            self.tx(self.points.admin, fn)
            resident.add(month, amount)
            self.issued += amount

    @rule(who=INDEX, amount=st.integers(1, 100))
    def mint_to_merchant_is_refused(self, who: int, amount: int) -> None:
        shop = self.pick_merchant(who)
        fn = self.points.token.functions.mint(shop.address, amount, self.month)
        self.refused(self.points.admin, fn, "TransferNotPermitted")

    # -- programmes -----------------------------------------------------------------
    @rule(who=INDEX, units=st.integers(0, 80), claim=CLAIM)
    def attest(self, who: int, units: int, claim: int) -> None:
        programme = self.programme
        assert programme is not None
        resident = self.pick_resident(who)
        evidence = keccak(text=f"evidence {claim}")
        fn = self.points.programmes.functions.attest(programme.programme_id, resident.address, units, evidence, claim)
        if claim in programme.claims:
            self.refused(self.points.admin, fn, "ClaimAlreadyUsed")
            return
        points, used = programme.reward(resident.address, units, self.t)
        if points > programme.budget - programme.issued:
            self.refused(self.points.admin, fn, "BudgetExceeded")
            return
        receipt = self.tx(self.points.admin, fn)
        (event,) = self.points.events(receipt, self.points.programmes, "Attested")
        assert int(event["args"]["points"]) == points
        assert int(event["args"]["claimId"]) == claim
        programme.claims[claim] = points
        if points != 0:
            programme.usage[resident.address] = (programme.period(self.t), used)
            programme.issued += points
            resident.add(programme.expiry_month(self.t), points)
            self.issued += points

    @rule(who=INDEX, units=st.integers(0, 80), claim=CLAIM, stranger=st.booleans())
    def attest_for_non_resident(self, who: int, units: int, claim: int, stranger: bool) -> None:
        """A merchant or an unregistered address never receives programme points."""
        programme = self.programme
        assert programme is not None
        beneficiary = self.points.new_account().address if stranger else self.pick_merchant(who).address
        # Units that earn at least one point: whether zero-point attestations to
        # non-residents revert is checked on its own below.
        units = max(units, programme.reward_units)
        fn = self.points.programmes.functions.attest(programme.programme_id, beneficiary, units, b"\1" * 32, claim)
        points, _ = programme.reward(beneficiary, units, self.t)
        assert points > 0
        if claim in programme.claims:
            self.refused(self.points.admin, fn, "ClaimAlreadyUsed")
        elif points > programme.budget - programme.issued:
            self.refused(self.points.admin, fn, "BudgetExceeded")
        else:
            self.refused(self.points.admin, fn, "AccountNotActive" if stranger else "TransferNotPermitted")

    # -- thanks ---------------------------------------------------------------------
    def thank_once(self, sender: Resident, to: Resident | Merchant, amount: int) -> None:
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
        elif isinstance(to, Merchant):
            self.refused(sender.account, fn, "TransferNotPermitted")
        elif sender.unexpired(self.month) < amount:
            self.refused(sender.account, fn, "InsufficientUnexpiredBalance")
        else:
            self.tx(sender.account, fn)
            moved, _ = sender.spend(self.month, amount)
            for m, v in moved.items():
                to.add(m, v)
            sender.thanks_day, sender.thanks_count, sender.thanks_points = today, count + 1, sent + amount

    @rule(frm=INDEX, to=INDEX, amount=st.integers(1, 450) | st.sampled_from([0, 1_000, 1_001]))
    def thank(self, frm: int, to: int, amount: int) -> None:
        self.thank_once(self.pick_resident(frm), self.pick_resident(to), amount)

    @rule(frm=INDEX, to=INDEX, count=st.integers(1, 12), amount=st.integers(1, 8))
    def thank_many_small(self, frm: int, to: int, count: int, amount: int) -> None:
        """Bursts of small thanks reach the daily count cap."""
        sender, receiver = self.pick_resident(frm), self.pick_resident(to)
        for _ in range(count):
            self.thank_once(sender, receiver, amount)

    @rule(frm=INDEX, to=INDEX, amount=st.integers(1, 50))
    def thank_merchant_is_refused(self, frm: int, to: int, amount: int) -> None:
        self.thank_once(self.pick_resident(frm), self.pick_merchant(to), amount)

    # -- payments -------------------------------------------------------------------
    @rule(
        payer=INDEX,
        shop=INDEX,
        amount=st.integers(1, 1_500) | st.just(0),
        whole_balance=st.booleans(),
        request=st.sampled_from(["new", "new", "new", "repeat", "zero"]),
    )
    def pay(self, payer: int, shop: int, amount: int, whole_balance: bool, request: str) -> None:
        resident, merchant = self.pick_resident(payer), self.pick_merchant(shop)
        available = resident.unexpired(self.month)
        if whole_balance and available > 0:
            amount = available
        earlier = [p for p in self.payments if p.merchant is merchant]
        if request == "repeat" and earlier:
            request_id = earlier[-1].request_id
        elif request == "zero":
            request_id = b"\0" * 32
        else:
            request_id = secrets.token_bytes(32)
        fn = self.points.token.functions.pay(merchant.address, amount, request_id)
        if request_id == b"\0" * 32:
            self.refused(resident.account, fn, "InvalidRequestId")
        elif amount == 0:
            self.refused(resident.account, fn, "InvalidAmount")
        elif any(p.request_id == request_id for p in earlier):
            self.refused(resident.account, fn, "PaymentRequestAlreadyPaid")
        elif available < amount:
            self.refused(resident.account, fn, "InsufficientUnexpiredBalance")
        else:
            self.tx(resident.account, fn)
            _, last = resident.spend(self.month, amount)
            merchant.balance += amount
            merchant.received += amount
            self.payments.append(Payment(merchant, resident, request_id, amount, last))

    @rule(payer=INDEX, to=INDEX, amount=st.integers(1, 100))
    def pay_resident_is_refused(self, payer: int, to: int, amount: int) -> None:
        resident, other = self.pick_resident(payer), self.pick_resident(to)
        fn = self.points.token.functions.pay(other.address, amount, secrets.token_bytes(32))
        # The kinds are checked before any bucket is touched, whatever the balance.
        self.refused(resident.account, fn, "TransferNotPermitted")

    @precondition(lambda self: bool(self.payments))
    @rule(which=INDEX, how=st.sampled_from(["rest", "part", "part", "too_much", "zero"]), part=st.integers(1, 1_500))
    def refund(self, which: int, how: str, part: int) -> None:
        payment = self.payments[which % len(self.payments)]
        merchant = payment.merchant
        refundable = payment.amount - payment.refunded
        amount = {"rest": refundable, "part": part, "too_much": refundable + 1, "zero": 0}[how]
        fn = self.points.token.functions.refund(payment.request_id, amount)
        if amount == 0 or amount > refundable:
            self.refused(merchant.account, fn, "RefundExceedsPayment")
        elif amount > merchant.balance:
            self.refused(merchant.account, fn, "ERC20InsufficientBalance")
        else:
            receipt = self.tx(merchant.account, fn)
            (event,) = self.points.events(receipt, self.points.token, "Refunded")
            assert event["args"]["payer"] == payment.payer.address
            assert int(event["args"]["totalRefunded"]) == payment.refunded + amount
            payment.refunded += amount
            merchant.balance -= amount
            merchant.refunded += amount
            payment.payer.add(max(payment.month, self.month), amount)

    @rule(shop=INDEX)
    def refund_unknown_request_is_refused(self, shop: int) -> None:
        merchant = self.pick_merchant(shop)
        fn = self.points.token.functions.refund(secrets.token_bytes(32), 1)
        self.refused(merchant.account, fn, "UnknownPayment")

    # -- settlement -----------------------------------------------------------------
    @rule(shop=INDEX, how=st.sampled_from(["all", "part", "part", "too_much", "zero"]), part=st.integers(1, 1_500))
    def settle(self, shop: int, how: str, part: int) -> None:
        merchant = self.pick_merchant(shop)
        amount = {"all": merchant.balance, "part": part, "too_much": merchant.balance + 1, "zero": 0}[how]
        fn = self.points.token.functions.requestSettlement(amount, text32(f"INV-{part}"))
        if amount == 0:
            self.refused(merchant.account, fn, "InvalidAmount")
        elif amount > merchant.balance:
            self.refused(merchant.account, fn, "ERC20InsufficientBalance")
        else:
            self.tx(merchant.account, fn)
            merchant.balance -= amount
            merchant.settled += amount
            self.settled += amount

    @rule(who=INDEX, amount=st.integers(1, 100))
    def resident_settlement_is_refused(self, who: int, amount: int) -> None:
        resident = self.pick_resident(who)
        fn = self.points.token.functions.requestSettlement(amount, text32("INV"))
        self.refused(resident.account, fn, "TransferNotPermitted")

    # -- time -----------------------------------------------------------------------
    @rule(
        how=st.sampled_from(["month_end", "after_month_end", "day_end", "after_day_end", "days", "seconds"]),
        n=st.integers(1, 45),
    )
    def advance(self, how: str, n: int) -> None:
        t = self.t
        next_day = (jst.day_index(t) + 1) * DAY - 9 * 3600  # first second of the next JST day
        target = {
            "month_end": jst.month_end(self.month),
            "after_month_end": jst.month_end(self.month) + 1,
            "day_end": next_day - 1,
            "after_day_end": next_day,
            "days": t + n * DAY,
            "seconds": t + n,
        }[how]
        self.set_clock(max(target, t))

    # -- sweeping -------------------------------------------------------------------
    @rule(
        who=st.lists(st.tuples(st.booleans(), INDEX), min_size=1, max_size=4),
        back=st.integers(1, 30) | st.sampled_from([0, -1]),
    )
    def sweep(self, who: list[tuple[bool, int]], back: int) -> None:
        accounts: list[Resident | Merchant] = [
            self.pick_merchant(i) if is_merchant else self.pick_resident(i) for is_merchant, i in who
        ]
        current = self.month
        from_month = current - back
        fn = self.points.token.functions.sweepExpired([a.address for a in accounts], from_month)
        anyone = self.pick_merchant(0).account if back % 2 else self.pick_resident(0).account
        if from_month >= current:
            self.refused(anyone, fn, "MonthNotExpired")
            return
        receipt = self.tx(anyone, fn)
        expected: list[tuple[str, int]] = []
        for account in accounts:
            if isinstance(account, Merchant):
                continue
            months = [m for m in account.buckets if from_month <= m < current]
            swept = sum(account.buckets.pop(m) for m in months)
            if swept:
                expected.append((account.address, swept))
                self.swept += swept
        events = self.points.events(receipt, self.points.token, "ExpiredPointsSwept")
        assert [(e["args"]["account"], int(e["args"]["amount"])) for e in events] == expected

    # -- invariants -----------------------------------------------------------------
    @invariant()
    def chain_matches_model(self) -> None:
        if self.programme is None:  # before set-up
            return
        self.world.steps += 1
        token = self.points.token.functions
        assert self.points.now() == self.t
        assert int(token.currentMonth().call()) == self.month
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

        for m in self.merchants:
            ledger = tuple(int(x) for x in token.merchantLedgerOf(m.address).call())
            assert ledger == (m.balance, m.received, m.refunded, m.settled), f"merchantLedgerOf {m.address}"
            assert int(token.balanceOf(m.address).call()) == m.balance
            assert m.settled <= m.received  # the invariant, on the chain's numbers
            assert ledger[3] <= ledger[1]
            example_total += m.balance

        for p in self.payments:
            payer, amount, refunded = token.paymentOf(p.merchant.address, p.request_id).call()
            assert (payer, int(amount), int(refunded)) == (p.payer.address, p.amount, p.refunded)
            assert refunded <= amount

        # Unexpired balances + expired-unswept points = totalSupply (accounts of earlier
        # examples are untouched, so they still hold what the supply held at set-up).
        supply = int(token.totalSupply().call())
        assert supply == self.base_supply + self.issued - self.settled - self.swept
        assert supply == self.base_supply + example_total
        issued, settled, swept = (int(x) for x in token.totals().call())
        base_issued, base_settled, base_swept = self.base_totals
        assert (issued, settled, swept) == (base_issued + self.issued, base_settled + self.settled,
                                            base_swept + self.swept)  # fmt: skip
        assert supply == issued - settled - swept

        # No programme exceeds its budget; no claim id pays twice.
        programme = self.programme
        stored = self.points.programmes.functions.programme(programme.programme_id).call()
        budget, issued_by_programme = int(stored[9]), int(stored[10])
        assert (budget, issued_by_programme) == (programme.budget, programme.issued)
        assert issued_by_programme <= budget
        assert sum(programme.claims.values()) == programme.issued
        for claim in range(CLAIM_IDS):
            claimed = bool(self.points.programmes.functions.isClaimed(programme.programme_id, claim).call())
            assert claimed == (claim in programme.claims), f"isClaimed({claim})"

    def teardown(self) -> None:
        if self.programme is not None:
            self.world.check_global_supply()


def test_points_invariants_hold_over_random_sequences(fresh_points: PointsSystem) -> None:
    world = World(fresh_points)
    PointsMachine.world = world
    run_state_machine_as_test(
        PointsMachine,
        settings=settings(
            max_examples=10,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        ),
    )
    assert world.examples >= 10
    world.check_global_supply()
