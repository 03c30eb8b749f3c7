"""Where the wallet keeps its files, who may read them, and which KEK opens its database.

Issue 15, findings 13 and 21. Everything the service writes (the SQLite database and
its journal, key files, logs) is private to the service's user: the process umask is
0077, directories are 0700 and files 0600, and files left readable by an older
version are tightened at start (each logged). The database records the id of the KEK
its values are sealed under; a service started with another KEK refuses to start, in
Japanese and English, instead of sealing new values no one can later open next to old
values it cannot open. With ``TAKASAGO_WALLET_ENV=production`` a KEK inside the data
directory is refused: a copy or backup of that directory would carry its own key.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wallet_api.crypto.envelope import EnvelopeError, kek_id_of
from wallet_api.db.models import ServiceKey, User, WalletMeta
from wallet_api.keyring import Keyring
from wallet_api.settings import WalletSettings

log = logging.getLogger("wallet_api.storage")
KEK_ID = "kek_id"


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if current & 0o077:
        path.chmod(mode)
        log.warning("tightened %s from %o to %o (it was readable by other users)", path, current, mode)


def _tighten_stdio() -> None:
    """The log file the supervisor (or a shell) pointed our output at, if it is a plain file."""
    for fd in (1, 2):
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o600)
            log.warning("tightened the log file on fd %d from %o to 600", fd, stat.S_IMODE(info.st_mode))


def prepare(settings: WalletSettings) -> None:
    """Private files from now on; tighten what exists; refuse a production KEK inside the data directory."""
    os.umask(0o077)
    if settings.production and not os.environ.get("TAKASAGO_WALLET_KEK"):
        if _inside(settings.kek_path, settings.data_dir):
            raise EnvelopeError(
                f"本番環境では鍵暗号化鍵 (KEK) をデータディレクトリ {settings.data_dir} の外に置いてください"
                " (TAKASAGO_WALLET_KEK_FILE または TAKASAGO_WALLET_KEK)。 / "
                f"In production the key-encryption key must live outside the data directory {settings.data_dir}: "
                "set TAKASAGO_WALLET_KEK_FILE to a file on another volume, or TAKASAGO_WALLET_KEK."
            )
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(settings.data_dir, 0o700)
    for child in settings.data_dir.iterdir():
        if child.is_file() and not child.is_symlink():
            _tighten(child, 0o600)
    if settings.database.startswith("sqlite:///"):
        database = Path(settings.database.removeprefix("sqlite:///"))
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"), Path(f"{database}-journal")):
            _tighten(path, 0o600)
        _tighten(database.parent, 0o700)
    _tighten_stdio()
    if not os.environ.get("TAKASAGO_WALLET_KEK") and _inside(settings.kek_path, settings.data_dir):
        log.info(
            "KEK %s is inside the data directory (embedded mode, as `takasago up` sets it up): "
            "not for production; set TAKASAGO_WALLET_KEK_FILE outside it and TAKASAGO_WALLET_ENV=production",
            settings.kek_path,
        )


def _first_sealed(db: Session) -> bytes | None:
    blob = db.scalar(select(ServiceKey.sealed_key).limit(1))
    if blob is None:
        blob = db.scalar(select(User.sealed_key).where(User.sealed_key.is_not(None)).limit(1))
    return bytes(blob) if blob is not None else None


def check_kek(sessions: sessionmaker[Session], keyring: Keyring) -> None:
    """Records the KEK id on first use; afterwards refuses a KEK the database was not sealed under."""
    known = {kek.key_id.hex() for kek in keyring.all_keks}
    current = keyring.kek.key_id.hex()
    with sessions.begin() as db:
        row = db.get(WalletMeta, KEK_ID)
        recorded = row.value if row is not None else None
        if recorded is None:
            blob = _first_sealed(db)
            recorded = kek_id_of(blob).hex() if blob is not None else current
            if recorded in known:
                db.add(WalletMeta(name=KEK_ID, value=recorded))
    if recorded not in known:
        raise EnvelopeError(
            f"鍵暗号化鍵 (KEK, id {current}) がデータベースの記録 (id {recorded}) と一致しません。"
            "元の KEK を TAKASAGO_WALLET_KEK_FILE で指定してください。 / "
            f"The key-encryption key in use (id {current}) is not the one this database is sealed under "
            f"(id {recorded}): point TAKASAGO_WALLET_KEK_FILE (or TAKASAGO_WALLET_KEK) at the original KEK. "
            "Refusing to start rather than seal new values next to ones that would no longer open."
        )
    if recorded != current:
        log.warning(
            "KEK rotation in progress: database recorded under %s, sealing new values under %s", recorded, current
        )
    log.info("KEK id %s matches the database", current)


def record_kek(sessions: sessionmaker[Session], kek_id: bytes) -> None:
    """After a completed rotation: the database is now sealed under ``kek_id``."""
    with sessions.begin() as db:
        row = db.get(WalletMeta, KEK_ID)
        if row is None:
            db.add(WalletMeta(name=KEK_ID, value=kek_id.hex()))
        else:
            row.value = kek_id.hex()
