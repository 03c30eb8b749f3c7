"""My CO2 (issue 21) through the wallet API on SQLite and PostgreSQL, with the real oracle and node: a resident
links their household with consent, withdraws it, the city approves by role (recorded), a resident sees only
their own household, every bad input is refused in Japanese and English with nothing changed; and the oracle
settles exactly the households the wallet approved (a pending or withdrawn one is not settled)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from oracle.generator import generate
from tests.co2_support import Settler, running_oracle, service_token
from tests.points import PointsSystem
from tests.wallet_support import (
    PASSWORD,
    Api,
    WalletServer,
    approve,
    error_code,
    member,
    officer,
    running_wallet,
    shared_points,
)

# the worker's shared chain (no deployment of its own); the wallets stay this module's own
# (each with its own oracle)
points = shared_points


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def co2(points: PointsSystem, tmp_path_factory: pytest.TempPathFactory, request: Any) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp(f"co2-{request.param}")
    oracle_dir = data / "oracle"
    oracle_dir.mkdir()
    token = service_token(data / "secrets")
    with running_oracle(oracle_dir, token) as oracle_url:
        env = {"TAKASAGO_WALLET_ORACLE_URL": oracle_url, "TAKASAGO_WALLET_ORACLE_TOKEN_FILE": str(token)}
        for wallet in running_wallet(points, data / "wallet", request.param, **env):
            yield {
                "wallet": wallet,
                "oracle": oracle_url,
                "oracle_dir": oracle_dir,
                "token": token,
                "db": request.param,
            }


def rows(wallet: WalletServer, query: str) -> list[Any]:
    url = wallet.database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(query)))
    finally:
        engine.dispose()


def enrol(api: Any, household: str, consent: bool = True, version: str | None = None, lang: str = "ja") -> Any:
    if version is None:
        version = api.get("/v1/co2/consent").json()["version"]
    body = {"household": household, "consent": consent, "consent_version": version}
    return api.client.post("/v1/me/co2/household", json=body, headers={**api.headers(), "Accept-Language": lang})


def test_enrol_with_consent_withdraw_and_every_bad_input_refused(co2: dict[str, Any]) -> None:
    wallet = co2["wallet"]
    resident, neighbour = member(wallet), member(wallet)
    consent = resident.get("/v1/co2/consent").json()
    assert consent["version"] and "同意" in consent["ja"] and "withdraw" in consent["en"]
    mine = resident.get("/v1/me/co2/household").json()
    assert mine["household"] is None and mine["consent"] == consent  # the text shown before linking

    # bad input of every kind: a clear refusal in both languages, nothing stored
    refusals = [
        (enrol(resident, "M-001", consent=False), "CO2_CONSENT_REQUIRED"),
        (enrol(resident, "M-001", version="1999-01"), "CO2_CONSENT_OUTDATED"),
        (enrol(resident, "メーター 1"), "CO2_HOUSEHOLD_INVALID"),
        (enrol(resident, "M/001"), "CO2_HOUSEHOLD_INVALID"),
        (enrol(resident, "x" * 65), "CO2_HOUSEHOLD_INVALID"),
        (resident.post("/v1/me/co2/household", {"household": "M-1", "consent": "yes", "consent_version": "x"}),
         "VALIDATION_ERROR"),
        (resident.post("/v1/me/co2/household", {"household": "M-1"}), "VALIDATION_ERROR"),
        (resident.post("/v1/me/co2/household/revoke"), "CO2_NOT_ENROLLED"),
    ]  # fmt: skip
    for response, code in refusals:
        assert response.status_code in (404, 409, 422) and error_code(response) == code, response.text
        messages = response.json()["error"]["messages"]
        assert messages["ja"] and messages["en"] and messages["ja"] != messages["en"]
    english = enrol(resident, "M-001", consent=False, lang="en").json()["error"]["message"]
    assert english.startswith("Please read the consent text")
    assert rows(wallet, "SELECT count(*) FROM co2_households")[0][0] == 0

    # linked with consent (full-width and spaces folded), waiting for the city
    meter = "M-" + resident.info["short_code"]
    linked = enrol(resident, f" {meter.replace('-', '－')} ")
    assert linked.status_code == 201, linked.text
    link = linked.json()
    assert link["household_id"] == meter and link["status"] == "pending"
    assert link["consent_version"] == consent["version"] and link["consented_at"]
    assert error_code(enrol(resident, "M-OTHER")) == "CO2_ALREADY_ENROLLED"
    assert error_code(enrol(neighbour, meter)) == "CO2_HOUSEHOLD_TAKEN"  # a household belongs to one resident
    assert neighbour.get("/v1/me/co2/household").json()["household"] is None  # and nobody sees another's
    assert neighbour.get("/v1/me/co2/months").json() == {"household": None, "months": []}

    # withdrawn from the same screen: the household is free again, the steps are recorded by role
    revoked = resident.post("/v1/me/co2/household/revoke")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked" and revoked.json()["revoked_at"]
    assert resident.get("/v1/me/co2/household").json()["household"]["status"] == "revoked"
    assert enrol(neighbour, meter).status_code == 201
    steps = rows(
        wallet,
        "SELECT a.action, a.actor_role FROM co2_household_actions a JOIN co2_households h ON h.id = a.household_link "
        f"WHERE h.household_id = '{meter}' ORDER BY a.id",
    )
    assert [tuple(s) for s in steps] == [("enrol", "resident"), ("revoke", "resident"), ("enrol", "resident")]


def test_the_city_approves_by_role_and_the_oracle_reads_only_with_its_token(co2: dict[str, Any]) -> None:
    wallet = co2["wallet"]
    resident, other, shop = member(wallet), member(wallet), member(wallet, "merchant", shop="高砂商店")
    desk = officer(wallet)
    meter, other_meter = "M-" + resident.info["short_code"], "M-" + other.info["short_code"]
    link = enrol(resident, meter).json()
    other_link = enrol(other, other_meter).json()
    pending = desk.get("/v1/officer/co2/households").json()
    mine = next(p for p in pending if p["id"] == link["id"])
    assert mine["member_code"] == resident.info["short_code"] and mine["household_id"] == meter

    # only officers decide: residents and shops are refused, nothing changes
    for api in (resident, shop):
        assert api.post(f"/v1/officer/co2/households/{link['id']}/approve").status_code == 403
        assert api.get("/v1/officer/co2/households").status_code == 403
    assert desk.post(f"/v1/officer/co2/households/{'0' * 36}/approve").status_code in (404, 422)
    bad = desk.post(f"/v1/officer/co2/households/{link['id']}/approve", {"meter_ids": ["bad meter!"]})
    assert error_code(bad) == "CO2_HOUSEHOLD_INVALID"
    assert error_code(desk.post(f"/v1/officer/co2/households/{link['id']}/reject", {"reason": ""})) == (
        "VALIDATION_ERROR"
    )
    assert resident.get("/v1/me/co2/household").json()["household"]["status"] == "pending"

    # approved with its meters (a meter swap: both), recorded with the officer and role
    approved = desk.post(f"/v1/officer/co2/households/{link['id']}/approve", {"meter_ids": [meter, meter + "-NEW"]})
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    assert approved.json()["meter_ids"] == [meter, meter + "-NEW"] and approved.json()["decided_at"]
    again = desk.post(f"/v1/officer/co2/households/{link['id']}/approve")
    assert error_code(again) == "CO2_NOT_PENDING" and again.json()["error"]["detail"]["status"] == "approved"
    clash = desk.post(f"/v1/officer/co2/households/{other_link['id']}/approve", {"meter_ids": [meter + "-NEW"]})
    assert error_code(clash) == "CO2_METER_TAKEN"  # a meter belongs to one household (the oracle refuses twice)
    refused = desk.post(f"/v1/officer/co2/households/{other_link['id']}/reject", {"reason": "計器番号が違います"})
    assert refused.json()["status"] == "rejected"
    assert other.get("/v1/me/co2/household").json()["household"]["decision_reason"] == "計器番号が違います"
    decided = rows(
        wallet,
        "SELECT a.action, a.actor_role, a.detail FROM co2_household_actions a "
        f"WHERE a.household_link IN ('{link['id']}', '{other_link['id']}') AND a.action <> 'enrol' ORDER BY a.id",
    )
    assert [tuple(d) for d in decided] == [
        ("approve", "officer", f"{meter};{meter}-NEW"),
        ("reject", "officer", "計器番号が違います"),
    ]
    decider = rows(
        wallet, f"SELECT u.login FROM co2_households h JOIN users u ON u.id = h.decided_by WHERE h.id = '{link['id']}'"
    )
    assert decider[0][0] == "officer1"

    # the oracle's list: the service token only; the approved household, its meters, address and salt
    url = wallet.url + "/v1/co2/oracle/households"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"X-Oracle-Service-Token": "wrong-token-wrong-token"}).status_code == 401
    token = co2["token"].read_text().strip()
    listed = httpx.get(url, headers={"X-Oracle-Service-Token": token}).json()["households"]
    entry = next(h for h in listed if h["household_id"] == meter)
    assert entry["meter_ids"] == [meter, meter + "-NEW"] and entry["address"] == resident.info["address"]
    assert len(entry["salt"]) == 64 and other_meter not in {h["household_id"] for h in listed}
    assert resident.get("/v1/me/co2/months").json()["months"] == []  # approved, nothing settled yet

    # the oracle's months of a household: its token only, never public
    months = f"{co2['oracle']}/v1/households/{meter}/months"
    assert httpx.get(months).status_code == 401
    assert httpx.get(months, headers={"X-Oracle-Service-Token": token}).json() == {"household_id": meter, "months": []}


def test_the_approved_households_are_what_the_oracle_settles(co2: dict[str, Any], points: PointsSystem) -> None:
    """A month settled from the wallet's list: the approved household earns; a pending one and a withdrawn one
    are not settled; the resident then sees kWh, CO2, points and the city's totals, and an excluded month's
    reason in plain words with what to do."""
    if co2["db"] != "sqlite":
        pytest.skip("the oracle's settlement is the same whatever the wallet's database (run once, on SQLite)")
    wallet, desk = co2["wallet"], officer(co2["wallet"])
    november = generate(3, 2026, 11, seed=71)
    october = generate(3, 2026, 10, seed=71, faults={0: {"gaps"}})
    approved, pending, withdrawn = (member(wallet) for _ in range(3))
    for resident, home in zip((approved, pending, withdrawn), november, strict=True):
        assert enrol(resident, home.meter_id).status_code == 201
    for resident in (approved, withdrawn):
        link = resident.get("/v1/me/co2/household").json()["household"]
        assert desk.post(f"/v1/officer/co2/households/{link['id']}/approve").status_code == 200
    assert withdrawn.post("/v1/me/co2/household/revoke").status_code == 200

    settler = Settler(points, co2["oracle_dir"], co2["token"], wallet.url)
    history = {h.meter_id: {"2025-11": h.true_wh + 40_000} for h in november}  # last November: 40 kWh more
    result = settler.settle("2026-11", november, history)
    assert result.returncode == 0, result.stdout + result.stderr
    # (the household approved in the test before has no readings: NO_READINGS)
    assert "1 with a reduction" in result.stdout and "accepted now" in result.stdout
    # 40,000 Wh × 350 g/kWh = 14,000 g → 140 points; the pending and withdrawn residents get nothing
    assert [points.balance(r.info["address"]) for r in (approved, pending, withdrawn)] == [140, 0, 0]
    unknown = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if "unknown meter" in line]
    assert len(unknown) == 2  # their meters' readings were set aside, as any meter not enrolled

    october_result = settler.settle("2026-10", october)
    assert october_result.returncode == 2 and "nothing to report" in october_result.stderr  # excluded: no grant
    months = approved.get("/v1/me/co2/months").json()["months"]
    assert [m["month"] for m in months] == ["2026-11", "2026-10"]
    counted, excluded = months
    assert counted["reduction_wh"] == 40_000 and counted["co2_g"] == 14_000 and counted["points"] == 140
    assert counted["baseline_wh"] == november[0].true_wh + 40_000 and counted["reason"] is None
    assert counted["city"]["co2_g"] == 14_000 and counted["city"]["households_verified"] == 1
    assert excluded["reason"] == "INCOMPLETE" and excluded["points"] == 0
    assert excluded["reason_text"]["ja"] == "計測データが不足していました（95 %未満）。"
    assert "95 %" in excluded["reason_text"]["en"] and excluded["what_to_do"]["en"].startswith("Keep the gateway")
    for resident in (pending, withdrawn):  # they see no month (one never approved, one withdrawn before)
        assert resident.get("/v1/me/co2/months").json()["months"] == []


def resident_in(wallet: WalletServer, postal_address: str) -> Any:
    """A verified resident whose sealed record gives this address (so the research feed's district)."""
    login = f"resident-{secrets.token_hex(4)}"
    body = {"login": login, "password": PASSWORD, "role": "resident", "full_name": "高砂 花子",
            "postal_address": postal_address, "date_of_birth": "1975-06-01"}  # fmt: skip
    assert httpx.post(wallet.url + "/v1/auth/signup", json=body, timeout=30).status_code == 201
    api = Api(wallet, login)
    assert api.login().status_code == 200
    api.info.update(api.me())
    approve(wallet, api)
    return api


def test_settle_publishes_the_households_by_district_folding_small_ones_into_other(
    co2: dict[str, Any], points: PointsSystem
) -> None:
    """Issue 22: a real ``takasago oracle settle`` from the wallet's list writes the per-district rows the oracle
    serves. Ten households in 荒井町 make a row; 伊保's 6 (under 10) and 曽根町's 4 are folded into "other" (10).
    Each saves 40,000 Wh (14,000 g at 350 g/kWh); the households approved by earlier tests have no readings."""
    if co2["db"] != "sqlite":
        pytest.skip("the oracle's settlement is the same whatever the wallet's database (run once, on SQLite)")
    wallet, desk = co2["wallet"], officer(co2["wallet"])
    places = ["兵庫県高砂市荒井町千鳥1-1-1"] * 10 + ["兵庫県高砂市伊保1-2-3"] * 6 + ["兵庫県高砂市曽根町4-5-6"] * 4
    homes = generate(len(places), 2026, 9, seed=93)

    def household(place: str, meter: str) -> None:
        resident = resident_in(wallet, place)
        assert enrol(resident, meter).status_code == 201
        assert resident.get("/v1/research/me").status_code == 200  # the shared district, derived from the record
        link = resident.get("/v1/me/co2/household").json()["household"]
        assert desk.post(f"/v1/officer/co2/households/{link['id']}/approve").status_code == 200

    if wallet.approver is None:
        wallet.approver = officer(wallet)
    with ThreadPoolExecutor(max_workers=10) as pool:  # twenty residents at once: their registrations share blocks
        list(pool.map(household, places, [h.meter_id for h in homes]))
    settler = Settler(points, co2["oracle_dir"], co2["token"], wallet.url)
    result = settler.settle("2026-09", homes, {h.meter_id: {"2025-09": h.true_wh + 40_000} for h in homes})
    assert result.returncode == 0, result.stdout + result.stderr
    expected = [
        {"district": "28216-0020", "households": 10, "reduction_wh": 400_000, "co2_g": 140_000},
        {"district": "other", "households": 10, "reduction_wh": 400_000, "co2_g": 140_000},
    ]
    written = co2["oracle_dir"] / "reports" / f"report-{settler.programme}-202609.districts.json"
    assert json.loads(written.read_text()) == {"min_households": 10, "districts": expected}
    public = httpx.get(f"{co2['oracle']}/v1/reports/{settler.programme}/202609").json()
    assert public["districts"] == expected and public["min_households"] == 10
    assert public["totals"]["co2_g"] == 280_000  # the rows add up to the city's total
    assert "28216-0030" not in json.dumps(public) and "M093" not in json.dumps(public)  # 伊保 folded; no meter


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_evidence_store_keeps_each_households_months(database: str, tmp_path: Any) -> None:
    """A re-settled month replaces its rows; the grants' blocks widen with each run that posted."""
    from oracle.evidence import EvidenceStore
    from tests.wallet_support import postgres_database

    url = f"sqlite:///{tmp_path / 'evidence.db'}" if database == "sqlite" else postgres_database()
    store = EvidenceStore(url)
    try:
        row = {"household_id": "H-1", "consumption_wh": 100_000, "baseline_wh": 120_000,
               "baseline_source": "same month of 2025", "reduction_wh": 20_000, "co2_g": 7_000, "reason": None,
               "leaf_index": 0}  # fmt: skip
        gone = {**row, "household_id": "H-2", "reason": "INCOMPLETE", "reduction_wh": 0, "co2_g": 0, "leaf_index": None}
        assert store.record_results(7, 202611, [row, gone]) == 2
        assert store.record_results(7, 202611, [row]) == 1  # settled again: H-2 is no longer in it
        totals = {"households_verified": 1, "households_excluded": 0, "reduction_wh": 20_000, "co2_g": 7_000}
        store.record_period(7, 202611, totals, None)
        store.record_period(7, 202611, totals, (40, 45))
        store.record_period(7, 202611, totals, (60, 61))
        (month,) = store.months_of("H-1")
        assert month["month"] == 202611 and month["co2_g"] == 7_000 and month["leaf_index"] == 0
        assert month["grant_blocks"] == [40, 61] and month["city"]["co2_g"] == 7_000
        assert store.months_of("H-2") == []
    finally:
        store.close()
