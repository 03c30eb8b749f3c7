"""My CO2 (脱炭素行動の見える化, issue 21): a resident links their household's meter with consent, the city
approves, the oracle settles the approved households' months, and the resident sees each month.

- **Enrolment is the resident's own step.** They type the household or meter id the city's gateways
  know (from the city's letter), read the consent text (:data:`CONSENT`, versioned: the version they
  saw is recorded with the time) and link; the link waits for an officer, who approves it on the desk
  (confirming the meters) or refuses it with a reason; every step is recorded with the actor's role
  (``co2_household_actions``). The resident may withdraw at any time from the same screen; from then
  on no further month is settled for the household.
- **The oracle pulls the approved list** (``GET /v1/co2/oracle/households``, with the service token
  the two share) when it settles a month: see ``oracle/enrolment.py`` and ``docs/oracle.md``.
- **The resident's months come from the oracle over HTTP** (``GET /v1/households/{id}/months`` there,
  same token); the wallet adds the points each month paid (the programme's ``Attested`` events in the
  blocks the oracle sent its grants in) and the reason of an excluded month in plain words with what
  to do (:data:`REASONS`). A resident only ever reaches their own household: the wallet takes the
  household from the resident's own link, never from the request.

Nothing personal goes on-chain or to the oracle: it learns a household id, its meters, the
resident's custodial address and a salt, never a name.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from eth_utils import keccak
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from web3.exceptions import Web3RPCError

from wallet_api.auth import now
from wallet_api.db.models import User
from wallet_api.db.models_co2 import ACTIVE_STATUSES, Co2Household, Co2HouseholdAction, HouseholdStatus
from wallet_api.db.models_research import ResearchAttributes, ResearchPreference
from wallet_api.errors import MESSAGES, ApiError
from wallet_api.ledger import Ledger, address_topic

HOUSEHOLD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
TOKEN_HEADER = "X-Oracle-Service-Token"
TIMEOUT = urllib3.Timeout(connect=2.0, read=10.0)
ATTESTED_TOPIC = "0x" + keccak(text="Attested(uint256,address,uint256,uint256,uint256,bytes32)").hex()

# The refusals of this feature, in the API's one table of codes (wallet_api.errors), in Japanese and English.
MESSAGES.update(
    {
        "CO2_HOUSEHOLD_INVALID": (
            422,
            "Type the household or meter number as printed on the city's letter "
            "(letters, digits, '.', '_' or '-', up to 64).",
            "市からのお知らせに書かれた世帯番号または計器番号を入力してください（英数字と . _ -、64文字まで）。",
        ),
        "CO2_CONSENT_REQUIRED": (
            422,
            "Please read the consent text and agree to it to link your household.",
            "世帯を登録するには、同意事項を読んで同意してください。",
        ),
        "CO2_CONSENT_OUTDATED": (
            409,
            "The consent text has changed since you opened this screen. Please read it again.",
            "同意事項が更新されました。もう一度お読みください。",
        ),
        "CO2_ALREADY_ENROLLED": (
            409,
            "Your account is already linked to a household. Withdraw that link first to link another.",
            "このアカウントはすでに世帯と連携しています。別の世帯にするには、先に今の連携を取り消してください。",
        ),
        "CO2_HOUSEHOLD_TAKEN": (
            409,
            "This household is already linked to another account. Please ask at the city office.",
            "この世帯は別のアカウントと連携済みです。市の窓口にお問い合わせください。",
        ),
        "CO2_METER_TAKEN": (
            409,
            "One of these meters already belongs to another household's link.",
            "この計器は別の世帯の連携に含まれています。",
        ),
        "CO2_NOT_ENROLLED": (
            404,
            "Your account is not linked to a household.",
            "このアカウントは世帯と連携していません。",
        ),
        "CO2_NOT_PENDING": (
            409,
            "This link has already been decided or withdrawn.",
            "この連携はすでに判断済みか、取り消されています。",
        ),
        "CO2_UNAVAILABLE": (
            503,
            "The CO2 figures cannot be reached just now. Please try again later.",
            "CO2のデータに今は接続できません。しばらくしてからお試しください。",
        ),
        "CO2_SERVICE_TOKEN_INVALID": (
            401,
            "A missing or wrong service token.",
            "サービス間トークンがないか、違います。",
        ),
    }
)

CONSENT: dict[str, str] = {
    "version": "2026-12",
    "ja": (
        "高砂市が、わたしの世帯のスマートメーターの30分ごとの電力使用量を、CO2削減量の計算とポイントの付与の"
        "ためだけに使うことに同意します。使用量と世帯番号は市のCO2計算サービス（オラクル）の中だけで扱われ、"
        "台帳（ブロックチェーン）には載りません。台帳に載るのは、わたしのポイント用アドレスとCO2の量（グラム）"
        "だけです。市の承認後、まだ精算されていない月（前の月を含む）から対象になります。同意はこの画面から"
        "いつでも取り消せ、取り消した後の月は計算されません。"
    ),
    "en": (
        "I agree that Takasago City uses my household's half-hourly electricity use from its smart meter only "
        "to calculate CO2 reductions and grant points. The readings and the household number stay inside the "
        "city's CO2 service (the oracle) and never go on the ledger (blockchain); only my points address and "
        "the grams of CO2 do. Once the city approves, every month not yet settled (including last month) "
        "counts. I can withdraw this consent at any time from this screen; no month is calculated after that."
    ),
}

# Why a month earned nothing, in plain words, and what the household can do (oracle/verify.py's codes).
REASONS: dict[str, dict[str, dict[str, str]]] = {
    "INCOMPLETE": {
        "text": {
            "ja": "計測データが不足していました（95 %未満）。",
            "en": "Not enough meter data arrived (under 95 % of the month's half hours).",
        },
        "todo": {
            "ja": (
                "メーターを読む機器（ゲートウェイ・HEMS）の電源を入れたまま、"
                "インターネットにつながっているか確かめてください。"
            ),
            "en": "Keep the gateway (HEMS) that reads your meter switched on and connected to the internet.",
        },
    },
    "NO_READINGS": {
        "text": {
            "ja": "この月の計測データが届いていませんでした。",
            "en": "No meter readings arrived for this month.",
        },
        "todo": {
            "ja": "ゲートウェイ（HEMS）の電源と接続を確認してください。直らないときは市の窓口にご連絡ください。",
            "en": "Check that your gateway (HEMS) is on and connected. If it stays so, please contact the city office.",
        },
    },
    "CONFLICTING_DUPLICATE": {
        "text": {
            "ja": "同じ時刻に食い違う計測値が届き、確かめられませんでした。",
            "en": "Two different readings arrived for the same half hour, so the month could not be checked.",
        },
        "todo": {
            "ja": "機器の不具合の可能性があります。市の窓口にご連絡ください。",
            "en": "A device may be faulty. Please contact the city office.",
        },
    },
    "NEGATIVE_DELTA": {
        "text": {
            "ja": "メーターの値が途中で戻っていました（メーターの交換やリセットの可能性）。",
            "en": "The meter's count went backwards during the month (a meter replaced or reset).",
        },
        "todo": {
            "ja": "メーターを交換した場合は、市の窓口で新しい計器番号を届け出てください。",
            "en": "If your meter was replaced, tell the city office its new meter number.",
        },
    },
    "IMPOSSIBLE_DELTA": {
        "text": {
            "ja": "ありえない大きさの値がありました（30分で10 kWhを超えるなど）。",
            "en": "A reading was impossibly large (over 10 kWh in half an hour, for example).",
        },
        "todo": {
            "ja": "機器の不具合の可能性があります。市の窓口にご連絡ください。",
            "en": "A device may be faulty. Please contact the city office.",
        },
    },
    "SPIKE": {
        "text": {
            "ja": "一時的に極端に大きな使用量があり、確かめられませんでした。",
            "en": "One half hour was extremely high, so the month could not be checked.",
        },
        "todo": {
            "ja": "心当たりがなければ機器の不具合かもしれません。続くときは市の窓口にご連絡ください。",
            "en": "If you did not use that much, a device may be faulty; if it happens again, contact the city office.",
        },
    },
    "NO_BASELINE": {
        "text": {
            "ja": "比べる基準（前の年の同じ月など）の記録がまだありません。",
            "en": "There is no record yet to compare with (such as the same month last year).",
        },
        "todo": {
            "ja": "手続きは不要です。記録がたまると（数か月）、自動的に対象になります。",
            "en": "Nothing to do: once a few months are recorded, your months count by themselves.",
        },
    },
}
UNKNOWN_REASON = {
    "text": {"ja": "この月は対象外になりました。", "en": "This month was not counted."},
    "todo": {"ja": "市の窓口にお問い合わせください。", "en": "Please ask the city office."},
}


class Co2Settings(BaseSettings):
    """Where the oracle answers and the token the two services share (``TAKASAGO_WALLET_ORACLE_*``)."""

    model_config = SettingsConfigDict(env_prefix="TAKASAGO_WALLET_", extra="ignore")

    oracle_url: str = "http://127.0.0.1:8800"
    oracle_token_file: Path | None = None


def household_id_of(text: str) -> str:
    """A typed household or meter id as the gateways know it: full-width folded, spaces dropped; else refused."""
    value = re.sub(r"\s", "", unicodedata.normalize("NFKC", text))
    if not HOUSEHOLD_ID.match(value):
        raise ApiError("CO2_HOUSEHOLD_INVALID", {"household": "letters, digits, '.', '_' or '-', up to 64"})
    return value


def reason_words(code: str | None) -> dict[str, dict[str, str]] | None:
    return None if code is None else REASONS.get(code, UNKNOWN_REASON)


class OracleClient:
    """The oracle's read API for one household's months, with the service token (read once, when first needed)."""

    def __init__(self, url: str, token_file: Path | None) -> None:
        self.url = url.rstrip("/")
        self.token_file = token_file
        self.pool = urllib3.PoolManager(maxsize=4)
        self._token: str | None = None

    def token(self) -> str | None:
        if self._token is None and self.token_file is not None and self.token_file.exists():
            self._token = self.token_file.read_text(encoding="utf-8").strip() or None
        return self._token

    def months(self, household_id: str) -> list[dict[str, Any]]:
        token = self.token()
        if token is None:
            raise ApiError("CO2_UNAVAILABLE", {"reason": "no service token configured"})
        try:
            response = self.pool.request(
                "GET", f"{self.url}/v1/households/{household_id}/months", headers={TOKEN_HEADER: token},
                timeout=TIMEOUT, retries=False,
            )  # fmt: skip
            answer = json.loads(response.data or b"null")
        except (urllib3.exceptions.HTTPError, ValueError):
            raise ApiError("CO2_UNAVAILABLE") from None
        if response.status != 200 or not isinstance(answer, dict) or not isinstance(answer.get("months"), list):
            raise ApiError("CO2_UNAVAILABLE", {"status": response.status})
        return list(answer["months"])


@dataclass(frozen=True)
class LinkView:
    """A resident's link as the API shows it (to them or to an officer)."""

    link: Co2Household
    member_code: str
    display_name: str | None


class Co2:
    def __init__(self, sessions: sessionmaker[DbSession], ledger: Ledger, settings: Co2Settings) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.settings = settings
        self.oracle = OracleClient(settings.oracle_url, settings.oracle_token_file)

    # -- the resident -------------------------------------------------------------------------
    def mine(self, user: User) -> Co2Household | None:
        """The resident's latest link (live, or the last one decided or withdrawn), or None."""
        with self.sessions() as db:
            return db.scalars(
                select(Co2Household)
                .where(Co2Household.user_id == user.id)
                .order_by(Co2Household.created_at.desc(), Co2Household.id)
                .limit(1)
            ).first()

    def enrol(self, user: User, household: str, consent: bool, consent_version: str) -> Co2Household:
        """Links ``household`` to the resident with the consent text's version and the time; the city decides."""
        household_id = household_id_of(household)
        if not consent:
            raise ApiError("CO2_CONSENT_REQUIRED")
        if consent_version != CONSENT["version"]:
            raise ApiError("CO2_CONSENT_OUTDATED", {"current_version": CONSENT["version"]})
        moment = now()
        link = Co2Household(
            id=str(uuid.uuid4()), user_id=user.id, household_id=household_id, meter_ids=[household_id],
            status=HouseholdStatus.PENDING, consent_version=CONSENT["version"], consented_at=moment,
            salt=secrets.token_hex(32), active_user=user.id, active_household=household_id, created_at=moment,
        )  # fmt: skip
        try:
            with self.sessions.begin() as db:
                self._refuse_taken(db, user.id, household_id)
                db.add(link)
                db.flush()
                db.add(self._action(link, user, "enrol", f"consent {CONSENT['version']}"))
        except IntegrityError:  # the same resident or household linked at the same moment by another request
            with self.sessions() as db:
                self._refuse_taken(db, user.id, household_id)
            raise ApiError("CO2_HOUSEHOLD_TAKEN") from None
        return link

    @staticmethod
    def _refuse_taken(db: DbSession, user_id: int, household_id: str) -> None:
        if db.scalar(select(Co2Household.id).where(Co2Household.active_user == user_id)) is not None:
            raise ApiError("CO2_ALREADY_ENROLLED")
        taken = select(Co2Household.id).where(Co2Household.active_household == household_id)
        meters = select(Co2Household.meter_ids).where(Co2Household.active_household.is_not(None))
        if db.scalar(taken) is not None or any(household_id in (m or []) for m in db.scalars(meters)):
            raise ApiError("CO2_HOUSEHOLD_TAKEN")

    def revoke(self, user: User) -> Co2Household:
        """Withdraws the resident's consent (pending or approved): no further month is settled for the household."""
        with self.sessions.begin() as db:
            link = db.scalars(select(Co2Household).where(Co2Household.active_user == user.id).with_for_update()).first()
            if link is None:
                raise ApiError("CO2_NOT_ENROLLED")
            link.status, link.revoked_at = HouseholdStatus.REVOKED, now()
            link.active_user = link.active_household = None
            db.add(self._action(link, user, "revoke", None))
            db.flush()
            db.expunge(link)
        return link

    def months(self, user: User) -> tuple[Co2Household | None, list[dict[str, Any]]]:
        """The resident's own household's settled months, newest first (none before the city approved it)."""
        link = self._settled_link(user)
        if link is None:
            return self.mine(user), []
        rows = self.oracle.months(link.household_id)
        points = self._points(user.address or "", rows)
        out = []
        for row in rows:
            month = int(row.get("month", 0))
            index = row.get("leaf_index")
            words = reason_words(row.get("reason"))
            out.append(
                {
                    "period": month, "month": f"{month // 100:04d}-{month % 100:02d}",
                    "programme_id": int(row.get("programme_id", 0)),
                    "consumption_wh": row.get("consumption_wh"), "baseline_wh": row.get("baseline_wh"),
                    "baseline_source": row.get("baseline_source") or "",
                    "reduction_wh": int(row.get("reduction_wh") or 0), "co2_g": int(row.get("co2_g") or 0),
                    "points": points.get((int(row.get("programme_id", 0)), (month << 32) | int(index)))
                    if index is not None else (0 if row.get("reason") or not row.get("co2_g") else None),
                    "reason": row.get("reason"),
                    "reason_text": None if words is None else words["text"],
                    "what_to_do": None if words is None else words["todo"],
                    "city": row.get("city"),
                }
            )  # fmt: skip
        return link, out

    def _settled_link(self, user: User) -> Co2Household | None:
        """The resident's latest link the city approved (still standing, or withdrawn since: its months stay theirs)."""
        with self.sessions() as db:
            return db.scalars(
                select(Co2Household)
                .where(
                    Co2Household.user_id == user.id,
                    Co2Household.decided_at.is_not(None),
                    Co2Household.status.in_((HouseholdStatus.APPROVED, HouseholdStatus.REVOKED)),
                )
                .order_by(Co2Household.decided_at.desc())
                .limit(1)
            ).first()

    def _points(self, address: str, rows: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
        """Points paid per (programme, claim id), from the programme's ``Attested`` events in the grants' blocks.

        The oracle records the blocks each settlement posted its grants in, so this reads a few
        blocks, not the chain. A ledger that cannot be asked leaves the points unknown (null).
        """
        found: dict[tuple[int, int], int] = {}
        wanted = {(int(r["programme_id"]), tuple(r["grant_blocks"])) for r in rows if r.get("grant_blocks")}
        if not wanted or not address:
            return found
        beneficiary = address_topic(address)
        try:
            contract = self.ledger.programmes.address
            for programme, (first, last) in wanted:
                topics: list[str | None] = [ATTESTED_TOPIC, "0x" + programme.to_bytes(32, "big").hex(), beneficiary]
                for log in self.ledger.logs(contract, int(first), int(last), topics):
                    claim = int.from_bytes(bytes(log["topics"][3]), "big")
                    data = bytes(log["data"])
                    found[(programme, claim)] = int.from_bytes(data[32:64], "big")
        except (Web3RPCError, ConnectionError, OSError, TimeoutError, ValueError):
            return {}
        return found

    # -- the city's desk ----------------------------------------------------------------------
    def listed(self, status: HouseholdStatus, limit: int = 100) -> list[LinkView]:
        with self.sessions() as db:
            rows = db.execute(
                select(Co2Household, User)
                .join(User, User.id == Co2Household.user_id)
                .where(Co2Household.status == status)
                .order_by(Co2Household.created_at)
                .limit(limit)
            ).all()
        return [LinkView(link, user.short_code, user.display_name) for link, user in rows]

    def approve(self, officer: User, link_id: str, meter_ids: list[str] | None) -> Co2Household:
        """Approves a pending link with the household's meters (default: the id the resident typed)."""
        meters = list(dict.fromkeys(household_id_of(m) for m in meter_ids)) if meter_ids else None
        with self.sessions.begin() as db:
            link = self._pending(db, link_id)
            chosen = meters or [link.household_id]
            others = db.scalars(
                select(Co2Household.meter_ids).where(
                    Co2Household.active_household.is_not(None), Co2Household.id != link.id
                )
            )
            clash = sorted({m for taken in others for m in (taken or [])} & set(chosen))
            if clash:
                raise ApiError("CO2_METER_TAKEN", {"meters": clash})
            link.meter_ids, link.status = chosen, HouseholdStatus.APPROVED
            link.decided_by, link.decided_at = officer.id, now()
            db.add(self._action(link, officer, "approve", ";".join(chosen)[:200]))
            db.flush()
            db.expunge(link)
        return link

    def reject(self, officer: User, link_id: str, reason: str) -> Co2Household:
        with self.sessions.begin() as db:
            link = self._pending(db, link_id)
            link.status, link.decision_reason = HouseholdStatus.REJECTED, reason
            link.decided_by, link.decided_at = officer.id, now()
            link.active_user = link.active_household = None
            db.add(self._action(link, officer, "reject", reason))
            db.flush()
            db.expunge(link)
        return link

    @staticmethod
    def _pending(db: DbSession, link_id: str) -> Co2Household:
        link = db.get(Co2Household, link_id, with_for_update=True)
        if link is None:
            raise ApiError("NOT_FOUND")
        if link.status != HouseholdStatus.PENDING:
            raise ApiError("CO2_NOT_PENDING", {"status": str(link.status)})
        return link

    def actions(self, link_id: str) -> list[Co2HouseholdAction]:
        with self.sessions() as db:
            return list(
                db.scalars(
                    select(Co2HouseholdAction)
                    .where(Co2HouseholdAction.household_link == link_id)
                    .order_by(Co2HouseholdAction.id)
                )
            )

    @staticmethod
    def _action(link: Co2Household, actor: User, action: str, detail: str | None) -> Co2HouseholdAction:
        return Co2HouseholdAction(
            household_link=link.id, at=now(), actor_id=actor.id, actor_role=str(actor.role), action=action,
            detail=detail,
        )  # fmt: skip

    # -- the oracle ---------------------------------------------------------------------------
    def check_service_token(self, given: str | None) -> None:
        expected = self.oracle.token()
        if expected is None:
            raise ApiError("CO2_UNAVAILABLE", {"reason": "no service token configured"})
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError("CO2_SERVICE_TOKEN_INVALID")

    def approved(self) -> list[dict[str, Any]]:
        """What the oracle settles: each approved household, its meters, the resident's address and the salt.

        Also the household's coarse district (issue 22: the oracle's per-district totals, no cell under 10
        households): the code the research feed shares for the resident (``research_attributes``, derived
        from the sealed record), "-" when none is derived yet or the resident opted out of research.
        """
        with self.sessions() as db:
            rows = db.execute(
                select(Co2Household, User.address, ResearchAttributes.district, ResearchPreference.opted_out)
                .join(User, User.id == Co2Household.user_id)
                .outerjoin(ResearchAttributes, ResearchAttributes.user_id == User.id)
                .outerjoin(ResearchPreference, ResearchPreference.user_id == User.id)
                .where(Co2Household.status == HouseholdStatus.APPROVED, Co2Household.active_household.is_not(None))
                .order_by(Co2Household.decided_at)
            ).all()
        return [
            {
                "household_id": link.household_id,
                "meter_ids": list(link.meter_ids),
                "address": address,
                "salt": link.salt,
                "district": "-" if opted_out or not district else district,
            }
            for link, address, district, opted_out in rows
            if address
        ]


__all__ = ["ACTIVE_STATUSES", "CONSENT", "REASONS", "Co2", "Co2Settings", "LinkView", "household_id_of"]
