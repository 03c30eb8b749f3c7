"""Keyed search keys of a person (issue 20): find someone at the counter, spot a likely duplicate at sign-up,
without opening any sealed record.

A record stays sealed; beside it ``person_keys`` holds HMAC-SHA256 values, under a key derived
from the wallet's token secret, of the person's normalised name, name + birth date, name +
address and birth date. The counter's search and the duplicate check compare these; only the
records that match are then opened, each opening recorded. Someone holding the database alone
cannot compute the keys of a name they guess.

Normalisation makes the same person's entries meet: Unicode NFKC (full-width and half-width
forms, compatibility kana), every kind of space removed, Latin letters lower-cased; for
addresses also hyphen-like characters unified and 丁目/番地/番/号 written as hyphens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session as DbSession

from wallet_api.db.models import PersonKeys

_SPACES = re.compile(r"[\s\u3000]+")
_HYPHENS = re.compile(r"[‐‑‒–—―−ｰー－-]")
_ADDRESS_UNITS = re.compile(r"(丁目|番地|番|号)")


def normal_name(name: str) -> str:
    return _SPACES.sub("", unicodedata.normalize("NFKC", name)).lower()


def normal_address(address: str) -> str:
    text = _SPACES.sub("", unicodedata.normalize("NFKC", address)).lower()
    text = _ADDRESS_UNITS.sub("-", text)
    return _HYPHENS.sub("-", text).strip("-")


@dataclass(frozen=True)
class PeopleIndex:
    secret: bytes

    def _key(self, label: str, *parts: str) -> str:
        message = (label + "|" + "|".join(parts)).encode()
        return hmac.new(self.secret, b"person-index|" + message, hashlib.sha256).hexdigest()

    def name_key(self, name: str) -> str:
        return self._key("name", normal_name(name))

    def name_dob_key(self, name: str, born: date) -> str:
        return self._key("name+dob", normal_name(name), born.isoformat())

    def name_address_key(self, name: str, address: str) -> str:
        return self._key("name+address", normal_name(name), normal_address(address))

    def dob_key(self, born: date) -> str:
        return self._key("dob", born.isoformat())

    def keys(self, user_id: int, name: str, address: str, born: date) -> PersonKeys:
        return PersonKeys(user_id=user_id, name_key=self.name_key(name), name_dob_key=self.name_dob_key(name, born),
                          name_address_key=self.name_address_key(name, address),
                          dob_key=self.dob_key(born))  # fmt: skip

    def store(self, db: DbSession, user_id: int, name: str, address: str, born: date) -> None:
        """Writes (or rewrites) a person's keys in the caller's transaction."""
        db.merge(self.keys(user_id, name, address, born))
