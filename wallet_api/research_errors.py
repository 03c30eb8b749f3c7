"""The research feature's refusals, in Japanese and English, added to :data:`wallet_api.errors.MESSAGES`
when imported (as the other features do), never overriding a code defined elsewhere."""

from __future__ import annotations

from wallet_api.errors import MESSAGES

RESEARCH_MESSAGES: dict[str, tuple[int, str, str]] = {
    "SURVEY_ALREADY_ANSWERED": (
        409,
        "You have already answered this year's Well-being survey. Thank you! You can answer again next year.",
        "今年のWell-beingアンケートには回答済みです。ありがとうございました。来年またお答えください。",
    ),
    "RESEARCH_OPTED_OUT": (
        409,
        "You have chosen not to share data for research. Turn sharing back on to answer the survey.",
        "研究への提供を停止しています。アンケートに答えるには提供を再開してください。",
    ),
    "RESEARCH_FEED_NOT_CONFIGURED": (
        503,
        "The research feed is not set up on this wallet.",
        "このウォレットでは研究用データの提供が設定されていません。",
    ),
    "RESEARCH_FEED_REFUSED": (
        401,
        "Only the city's data platform may read the research feed.",
        "研究用データは市のデータ基盤のみが読み取れます。",
    ),
}
for _code, _message in RESEARCH_MESSAGES.items():
    assert MESSAGES.get(_code, _message) == _message, f"{_code} is defined twice"
    MESSAGES[_code] = _message
