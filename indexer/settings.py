"""Configuration of the indexer and explorer, from ``TAKASAGO_INDEXER_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IndexerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKASAGO_INDEXER_", extra="ignore")

    data_dir: Path = Path(".takasago/indexer")
    database_url: str | None = None
    rpc_url: str = "http://127.0.0.1:8545"
    deployments_dir: Path = Path(".takasago/deployments")
    labels_file: Path | None = None
    # the wallet's base URL: shop names and the shop directory are read from its public /v1/shops
    shops_url: str | None = None
    shops_refresh_seconds: Annotated[float, Field(ge=0.1, le=3600)] = 10.0
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8700
    batch_blocks: Annotated[int, Field(ge=1, le=2000)] = 200

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'indexer.db').resolve()}"

    @property
    def ws_url(self) -> str:
        return "ws" + self.rpc_url.removeprefix("http")
