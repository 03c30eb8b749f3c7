"""The refusals of points that stay local (issue 21), in Japanese and English.

Added to :data:`wallet_api.errors.MESSAGES` (the one table every refusal is rendered from)
when this module is imported, as :mod:`wallet_api.programmes_errors` does; the contract's
new custom errors are mapped to these codes in the same table ``code_for_contract_error``
reads, so a refusal found only on the ledger reads the same as one the wallet saw first.
"""

from __future__ import annotations

from wallet_api import errors
from wallet_api.errors import MESSAGES

BUSINESS_MESSAGES: dict[str, tuple[int, str, str]] = {
    "SUPPLIER_IS_RESIDENT": (
        409,
        "This code belongs to a resident. Shop-to-business payments go only to a participating shop or business; "
        "to give a resident points, use 'reward'.",
        "このコードは市民の方のものです。事業者間の支払いは参加店舗・事業者にだけ送れます。市民の方には「ポイント還元」を使ってください。",
    ),
    "SUPPLIER_NOT_REGISTERED": (
        404,
        "No participating shop or business has this code or address. Nothing was sent.",
        "このコード・アドレスの参加店舗・事業者はありません。送金していません。",
    ),
    "SUPPLIER_NOT_ACTIVE": (
        409,
        "This shop or business cannot receive points now (its account is suspended). Nothing was sent.",
        "この店舗・事業者は現在ポイントを受け取れません（利用停止中）。送金していません。",
    ),
    "CANNOT_PAY_YOURSELF": (409, "You cannot pay your own shop.", "自分の店舗には支払えません。"),
    "BUSINESS_OVER_LIMIT": (
        422,
        "This is over the city's limit for one transfer. Nothing was sent.",
        "1回あたりの上限（市が設定）を超えています。送金していません。",
    ),
    "REWARD_NOT_RESIDENT": (
        409,
        "Rewards go only to residents. To pay a shop or business, use 'pay a supplier'.",
        "ポイント還元は市民の方にだけ送れます。店舗・事業者への支払いは「取引先へ支払う」を使ってください。",
    ),
    "BUSINESS_PROGRAMME_OUT_OF_POINTS": (
        409,
        "Your programme cannot pay this claim: your shop has fewer points than the reward. Nothing was sent.",
        "ポイント残高が還元額より少ないため、この申請には付与できません。送金していません。",
    ),
    "BUSINESS_PROGRAMME_NOT_READY": (
        409,
        "The programme is still being set up on the ledger. Please try again in a moment.",
        "制度を台帳に登録中です。少し待ってからもう一度お試しください。",
    ),
    "BUSINESS_ADDRESS_INVALID": (
        422,
        "The business's address must be 0x followed by 40 hexadecimal digits.",
        "事業者のアドレスは 0x と16進数40桁で入力してください。",
    ),
    "BUSINESS_ALREADY_REGISTERED": (
        409,
        "This address is already registered.",
        "このアドレスは既に登録されています。",
    ),
    "BUSINESS_NOT_A_SHOP": (
        403,
        "A business account cannot take payments from residents: only a participating shop can. "
        "A business pays shops and businesses and rewards residents.",
        "事業者のアカウントでは市民の方からの支払いを受け取れません（受け取れるのは参加店舗だけです）。"
        "事業者は店舗・事業者への支払いと、市民の方へのごほうびができます。",
    ),
    "CORPORATE_NUMBER_INVALID": (
        422,
        "The corporate number must be the 13 digits of the business's 法人番号 (its check digit did not match).",
        "法人番号は13桁の数字で入力してください（チェック用の数字が合いません）。",
    ),
    "BUSINESS_NOT_PENDING": (
        409,
        "This business's application has already been decided.",
        "この事業者の申請は既に処理されています。",
    ),
}

# The contracts' refusals of these movements (contracts/src/RegionalPoints.sol, RewardProgrammes.sol).
BUSINESS_CONTRACT_CODES = {
    "LocalTransferLimitExceeded": "BUSINESS_OVER_LIMIT",
    "CannotPayYourself": "CANNOT_PAY_YOURSELF",
    "BusinessFundsExhausted": "BUSINESS_PROGRAMME_OUT_OF_POINTS",
    "InvalidCategory": "VALIDATION_ERROR",
}

assert not set(BUSINESS_MESSAGES) & set(MESSAGES) - {
    code for code, text in BUSINESS_MESSAGES.items() if MESSAGES.get(code) == text
}, "an error code of the business feature clashes with one defined elsewhere"
MESSAGES.update(BUSINESS_MESSAGES)
errors._CONTRACT_CODES.update(BUSINESS_CONTRACT_CODES)  # noqa: SLF001 - the feature registers its own mappings
