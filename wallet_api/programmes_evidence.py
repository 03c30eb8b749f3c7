"""Evidence photos for claims: checked, stripped of their location, sealed at rest, shown to the deciding officer.

A photo of a clean-up can show a face, a house or (in its EXIF) where the resident lives,
so it is treated like a personal record: its type is judged from its bytes (not the
client's word) and decoded once to be sure it is an image; its metadata (GPS, camera
serial) is dropped; it is sealed under the KEK with its own data key (context
``claim-photo:<id>``), and only an officer deciding the claim may open it — while it is
pending any officer, afterwards only the one who decided. Every showing is written (the
claim's own trail and the officers' read trail) before the photo is decrypted.
"""

from __future__ import annotations

import io
import logging
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api import programmes_errors  # noqa: F401 - registers this feature's error codes
from wallet_api.auth import now
from wallet_api.db.models import Claim, OfficerRead, User
from wallet_api.db.models_programmes import ClaimPhoto, ClaimPhotoView
from wallet_api.errors import ApiError
from wallet_api.keyring import Keyring
from wallet_api.statuses import ClaimStatus

log = logging.getLogger("wallet_api.programmes")
PHOTOS_PER_DAY = 20  # uploads one resident may make in 24 hours (a bound on what one account can store)
MAX_PIXELS = 40_000_000  # larger images are refused before decoding (a decompression bomb)
SIGNATURES = {  # the first bytes of each accepted type
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
}


def sniff(data: bytes) -> str | None:
    """The media type the bytes really are (JPEG, PNG or WebP), or None."""
    for magic, media_type in SIGNATURES.items():
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def checked_image(data: bytes, declared: str, limit: int) -> tuple[bytes, str]:
    """The photo with its metadata removed and its media type, or PHOTO_TYPE / PHOTO_TOO_LARGE."""
    from PIL import Image, UnidentifiedImageError  # Pillow comes with fpdf2 (the statements' PDFs)

    if len(data) > limit:
        raise ApiError("PHOTO_TOO_LARGE", {"limit_bytes": limit})
    media_type = sniff(data)
    if media_type is None or declared.split(";")[0].strip().lower() != media_type:
        raise ApiError("PHOTO_TYPE", {"accepted": ["image/jpeg", "image/png", "image/webp"]})
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ApiError("PHOTO_TOO_LARGE", {"max_pixels": MAX_PIXELS})
            probe.load()  # decodes every pixel: a truncated or forged file fails here
            if not (probe.info.get("exif") or probe.getexif()):
                return data, media_type
            clean = probe.copy()
            clean.info = {}  # pixels only: EXIF (GPS, camera serial) is left behind
            out = io.BytesIO()
            clean.save(out, format=probe.format or "JPEG", quality=90)
            return out.getvalue(), media_type
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ApiError("PHOTO_TYPE", {"accepted": ["image/jpeg", "image/png", "image/webp"]}) from None


def photo_context(photo_id: str) -> bytes:
    return b"claim-photo:" + photo_id.encode()


class Evidence:
    def __init__(self, sessions: sessionmaker[DbSession], keyring: Keyring) -> None:
        self.sessions = sessions
        self.keyring = keyring

    def store(self, user: User, data: bytes, declared: str, limit: int) -> ClaimPhoto:
        """Seals an uploaded photo (not yet attached to a claim); PHOTO_DAILY_LIMIT past the day's uploads."""
        image, media_type = checked_image(data, declared, limit)
        photo_id = str(uuid.uuid4())
        with self.sessions.begin() as db:
            since = now() - timedelta(days=1)
            recent = db.scalar(
                select(func.count()).where(ClaimPhoto.user_id == user.id, ClaimPhoto.created_at >= since)
            )
            if (recent or 0) >= PHOTOS_PER_DAY:
                raise ApiError("PHOTO_DAILY_LIMIT", {"per_day": PHOTOS_PER_DAY})
            photo = ClaimPhoto(id=photo_id, user_id=user.id, claim_id=None, media_type=media_type, size=len(image),
                               sealed=self.keyring.seal(image, photo_context(photo_id)), created_at=now())  # fmt: skip
            db.add(photo)
        return photo

    def show(self, officer: User, claim_public_id: str) -> tuple[bytes, str]:
        """The claim's photo for ``officer``: the showing recorded first, then decrypted (never logged)."""
        with self.sessions.begin() as db:
            claim = db.scalar(select(Claim).where(Claim.public_id == claim_public_id))
            if claim is None:
                raise ApiError("NOT_FOUND")
            photo = db.scalar(select(ClaimPhoto).where(ClaimPhoto.claim_id == claim.id))
            if photo is None:
                raise ApiError("NO_PHOTO")
            if claim.status != ClaimStatus.PENDING and claim.decided_by not in (None, officer.id):
                raise ApiError("PHOTO_NOT_YOURS")
            moment = now()
            db.add(ClaimPhotoView(claim_id=claim.id, officer_id=officer.id, viewed_at=moment))
            db.add(OfficerRead(officer_id=officer.id, account_id=claim.user_id,
                               reason=f"申請の写真 / claim photo {claim.public_id[:8]}", read_at=moment))  # fmt: skip
            sealed, media_type, photo_id = photo.sealed, photo.media_type, photo.id
        log.info("officer %s (%s) viewed the photo of claim %s", officer.login, officer.public_id, claim_public_id)
        return self.keyring.open(sealed, photo_context(photo_id)), media_type
