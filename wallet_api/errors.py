"""Stable error codes with messages a resident understands, in Japanese and English.

Every refusal the API gives is an :class:`ApiError` with a code from :data:`MESSAGES`;
the app's exception handlers render it as ``{"error": {"code", "message", "messages",
"detail"}}``. Contract reverts are mapped here from their decoded custom errors, so a
client never sees a raw revert.
"""

from __future__ import annotations

from typing import Any

from ledger_client.errors import ContractError

# code: (HTTP status, English, Japanese)
MESSAGES: dict[str, tuple[int, str, str]] = {
    "VALIDATION_ERROR": (422, "Some fields are missing or invalid.", "入力内容に誤りがあります。"),
    "MALFORMED_JSON": (400, "The request body is not valid JSON.", "リクエストの形式が正しくありません。"),
    "BODY_TOO_LARGE": (413, "The request is too large.", "リクエストが大きすぎます。"),
    "UNAUTHENTICATED": (401, "Please log in.", "ログインしてください。"),
    "TOKEN_EXPIRED": (
        401,
        "Your session has expired. Please log in again.",
        "有効期限が切れました。再度ログインしてください。",
    ),
    "TOKEN_INVALID": (
        401,
        "Your session is not valid. Please log in again.",
        "セッションが無効です。再度ログインしてください。",
    ),
    "TOKEN_REUSED": (
        401,
        "This sign-in was used twice, so it has been closed for safety. Please log in again.",
        "同じ認証情報が二度使われたため、安全のためログアウトしました。再度ログインしてください。",
    ),
    "LOGIN_FAILED": (401, "The login ID or password is wrong.", "ログインIDまたはパスワードが違います。"),
    "ACCOUNT_LOCKED": (
        423,
        "Too many failed attempts. Please wait and try again later.",
        "失敗が続いたため一時的にロックしました。しばらくしてからお試しください。",
    ),
    "LOGIN_THROTTLED": (
        429,
        "Too many failed log-ins from this device. Please wait a little and try again.",
        "この端末からのログイン失敗が続いています。少し待ってからお試しください。",
    ),
    "PIN_TOO_SHORT": (
        422,
        "A new card needs a 6-digit PIN.",
        "新しいカードの暗証番号は6桁の数字にしてください。",
    ),
    "ACCOUNT_PENDING": (
        403,
        "Your account is waiting for the city's confirmation.",
        "アカウントは市の確認待ちです。",
    ),
    "ACCOUNT_NOT_ACTIVE": (403, "This account cannot be used now.", "このアカウントは現在ご利用いただけません。"),
    "FORBIDDEN": (403, "You are not allowed to do this.", "この操作は許可されていません。"),
    "NOT_FOUND": (404, "Not found.", "見つかりません。"),
    "LOGIN_TAKEN": (409, "This login ID is already in use.", "このログインIDは既に使われています。"),
    "TOO_MANY_REQUESTS": (
        429,
        "Too many requests. Please wait a moment.",
        "リクエストが多すぎます。少し待ってください。",
    ),
    "IDEMPOTENCY_KEY_REQUIRED": (
        400,
        "An Idempotency-Key header is required for this request.",
        "この操作には Idempotency-Key ヘッダーが必要です。",
    ),
    "IDEMPOTENCY_KEY_REUSED": (
        409,
        "This Idempotency-Key was already used for a different request.",
        "この Idempotency-Key は別の操作に使われています。",
    ),
    "INVALID_PAYMENT_URI": (400, "This QR code is not a payment request.", "このQRコードは支払い用ではありません。"),
    "WRONG_CHAIN": (
        400,
        "This QR code is for a different ledger.",
        "このQRコードは別の台帳のものです。",
    ),
    "WRONG_TOKEN": (400, "This QR code is for different points.", "このQRコードは別のポイントのものです。"),
    "PAYMENT_REQUEST_MISMATCH": (
        400,
        "This QR code does not match the shop's request (it may have been altered).",
        "QRコードの内容がお店の請求と一致しません（改ざんの可能性があります）。",
    ),
    "UNKNOWN_PAYMENT_REQUEST": (404, "This payment request does not exist.", "この支払い請求は存在しません。"),
    "PAYMENT_REQUEST_EXPIRED": (410, "This payment request has expired.", "この支払い請求は期限切れです。"),
    "REQUEST_ALREADY_PAID": (409, "This payment request has already been paid.", "この支払いは既に完了しています。"),
    "INSUFFICIENT_BALANCE": (409, "Not enough points.", "ポイントが足りません。"),
    "PAYMENT_REQUEST_CANCELLED": (
        410,
        "The shop cancelled this payment request; ask the shop to show a new QR code.",
        "お店がこの支払い請求を取り消しました。お店に新しいQRコードを表示してもらってください。",
    ),
    "REQUEST_NOT_CANCELLABLE": (
        409,
        "This payment request can no longer be cancelled (it is being paid or already paid).",
        "この支払い請求は取り消せません（支払い中または支払い済みです）。",
    ),
    "PAYMENT_IN_PROGRESS": (
        409,
        "Someone is paying this request right now.",
        "この支払い請求は現在お支払いの処理中です。",
    ),
    "POINTS_EXPIRED": (
        409,
        "Not enough points: some of your points have expired.",
        "ポイントが足りません（有効期限が切れたポイントがあります）。",
    ),
    "THANKS_DAILY_CAP": (
        409,
        "You have reached today's limit for thank-you points. It resets at midnight, Japan time.",
        "本日の「ありがとう」の上限に達しました。日本時間の午前0時にリセットされます。",
    ),
    "CANNOT_THANK_YOURSELF": (400, "You cannot thank yourself.", "自分自身には送れません。"),
    "ACCOUNT_SUSPENDED": (403, "Your account is suspended.", "アカウントが停止されています。"),
    "RECIPIENT_NOT_ACTIVE": (409, "The recipient cannot receive points now.", "相手は現在ポイントを受け取れません。"),
    "TRANSFER_NOT_PERMITTED": (
        409,
        "Points cannot be sent this way.",
        "この方法ではポイントを送れません。",
    ),
    "LEDGER_PAUSED": (503, "Point payments are paused by the city.", "市によりポイントの利用が一時停止されています。"),
    "INVALID_AMOUNT": (400, "The amount is not valid.", "金額が正しくありません。"),
    "UNKNOWN_PAYMENT": (404, "No such payment to refund.", "返金対象の支払いがありません。"),
    "REFUND_EXCEEDS_PAYMENT": (409, "The refund is larger than what was paid.", "返金額が支払額を超えています。"),
    "NOT_REFUNDABLE": (409, "This payment cannot be refunded.", "この支払いは返金できません。"),
    "UNKNOWN_RECIPIENT": (404, "No resident has this code.", "このコードの利用者はいません。"),
    "UNKNOWN_PROGRAMME": (404, "No such reward programme.", "その制度はありません。"),
    "PROGRAMME_NOT_ACTIVE": (409, "This programme is not open now.", "この制度は現在受け付けていません。"),
    "PROGRAMME_BUDGET_EXHAUSTED": (409, "This programme's budget has run out.", "この制度の予算に達しました。"),
    "CLAIM_ALREADY_GRANTED": (409, "This claim has already been granted.", "この申請は既に付与済みです。"),
    "CLAIM_NOT_PENDING": (409, "This claim has already been decided.", "この申請は既に処理済みです。"),
    "BENEFICIARY_NOT_ACTIVE": (
        409,
        "The resident's account is not active.",
        "利用者のアカウントが有効ではありません。",
    ),
    "ACCOUNT_NOT_PENDING": (
        409,
        "This account is not waiting for confirmation.",
        "このアカウントは確認待ちではありません。",
    ),
    "ACCOUNT_ALREADY_REGISTERED": (409, "This account is already registered.", "このアカウントは登録済みです。"),
    "PIN_INCORRECT": (403, "The PIN is wrong.", "暗証番号が違います。"),
    "CARD_LOCKED": (
        423,
        "This card is locked after wrong PINs. Please try again later.",
        "暗証番号の誤りが続いたため、カードを一時的にロックしました。",
    ),
    "CARD_UNKNOWN": (404, "This card is not valid.", "このカードは無効です。"),
    "CARD_BLOCKED": (
        403,
        "This card has been reported lost and is blocked. A new card can be issued at the city counter.",
        "このカードは紛失届により停止されています。市役所の窓口で再発行できます。",
    ),
    "NO_CARD": (404, "This resident has no card yet.", "この方にはまだカードがありません。"),
    "BIRTH_DATE_IMPOSSIBLE": (
        422,
        "The date of birth cannot be right (in the future, or more than 120 years ago).",
        "生年月日が正しくありません（未来の日付、または120年以上前です）。",
    ),
    "RESET_CODE_INVALID": (
        403,
        "The log-in ID or the reset code is wrong.",
        "ログインIDまたは再設定コードが違います。",
    ),
    "RESET_CODE_USED": (409, "This reset code has already been used.", "この再設定コードは使用済みです。"),
    "RESET_CODE_EXPIRED": (
        410,
        "This reset code has expired. Ask at the city counter for a new one.",
        "この再設定コードは有効期限が切れています。窓口で新しいコードをお受け取りください。",
    ),
    "PIN_ENTRY_INVALID": (
        409,
        "This PIN pad entry is over (used, expired or another officer's). Start again.",
        "この暗証番号入力は終了しています（使用済み・期限切れ・別の職員）。最初からやり直してください。",
    ),
    "RECOVERY_OPEN": (
        409,
        "A recovery of this account is already under way.",
        "このアカウントの復旧はすでに手続き中です。",
    ),
    "NO_RECOVERY": (404, "No recovery of this account is under way.", "このアカウントの復旧手続きはありません。"),
    "PROXY_NOT_ELIGIBLE": (
        422,
        "A proxy must be another verified resident with their own account.",
        "代理人は、本人確認済みの別の住民（ご自身のアカウントをお持ちの方）に限ります。",
    ),
    "PROXY_EXISTS": (409, "This person is already a proxy for this resident.", "この方はすでに代理人です。"),
    "PROXY_NOT_ALLOWED": (
        403,
        "You are not allowed to do this for this resident.",
        "この方の代理として、この操作はできません。",
    ),
    "PROXY_LIMIT": (
        403,
        "This is over the points a day the proxy may use for this resident.",
        "代理で使える1日のポイント上限を超えます。",
    ),
    "ACCOUNT_REJECTED": (
        403,
        "Your sign-up was not approved. The reason is below; the city counter can help you sign up again.",
        "登録は承認されませんでした。理由は下記のとおりです。市役所の窓口で改めて登録のお手伝いをします。",
    ),
    "PIN_MISMATCH": (422, "The two PINs are not the same.", "2回入力した暗証番号が一致しません。"),
    "SEARCH_EMPTY": (
        422,
        "Give a name, a date of birth, a member code or a card to search.",
        "氏名・生年月日・会員コード・カードのいずれかを入力してください。",
    ),
    "CODE_INVALID": (
        409,
        "This payment code is not valid (expired or already used).",
        "この支払いコードは無効です（期限切れまたは使用済み）。",
    ),
    "NOT_A_RESIDENT": (
        409,
        "Only residents can pay with a card or a code.",
        "カード・コード払いは住民のみ利用できます。",
    ),
    "SERVICE_NOT_AUTHORISED": (
        503,
        "The wallet service is not authorised on the ledger for this; please contact the city.",
        "ウォレットサービスに台帳上の権限がありません。市にお問い合わせください。",
    ),
    "TRANSACTION_REJECTED": (409, "The ledger refused this operation.", "台帳がこの操作を拒否しました。"),
    "NODE_UNAVAILABLE": (
        503,
        "The ledger cannot be reached now; your request is kept and will be sent.",
        "台帳に接続できません。リクエストは保存され、後で送信されます。",
    ),
    "DATABASE_UNAVAILABLE": (
        503,
        "The wallet's records cannot be reached just now; nothing was lost. Please try again in a moment.",
        "ただいまウォレットの記録に接続できません。データは失われていません。少し待ってからもう一度お試しください。",
    ),
    "HISTORY_UNAVAILABLE": (
        503,
        "Your history cannot be read from the ledger right now. Please try again shortly.",
        "現在、台帳から履歴を読み込めません。しばらくしてからお試しください。",
    ),
    "CHARGE_DECLINED": (409, "The customer declined this charge.", "お客様がこの請求を承認しませんでした。"),
    "CHARGE_NOT_AWAITING_CONFIRMATION": (
        409,
        "This charge is not waiting for your confirmation.",
        "この請求は承認待ちではありません。",
    ),
    "INTERNAL_ERROR": (500, "Something went wrong on our side.", "システムエラーが発生しました。"),
    # help matching (issue 18)
    "HELP_INVALID_WINDOW": (
        422,
        "The time window must end after it starts, in the future, within 7 days.",
        "日時は開始より後に終わり、未来の、7日以内の範囲にしてください。",
    ),
    "HELP_CANNOT_HELP_YOURSELF": (
        409,
        "You cannot help with your own request.",
        "ご自分の困りごとには申し出できません。",
    ),
    "HELP_NOT_OPEN": (409, "This request is no longer open.", "この困りごとは募集を終了しています。"),
    "HELP_ALREADY_OFFERED": (409, "You have already offered to help.", "すでにお手伝いを申し出ています。"),
    "HELP_NOT_OFFERED": (
        409,
        "This person has not offered to help with this request.",
        "この方はこの困りごとにお手伝いを申し出ていません。",
    ),
    "HELP_NOT_YOURS": (
        403,
        "Only the person who posted this request can do this.",
        "この操作は依頼した方のみできます。",
    ),
    "HELP_WRONG_STATUS": (
        409,
        "This request is not in a state that allows this (already matched, completed or closed).",
        "この困りごとは現在この操作ができない状態です（マッチング済み・完了・終了など）。",
    ),
    "HELP_THANKS_OUT_OF_RANGE": (
        422,
        "The thanks must be within the city's range for this kind of help.",
        "お礼のポイントは、このお手伝いの種類に市が定めた範囲内にしてください。",
    ),
    "HELP_TOO_MANY_OPEN": (
        409,
        "You have too many requests in progress. Please finish or withdraw one first.",
        "進行中の困りごとが上限に達しています。完了または取り下げてからお試しください。",
    ),
    "HELP_MONTHLY_CAP": (
        409,
        "This would pass this month's limit of thanks for help requests.",
        "今月の困りごとのお礼の上限を超えます。",
    ),
    "HELP_SUSPENDED": (
        403,
        "This account cannot use help matching now.",
        "このアカウントは現在、困りごとマッチングを利用できません。",
    ),
    "HELP_TASK_NOT_OFFERED": (
        422,
        "This kind of help is not offered now.",
        "この種類のお手伝いは現在受け付けていません。",
    ),
    "HELP_WINDOW_OVER": (409, "The time for this request has passed.", "この困りごとの日時は過ぎています。"),
    "HELP_HELPER_NOT_ACTIVE": (
        409,
        "This person cannot be chosen now (not an active resident).",
        "この方は現在選べません（有効な住民アカウントではありません）。",
    ),
    "HELP_NOT_THE_HELPER": (
        403,
        "Only the helper chosen for this request can do this.",
        "この操作は、お手伝いに選ばれた方のみできます。",
    ),
    "HELP_NOT_A_PARTY": (
        403,
        "Only the person who asked and the chosen helper can do this.",
        "この操作は、依頼した方とお手伝いに選ばれた方のみできます。",
    ),
    "HELP_TOO_LATE_TO_CANCEL": (
        409,
        "The help has already started; it can no longer be cancelled (ask the city if something went wrong).",
        "お手伝いの時間が始まっているため取り消せません（問題があれば市に相談してください）。",
    ),
    "HELP_NOT_EXPIRED": (
        409,
        "The time for this request has not ended yet.",
        "この困りごとの日時はまだ終わっていません。",
    ),
    "HELP_BLOCKED": (
        409,
        "This is not possible between you and this person.",
        "この方との間ではこの操作はできません。",
    ),
    "HELP_OFFER_LIMIT": (
        429,
        "You have offered help many times today. Please try again tomorrow.",
        "本日のお手伝いの申し出が上限に達しました。明日またお試しください。",
    ),
    "WATCH_UNAVAILABLE": (
        503,
        "Watch-over is not available right now. Please try again later.",
        "みまもりは現在ご利用いただけません。しばらくしてからお試しください。",
    ),
    "HELP_NO_VOUCHERS": (
        409,
        "The city offers no help vouchers on this service.",
        "このサービスでは市のお手伝い券は用意されていません。",
    ),
    "HELP_NOT_LINKED": (
        403,
        "You may not act for this resident: they have not consented, or ended their consent.",
        "この方の代理はできません（ご本人の同意がないか、同意が取り消されています）。",
    ),
    "HELP_CARD_NOT_THEIRS": (
        409,
        "This card belongs to someone else than the member code given.",
        "このカードは入力された会員コードの方のものではありません。",
    ),
    "HELP_COORDINATOR_UNKNOWN": (
        404,
        "No coordinator has this code.",
        "このコードのコーディネーターは見つかりません。",
    ),
}


class ApiError(Exception):
    """A refusal with a stable code; ``detail`` carries non-secret specifics (field names, limits)."""

    def __init__(self, code: str, detail: dict[str, Any] | None = None, status: int | None = None) -> None:
        if code not in MESSAGES:
            raise KeyError(f"unknown error code {code}")
        super().__init__(code)
        self.code = code
        self.detail = detail or {}
        self.status = status or MESSAGES[code][0]


def error_body(code: str, detail: dict[str, Any] | None, language: str) -> dict[str, Any]:
    _, english, japanese = MESSAGES[code]
    message = english if language == "en" else japanese
    return {
        "error": {"code": code, "message": message, "messages": {"ja": japanese, "en": english}, "detail": detail or {}}
    }


def preferred_language(accept_language: str | None) -> str:
    """``ja`` unless the client prefers English (Japanese first, as the city's residents are)."""
    if not accept_language:
        return "ja"
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return "ja"


_CONTRACT_CODES = {
    "InsufficientUnexpiredBalance": "INSUFFICIENT_BALANCE",
    "ERC20InsufficientBalance": "INSUFFICIENT_BALANCE",
    "TransferNotPermitted": "TRANSFER_NOT_PERMITTED",
    "EnforcedPause": "LEDGER_PAUSED",
    "InvalidAmount": "INVALID_AMOUNT",
    "DailyThanksLimitReached": "THANKS_DAILY_CAP",
    "DailyThanksPointsExceeded": "THANKS_DAILY_CAP",
    "CannotThankYourself": "CANNOT_THANK_YOURSELF",
    "PaymentRequestAlreadyPaid": "REQUEST_ALREADY_PAID",
    "UnknownPayment": "UNKNOWN_PAYMENT",
    "RefundExceedsPayment": "REFUND_EXCEEDS_PAYMENT",
    "UnknownProgramme": "UNKNOWN_PROGRAMME",
    "ProgrammeNotActive": "PROGRAMME_NOT_ACTIVE",
    "ProgrammeAlreadyClosed": "PROGRAMME_NOT_ACTIVE",
    "BudgetExceeded": "PROGRAMME_BUDGET_EXHAUSTED",
    "ClaimAlreadyUsed": "CLAIM_ALREADY_GRANTED",
    "BeneficiaryNotActiveResident": "BENEFICIARY_NOT_ACTIVE",
    "AccountAlreadyRegistered": "ACCOUNT_ALREADY_REGISTERED",
    "AccessControlUnauthorizedAccount": "SERVICE_NOT_AUTHORISED",
    "UnitsOutOfRange": "INVALID_AMOUNT",
    "WrongStatus": "HELP_WRONG_STATUS",
    "ThanksOutOfRange": "HELP_THANKS_OUT_OF_RANGE",
    "TooManyOpenRequests": "HELP_TOO_MANY_OPEN",
    "MonthlyCapReached": "HELP_MONTHLY_CAP",
    "SuspendedFromService": "HELP_SUSPENDED",
    "TaskTypeNotOffered": "HELP_TASK_NOT_OFFERED",
    "WindowOver": "HELP_WINDOW_OVER",
    "InvalidWindow": "HELP_INVALID_WINDOW",
    "NotActiveResident": "HELP_HELPER_NOT_ACTIVE",
    "CannotHelpYourself": "HELP_CANNOT_HELP_YOURSELF",
    "NotRequester": "HELP_NOT_YOURS",
    "NotAParty": "HELP_NOT_A_PARTY",
    "TooLateToCancel": "HELP_TOO_LATE_TO_CANCEL",
    "NotExpiredYet": "HELP_NOT_EXPIRED",
    "ExceedsThanks": "HELP_THANKS_OUT_OF_RANGE",
}


def code_for_contract_error(error: ContractError | None, sender: str) -> str:
    """The API code of a decoded revert raised by a transaction from ``sender``."""
    if error is None:
        return "TRANSACTION_REJECTED"
    if error.name == "AccountNotActive":
        return (
            "ACCOUNT_SUSPENDED"
            if str(error.args.get("account", "")).lower() == sender.lower()
            else "RECIPIENT_NOT_ACTIVE"
        )
    return _CONTRACT_CODES.get(error.name, "TRANSACTION_REJECTED")
