"""Notices by e-mail (issue 20): the mail outbox sent over SMTP by a background worker.

Each notice for a member who gave an address and wants mail gets one ``notice_mails`` row,
in the notice's own transaction (:func:`wallet_api.notices.add`). The worker leases due
rows, opens the sealed address only to hand it to the server, and marks a row sent only
after the server accepted the message. A failure (server down, timeout, temporary 4xx)
backs off exponentially — ``smtp_retry_seconds`` × 2^(attempts-1), at most
``smtp_retry_max_seconds`` — and is retried without end: nothing is lost. A permanent 5xx
refusal of the recipient marks the row ``refused`` (retrying cannot help).

Exactly once, as far as SMTP allows: SMTP has no idempotent submit, so a crash after the
server accepted a message and before the row is marked must either lose it or send it
again. We choose **at-least-once**: the lease runs out and the mail is sent again with the
same ``Message-ID`` (fixed when the row was made), which mail clients and most servers use
to recognise the duplicate. At-most-once would need the row marked before sending, and a
crash there would lose a notice a resident without the app may depend on.

Addresses are never logged: log lines name the mail row and notice only.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from wallet_api.auth import aware, now
from wallet_api.db.models import Notice, NoticeMail
from wallet_api.notices import Notices, render
from wallet_api.pipeline import failpoint
from wallet_api.settings import WalletSettings

log = logging.getLogger("wallet_api.mailer")

FOOTER_JA = (
    "高砂市 地域ポイント（たかさご未来資産）からのお知らせです。"
    "メールの受け取りはアプリの「お知らせ」から止められます。"
)
FOOTER_EN = "A notice from Takasago regional points. You can turn these e-mails off under Notices in the app."
TEMPORARY = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError, OSError, TimeoutError)


def compose(notice: Notice, message_id: str, sender: str, recipient: str) -> EmailMessage:
    """A plain-text mail, Japanese first then English, with the row's fixed Message-ID."""
    texts = render(notice.kind, notice.params)
    message = EmailMessage()
    message["Subject"] = f"{texts['ja']['title']} / {texts['en']['title']}"
    message["From"] = sender
    message["To"] = recipient
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(aware(notice.created_at) or now())  # type: ignore[arg-type]
    parts = []
    for language, footer in (("ja", FOOTER_JA), ("en", FOOTER_EN)):
        text = texts[language]
        lines = [text["title"], "", text["body"]]
        if "message" in text:
            lines += ["", f"「{text['message']}」" if language == "ja" else f'"{text["message"]}"']
        parts.append("\n".join([*lines, "", footer]))
    message.set_content("\n\n----------------------------------------\n\n".join(parts))
    return message


class Mailer:
    """Sends the mail outbox; ``send_due`` is one pass, ``start`` runs passes in a thread."""

    def __init__(
        self,
        sessions: sessionmaker[DbSession],
        settings: WalletSettings,
        notices: Notices,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.notices = notices
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.settings.smtp_host)

    def message_id(self, row: NoticeMail) -> str:
        domain = self.settings.smtp_from.rpartition("@")[2] or "takasago.invalid"
        return f"<{row.message_id}@{domain}>"

    def _lease(self, limit: int) -> list[int]:
        """Takes up to ``limit`` due rows for ``smtp_lease_seconds``; a crashed worker's lease simply runs out."""
        moment = now()
        with self.sessions.begin() as db:
            rows = db.scalars(
                select(NoticeMail)
                .where(
                    NoticeMail.status == "pending",
                    NoticeMail.next_attempt_at <= moment,
                    or_(NoticeMail.lease_until.is_(None), NoticeMail.lease_until < moment),
                )
                .order_by(NoticeMail.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                row.lease_until = moment + timedelta(seconds=self.settings.smtp_lease_seconds)
            return [row.id for row in rows]

    def send_due(self, limit: int = 20) -> int:
        """Sends what is due, one SMTP connection per pass; returns how many the server accepted."""
        ids = self._lease(limit)
        if not ids:
            return 0
        sent = 0
        try:
            with self._connect() as smtp:
                for mail_id in ids:
                    sent += self._send_one(smtp, mail_id)
        except TEMPORARY + (smtplib.SMTPException,) as exc:  # the server is down or hung up: back off every row left
            for mail_id in ids:
                self._failed(mail_id, type(exc).__name__, permanent=False, only_unsent=True)
        return sent

    def _send_one(self, smtp: smtplib.SMTP, mail_id: int) -> int:
        with self.sessions() as db:
            row = db.get(NoticeMail, mail_id)
            notice = db.get(Notice, row.notice_id) if row is not None else None
            if row is None or notice is None or row.status != "pending":
                return 0
            message_id = self.message_id(row)
            try:
                recipient = self.notices.email_of(db, row.user_id)
            except Exception as exc:  # noqa: BLE001 - e.g. sealed under a KEK no longer loaded: retry later, log no value
                self._failed(mail_id, f"address not opened ({type(exc).__name__})", permanent=False)
                return 0
        if recipient is None:  # the member turned mail off or forgot the address since: nothing to send
            self._finish(mail_id, "refused", "no address or mail turned off")
            return 0
        message = compose(notice, message_id, self.settings.smtp_from, recipient)
        try:
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            permanent = all(code >= 500 for code, _ in exc.recipients.values())
            self._failed(mail_id, "recipient refused", permanent=permanent)
            return 0
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            self._failed(mail_id, f"{type(exc).__name__} {exc.smtp_code}", permanent=exc.smtp_code >= 500)
            return 0
        if refused:
            self._failed(mail_id, "recipient refused", permanent=True)
            return 0
        failpoint("mail-after-send")  # crash tests: the server accepted it, the row is not marked yet
        self._finish(mail_id, "sent", None)
        log.info("notice mail %d (notice %d) accepted by the server", mail_id, notice.id)
        return 1

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        timeout = settings.smtp_timeout_seconds
        smtp: smtplib.SMTP
        if settings.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout, context=_tls())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
            if settings.smtp_security == "starttls":
                smtp.starttls(context=_tls())
        if settings.smtp_username:
            password = settings.smtp_password_file.read_text().strip() if settings.smtp_password_file else ""
            smtp.login(settings.smtp_username, password)
        return smtp

    def _finish(self, mail_id: int, status: str, error: str | None) -> None:
        with self.sessions.begin() as db:
            row = db.get(NoticeMail, mail_id, with_for_update=True)
            if row is None:
                return
            row.status = status
            row.lease_until = None
            row.last_error = error
            if status == "sent":
                row.sent_at = now()
                row.attempts += 1

    def _failed(self, mail_id: int, reason: str, *, permanent: bool, only_unsent: bool = False) -> None:
        """Counts a failed attempt and schedules the next one (exponential back-off), or gives up on a 5xx."""
        with self.sessions.begin() as db:
            row = db.get(NoticeMail, mail_id, with_for_update=True)
            if row is None or (only_unsent and row.status != "pending"):
                return
            row.attempts += 1
            row.last_error = reason[:200]
            row.lease_until = None
            if permanent:
                row.status = "refused"
            else:
                row.next_attempt_at = now() + timedelta(seconds=self.backoff(row.attempts))
            attempts, status = row.attempts, row.status
        log.warning("notice mail %d: %s (attempt %d, %s)", mail_id, reason, attempts, status)

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: doubling from ``smtp_retry_seconds``, capped."""
        base, cap = self.settings.smtp_retry_seconds, self.settings.smtp_retry_max_seconds
        return float(min(cap, base * 2 ** max(0, attempts - 1)))

    def start(self) -> None:
        if not self.enabled:
            return
        interval = self.settings.smtp_poll_seconds

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    while self.send_due() and not self._stop.is_set():
                        pass
                except Exception:  # noqa: BLE001 - the worker must outlive one bad pass
                    log.exception("notice mail pass failed")

        self._thread = threading.Thread(target=loop, name="wallet-mailer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()
