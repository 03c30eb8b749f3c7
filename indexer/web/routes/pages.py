"""The explorer's HTML pages (Japanese/English): blocks, transactions, addresses, merchants,
shops, programmes, CO2 reports and search. Every listing has a CSV twin (``exports``).

No page lists residents' balances (issue 22): an address is a pseudonym, so its own page stays,
but a ranked list of every holder would let anyone enumerate residents; ``/holders`` now leads
to the merchants' list, which is public business data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import segno
from eth_utils import is_hex_address, to_checksum_address
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from indexer import queries
from indexer.decode import KIND_NAMES, STATUS_NAMES
from indexer.web.deps import Address, ExplorerDep, Lang, MovementKind, Page, PagesDep, Period
from indexer.web.explorer import NODE_ERRORS, Explorer, Kinds
from indexer.web.inputs import HASH, BadInput, NotFound
from indexer.web.rendering import bar_chart
from indexer.web.texts import SENTENCES, TEXTS

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(include_in_schema=False)


def namer(explorer: Explorer, kinds: Kinds, lang: str) -> Callable[[str | None], str]:
    """The templates' ``name(address)``: a contract, a label, or the account's kind and short address."""
    return lambda address: explorer.name(address, kinds, lang)


@router.get("/static/explorer.css")
def stylesheet() -> Response:
    return Response(
        (STATIC / "explorer.css").read_bytes(), media_type="text/css", headers={"Cache-Control": "max-age=3600"}
    )


@router.get("/", response_class=HTMLResponse)
def home(request: Request, explorer: ExplorerDep, pages: PagesDep, lang: Lang) -> HTMLResponse:
    with explorer.sessions() as db:
        kinds = explorer.kinds(db)
        figures = explorer.home_figures(db)
        series, co2 = figures["series"], figures["co2"]
        days = [d["day"] for d in series]
        context: dict[str, Any] = {
            "supply": figures["supply"],
            "today": figures["today"],
            "blocks": queries.latest_blocks(db),
            "txs": queries.latest_transactions(db),
            "daily_chart": bar_chart([d["transactions"] for d in series], days, lang),
            "circulation_chart": bar_chart([d["circulating"] for d in series], days, lang),
            "co2_chart": bar_chart([r["units"] for r in co2][-24:], [str(r["period"]) for r in co2][-24:], lang)
            if co2
            else None,
        }
    return pages.render(request, "home.html", name=namer(explorer, kinds, lang), **context)


@router.get("/blocks", response_class=HTMLResponse)
def blocks(request: Request, explorer: ExplorerDep, pages: PagesDep, number: Page) -> HTMLResponse:
    with explorer.sessions() as db:
        rows = queries.latest_blocks(db, queries.PAGE_SIZE, number)
    return pages.render(request, "blocks.html", blocks=rows, page=number)


@router.get("/block/{number}", response_class=HTMLResponse)
def block(request: Request, explorer: ExplorerDep, pages: PagesDep, lang: Lang, number: str) -> HTMLResponse:
    if not number.isdigit() or len(number) > 18:
        raise BadInput("block_number")
    with explorer.sessions() as db:
        found = queries.block_by_number(db, int(number))
        txs = queries.transactions_in_block(db, int(number)) if found else []
        kinds = explorer.kinds(db)
    if found is None:
        raise NotFound("block_missing", number=number)
    return pages.render(
        request, "block.html", block=found, txs=txs, finality=explorer.finality(int(number)),
        name=namer(explorer, kinds, lang),
    )  # fmt: skip


@router.get("/txs", response_class=HTMLResponse)
def txs(
    request: Request, explorer: ExplorerDep, pages: PagesDep, lang: Lang, number: Page, period: Period
) -> HTMLResponse:
    with explorer.sessions() as db:
        rows = queries.latest_transactions(db, queries.PAGE_SIZE, number, period)
        kinds = explorer.kinds(db)
    return pages.render(request, "txs.html", txs=rows, page=number, name=namer(explorer, kinds, lang))


@router.get("/tx/{tx_hash}", response_class=HTMLResponse)
def tx(request: Request, explorer: ExplorerDep, pages: PagesDep, lang: Lang, tx_hash: str) -> HTMLResponse:
    if not HASH.match(tx_hash):
        raise BadInput("tx_hash")
    with explorer.sessions() as db:
        found, events, moves = queries.transaction(db, tx_hash.lower())
        kinds = explorer.kinds(db)
    if found is None:
        raise NotFound("tx_missing", tx=tx_hash)
    sentences = [explorer.sentence(m, kinds, lang) for m in moves]
    return pages.render(
        request, "tx.html", tx=found, events=events, moves=moves, sentences=sentences,
        headlines=registration_headlines(events, lang), name=namer(explorer, kinds, lang),
    )  # fmt: skip


def registration_headlines(events: list[Any], lang: str) -> list[str]:
    """Plain words for a registration (a first-time reader saw only ``AccountRegistered`` and numbers):
    「住民アカウントが登録されました」, or how many were, or the status an account moved to."""
    words = TEXTS[lang]
    registered: dict[str, int] = {}
    headlines = []
    for event in events:
        args = event.args or {}
        if event.name == "AccountRegistered":
            kind = KIND_NAMES.get(int(args.get("kind", 0)), "account")
            registered[kind] = registered.get(kind, 0) + 1
        elif event.name == "AccountStatusChanged":
            status = STATUS_NAMES.get(int(args.get("newStatus", 0)), "unregistered")
            headlines.append(words["status_changed"].format(status=words.get(status, status)))
    for kind, count in registered.items():
        noun = words.get(kind, kind)
        noun = noun.lower() if lang == "en" else noun
        key = "registered" if count == 1 else "registered_many"
        headlines.insert(0, words[key].format(kind=noun, n=count))
    return headlines


@router.get("/address/{address}", response_class=HTMLResponse)
def address(
    request: Request,
    explorer: ExplorerDep,
    pages: PagesDep,
    lang: Lang,
    checksum: Address,
    kind: MovementKind,
    number: Page,
    period: Period,
) -> HTMLResponse:
    with explorer.sessions() as db:
        derived = explorer.points_of(db, checksum)
        history = queries.address_history(db, checksum, kind or None, number, queries.PAGE_SIZE, period)
        kinds = explorer.kinds(db)
    node_balance, buckets, node_error = _points_on_node(explorer, checksum)
    return pages.render(
        request, "address.html", address=checksum, derived=derived, node_balance=node_balance,
        node_error=node_error, buckets=buckets, history=history, page=number, kind=kind,
        account=kinds.get(checksum),
        label=explorer.labels.get(checksum) or explorer.contracts.get(checksum),
        sentence=lambda m: explorer.sentence(m, kinds, lang), kinds_available=list(SENTENCES["en"]),
    )  # fmt: skip


def _points_on_node(explorer: Explorer, address: str) -> tuple[int | None, list[tuple[int, int]], bool]:
    """The node's own balance and expiry buckets for the address page; (None, [], True) if the node cannot say."""
    token = explorer.token
    if token is None:
        return None, [], False
    try:
        balance, buckets = explorer.points_on_node(token, address)
    except NODE_ERRORS:
        return None, [], True
    return balance, buckets, False


@router.get("/holders")
@router.get("/holders.csv")
def holders(request: Request) -> Response:
    """The former list of every holder, residents included, is gone (issue 22): old links and bookmarks lead
    to the merchants' list (and its CSV), which is all that is listed."""
    target = "/merchants.csv" if request.url.path.endswith(".csv") else "/merchants"
    return RedirectResponse(target, status_code=301)


@router.get("/merchants", response_class=HTMLResponse)
def merchants(request: Request, explorer: ExplorerDep, pages: PagesDep, lang: Lang) -> HTMLResponse:
    with explorer.sessions() as db:
        kinds = explorer.kinds(db)
        rows = explorer.merchants(db, kinds)
        settled = queries.settlements(db)
        hops = queries.local_hops(db)
    return pages.render(request, "merchants.html", rows=rows, settlements=settled, hops=hops,
                        name=namer(explorer, kinds, lang))  # fmt: skip


@router.get("/shops", response_class=HTMLResponse)
def shops(request: Request, explorer: ExplorerDep, pages: PagesDep, q: str = "") -> HTMLResponse:
    """Participating shops, as the wallet lists them (the city's approved names), searchable by words."""
    words = [w.casefold() for w in q[:80].split() if w]
    rows = [
        s
        for s in explorer.shops.shops()
        if all(w in f"{s['name']} {s.get('category', '')} {s.get('district', '')}".casefold() for w in words)
    ]
    return pages.render(request, "shops.html", shops=rows, q=q[:80])


@router.get("/shops/{code}", response_class=HTMLResponse)
def shop(request: Request, code: str, explorer: ExplorerDep, pages: PagesDep, lang: Lang) -> HTMLResponse:
    """A shop's page with its printed QR (the same one residents scan at its counter)."""
    found = next((s for s in explorer.shops.shops() if s["code"] == code[:42]), None)
    if found is None:
        raise NotFound("shop_missing", code=code[:42])
    qr_svg = Markup(segno.make(str(found.get("static_uri", "")), error="m").svg_inline(scale=5))  # noqa: S704 - segno's own SVG
    with explorer.sessions() as db:
        kinds = explorer.kinds(db)
    return pages.render(request, "shop.html", shop=found, qr_svg=qr_svg, name=namer(explorer, kinds, lang))


@router.get("/programmes", response_class=HTMLResponse)
def programmes(request: Request, explorer: ExplorerDep, pages: PagesDep) -> HTMLResponse:
    with explorer.sessions() as db:
        rows = queries.programmes(db)
    return pages.render(request, "programmes.html", rows=rows)


@router.get("/co2", response_class=HTMLResponse)
def co2(request: Request, explorer: ExplorerDep, pages: PagesDep, lang: Lang) -> HTMLResponse:
    with explorer.sessions() as db:
        rows = queries.co2_reports(db)
    chart = bar_chart([r["units"] for r in rows], [str(r["period"]) for r in rows], lang) if rows else None
    return pages.render(request, "co2.html", rows=rows, chart=chart)


@router.get("/help", response_class=HTMLResponse)
def help_matching(request: Request, explorer: ExplorerDep, pages: PagesDep) -> HTMLResponse:
    """Help completed per month (issue 18), each month published only if it covers enough people."""
    with explorer.sessions() as db:
        rows = queries.help_by_month(db)
    return pages.render(request, "help.html", rows=rows, min_people=queries.MIN_PEOPLE)


@router.get("/search", response_model=None)
def search(request: Request, explorer: ExplorerDep, pages: PagesDep, q: str = "") -> Response:
    """A block number, an address, a transaction hash, a payment request id or a shop's name, to its page."""
    text = q.strip()
    if not text or len(text) > 100:
        raise BadInput("search_empty")
    if text.isdigit():
        return RedirectResponse(f"/block/{int(text)}", status_code=303)
    if is_hex_address(text):
        return RedirectResponse(f"/address/{to_checksum_address(text)}", status_code=303)
    if not HASH.match(text):
        return _shop_by_name(request, explorer, pages, text)
    with explorer.sessions() as db:
        found, _, _ = queries.transaction(db, text.lower())
        payment = queries.payment_by_request(db, text.lower()) if found is None else None
    if found is not None:
        return RedirectResponse(f"/tx/{text.lower()}", status_code=303)
    if payment is not None:
        return RedirectResponse(f"/tx/{payment.tx_hash}", status_code=303)
    raise NotFound("search_missing", text=text)


def _shop_by_name(request: Request, explorer: ExplorerDep, pages: PagesDep, text: str) -> Response:
    """Shops whose registered name holds every word typed: the wallet's live directory (every shop it lists,
    approved by the city), then the labels file's names of merchants and businesses. One goes straight to its
    page, several are listed, none is a 404 in the visitor's words. Residents have no names here."""
    words = [w.casefold() for w in text.split()]

    def matches(name: str) -> bool:
        return all(w in name.casefold() for w in words)

    found: dict[str, tuple[str, str]] = {}  # address -> (name, where it leads)
    with explorer.sessions() as db:
        kinds = explorer.kinds(db)
    for address, name in explorer.labels.items():
        if kinds.get(address, ("", ""))[0] in ("merchant", "business") and matches(name):
            found[address] = (name, f"/address/{address}")
    for shop in explorer.shops.shops():  # the wallet's name and the shop's own page win
        if matches(str(shop["name"])):
            found[str(to_checksum_address(shop["address"]))] = (str(shop["name"]), f"/shops/{shop['code']}")
    if not found:
        raise NotFound("search_unknown", text=text[:40])
    if len(found) == 1:
        return RedirectResponse(next(iter(found.values()))[1], status_code=303)
    rows = sorted((name, href, address) for address, (name, href) in found.items())
    return pages.render(request, "search.html", q=text, found=rows)
