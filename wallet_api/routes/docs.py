"""The interactive API reference (``/docs``), served whole from this service.

FastAPI's own ``/docs`` loads Swagger UI from a CDN, so on the city's closed network the
page stayed blank. Here the page names only this service's URLs: Swagger UI's script,
stylesheet and icon come from npm's ``swagger-ui-dist`` (``node_modules``, installed by
``npm ci`` like jsQR), and the validator badge, which would ask an outside server, is off.
ReDoc (another CDN page) is not offered: ``/docs`` and ``/openapi.json`` are the reference.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from wallet_api.errors import ApiError

SWAGGER_UI = Path(__file__).resolve().parents[2] / "node_modules" / "swagger-ui-dist"
ASSETS = "/static/vendor/swagger-ui"
SERVED = {  # the files the page loads, and nothing else from the package
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Takasago wallet API",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get(ASSETS + "/{name}")
def swagger_ui_asset(name: str) -> Response:
    if name not in SERVED:
        raise ApiError("NOT_FOUND")
    path = SWAGGER_UI / name
    if not path.is_file():
        return Response("Swagger UI is not installed: run `npm ci`", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type=SERVED[name], headers={"Cache-Control": "max-age=86400"})
