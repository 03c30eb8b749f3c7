"""Configuration of the oracle service, from ``TAKASAGO_ORACLE_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OracleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKASAGO_ORACLE_", extra="ignore")

    data_dir: Path = Path(".takasago/oracle")
    gateways_file: Path | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8800
    database_url: str | None = None
    # shared with the wallet (issue 21): it reads households' months here, and the oracle reads its approved list
    service_token_file: Path | None = None
    wallet_url: str = "http://127.0.0.1:8600"

    @property
    def evidence_url(self) -> str:
        """The evidence store: ``TAKASAGO_ORACLE_DATABASE_URL``, or SQLite in the data directory."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'evidence.db').resolve()}"

    @property
    def old_inbox(self) -> Path:
        """Where batches were kept before the evidence store; imported into it at start."""
        return self.data_dir / "inbox"

    @property
    def reports(self) -> Path:
        return self.data_dir / "reports"

    @property
    def service_token(self) -> Path | None:
        """The token shared with the wallet: the configured file, else ``service-token`` in the data
        directory if there is one (``takasago up`` makes it there)."""
        default = self.data_dir / "service-token"
        return self.service_token_file or (default if default.exists() else None)

    @property
    def gateways(self) -> Path:
        return self.gateways_file or self.data_dir / "gateways.json"
