"""Key-encryption-key rotation: re-wrap every sealed value's data key under a new KEK.

Run by ``takasago wallet rotate-kek``. The values themselves are not decrypted to
disk and their ciphertexts do not change; only the small wrapped data keys do. Each
row is re-wrapped in its own short transaction, so the service keeps running and an
interrupted rotation simply continues where it stopped (rows already under the new
KEK are skipped). Afterwards the old KEK can be destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.accounts import personal_context
from wallet_api.crypto.envelope import KeyEncryptionKey, kek_id_of, rewrap
from wallet_api.db.models import ServiceKey, User
from wallet_api.db.models_shops import Shop
from wallet_api.shops import bank_context
from wallet_api.storage import record_kek


@dataclass
class RotationReport:
    rewrapped: int = 0
    already_current: int = 0


def _key_context(address: str) -> bytes:
    return b"private-key:" + address.lower().encode()


def rotate(
    sessions: sessionmaker[DbSession], old: tuple[KeyEncryptionKey, ...], new: KeyEncryptionKey
) -> RotationReport:
    report = RotationReport()
    keks = (*old, new)

    def one(blob: bytes | None, context: bytes) -> bytes | None:
        if blob is None:
            return None
        if kek_id_of(blob) == new.key_id:
            report.already_current += 1
            return blob
        report.rewrapped += 1
        return rewrap(keks, new, blob, context)

    with sessions() as db:
        user_ids = list(db.scalars(select(User.id)))
        service_names = list(db.scalars(select(ServiceKey.name)))
    for user_id in user_ids:
        with sessions.begin() as db:
            user = db.get(User, user_id, with_for_update=True)
            if user is None:
                continue
            if user.address is not None:
                user.sealed_key = one(user.sealed_key, _key_context(user.address))
            user.sealed_personal = one(user.sealed_personal, personal_context(user.public_id))
            shop = db.get(Shop, user_id, with_for_update=True)  # a shop's bank account (issue 21)
            if shop is not None:
                shop.sealed_bank = one(shop.sealed_bank, bank_context(user)) or shop.sealed_bank
    for name in service_names:
        with sessions.begin() as db:
            key = db.get(ServiceKey, name, with_for_update=True)
            if key is not None:
                key.sealed_key = one(key.sealed_key, _key_context(key.address)) or key.sealed_key
    record_kek(sessions, new.key_id)  # the service now refuses to start without the new KEK
    return report
