"""The explorer's web app: pages (Japanese/English), CSV exports and the Etherscan-compatible API.

Pages are rendered on the server (Jinja2), charts are inline SVG, and no script runs in
the browser. Every listing has a CSV twin. Bad input gets a friendly 400 or 404 page
(or an Etherscan-style ``status: "0"`` answer on ``/api``), never a 500.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import threading
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import is_hex_address, keccak, to_checksum_address
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexer import queries
from indexer.decode import ZERO
from indexer.labels import short
from ledger_client.rpc import NodeUnavailable, Rpc, RpcError
from indexer.web.etherscan import etherscan_api
from indexer.web.texts import SENTENCES, TEXTS

log = logging.getLogger("indexer.web")
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
BALANCE_OF = "0x" + keccak(text="balanceOf(address)")[:4].hex()
BUCKETS_OF = "0x" + keccak(text="bucketsOf(address)")[:4].hex()
CSP = (
    "default-src 'self'; style-src 'self'; img-src 'self' data:; script-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class BadInput(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def page_number(value: str | None) -> int:
    if value is None or value == "":
        return 1
    if not value.isdigit() or not 1 <= int(value) <= queries.MAX_PAGE:
        raise BadInput(f"page must be a whole number from 1 to {queries.MAX_PAGE}")
    return int(value)


def date_range(start: str | None, end: str | None) -> queries.TimeRange:
    """``from``/``to`` as JST dates (YYYY-MM-DD, ``to`` inclusive); None when neither is given."""
    if not start and not end:
        return None

    def day(value: str, name: str) -> datetime:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise BadInput(f"{name} must be a date, YYYY-MM-DD")
        try:
            return datetime.fromisoformat(value).replace(tzinfo=queries.JST)
        except ValueError:
            raise BadInput(f"{name} {value} is not a real date") from None

    low = day(start, "from") if start else datetime(2000, 1, 1, tzinfo=queries.JST)
    high = day(end, "to") if end else datetime(2999, 12, 31, tzinfo=queries.JST)
    if high < low:
        raise BadInput("the date range ends before it starts")
    return int(low.timestamp()), int(high.timestamp()) + 86400


def address_param(value: str) -> str:
    if not is_hex_address(value):
        raise BadInput("not an address (0x followed by 40 hex digits)")
    return to_checksum_address(value)


class Explorer:
    """What the pages need: the database, the node (optional reads), labels."""

    def __init__(
        self, sessions: sessionmaker[Session], rpc: Rpc, labels: dict[str, str], deployment: dict[str, str]
    ) -> None:
        self.sessions = sessions
        self.rpc = rpc
        self.labels = labels
        self.contracts: dict[str, str] = {str(to_checksum_address(a)): n for n, a in deployment.items()}
        self._kinds = queries.AccountKinds()
        self._home: tuple[tuple[int, str, int] | None, dict[str, Any]] = (None, {})
        self._home_lock = threading.Lock()

    def kinds(self, db: Session) -> dict[str, tuple[str, str]]:
        """The registry's kinds and statuses, brought up to date with the events indexed since the last view."""
        return self._kinds.get(db)

    def home_figures(self, db: Session) -> dict[str, Any]:
        """The home page's aggregates (supply, today, 30-day series, CO2), computed once per indexed head and day.

        On a live chain many views share a head; each aggregate is one grouped SQL query.
        """
        cp = queries.head(db)
        at = (cp.block_number, cp.block_hash, queries.jst_day_start()) if cp is not None else None
        with self._home_lock:
            cached_at, figures = self._home
            if at is not None and at == cached_at:
                return figures
            figures = {
                "supply": queries.supply(db),
                "today": queries.today(db),
                "series": queries.daily_series(db),
                "co2": queries.co2_reports(db),
            }
            self._home = (at, figures)
            return figures

    def name(self, address: str | None, kinds: dict[str, tuple[str, str]], lang: str) -> str:
        if not address or address == ZERO:
            return "—"
        if address in self.contracts:
            return self.contracts[address]
        kind = kinds.get(address, ("account", ""))[0]
        label = self.labels.get(address)
        words = TEXTS[lang]
        return f"{words.get(kind, kind)} {label}" if label else f"{words.get(kind, kind)} {short(address)}"

    def finality(self, number: int) -> dict[str, Any] | None:
        """What makes the block final, as the node proves it (QBFT commit certificate), for the block page."""
        if number == 0:
            return None
        try:
            validators = self.rpc.call("qbft_getValidatorsByBlockNumber", hex(number))
            certificate = self.rpc.call("takasago_getCommitCertificate", hex(number))
        except (NodeUnavailable, RpcError, ValueError):
            return {"kind": "unknown"}
        if certificate is None:
            return {"kind": "single" if len(validators) == 1 else "unknown"}
        return {
            "kind": "quorum",
            "signers": certificate["signers"],
            "validators": len(validators),
            "round": int(certificate["round"], 16),
        }

    def points_on_node(self, token: str, address: str) -> tuple[int, list[tuple[int, int]]]:
        """Unexpired balance and expiry buckets of ``address``, read from the node (not the index)."""
        argument = address[2:].lower().rjust(64, "0")
        balance = int(self.rpc.call("eth_call", {"to": token, "data": BALANCE_OF + argument}, "latest"), 16)
        raw = self.rpc.call("eth_call", {"to": token, "data": BUCKETS_OF + argument}, "latest")
        expires, amounts = abi_decode(["uint256[]", "uint256[]"], bytes.fromhex(raw[2:]))
        return balance, list(zip(expires, amounts, strict=True))

    def sentence(self, movement: Any, kinds: dict[str, tuple[str, str]], lang: str) -> str:
        template = SENTENCES[lang].get(movement.kind, SENTENCES[lang]["transfer"])
        return template.format(
            **{
                "from": self.name(movement.from_address, kinds, lang),
                "to": self.name(movement.to_address, kinds, lang),
            },
            amount=f"{movement.amount:,}",
        )


def csv_response(name: str, header: list[str], rows: Iterable[Iterable[Any]]) -> StreamingResponse:
    def generate() -> Iterable[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return StreamingResponse(generate(), media_type="text/csv; charset=utf-8", headers=headers)


def bar_chart(values: list[int], labels: list[str], height: int = 140) -> str:
    """An inline SVG bar chart (no script, no external asset)."""
    width, top = 600, max(values + [1])
    step = width / max(len(values), 1)
    bars = []
    for i, value in enumerate(values):
        h = round(value / top * (height - 20))
        x = round(i * step + 2, 1)
        bars.append(
            f'<rect x="{x}" y="{height - 16 - h}" width="{max(step - 4, 1):.1f}" height="{h}" class="bar">'
            f"<title>{labels[i]}: {value:,}</title></rect>"
        )
    ticks = "".join(
        f'<text x="{round(i * step + step / 2, 1)}" y="{height - 2}" class="tick">{labels[i]}</text>'
        for i in range(0, len(labels), max(1, len(labels) // 6))
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" role="img" class="chart" preserveAspectRatio="none">'
        f'{"".join(bars)}{ticks}<text x="4" y="12" class="tick">max {top:,}</text></svg>'
    )


def create_explorer(
    sessions: sessionmaker[Session],
    rpc: Rpc,
    labels: dict[str, str],
    deployment: dict[str, str],
    follower: Any | None = None,
) -> FastAPI:
    explorer = Explorer(sessions, rpc, labels, deployment)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        thread = None
        if follower is not None:
            from indexer.follower import follow_forever

            ws_url = "ws" + rpc.url.removeprefix("http")
            thread = threading.Thread(target=follow_forever, args=(follower, ws_url, stop), name="indexer", daemon=True)
            thread.start()
        yield
        stop.set()
        if thread is not None:
            thread.join(timeout=10)

    app = FastAPI(
        title="Takasago Points explorer",
        version="1.0.0",
        description="Pages, CSV exports and an Etherscan-compatible API over the indexed ledger.",
        lifespan=lifespan,
    )
    app.state.explorer = explorer

    def lang_of(request: Request) -> str:
        wanted = request.query_params.get("lang") or request.cookies.get("lang") or ""
        return "en" if wanted == "en" else "ja"

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        lang = lang_of(request)
        with sessions() as db:
            cp = queries.head(db)
        words = TEXTS[lang]
        response = templates.TemplateResponse(
            request,
            template,
            {
                "t": words,
                "lang": lang,
                "other_lang": "en" if lang == "ja" else "ja",
                "indexed": cp.block_number if cp else None,
                "short": short,
                "when": lambda ts: datetime.fromtimestamp(ts, queries.JST).strftime("%Y-%m-%d %H:%M:%S"),
                "kind_word": lambda k: words.get(f"kind_{k}", k),
                **context,
            },
            status_code=status,
        )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.query_params.get("lang") in ("ja", "en"):
            response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax")
        return response

    @app.exception_handler(BadInput)
    async def bad_input(request: Request, exc: BadInput) -> Response:
        if request.url.path.endswith(".csv"):
            return JSONResponse({"error": exc.message}, status_code=400)
        return render(request, "error.html", 400, heading=TEXTS[lang_of(request)]["bad_request"], message=exc.message)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return render(request, "error.html", 404, heading=TEXTS[lang_of(request)]["not_found"], message=exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code if 400 <= exc.status_code < 500 else 400
        heading = TEXTS[lang_of(request)]["not_found" if status == 404 else "bad_request"]
        return render(request, "error.html", status, heading=heading, message=str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
        return render(request, "error.html", 500, heading="500", message="unexpected error")

    # -- pages ----------------------------------------------------------------------------
    @app.get("/static/explorer.css", include_in_schema=False)
    def stylesheet() -> Response:
        return Response(
            (STATIC / "explorer.css").read_bytes(), media_type="text/css", headers={"Cache-Control": "max-age=3600"}
        )

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        with sessions() as db:
            cp = queries.head(db)
        return {"status": "ok", "indexed_block": cp.block_number if cp else None}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        with sessions() as db:
            kinds = explorer.kinds(db)
            figures = explorer.home_figures(db)
            series, co2 = figures["series"], figures["co2"]
            context: dict[str, Any] = {
                "supply": figures["supply"],
                "today": figures["today"],
                "blocks": queries.latest_blocks(db),
                "txs": queries.latest_transactions(db),
                "daily_chart": bar_chart([d["transactions"] for d in series], [d["day"] for d in series]),
                "circulation_chart": bar_chart([d["circulating"] for d in series], [d["day"] for d in series]),
                "co2_chart": bar_chart([r["units"] for r in co2][-24:], [str(r["period"]) for r in co2][-24:])
                if co2
                else None,
            }
        return render(request, "home.html", name=lambda a: explorer.name(a, kinds, lang_of(request)), **context)

    @app.get("/blocks", response_class=HTMLResponse, include_in_schema=False)
    def blocks(request: Request, page: str | None = None) -> HTMLResponse:
        number = page_number(page)
        with sessions() as db:
            rows = queries.latest_blocks(db, queries.PAGE_SIZE, number)
        return render(request, "blocks.html", blocks=rows, page=number)

    @app.get("/block/{number}", response_class=HTMLResponse, include_in_schema=False)
    def block(request: Request, number: str) -> HTMLResponse:
        if not number.isdigit() or len(number) > 18:
            raise BadInput("a block number is a whole number")
        with sessions() as db:
            found = queries.block_by_number(db, int(number))
            txs = queries.transactions_in_block(db, int(number)) if found else []
            kinds = explorer.kinds(db)
        if found is None:
            raise NotFound(f"block {number} is not indexed (yet)")
        return render(
            request, "block.html", block=found, txs=txs, finality=explorer.finality(int(number)),
            name=lambda a: explorer.name(a, kinds, lang_of(request)),
        )  # fmt: skip

    @app.get("/txs", response_class=HTMLResponse, include_in_schema=False)
    def txs(request: Request, page: str | None = None) -> HTMLResponse:
        number = page_number(page)
        period = date_range(request.query_params.get("from"), request.query_params.get("to"))
        with sessions() as db:
            rows = queries.latest_transactions(db, queries.PAGE_SIZE, number, period)
            kinds = explorer.kinds(db)
        return render(
            request, "txs.html", txs=rows, page=number, name=lambda a: explorer.name(a, kinds, lang_of(request))
        )

    @app.get("/tx/{tx_hash}", response_class=HTMLResponse, include_in_schema=False)
    def tx(request: Request, tx_hash: str) -> HTMLResponse:
        if not HASH.match(tx_hash):
            raise BadInput("a transaction hash is 0x followed by 64 hex digits")
        with sessions() as db:
            found, events, moves = queries.transaction(db, tx_hash.lower())
            kinds = explorer.kinds(db)
        if found is None:
            raise NotFound(f"transaction {tx_hash} is not indexed")
        lang = lang_of(request)
        sentences = [explorer.sentence(m, kinds, lang) for m in moves]
        return render(
            request, "tx.html", tx=found, events=events, moves=moves, sentences=sentences,
            name=lambda a: explorer.name(a, kinds, lang),
        )  # fmt: skip

    @app.get("/address/{address}", response_class=HTMLResponse, include_in_schema=False)
    def address(request: Request, address: str, kind: str | None = None, page: str | None = None) -> HTMLResponse:
        checksum = address_param(address)
        if kind not in (None, "", *SENTENCES["en"]):
            raise BadInput(f"unknown kind {kind!r}")
        number = page_number(page)
        period = date_range(request.query_params.get("from"), request.query_params.get("to"))
        with sessions() as db:
            derived = queries.balance_of(db, checksum)
            history = queries.address_history(db, checksum, kind or None, number, queries.PAGE_SIZE, period)
            kinds = explorer.kinds(db)
        node_balance: int | None = None
        buckets: list[tuple[int, int]] = []
        node_error = False
        token = next((a for a, n in explorer.contracts.items() if n == "RegionalPoints"), None)
        if token is not None:
            try:
                node_balance, buckets = explorer.points_on_node(token, checksum)
            except (NodeUnavailable, RpcError, ValueError):
                node_error = True
        lang = lang_of(request)
        return render(
            request, "address.html", address=checksum, derived=derived, node_balance=node_balance,
            node_error=node_error, buckets=buckets, history=history, page=number, kind=kind or "",
            account=kinds.get(checksum),
            label=explorer.labels.get(checksum) or explorer.contracts.get(checksum),
            sentence=lambda m: explorer.sentence(m, kinds, lang), kinds_available=list(SENTENCES["en"]),
        )  # fmt: skip

    @app.get("/holders", response_class=HTMLResponse, include_in_schema=False)
    def holders(request: Request, page: str | None = None) -> HTMLResponse:
        number = page_number(page)
        with sessions() as db:
            rows = queries.holders(db, number)
            kinds = explorer.kinds(db)
        offset = (number - 1) * queries.PAGE_SIZE
        return render(
            request,
            "holders.html",
            rows=rows,
            page=number,
            offset=offset,
            name=lambda a: explorer.name(a, kinds, lang_of(request)),
        )

    @app.get("/merchants", response_class=HTMLResponse, include_in_schema=False)
    def merchants(request: Request) -> HTMLResponse:
        with sessions() as db:
            kinds = explorer.kinds(db)
            rows = queries.merchants(db, kinds)
            settled = queries.settlements(db)
        return render(
            request,
            "merchants.html",
            rows=rows,
            settlements=settled,
            name=lambda a: explorer.name(a, kinds, lang_of(request)),
        )

    @app.get("/programmes", response_class=HTMLResponse, include_in_schema=False)
    def programmes(request: Request) -> HTMLResponse:
        with sessions() as db:
            rows = queries.programmes(db)
        return render(request, "programmes.html", rows=rows)

    @app.get("/co2", response_class=HTMLResponse, include_in_schema=False)
    def co2(request: Request) -> HTMLResponse:
        with sessions() as db:
            rows = queries.co2_reports(db)
        chart = bar_chart([r["units"] for r in rows], [str(r["period"]) for r in rows]) if rows else None
        return render(request, "co2.html", rows=rows, chart=chart)

    @app.get("/search", include_in_schema=False)
    def search(request: Request, q: str = "") -> Response:
        text = q.strip()
        if not text or len(text) > 100:
            raise BadInput("type a block number, a transaction hash, an address or a payment request id")
        if text.isdigit():
            return RedirectResponse(f"/block/{int(text)}", status_code=303)
        if is_hex_address(text):
            return RedirectResponse(f"/address/{to_checksum_address(text)}", status_code=303)
        if HASH.match(text):
            with sessions() as db:
                found, _, _ = queries.transaction(db, text.lower())
                payment = queries.payment_by_request(db, text.lower()) if found is None else None
            if found is not None:
                return RedirectResponse(f"/tx/{text.lower()}", status_code=303)
            if payment is not None:
                return RedirectResponse(f"/tx/{payment.tx_hash}", status_code=303)
            raise NotFound(f"no transaction or payment request {text}")
        raise BadInput(f"{text[:40]!r} is not a block number, hash or address")

    # -- CSV -------------------------------------------------------------------------------------
    # Listings exported whole are streamed from the database as the client reads them (finding 16).
    @app.get("/blocks.csv", include_in_schema=False)
    def blocks_csv() -> StreamingResponse:
        return csv_response(
            "blocks",
            ["number", "hash", "parent_hash", "timestamp", "proposer", "transactions", "gas_used"],
            queries.stream(sessions, queries.all_blocks()),
        )

    @app.get("/txs.csv", include_in_schema=False)
    def txs_csv(request: Request) -> StreamingResponse:
        period = date_range(request.query_params.get("from"), request.query_params.get("to"))
        return csv_response(
            "transactions",
            ["hash", "block", "index", "timestamp", "from", "to", "status", "method", "kind", "points"],
            queries.stream(sessions, queries.all_transactions(period)),
        )

    @app.get("/address/{address}/history.csv", include_in_schema=False)
    def address_csv(request: Request, address: str) -> StreamingResponse:
        checksum = address_param(address)
        period = date_range(request.query_params.get("from"), request.query_params.get("to"))
        return csv_response(
            f"points-{checksum}",
            ["block", "log_index", "tx_hash", "timestamp", "kind", "from", "to", "points", "request_id"],
            queries.stream(sessions, queries.all_history(checksum, period)),
        )

    @app.get("/holders.csv", include_in_schema=False)
    def holders_csv() -> StreamingResponse:
        with sessions() as db:
            kinds = explorer.kinds(db)
        rows = ((a, kinds.get(a, ("", ""))[0], int(b)) for a, b in queries.stream(sessions, queries.all_holders()))
        return csv_response("holders", ["address", "kind", "points"], rows)

    @app.get("/merchants.csv", include_in_schema=False)
    def merchants_csv() -> StreamingResponse:
        with sessions() as db:
            rows = queries.merchants(db, explorer.kinds(db))
        header = ["address", "label", "status", "payments", "received", "refunded", "settled", "balance"]
        return csv_response(
            "merchants",
            header,
            ([r["address"], explorer.labels.get(r["address"], ""), *[r[k] for k in header[2:]]] for r in rows),
        )

    @app.get("/settlements.csv", include_in_schema=False)
    def settlements_csv() -> StreamingResponse:
        with sessions() as db:
            rows = queries.settlements(db)
        header = ["settlement_id", "merchant", "amount", "reference", "block", "tx_hash", "timestamp"]
        return csv_response("settlements", header, ([r[k] for k in header] for r in rows))

    @app.get("/programmes.csv", include_in_schema=False)
    def programmes_csv() -> StreamingResponse:
        with sessions() as db:
            rows = queries.programmes(db)
        header = ["id", "name", "budget", "granted", "grants", "closed", "starts_at", "ends_at"]
        return csv_response("programmes", header, ([r[k] for k in header] for r in rows))

    @app.get("/co2.csv", include_in_schema=False)
    def co2_csv() -> StreamingResponse:
        with sessions() as db:
            rows = queries.co2_reports(db)
        header = [
            "programme_id",
            "programme",
            "period",
            "households",
            "units",
            "merkle_root",
            "signers",
            "block",
            "tx_hash",
        ]
        return csv_response("co2", header, ([r[k] for k in header] for r in rows))

    app.include_router(etherscan_api(sessions))
    return app
