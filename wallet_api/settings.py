"""Configuration of the wallet service, from ``TAKASAGO_WALLET_*`` environment variables.

Defaults are the embedded ones ``takasago up`` uses: SQLite under the data directory,
the local node, and key files generated on first start (mode 0600). Production sets
``TAKASAGO_WALLET_DATABASE_URL`` to PostgreSQL and keeps the KEK outside the data
directory (``TAKASAGO_WALLET_KEK`` or ``TAKASAGO_WALLET_KEK_FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WalletSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAKASAGO_WALLET_", extra="ignore")

    data_dir: Path = Path(".takasago/wallet")
    database_url: str | None = None
    rpc_url: str = "http://127.0.0.1:8545"
    deployments_dir: Path = Path(".takasago/deployments")
    kek_file: Path | None = None
    token_secret_file: Path | None = None
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8600

    access_token_seconds: Annotated[int, Field(ge=30)] = 900
    refresh_token_seconds: Annotated[int, Field(ge=300)] = 30 * 86400
    login_failures_before_lock: Annotated[int, Field(ge=1)] = 5
    login_lock_seconds: Annotated[int, Field(ge=1)] = 900
    pin_failures_before_lock: Annotated[int, Field(ge=1)] = 3
    pin_lock_seconds: Annotated[int, Field(ge=1)] = 1800
    payment_request_seconds: Annotated[int, Field(ge=10)] = 600
    payment_code_seconds: Annotated[int, Field(ge=10)] = 120
    confirm_wait_seconds: Annotated[float, Field(ge=0)] = 8.0
    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    requests_per_minute_per_ip: Annotated[int, Field(ge=1)] = 120

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'wallet.db').resolve()}"

    @property
    def kek_path(self) -> Path:
        return self.kek_file or self.data_dir / "kek"

    @property
    def token_secret_path(self) -> Path:
        return self.token_secret_file or self.data_dir / "token-secret"
