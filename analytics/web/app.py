"""The platform's pages: ``/`` (overview), one page per area, ``/logic-model/{service}``, ``/officer``
(district drill-down behind the officers' token) and ``/csv/{chart}.csv`` behind every chart.

Pages read only :class:`analytics.publish.Published` (figures after the k-rule) from memory. Bad
input is answered with a 400/404 page in both languages, never a stack trace.
"""

from __future__ import annotations

import csv
import io
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from analytics import privacy
from analytics.census import districts
from analytics.publish import Published
from analytics.service import Service
from analytics.web import charts, svg
from analytics.web.texts import t

STYLE = """body{font-family:system-ui,'Noto Sans JP',sans-serif;margin:0;color:#222}
header{background:#1b6ca8;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.3rem}
.scroll{overflow-x:auto;max-width:100%}header a{color:#fff;margin-right:.8rem}
main{padding:1rem;max-width:1100px}table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
td,th{border:1px solid #ccc;padding:.2rem .4rem;text-align:right}th:first-child,td:first-child{text-align:left}
.note{color:#555;font-size:.85rem}.lm{display:grid;grid-template-columns:repeat(5,1fr);gap:.5rem}
.lm div{border:1px solid #1b6ca8;border-radius:6px;padding:.4rem}.lm h3{margin:.1rem 0;font-size:.95rem}
figure{margin:1rem 0}@media(max-width:700px){.lm{grid-template-columns:1fr}table{font-size:.75rem}}"""
CSP = "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'"
NAV = ["circulation", "participation", "decarbonisation", "mutual-aid", "wellbeing", "logic-model", "officer"]
LOGIC_MODELS = ["decarbonisation", "circulation", "mutual-aid"]
Lang = Annotated[str | None, Query(pattern="^(ja|en)$")]


def language(request: Request, lang: str | None) -> str:
    chosen = lang or request.cookies.get("lang") or "ja"
    return chosen if chosen in ("ja", "en") else "ja"


def cell(value: Any) -> str:
    if value is None:
        return "×"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))


def frame(title: str, body: str, lang: str, service: Service, path: str = "/") -> HTMLResponse:
    other = "en" if lang == "ja" else "ja"
    nav = "".join(f'<a href="/{page}">{t(page, lang)}</a>' for page in NAV)
    published = service.platform.published
    k = published.k if published else service.platform.settings.k
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} — {t('title', lang)}</title><style>{STYLE}</style></head><body>"
        f'<header><a href="/"><b>{t("title", lang)}</b></a>{nav}<a href="{escape(path)}?lang={other}">'
        f"{'English' if lang == 'ja' else '日本語'}</a></header><main><h1>{escape(title)}</h1>"
        f'<p class="note">{t("k_note", lang).format(k=k)}</p>{body}</main></body></html>'
    )
    response = HTMLResponse(html, headers={"Content-Security-Policy": CSP})
    response.set_cookie("lang", lang, samesite="lax")
    return response


def figure(chart: charts.Chart, lang: str) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in chart.columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in chart.rows)
    if not chart.rows:
        return f"<h2>{escape(chart.title)}</h2><p>{t('no_data', lang)}</p>"
    return (
        f'<figure id="{chart.id}"><h2>{escape(chart.title)}</h2>{chart.drawing}'
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
        f'<a href="/csv/{chart.id}.csv?lang={lang}">{t("csv", lang)}</a></figure>'
    )


def refusal(status: int, key: str, detail: str, lang: str = "ja") -> HTMLResponse:
    body = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{status}</title></head><body>'
        f"<h1>{status} {t(key, 'ja')} / {t(key, 'en')}</h1><p>{escape(detail)}</p>"
        '<p><a href="/">トップへ / Home</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": CSP})


def create_app(service: Service, lifespan: Any = None) -> FastAPI:
    """The pages over ``service``; ``lifespan`` (the ASGI entry point's) runs the refresher beside them."""
    app = FastAPI(title="Takasago data platform", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.service = service

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> HTMLResponse:
        names = ", ".join(str(e["loc"][-1]) for e in exc.errors())
        return refusal(400, "bad_request", f"{names}: 値を確認してください / check the value")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        key = {404: "not_found", 403: "forbidden"}.get(exc.status_code, "bad_request")
        return refusal(exc.status_code, key, str(exc.detail))

    def published() -> Published:
        if service.platform.published is None:
            service.platform.recompute()
        assert service.platform.published is not None
        return service.platform.published

    @app.get("/health")
    def health() -> JSONResponse:
        p = service.platform
        return JSONResponse({"ok": True, "last_block": p.last_block, "refreshed_at": p.refreshed_at,
                             "errors": p.errors})  # fmt: skip

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request, lang: Lang = None) -> HTMLResponse:
        lg = language(request, lang)
        p = published()
        links = "".join(f'<li><a href="/{page}">{t(page, lg)}</a></li>' for page in NAV)
        latest = p.velocity[-1] if p.velocity else None
        head = ""
        if latest and not latest.get("suppressed"):
            head = (
                f"<p>{latest['month']}: {t('spending', lg)} {cell(latest.get('spending'))} pt · "
                f"{t('velocity', lg)} {cell(latest.get('velocity'))}</p>"
            )
        return frame(t("home", lg), head + f"<ul>{links}</ul>", lg, service, "/")

    @app.get("/logic-model", response_class=HTMLResponse)
    def logic_models(request: Request, lang: Lang = None) -> HTMLResponse:
        lg = language(request, lang)
        links = "".join(f'<li><a href="/logic-model/{s}">{t(s, lg)}</a></li>' for s in LOGIC_MODELS)
        return frame(t("logic-model", lg), f"<ul>{links}</ul>", lg, service, "/logic-model")

    @app.get("/logic-model/{name}", response_class=HTMLResponse)
    def logic_model(request: Request, name: str, lang: Lang = None) -> HTMLResponse:
        lg = language(request, lang)
        if name not in LOGIC_MODELS:
            raise HTTPException(404, f"{name}: no such logic model / そのロジックモデルはありません")
        columns = logic_model_columns(published(), name, lg)
        body = (
            '<div class="lm">'
            + "".join(
                f"<div><h3>{t(stage, lg)}</h3>"
                + "".join(
                    f"<p>{escape(label)}<br><b>{cell(values[-1] if values else None)}</b>"
                    f"<br>{svg.sparkline(values)}</p>"
                    for label, values in kpis
                )
                + "</div>"
                for stage, kpis in columns
            )
            + "</div>"
        )
        return frame(f"{t('logic-model', lg)}: {t(name, lg)}", body, lg, service, f"/logic-model/{name}")

    @app.get("/officer", response_class=HTMLResponse)
    def officer(request: Request, district: str | None = None, lang: Lang = None) -> HTMLResponse:
        lg = language(request, lang)
        if not service.officer_allowed(request.cookies.get("officer")):
            form = (
                f'<form method="post" action="/officer/sign-in"><label>{t("token", lg)} '
                f'<input name="token" type="password" required maxlength="200"></label> '
                f"<button>{t('sign_in', lg)}</button></form>"
            )
            return frame(t("officer", lg), form, lg, service, "/officer")
        codes = [d["code"] for d in districts()]
        if district is not None and district not in codes:
            raise HTTPException(400, f"{district}: unknown district / 地区コードが正しくありません")
        picker = "".join(f'<a href="/officer?district={c}">{escape(charts.district_name(c, lg))}</a> ' for c in codes)
        body = f"<p>{picker}</p>"
        if district:
            body += "".join(figure(c, lg) for c in charts.officer_district(published(), lg, district))
        return frame(t("officer", lg), body, lg, service, "/officer")

    @app.post("/officer/sign-in")
    async def sign_in(request: Request) -> Response:
        # a plain urlencoded form, read by hand (no multipart parser needed for one field)
        body = await request.body()
        if len(body) > 1024:
            return refusal(400, "bad_request", "the form is too long / 入力が長すぎます")
        token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0]
        if not service.officer_allowed(token):
            return refusal(403, "forbidden", "the token is not right / トークンが違います")
        response = RedirectResponse("/officer", status_code=303)
        response.set_cookie("officer", token, httponly=True, samesite="strict")
        return response

    @app.get("/csv/{name}.csv")
    def csv_export(request: Request, name: str, lang: Lang = None) -> Response:
        lg = language(request, lang)
        found = find_chart(published(), name, lg, request.cookies.get("officer"))
        if found is None:
            raise HTTPException(404, f"{name}: no such chart / そのグラフはありません")
        out = io.StringIO()
        out.write("\ufeff")  # Excel reads UTF-8 only with a BOM
        writer = csv.writer(out)
        writer.writerow(found.columns)
        writer.writerows([["" if v is None else v for v in row] for row in found.rows])
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip

    @app.get("/{page}", response_class=HTMLResponse)
    def area(request: Request, page: str, lang: Lang = None) -> HTMLResponse:
        lg = language(request, lang)
        builder = charts.PAGES.get(page)
        if builder is None:
            raise HTTPException(404, f"{page}: no such page / そのページはありません")
        body = "".join(figure(c, lg) for c in builder(published(), lg)) or f"<p>{t('no_data', lg)}</p>"
        return frame(t(page, lg), body, lg, service, f"/{page}")

    def find_chart(p: Published, name: str, lg: str, token: str | None) -> charts.Chart | None:
        for builder in charts.PAGES.values():
            for chart in builder(p, lg):
                if chart.id == name:
                    return chart
        if name.startswith("officer-") and service.officer_allowed(token):
            for d in districts():
                for chart in charts.officer_district(p, lg, d["code"]):
                    if chart.id == name:
                        return chart
        return None

    return app


def logic_model_columns(p: Published, name: str, lang: str) -> list[tuple[str, list[tuple[str, list[Any]]]]]:
    """Each stage (inputs → activities → outputs → outcomes → impact) with its KPIs' monthly series."""

    def col(rows: list[dict[str, Any]], key: str, scale: float = 1) -> list[Any]:
        return [None if r.get(key) is None else round(r[key] * scale, 3) for r in rows]

    wellbeing = []
    for year in sorted(p.wellbeing):
        table = p.wellbeing[year].get("life_satisfaction")
        total = table.shown(privacy.TOTAL, privacy.TOTAL, "score_sum") if table else None
        people = table.shown(privacy.TOTAL, privacy.TOTAL) if table else None
        wellbeing.append(round(total / people, 2) if total is not None and people else None)
    impact = [(t("life_satisfaction", lang), wellbeing)]
    active = [p.participation[m].shown(privacy.TOTAL, privacy.TOTAL) for m in sorted(p.participation)]
    if name == "decarbonisation":
        d = p.decarbonisation
        return [
            ("inputs", [(t("points", lang), col(d, "points"))]),
            ("activities", [(t("households", lang), col(d, "households"))]),
            ("outputs", [(t("kwh", lang), col(d, "wh", 0.001))]),
            ("outcomes", [(t("co2_t", lang), col(d, "grams", 1e-6)), (t("points_per_tonne", lang),
                                                                        col(d, "points_per_tonne"))]),
            ("impact", impact),
        ]  # fmt: skip
    if name == "circulation":
        issued = [p.circulation["issued"].shown(m, privacy.TOTAL, "points") for m in p.months]
        return [
            ("inputs", [(t("issued", lang), issued)]),
            ("activities", [(t("active", lang), active), (t("merchants_active", lang), col(p.merchants, "people"))]),
            ("outputs", [(t("spending", lang), col(p.velocity, "spending"))]),
            ("outcomes", [(t("velocity", lang), col(p.velocity, "velocity")),
                          (t("lm3", lang), col(p.multiplier, "lm3")), (t("hops_points", lang), col(p.hops, "points"))]),
            ("impact", impact),
        ]  # fmt: skip
    m = p.mutual_aid
    return [
        ("inputs", [(t("posted", lang), col(m, "posted"))]),
        ("activities", [(t("matched", lang), col(m, "matched"))]),
        ("outputs", [(t("completed", lang), col(m, "completed"))]),
        ("outcomes", [(t("median_hours_to_match", lang), col(m, "median_hours_to_match"))]),
        ("impact", impact),
    ]
