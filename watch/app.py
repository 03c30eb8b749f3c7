"""The watch service's HTTP side (issue 19): detectors' signed batches in; families' and volunteers' views.

``POST /v1/batches``: the body is the batch's exact bytes (``watch.batches``), the signature is
the ``X-Watch-Signature`` header (base64 Ed25519). The answer is the acknowledgement (how many
sightings were kept, how many were outside the city; never a ward) or a refusal with a stable
code and a message in Japanese and English. A resent batch gets its acknowledgement again.

``/v1/stats/…`` (issue 22) are for the city's data platform: aggregates only, behind a read-only
statistics token of their own (``X-Watch-Stats-Token``) that opens nothing else (``watch.stats``).

``/v1/families/…`` and ``/v1/volunteers/…`` are for residents, reached through the wallet, which
authenticates them and forwards the member code (``X-Watch-Member``) with the service token
(``X-Watch-Service-Token``, a 0600 file shared by the two services); without the token, nothing.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from watch import city, people, stats
from watch.batches import BatchRefused
from watch.settlement import minutes_so_far
from watch.store import WatchStore

log = logging.getLogger("watch")
MAX_BATCH_BYTES = 256 * 1024

# code → (HTTP status, English, Japanese)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "UNKNOWN_DEVICE": (401, "This device is not enrolled.", "この端末は登録されていません。"),
    "BAD_SIGNATURE": (401, "The signature does not match this device and batch.", "署名が端末とデータに一致しません。"),
    "DEVICE_DISABLED": (403, "This device has been disabled.", "この端末は停止されています。"),
    "REPLAYED": (409, "This batch number was already used.", "このバッチ番号は使用済みです。"),
    "MALFORMED": (422, "The batch is not in the expected form.", "バッチの形式が正しくありません。"),
    "FUTURE": (
        422,
        "The batch is dated in the future; check the device's clock.",
        "日時が未来です。端末の時計を確認してください。",
    ),
    "STALE": (422, "The batch holds sightings that are too old.", "古すぎる検知が含まれています。"),
    "BURST": (422, "More sightings than a detector can hear.", "検知の数が多すぎます。"),
    "IMPLAUSIBLE_SPEED": (422, "The device moved faster than possible.", "端末の移動が速すぎます。"),
    "TOO_LARGE": (413, f"A batch is at most {MAX_BATCH_BYTES} bytes.", f"バッチは最大 {MAX_BATCH_BYTES} バイトです。"),
    "NO_SIGNATURE": (401, "The X-Watch-Signature header is missing.", "X-Watch-Signature ヘッダーがありません。"),
    "CONSENT_REQUIRED": (
        422,
        "Record the ward's (or guardian's) consent first.",
        "ご本人（または保護者）の同意を記録してください。",
    ),
    "NOT_FOUND": (404, "Not found.", "見つかりません。"),
    "NOT_AUTHORISED": (401, "Only the city's services may call this.", "市のサービスのみ利用できます。"),
    "NOT_CONFIGURED": (
        503,
        "Families' and volunteers' access is not set up here.",
        "家族・ボランティア向けの機能は未設定です。",
    ),
    "DEVICE_EXISTS": (409, "This device is already enrolled.", "この端末は登録済みです。"),
    "TOO_MANY_DEVICES": (409, "No more detectors can be enrolled for you.", "これ以上端末を登録できません。"),
    "BAD_RULES": (422, "These rules are not valid.", "ルールの設定が正しくありません。"),
    "REASON_REQUIRED": (422, "Say why you open these sightings.", "閲覧の理由を入力してください。"),
    "SHARE_NOT_ALLOWED": (
        403,
        "The family did not allow sharing this alert outside the city.",
        "ご家族が市外への共有を許可していません。",
    ),
    "ALERT_CLEARED": (409, "This alert has been cleared.", "この警報は解除済みです。"),
    "BAD_MONTH": (
        422,
        "The month must be written YYYY-MM, e.g. 2026-11.",
        "月は YYYY-MM の形で指定してください（例: 2026-11）。",
    ),
    "STATS_NOT_AUTHORISED": (
        401,
        "Only the holder of the statistics token may read these statistics.",
        "統計用トークンの保有者のみ利用できます。",
    ),
    "STATS_NOT_CONFIGURED": (503, "Statistics are not set up here.", "統計の提供は未設定です。"),
}


def refusal(code: str, detail: str) -> JSONResponse:
    status, english, japanese = MESSAGES.get(code, (422, "Refused.", "受け付けられません。"))
    body = {"error": {"code": code, "message": japanese, "messages": {"ja": japanese, "en": english}, "detail": detail}}
    return JSONResponse(body, status_code=status)


def service(request: Request, x_watch_service_token: Annotated[str | None, Header(max_length=200)] = None) -> None:
    """The caller holds the service token (the wallet); no token, no access."""
    token: str | None = request.app.state.service_token
    if token is None:
        raise BatchRefused("NOT_CONFIGURED", "no service token configured")
    if not x_watch_service_token or not hmac.compare_digest(x_watch_service_token.encode(), token.encode()):
        raise BatchRefused("NOT_AUTHORISED", "a missing or wrong service token")


def resident(
    _service: Annotated[None, Depends(service)],
    x_watch_member: Annotated[str | None, Header(pattern=r"^[A-Za-z0-9._-]{1,64}$")] = None,
) -> str:
    """The resident the wallet authenticated, forwarded with the service token."""
    if not x_watch_member:
        raise BatchRefused("MALFORMED", "X-Watch-Member: the resident's member code")
    return x_watch_member.upper()


def officer(
    _service: Annotated[None, Depends(service)],
    x_watch_officer: Annotated[str | None, Header(pattern=r"^[A-Za-z0-9._@-]{1,64}$")] = None,
) -> str:
    """The officer the wallet authenticated (by role), forwarded with the service token; named in the trail."""
    if not x_watch_officer:
        raise BatchRefused("MALFORMED", "X-Watch-Officer: the officer's code")
    return x_watch_officer


def statistics(request: Request, x_watch_stats_token: Annotated[str | None, Header(max_length=200)] = None) -> None:
    """The caller holds the read-only statistics token (the data platform): aggregates only, nothing else."""
    token: str | None = request.app.state.stats_token
    if token is None:
        raise BatchRefused("STATS_NOT_CONFIGURED", "no statistics token configured")
    if not x_watch_stats_token or not hmac.compare_digest(x_watch_stats_token.encode(), token.encode()):
        raise BatchRefused("STATS_NOT_AUTHORISED", "a missing or wrong statistics token")


Member = Annotated[str, Depends(resident)]
Stats = Annotated[None, Depends(statistics)]
Officer = Annotated[str, Depends(officer)]
Service = Annotated[None, Depends(service)]
AlertId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]


class WardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consent: StrictBool


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    share_outside: StrictBool = False


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: Annotated[StrictStr, Field(min_length=40, max_length=64)]
    label: Annotated[StrictStr, Field(max_length=40)] = ""
    address: Annotated[StrictStr, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class WatchingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: StrictBool


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hours: Annotated[StrictStr, Field(min_length=3, max_length=100)]
    max_minutes_per_day: Annotated[StrictInt, Field(ge=1, le=1440)]
    programme_id: Annotated[StrictInt | None, Field(ge=1, le=2**63 - 1)] = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    granted_to: Annotated[StrictStr, Field(min_length=2, max_length=80)]
    hours: Annotated[StrictInt, Field(ge=1, le=72)] = 24


def create_watch_app(
    store: WatchStore, purge_seconds: float = 3600.0, service_token: str | None = None, stats_token: str | None = None
) -> FastAPI:
    if stats_token is not None and service_token is not None and hmac.compare_digest(stats_token, service_token):
        raise ValueError("the statistics token must differ from the service token (it opens aggregates only)")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if purge_seconds:

            def purge() -> None:
                while not stop.wait(purge_seconds):
                    try:
                        removed = store.purge(int(time.time()))
                        if removed:
                            log.info("retention: deleted %d sightings past %d days", removed, store.retention_days)
                    except Exception:  # noqa: BLE001 - the purge must outlive one bad pass
                        log.exception("retention purge failed")

            threading.Thread(target=purge, name="watch-retention", daemon=True).start()
        yield
        stop.set()
        store.close()

    app = FastAPI(title="Takasago watch-over", version="0.1.0", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.service_token = service_token
    app.state.stats_token = stats_token

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        return refusal("MALFORMED", f"{'.'.join(str(p) for p in first.get('loc', []))}: {first.get('msg', '')}")

    @app.exception_handler(people.NotFound)
    async def not_found(_request: Request, _exc: people.NotFound) -> JSONResponse:
        return refusal("NOT_FOUND", "")

    @app.exception_handler(BatchRefused)
    async def refused(_request: Request, exc: BatchRefused) -> JSONResponse:
        return refusal(exc.code, str(exc))

    @app.post("/v1/families/wards", status_code=201)
    def register_ward(body: WardIn, member: Member) -> dict[str, str]:
        """Registers a ward's tag; the secret is shown this once, to program the tag."""
        new = people.register(store, member, body.consent, int(time.time()))
        return {"ward": new.ward, "secret": new.secret.hex()}

    @app.get("/v1/families/wards")
    def my_wards(member: Member) -> list[dict[str, Any]]:
        return people.wards(store, member)

    @app.get("/v1/families/wards/{ward}/sightings")
    def ward_sightings(
        ward: Annotated[str, Path(max_length=36)], member: Member, hours: Annotated[int, Query(ge=1, le=720)] = 72
    ) -> list[dict[str, Any]]:
        """The ward's sightings of the last ``hours``, newest first (time and place to ~100 m)."""
        return people.sightings(store, member, ward, int(time.time()) - hours * 3600)

    @app.post("/v1/families/wards/{ward}/alert", status_code=201)
    def raise_alert(ward: Annotated[str, Path(max_length=36)], body: AlertIn, member: Member) -> dict[str, str]:
        """Raises a missing alert: volunteers nearby see the description, never who it is."""
        return {
            "alert": people.raise_alert(store, member, ward, body.description, int(time.time()), body.share_outside)
        }

    @app.delete("/v1/families/wards/{ward}/alert", status_code=204)
    def clear_alert(ward: Annotated[str, Path(max_length=36)], member: Member) -> Response:
        people.clear_alert(store, member, ward, int(time.time()))
        return Response(status_code=204)

    @app.get("/v1/families/wards/{ward}/events")
    async def ward_events(ward: Annotated[str, Path(max_length=36)], member: Member) -> StreamingResponse:
        """New sightings of the ward as they arrive (server-sent events; checked every second)."""
        people.sightings(store, member, ward, 0)  # refuses another family's ward before streaming

        async def stream() -> AsyncIterator[bytes]:
            since = int(time.time()) - 60
            seen: set[int] = set()
            yield b": watching\n\n"
            while True:
                rows = await run_in_threadpool(people.sightings, store, member, ward, since)
                for row in reversed(rows):
                    key = hash((row["at"], row["lat"], row["lon"]))
                    if key not in seen:
                        seen.add(key)
                        yield f"data: {json.dumps(row)}\n\n".encode()
                await asyncio.sleep(1)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.get("/v1/volunteers/notices")
    def volunteer_notices(member: Member) -> list[dict[str, Any]]:
        """Missing alerts near where my detectors last reported (description and rough place only)."""
        return people.notices(store, member, int(time.time()))

    @app.get("/v1/volunteers/days")
    def volunteer_days(member: Member) -> list[dict[str, Any]]:
        """My settled days: watch minutes, points, and why a day earned nothing."""
        return people.volunteer_days(store, member)

    @app.post("/v1/volunteers/devices", status_code=201)
    def enrol_device(body: DeviceIn, member: Member) -> dict[str, str]:
        """Enrols my detector's public key (the phone app makes the key pair); the device id it signs batches as."""
        return {"device": people.enrol(store, member, body.address, body.public_key, body.label, int(time.time()))}

    @app.get("/v1/volunteers/devices")
    def my_devices(member: Member) -> list[dict[str, Any]]:
        return people.devices(store, member)

    @app.put("/v1/volunteers/devices/{device}/watching", status_code=204)
    def set_watching(
        device: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")], body: WatchingIn, member: Member
    ) -> Response:
        """Watch mode on or off (off: sightings still reach families, but the time earns no points)."""
        people.set_watching(store, member, device, body.on)
        return Response(status_code=204)

    @app.delete("/v1/volunteers/devices/{device}", status_code=204)
    def retire_device(device: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")], member: Member) -> Response:
        """Disables a lost or replaced detector for good."""
        people.retire(store, member, device)
        return Response(status_code=204)

    @app.get("/v1/volunteers/today")
    def today(member: Member) -> dict[str, Any]:
        """Today's active watch minutes so far, counted as settlement will count them, and the city's hours."""
        rules, _programme = city.current_rules(store)
        now = int(time.time())
        return {"minutes": minutes_so_far(store, member, now, rules), "max_minutes": rules.max_minutes_per_day,
                "hours": [list(h) for h in rules.hours]}  # fmt: skip

    @app.get("/v1/city/alerts")
    def city_alerts(officer: Officer, days: Annotated[int, Query(ge=1, le=90)] = 7) -> list[dict[str, Any]]:
        """Open alerts, and those cleared in the last ``days`` (this reading is recorded)."""
        return city.alerts(store, officer, int(time.time()), days)

    @app.post("/v1/city/alerts/{alert}/sightings")
    def city_alert_sightings(alert: AlertId, body: ReasonIn, officer: Officer) -> dict[str, Any]:
        """One alert's sightings (from 6 h before it was raised until cleared), opened with a reason (recorded)."""
        return city.alert_sightings(store, officer, alert, body.reason, int(time.time()))

    @app.post("/v1/city/alerts/{alert}/shares", status_code=201)
    def city_share(alert: AlertId, body: ShareIn, officer: Officer) -> dict[str, Any]:
        """Shares an alert's sightings with someone the family allowed (the police); the token is shown once."""
        return city.share(store, officer, alert, body.granted_to, body.hours, int(time.time()))

    @app.get("/v1/city/coverage")
    def city_coverage(officer: Officer, days: Annotated[int, Query(ge=1, le=90)] = 7) -> dict[str, Any]:
        """Volunteers watching each district at each hour (cells under 10 people are not published)."""
        return city.coverage(store, officer, int(time.time()), days)

    @app.get("/v1/city/rules")
    def city_rules(_officer: Officer) -> dict[str, Any]:
        return city.rules_view(store)

    @app.put("/v1/city/rules")
    def city_set_rules(body: RulesIn, officer: Officer) -> dict[str, Any]:
        """The watch hours, the daily cap and the reward programme for the days settled from now on."""
        return city.set_rules(store, officer, body.hours, body.max_minutes_per_day, body.programme_id,
                              int(time.time()))  # fmt: skip

    @app.get("/v1/city/trail")
    def city_trail(_officer: Officer, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
        """Who opened or changed what on the city's side, newest first."""
        return city.trail(store, limit)

    @app.get("/v1/service/alerts/{alert}/nearby")
    def alert_nearby(alert: AlertId, _service: Service) -> dict[str, list[str]]:
        """For the wallet only: which volunteers to notify of this open alert (member codes; never to a family)."""
        return {"members": people.nearby_members(store, alert, int(time.time()))}

    @app.get("/v1/shared/{token}")
    def shared(token: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")], _service: Service) -> dict[str, Any]:
        """A shared alert's sightings for its holder (e.g. the police), until it expires or the alert is cleared."""
        return city.shared(store, token, int(time.time()))

    @app.get("/v1/stats/months")
    def stats_months(_stats: Stats) -> dict[str, list[str]]:
        """For the data platform: the JST months that hold coverage data, oldest first."""
        return {"months": stats.months(store)}

    @app.get("/v1/stats/coverage")
    def stats_coverage(_stats: Stats, month: Annotated[str, Query(max_length=20)]) -> dict[str, Any]:
        """For the data platform: a month's coverage by district and school hours, aggregates only (no cell under
        10 people published, complementary suppression at source)."""
        return stats.coverage(store, month, int(time.time()))

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/batches")
    async def batches(
        request: Request,
        x_watch_signature: Annotated[str | None, Header(max_length=200)] = None,
    ) -> JSONResponse:
        """A detector's signed batch of sightings (docs/watch-over.md)."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BATCH_BYTES:
                return refusal("TOO_LARGE", f"more than {MAX_BATCH_BYTES} bytes")
        if not x_watch_signature:
            return refusal("NO_SIGNATURE", "")
        try:
            ack = await run_in_threadpool(store.ingest, body, x_watch_signature, int(time.time()))  # off the loop
        except BatchRefused as exc:
            log.info("batch refused: %s", exc.code)  # the device and the reason only; never ids or positions
            return refusal(exc.code, str(exc))
        return JSONResponse(ack.as_json())

    return app
