"""No page of any service references a host outside this machine.

The city runs the services on a closed network: a page that loads a script, a
stylesheet or a font from a CDN is blank or broken there (the wallet's /docs was,
issue 16). Three readings of that rule:

* every file a service serves as a page or asset (templates, static files, manifests)
  names no outside host;
* the API documentation pages FastAPI would otherwise serve from a CDN (``/docs``,
  ``/redoc``) are either absent or served from this machine, for the explorer and the
  oracle here and for the wallet in ``test_wallet_docs_offline.py`` (a real browser);
* every page the browser tests open runs with outside hosts refused and fails on any
  attempt (``tests/browser_support.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.testclient import TestClient

from indexer.db.engine import engine_for, sessions_for, upgrade
from indexer.web.app import create_explorer
from ledger_client.rpc import Rpc
from oracle.app import create_oracle_app
from oracle.evidence import EvidenceStore
from oracle.gateways import Inbox
from tests.conftest import REPO

SERVED = [REPO / "wallet_api" / "web", REPO / "indexer" / "web" / "templates", REPO / "indexer" / "web" / "static"]
TEXT_SUFFIXES = {".html", ".js", ".css", ".webmanifest", ".json", ".svg", ".txt"}
# A URL with a host: scheme-relative (//host) or http(s)://host.
HOST = re.compile(r"(?:https?:)?//([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# XML namespaces are names, never fetched (SVG's xmlns).
NOT_FETCHED = {"www.w3.org"}
LOCAL = {"127.0.0.1", "localhost"}


def outside_hosts(text: str) -> set[str]:
    return {h for h in HOST.findall(text) if h not in NOT_FETCHED and h not in LOCAL}


def served_files() -> list[Path]:
    return sorted(p for root in SERVED for p in root.rglob("*") if p.suffix in TEXT_SUFFIXES)


def test_the_scan_sees_the_served_files_and_would_see_a_cdn() -> None:
    assert len(served_files()) >= 15
    assert outside_hosts('<script src="https://cdn.jsdelivr.net/npm/x.js">') == {"cdn.jsdelivr.net"}
    assert outside_hosts('<link href="//fonts.googleapis.com/css">') == {"fonts.googleapis.com"}
    default_docs = get_swagger_ui_html(openapi_url="/openapi.json", title="t").body.decode()
    assert outside_hosts(default_docs), "FastAPI's default /docs (a CDN page) must be caught"
    assert outside_hosts('<svg xmlns="http://www.w3.org/2000/svg"><a href="http://127.0.0.1:8700/">') == set()


@pytest.mark.parametrize("path", served_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_served_file_names_an_outside_host(path: Path) -> None:
    assert not outside_hosts(path.read_text(encoding="utf-8")), path


def explorer_app(tmp_path: Path) -> FastAPI:
    url = f"sqlite:///{tmp_path / 'indexer.db'}"
    upgrade(url)
    sessions = sessions_for(engine_for(url))
    return create_explorer(sessions, Rpc("http://127.0.0.1:9"), {}, {})


def oracle_app(tmp_path: Path) -> FastAPI:
    return create_oracle_app(Inbox(EvidenceStore(f"sqlite:///{tmp_path / 'evidence.db'}"), {}), tmp_path / "reports")


@pytest.mark.parametrize("make_app", [explorer_app, oracle_app], ids=["explorer", "oracle"])
def test_api_documentation_pages_load_nothing_from_outside(make_app: object, tmp_path: Path) -> None:
    app = make_app(tmp_path)  # type: ignore[operator]
    with TestClient(app) as client:
        assert client.get("/openapi.json").status_code == 200
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            response = client.get(path)
            assert response.status_code == 404 or not outside_hosts(response.text), (path, response.text[:300])
