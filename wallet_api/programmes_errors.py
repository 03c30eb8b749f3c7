"""The refusals of programmes, claim evidence and event check-in, in Japanese and English.

Added to :data:`wallet_api.errors.MESSAGES` (the one table every refusal is rendered from)
when this module is imported, which the programmes router, the claims and the check-in
modules do; kept here so the feature's codes live with the feature. A code already
defined elsewhere is never overridden (the assertion catches a clash at import).
"""

from __future__ import annotations

from wallet_api.errors import MESSAGES

PROGRAMME_MESSAGES: dict[str, tuple[int, str, str]] = {
    "EVIDENCE_PHOTO_REQUIRED": (
        422,
        "This programme needs a photo as evidence. Please add a photo and send the claim again.",
        "この制度の申請には証拠の写真が必要です。写真を添えてもう一度送ってください。",
    ),
    "PHOTO_TYPE": (
        415,
        "The photo must be a JPEG, PNG or WebP image.",
        "写真は JPEG・PNG・WebP 形式の画像にしてください。",
    ),
    "PHOTO_TOO_LARGE": (
        413,
        "The photo is too large. Please choose a smaller one (the app makes photos smaller by itself).",
        "写真が大きすぎます。小さい写真を選んでください（アプリは自動で小さくします）。",
    ),
    "PHOTO_UNKNOWN": (
        404,
        "This photo was not found, or it is already attached to another claim. Please add it again.",
        "この写真は見つからないか、別の申請に使われています。もう一度写真を選んでください。",
    ),
    "PHOTO_DAILY_LIMIT": (
        429,
        "You have uploaded many photos today. Please try again tomorrow.",
        "本日アップロードできる写真の数を超えました。明日もう一度お試しください。",
    ),
    "NO_PHOTO": (404, "This claim has no photo.", "この申請には写真がありません。"),
    "PHOTO_NOT_YOURS": (
        403,
        "Only the officer who decided this claim may see its photo.",
        "この申請の写真は、審査した職員だけが見ることができます。",
    ),
    "REJECT_REASON_REQUIRED": (
        422,
        "Please give the reason for not approving; the resident will see it.",
        "却下の理由を入力してください（申請者に表示されます）。",
    ),
    "PROGRAMME_NOT_CLAIMABLE": (
        409,
        "Points of this programme are granted automatically; it cannot be claimed or used for events here.",
        "この制度のポイントは自動で付与されるため、ここから申請やイベント登録はできません。",
    ),
    "EVENT_QR_INVALID": (
        400,
        "This QR code is not a valid event code (it may have been altered).",
        "このQRコードは有効なイベントのコードではありません（改ざんされた可能性があります）。",
    ),
    "EVENT_QR_EXPIRED": (
        410,
        "This event QR code has expired. Please scan the code shown at the venue now.",
        "このイベントのQRコードは有効期限が切れています。会場で今表示されているコードを読み取ってください。",
    ),
    "EVENT_NOT_OPEN": (
        409,
        "Check-in for this event is not open now (it is outside the event's time).",
        "このイベントは現在受付時間外です。",
    ),
    "CHECKIN_ALREADY": (
        409,
        "You have already checked in to this event. Points are given once per person.",
        "このイベントには既に受付済みです。ポイントは1人1回です。",
    ),
    "EVENT_POINTS_UNREACHABLE": (
        422,
        "This programme cannot give exactly that many points for one attendance; choose another number.",
        "この制度では1回の参加にその点数ちょうどを付与できません。別の点数にしてください。",
    ),
    "EVENT_WINDOW_INVALID": (
        422,
        "The event must end after it starts, end in the future and last at most 7 days.",
        "イベントの終了は開始より後・現在より後で、期間は7日以内にしてください。",
    ),
    "UNKNOWN_EVENT": (404, "No such event.", "そのイベントはありません。"),
}

assert not set(PROGRAMME_MESSAGES) & set(MESSAGES) - {
    code for code, text in PROGRAMME_MESSAGES.items() if MESSAGES.get(code) == text
}, "an error code of the programmes feature clashes with one defined elsewhere"
MESSAGES.update(PROGRAMME_MESSAGES)
