"""Configuration of the watch service, from ``TAKASAGO_WATCH_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKASAGO_WATCH_", extra="ignore")

    data_dir: Path = Path(".takasago/watch")
    database_url: str | None = None
    kek_file: Path | None = None  # production: on another disk or a secrets mount, never beside the database
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8900
    retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    purge_seconds: Annotated[float, Field(ge=0)] = 3600.0
    # the token the wallet presents when it forwards a resident (0600 file); none: families' API off
    service_token_file: Path | None = None
    # the read-only statistics token the data platform presents (0600 file); it opens /v1/stats/* only
    stats_token_file: Path | None = None

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'watch.db').resolve()}"

    @property
    def kek(self) -> Path:
        return self.kek_file or self.data_dir / "kek"
