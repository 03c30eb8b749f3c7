"""The residents' app (``/app/``), the merchants' till (``/till/``), the officers' desk
(``/officer/``) and the help coordinators' desk (``/coordinator/``): static pages over the JSON API.

Plain HTML, CSS and a little JavaScript, served by this service with a strict content
security policy (no inline script, nothing fetched from elsewhere). QR decoding in the
browser uses jsQR from npm (``node_modules/jsqr``), served from here as well.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from wallet_api.errors import ApiError

WEB = Path(__file__).resolve().parent.parent / "web"
STATIC = WEB / "static"
JSQR = Path(__file__).resolve().parents[2] / "node_modules" / "jsqr" / "dist" / "jsQR.js"
CSP = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; "
    "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    "Permissions-Policy": "camera=(self)",
}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(WEB / name, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/app/")


@router.get("/app/")
def resident_app() -> FileResponse:
    return _page("resident.html")


@router.get("/till/")
def merchant_till() -> FileResponse:
    return _page("till.html")


@router.get("/officer/")
def officer_desk() -> FileResponse:
    return _page("officer.html")


@router.get("/counter/")
def counter_desk() -> FileResponse:
    """The city counter (窓口): residents without a smartphone served by an officer, with the PIN pad."""
    return _page("counter.html")


@router.get("/coordinator/")
def coordinator_desk() -> FileResponse:
    """Help matching's desk for coordinators (社協, 民生委員) and counter officers."""
    return _page("coordinator.html")


@router.get("/{app}/manifest.webmanifest")
def manifest(app: str) -> FileResponse:
    if app not in ("app", "till"):
        raise ApiError("NOT_FOUND")
    return FileResponse(WEB / f"{app}.webmanifest", media_type="application/manifest+json")


@router.get("/{app}/sw.js")
def service_worker(app: str) -> FileResponse:
    """The service worker, served from the app's path so that its scope is the app."""
    if app not in ("app", "till"):
        raise ApiError("NOT_FOUND")
    return FileResponse(STATIC / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.get("/static/vendor/jsQR.js")
def jsqr() -> Response:
    if not JSQR.exists():
        return Response("jsQR is not installed: run `npm ci`", status_code=404, media_type="text/plain")
    return FileResponse(JSQR, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file():
        raise ApiError("NOT_FOUND")
    return FileResponse(path, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
