"""A fresh PostgreSQL database for one benchmark run, dropped afterwards (``--database-url`` names the server)."""

from __future__ import annotations

import secrets

from bench.harness.report import log


def create_postgres_database(admin_url: str) -> tuple[str, str]:
    import psycopg

    name = "takasago_bench_" + secrets.token_hex(4)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    base = admin_url.split("?", 1)[0].rsplit("/", 1)[0]
    return f"{base}/{name}", name


def drop_postgres_database(admin_url: str, name: str) -> None:
    import psycopg

    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
    except psycopg.Error as exc:
        log(f"could not drop PostgreSQL database {name}: {exc}")
