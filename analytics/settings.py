"""Configuration of the analytics service, from ``TAKASAGO_ANALYTICS_*`` environment variables.

Every source is pulled, never pushed: the indexer's database (read-only URL), the wallet's
research feed (HTTP, authenticated with a token derived from the shared research secret),
the oracle's public reports (HTTP), the watch service's coverage statistics (HTTP, its own
read-only statistics token). A source that is not configured is skipped, so the
service starts on an empty city and fills as the sources appear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AnalyticsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKASAGO_ANALYTICS_", extra="ignore")

    data_dir: Path = Path(".takasago/analytics")
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8950
    # the indexer's database, opened read-only (SQLite path URL or PostgreSQL URL); empty: not pulled
    indexer_database_url: str = ""
    # the wallet's research feed and the shared secret both sides derive the token and pseudonym key from
    wallet_url: str = ""
    research_secret_file: Path | None = None
    # the oracle's public reports (CO2 per period)
    oracle_url: str = ""
    # the watch service's coverage statistics, read with its read-only statistics token (0600 file)
    watch_url: str = ""
    watch_stats_token_file: Path | None = None
    # the open statistics file (e-Stat CSV); empty: the shipped sample
    census_file: Path | None = None
    # the smallest number of people a published cell may count
    k: Annotated[int, Field(ge=2)] = 10
    refresh_seconds: Annotated[float, Field(ge=0)] = 300.0
    # the officers' view (district drill-down) answers only this token; empty: no officer view
    officer_token_file: Path | None = None

    @field_validator("data_dir", "research_secret_file", "census_file", "officer_token_file", "watch_stats_token_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def store_path(self) -> Path:
        """The DuckDB file holding the pseudonymous tables (rebuilt from the sources at will)."""
        return self.data_dir / "analytics.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"
