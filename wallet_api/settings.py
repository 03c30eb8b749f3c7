"""Configuration of the wallet service, from ``TAKASAGO_WALLET_*`` environment variables.

Defaults are the embedded ones ``takasago up`` uses: SQLite under the data directory,
the local node, and key files generated on first start (mode 0600). Production sets
``TAKASAGO_WALLET_DATABASE_URL`` to PostgreSQL and keeps the KEK outside the data
directory (``TAKASAGO_WALLET_KEK`` or ``TAKASAGO_WALLET_KEK_FILE``).
"""

from __future__ import annotations

from pathlib import Path

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
    port: int = Field(8600, ge=1, le=65535)

    access_token_seconds: int = Field(900, ge=30)
    refresh_token_seconds: int = Field(30 * 86400, ge=300)
    login_failures_before_lock: int = Field(5, ge=1)
    login_lock_seconds: int = Field(900, ge=1)
    pin_failures_before_lock: int = Field(3, ge=1)
    pin_lock_seconds: int = Field(1800, ge=1)
    payment_request_seconds: int = Field(600, ge=10)
    payment_code_seconds: int = Field(120, ge=10)
    confirm_wait_seconds: float = Field(8.0, ge=0)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    requests_per_minute_per_ip: int = Field(120, ge=1)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'wallet.db').resolve()}"

    @property
    def kek_path(self) -> Path:
        return self.kek_file or self.data_dir / "kek"

    @property
    def token_secret_path(self) -> Path:
        return self.token_secret_file or self.data_dir / "token-secret"
