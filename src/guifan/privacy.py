"""Masking of personal data: phone numbers, ID-card numbers, bank-card numbers and e-mail addresses.

Masking keeps the text's length and the first and last characters of each number, so that a
finding's span still points at the same words and a reviewer can still tell two numbers apart:
"13812345678" → "138****5678". Every masked character becomes one "*" (a full-width digit too).
Corpus masks such as "[电话x]" are left alone.

    mask_personal_data("我手机号13812345678,卡号6222021234567890123")
    '我手机号138****5678,卡号6222***********0123'

What is recognized (docs/privacy.md has the full list and the limits):

- phone numbers, through libphonenumber's matcher (numbers it deems valid for China, or for the
  country after an explicit "+"): mobiles and landlines with area code, with +86 / 86 / 0086,
  spaces, dashes, dots, brackets, full-width digits; the area code or the mobile prefix and the
  last four digits stay. Business numbers (400/800 hotlines) are not personal data and stay.
- resident ID cards: 18 characters (last one may be X) or the old 15 digits, also grouped by
  spaces or dashes (6-8-4, 6-4-4-4), when the region code and the birth date are plausible;
  the region (6) and the last four stay.
- bank cards: 16-19 digits, optionally grouped by four; the first and last four stay.
- e-mail addresses: the local part is hidden but for its first and last character.
- the above written in Chinese numerals (幺三八一二三四五六七八) as one run of 7+ numerals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, Iterator

from phonenumbers import (
    Leniency,
    PhoneNumberMatcher,
    PhoneNumberType,
    length_of_national_destination_code,
    national_significant_number,
    number_type,
)

if TYPE_CHECKING:
    from guifan.model import Finding, Turn
    from guifan.scoring import BatchSummary, CheckResult

_DIGIT = re.compile(r"\d")
_CHINESE_DIGITS = "〇零一二三四五六七八九幺"
_CHINESE_RUN = re.compile(rf"[{_CHINESE_DIGITS}]{{7,}}")
_TO_DIGITS = str.maketrans(_CHINESE_DIGITS, "001234567891")

# Group separators inside ID and card numbers: space, dash, and their full-width forms.
_SEP = r"[ \-\u3000－]?"
# 18-character resident ID (17 digits + digit or X), or the old 15 digits, whole or grouped.
_ID_CARD = re.compile(
    rf"(?<![\dA-Za-z])(?:(\d{{6}}){_SEP}(\d{{4}}){_SEP}(\d{{4}}){_SEP}(\d{{3}}[\dXxＸｘ])"
    rf"|(\d{{6}}){_SEP}(\d{{6}}){_SEP}(\d{{3}}))(?![\dA-Za-z])"
)
# The first two digits of the region code: provinces (GB/T 2260), Taiwan, Hong Kong, Macau, the
# residence permits of Hong Kong, Macau and Taiwan residents, and foreigners' permanent residence.
_REGIONS = frozenset(
    {*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66),
     71, 81, 82, 83, 91}
)
# Bank cards: 16-19 digits, optionally grouped by 4.
_BANK_CARD = re.compile(rf"(?<!\d)(?:\d{{4}}{_SEP}){{3}}\d{{4}}(?:{_SEP}\d{{1,3}})?(?!\d)")
# E-mail addresses, RFC lengths as bounds (a local part starts where a run of its characters does,
# so a long run without "@" is scanned once).
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]{1,64})[@＠][A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+"
)
# libphonenumber skips a number touching a Latin letter (codes such as SF1234…); in chat,
# "Tel13812345678" and "wx13812345678" are phone numbers, so letters are blanked for the matcher.
_BLANK_LETTERS = str.maketrans(dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "_"))
# Company hotlines (400 / 800 numbers and the like) are not personal data.
_BUSINESS = frozenset(
    {PhoneNumberType.TOLL_FREE, PhoneNumberType.SHARED_COST, PhoneNumberType.PREMIUM_RATE, PhoneNumberType.UAN}
)


def _hidden(positions: list[int], head: int, tail: int) -> list[int]:
    """``positions`` but for the first ``head`` and last ``tail``; at least one position is left to
    hide whenever there are more than ``head``."""
    tail = max(0, min(tail, len(positions) - head - 1))
    return positions[head:len(positions) - tail]


def _significant(view: str, start: int, end: int) -> list[int]:
    return [i for i in range(start, end) if view[i].isalnum()]


def _plausible_id(groups: tuple[str | None, ...]) -> bool:
    """Region code and birth date of an ID-card match make sense (an order number seldom does)."""
    number = "".join(group for group in groups if group)
    if len(number) == 18:
        year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    else:  # the old 15 digits: YYMMDD, all born in the 1900s
        year, month, day = 1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])
    if int(number[:2]) not in _REGIONS or not 1900 <= year <= date.today().year:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _emails(view: str) -> Iterator[int]:
    if "@" in view or "＠" in view:
        for match in _EMAIL.finditer(view):
            yield from _hidden(list(range(*match.span(1))), 1, 1)


def _id_cards(view: str) -> Iterator[int]:
    for match in _ID_CARD.finditer(view):
        if _plausible_id(match.groups()):
            yield from _hidden(_significant(view, *match.span()), 6, 4)


def _bank_cards(view: str) -> Iterator[int]:
    for match in _BANK_CARD.finditer(view):
        yield from _hidden(_significant(view, *match.span()), 4, 4)


def _phones(view: str) -> Iterator[int]:
    if len(_DIGIT.findall(view)) < 7:  # no valid phone number is shorter
        return
    for match in PhoneNumberMatcher(view.translate(_BLANK_LETTERS), "CN", leniency=Leniency.VALID):
        number = match.number
        if number_type(number) in _BUSINESS:
            continue
        if number.country_code != 86 and not match.raw_string.lstrip("(（").startswith(("+", "＋")):
            continue  # "00" + digits: more likely a code than a foreign number written without "+"
        digits = [i for i in range(match.start, match.end) if view[i].isdecimal()]
        digits = digits[:len(digits) - len(number.extension or "")]
        national = len(national_significant_number(number))
        # Keep what precedes the national number (+86, 0086, the trunk 0), the area code or the
        # mobile prefix (but at least three digits masked), and the last four digits.
        prefix = max(0, min(length_of_national_destination_code(number) or 3, national - 7))
        yield from _hidden(digits, len(digits) - national + prefix, 4)


# A mainland mobile written as one run of 11 digits, whatever follows a dash: libphonenumber reads
# "13812345678-0301" (an id made of a caller's number and a date) as one longer, invalid number.
_MOBILE = re.compile(r"(?<![\d¥￥$.])1[3-9]\d{9}(?![\d.]|元)")  # not an amount


def _mobiles(view: str) -> Iterator[int]:
    for match in _MOBILE.finditer(view):
        yield from _hidden(list(range(*match.span())), 3, 4)


# In this order: each recognizer reads the text as the ones before it masked it (an e-mail's
# digits or an ID-card number are not taken for a phone number too).
_RECOGNIZERS = (_emails, _id_cards, _bank_cards, _phones, _mobiles)


def mask_personal_data(text: str) -> str:
    """``text`` with phone, ID-card and bank-card numbers and e-mail addresses masked (same length)."""
    # Nothing to mask without an at sign, 7 digits (the shortest phone number) or a numeral run:
    # most turns are returned after these few scans.
    if "@" not in text and "＠" not in text and len(_DIGIT.findall(text)) < 7 and not _CHINESE_RUN.search(text):
        return text
    # The recognizers read a view of the text with Chinese-numeral runs as digits.
    view = _CHINESE_RUN.sub(lambda m: m.group(0).translate(_TO_DIGITS), text)
    hidden: set[int] = set()
    for recognize in _RECOGNIZERS:
        found = set(recognize(view))
        if found:
            hidden |= found
            view = "".join("*" if i in found else ch for i, ch in enumerate(view))
    if not hidden:
        return text
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def mask_value(value: Any) -> Any:
    """A JSON-like value with every string in it masked: mapping values (not keys), list and tuple
    items, recursively. An integer that masking would change (a phone number stored as a number)
    becomes the masked string; other values are returned as they are."""
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, int) and not isinstance(value, bool):
        masked = mask_personal_data(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, Mapping):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(item) for item in value)
    return value


def _mask_optional(text: str | None) -> str | None:
    return None if text is None else mask_personal_data(text)


def _masked_quote(finding: Finding, turns: tuple[Turn, ...], masked: tuple[Turn, ...]) -> str:
    """The quote cut from the masked turn where it came from, so that a quote ending inside a
    number hides what the turn hides; a quote not found in its turn is masked on its own."""
    body = finding.quote.removesuffix("…")
    if body and finding.turn is not None and 0 <= finding.turn < len(turns):
        original = turns[finding.turn].text
        span = finding.span
        start = span[0] if span and original[span[0]:span[1]] == body else original.find(body)
        if start >= 0:
            return masked[finding.turn].text[start:start + len(body)] + finding.quote[len(body):]
    return mask_personal_data(finding.quote)


def mask_result(result: CheckResult) -> CheckResult:
    """A copy of ``result`` for a report: the conversation's id, agent id, source, metadata and
    every turn's text masked, and every finding's quote, message and suggestion."""
    conv = result.conversation
    turns = tuple(replace(turn, text=mask_personal_data(turn.text)) for turn in conv.turns)
    conversation = replace(
        conv,
        id=mask_personal_data(conv.id),
        agent_id=_mask_optional(conv.agent_id),
        source=_mask_optional(conv.source),
        metadata=mask_value(dict(conv.metadata)),
        turns=turns,
    )
    findings = tuple(
        replace(
            finding,
            quote=_masked_quote(finding, conv.turns, turns),
            message=mask_personal_data(finding.message),
            suggestion=mask_personal_data(finding.suggestion),
        )
        for finding in result.findings
    )
    return replace(result, conversation=conversation, findings=findings)


def mask_summary(summary: BatchSummary) -> BatchSummary:
    """A copy of ``summary`` whose unreadable inputs have their path and message masked (a file may
    be named after a phone number; an error may quote a conversation id)."""
    errors = [replace(e, path=mask_personal_data(e.path), message=mask_personal_data(e.message)) for e in summary.errors]
    return replace(summary, errors=errors)

