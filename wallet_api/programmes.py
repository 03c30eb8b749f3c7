"""What a resident can join: the on-chain reward programmes, with their rules in plain words and progress.

The chain (``RewardProgrammes``) holds each programme's reward, per-person cap, window,
budget and who may attest; the wallet adds only what the chain must not or need not hold
(:class:`~wallet_api.db.models_programmes.ProgrammeRules`: its kind, a description, and
whether a claim needs a photo). A programme can be *claimed* in the app only when the
wallet's service key holds its verifier role; the others (CO2 from the oracle, watch-over
from the watch service) grant by themselves, and the app says so instead of offering a
claim that could never be attested.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from ledger_client.jst import JST
from wallet_api import programmes_errors  # noqa: F401 - registers this feature's error codes
from wallet_api.auth import now
from wallet_api.db.models import User
from wallet_api.db.models_programmes import EvidenceRule, ProgrammeCategory, ProgrammeRules
from wallet_api.errors import ApiError
from wallet_api.ledger import Ledger

CAP_PERIODS = ("day", "month", "fiscal-year", "programme")  # RewardProgrammes.CapPeriod, in order
FAR_FUTURE = 2**40 - 1  # the CLI's "open-ended" end
_PERIOD_JA = {"day": "1日", "month": "1か月", "fiscal-year": "1年度", "programme": "期間全体"}
_PERIOD_EN = {"day": "a day", "month": "a month", "fiscal-year": "a fiscal year", "programme": "in total"}


@dataclass(frozen=True)
class OnChainProgramme:
    """A programme as ``RewardProgrammes.programme(id)`` returns it (the fields the app uses)."""

    id: int
    name: str
    reward_points: int
    reward_units: int
    cap: int
    cap_period: str
    expiry_policy: int
    expiry_days: int
    closed: bool
    starts_at: int
    ends_at: int
    budget: int
    issued: int
    verifier_role: bytes
    business: bool = False  # run and paid by a shop or business from its own points (issue 21), never the wallet

    @classmethod
    def of(cls, programme_id: int, fields: Any, business: bool = False) -> OnChainProgramme:
        rp, ru, cap, period, policy, days, closed, starts, ends, budget, issued, role, name = fields[:13]
        return cls(programme_id, name, rp, ru, cap, CAP_PERIODS[period], policy, days, bool(closed), starts, ends,
                   budget, issued, bytes(role), business)  # fmt: skip

    def points_for(self, units: int) -> int:
        """The reward for ``units`` before the cap, rounded down as the contract does."""
        return units * self.reward_points // self.reward_units

    def open_at(self, moment: int) -> bool:
        return not self.closed and self.starts_at <= moment <= self.ends_at and self.issued < self.budget


@dataclass(frozen=True)
class ProgrammeView:
    """One programme as a resident sees it: the chain's terms, the city's words, and my progress."""

    programme: OnChainProgramme
    category: ProgrammeCategory
    evidence: EvidenceRule
    description: dict[str, str]
    claimable: bool
    open: bool
    granted_this_period: int | None = None
    rules: dict[str, str] = field(default_factory=dict)

    @property
    def left_this_period(self) -> int | None:
        if not self.programme.cap or self.granted_this_period is None:
            return None
        return max(0, self.programme.cap - self.granted_this_period)


def _day(moment: int) -> str:
    return f"{datetime.fromtimestamp(moment, JST):%Y-%m-%d}"


def plain_rules(p: OnChainProgramme, evidence: EvidenceRule, claimable: bool) -> dict[str, str]:
    """The programme's terms as two short paragraphs a resident reads (the chain's numbers, nothing invented)."""
    each_ja = (f"1回につき {p.reward_points} ポイント" if p.reward_units == 1
               else f"{p.reward_units} 単位ごとに {p.reward_points} ポイント")  # fmt: skip
    each_en = (f"{p.reward_points} points each time" if p.reward_units == 1
               else f"{p.reward_points} points per {p.reward_units} units")  # fmt: skip
    ja, en = [each_ja], [each_en]
    if p.cap:
        ja.append(f"上限は{_PERIOD_JA[p.cap_period]} {p.cap} ポイントまで")
        en.append(f"at most {p.cap} points {_PERIOD_EN[p.cap_period]}")
    if p.ends_at < FAR_FUTURE:
        ja.append(f"{_day(p.starts_at)} から {_day(p.ends_at)} まで")
        en.append(f"from {_day(p.starts_at)} to {_day(p.ends_at)}")
    if p.expiry_policy == 0:
        ja.append("ポイントの有効期限は年度末（3月末）")
        en.append("points expire at the end of the fiscal year (end of March)")
    else:
        ja.append(f"ポイントの有効期限は付与から{p.expiry_days}日後の月末")
        en.append(f"points expire at the end of the month {p.expiry_days} days after they are given")
    if p.business:
        ja.append("お店・事業者の制度です（ポイントはその事業者が自分のポイントから付与します）")
        en.append("run by a shop or business, which gives the points from its own")
    elif not claimable:
        ja.append("ポイントは自動で付与されます（申請は不要です）")
        en.append("points are given automatically (no claim needed)")
    elif evidence == EvidenceRule.PHOTO:
        ja.append("申請には活動のメモと写真が必要です")
        en.append("a claim needs a note and a photo of the activity")
    else:
        ja.append("申請には活動のメモが必要です")
        en.append("a claim needs a note about the activity")
    return {"ja": "。".join(ja) + "。", "en": "; ".join(en).capitalize() + "."}


class Programmes:
    """Reads the programmes from the chain and joins the city's rules and a resident's progress."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        ledger: Ledger,
        service_address: Callable[[], str],
        help_bonus_programme: int = 0,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.service_address = service_address
        self.help_bonus_programme = help_bonus_programme

    def chain_time(self) -> int:
        """The latest block's timestamp: the clock the contract judges windows and caps by."""
        try:
            return int(self.ledger.w3.eth.get_block("latest")["timestamp"])
        except (ConnectionError, OSError):
            raise ApiError("NODE_UNAVAILABLE") from None

    def on_chain(self, programme_id: int) -> OnChainProgramme:
        """One programme from the chain (UNKNOWN_PROGRAMME when there is no such id)."""
        try:
            count = int(self.ledger.programmes.functions.programmeCount().call())
            if not 1 <= programme_id <= count:
                raise ApiError("UNKNOWN_PROGRAMME", {"programme_id": programme_id})
            return self._read(programme_id)
        except (ConnectionError, OSError):
            raise ApiError("NODE_UNAVAILABLE") from None

    def _read(self, programme_id: int) -> OnChainProgramme:
        """The programme's fields, and whether a business runs it (``funderOf``, on deployments that have it)."""
        contract = self.ledger.programmes
        fields = contract.functions.programme(programme_id).call()
        business = False
        if any(entry.get("name") == "funderOf" for entry in contract.abi):
            business = int(contract.functions.funderOf(programme_id).call(), 16) != 0
        return OnChainProgramme.of(programme_id, fields, business)

    def claimable(self, programme: OnChainProgramme, roles: dict[bytes, bool] | None = None) -> bool:
        """True when the wallet's service key may attest the programme (its verifier role; never a business's)."""
        if programme.business:
            return False
        roles = {} if roles is None else roles
        if programme.verifier_role not in roles:
            service = self.service_address()
            roles[programme.verifier_role] = bool(
                self.ledger.registry.functions.hasRole(programme.verifier_role, service).call()
            )
        return roles[programme.verifier_role]

    def rules_of(self, db: DbSession, programme_id: int) -> ProgrammeRules | None:
        return db.get(ProgrammeRules, programme_id)

    def view(
        self, programme: OnChainProgramme, rules: ProgrammeRules | None, moment: int, person: User | None = None,
        roles: dict[bytes, bool] | None = None,
    ) -> ProgrammeView:  # fmt: skip
        default = ProgrammeCategory.HELP if programme.id == self.help_bonus_programme else ProgrammeCategory.OTHER
        category = rules.category if rules else default
        evidence = rules.evidence if rules else EvidenceRule.NOTE
        claimable = self.claimable(programme, roles)
        granted = None
        if person is not None and person.address and programme.cap:
            granted = int(self.ledger.programmes.functions.grantedThisPeriod(programme.id, person.address).call())
        return ProgrammeView(
            programme=programme,
            category=category,
            evidence=evidence,
            description={"ja": rules.description_ja, "en": rules.description_en} if rules else {"ja": "", "en": ""},
            claimable=claimable,
            open=programme.open_at(moment),
            granted_this_period=granted,
            rules=plain_rules(programme, evidence, claimable),
        )

    def catalogue(self, person: User | None, include_closed: bool = False) -> list[ProgrammeView]:
        """Every programme (open ones first, claimable before automatic), with ``person``'s progress."""
        try:
            count = int(self.ledger.programmes.functions.programmeCount().call())
            moment = self.chain_time()
            with self.sessions() as db:
                rules = {r.programme_id: r for r in db.scalars(select(ProgrammeRules))}
            roles: dict[bytes, bool] = {}
            views = []
            for pid in range(1, count + 1):
                programme = self._read(pid)
                if programme.closed and not include_closed:
                    continue
                views.append(self.view(programme, rules.get(pid), moment, person, roles))
        except (ConnectionError, OSError):
            raise ApiError("NODE_UNAVAILABLE") from None
        return sorted(views, key=lambda v: (not v.open, not v.claimable, v.programme.id))

    def set_rules(
        self, officer: User, programme_id: int, category: ProgrammeCategory, evidence: EvidenceRule,
        description_ja: str, description_en: str,
    ) -> ProgrammeView:  # fmt: skip
        """Records the city's words and evidence rule for an existing programme (with the officer and when)."""
        programme = self.on_chain(programme_id)
        with self.sessions.begin() as db:
            row = db.get(ProgrammeRules, programme_id, with_for_update=True)
            if row is None:
                row = ProgrammeRules(programme_id=programme_id)
                db.add(row)
            row.category = category
            row.evidence = evidence
            row.description_ja = description_ja
            row.description_en = description_en
            row.updated_by = officer.id
            row.updated_at = now()
        with self.sessions() as db:
            return self.view(programme, db.get(ProgrammeRules, programme_id), self.chain_time())
