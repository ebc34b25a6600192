"""Which holiday greeting a date calls for (S-A2): 新年好 on 元旦/春节, 节日好 on 五一/端午/中秋/国庆.

The official calendar (``chinese_calendar``, 2004–2026) is used where it has data: it knows the
actual day-off ranges, including merged holidays and days swapped for a weekend. Outside those
years the holidays are computed: lunar ones with ``lunar_python`` (春节 = 除夕 through 正月初七,
端午 = 五月初五, 中秋 = 八月十五) and solar ones on fixed dates (元旦 01-01, 劳动节 05-01…05-05,
国庆 10-01…10-07). A company's own ``holidays`` table overrides both.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, Mapping

import chinese_calendar
from lunar_python import Solar

HolidayKind = Literal["new_year", "festival"]

# chinese_calendar's holiday names; 清明 and one-off days have no greeting in the standard.
_OFFICIAL: dict[str, HolidayKind] = {
    "New Year's Day": "new_year",
    "Spring Festival": "new_year",
    "Labour Day": "festival",
    "Dragon Boat Festival": "festival",
    "Mid-autumn Festival": "festival",
    "National Day": "festival",
}

# Company table names: anything naming the new year is new_year; a name meaning "working day"
# removes the holiday; any other name is a festival (节日好 is the generic holiday greeting).
_NEW_YEAR_NAMES = ("元旦", "春节", "新年", "除夕", "过年", "新春", "正月")
_NOT_HOLIDAY_NAMES = {"", "无", "否", "工作日", "上班", "补班", "none", "workday", "no"}

_SOLAR_FESTIVALS = ((5, 1, 5), (10, 1, 7))  # (month, first day, last day): 劳动节, 国庆


def holiday_kind(d: date, company_holidays: Mapping[date, str] | None = None) -> HolidayKind | None:
    """``"new_year"``, ``"festival"`` or None for an ordinary day."""
    if company_holidays and d in company_holidays:
        return _kind_of_name(company_holidays[d])
    try:
        is_holiday, name = chinese_calendar.get_holiday_detail(d)
    except NotImplementedError:
        return _computed_kind(d)
    # A swapped working day (调休上班) also carries the holiday's name, with is_holiday False.
    return _OFFICIAL.get(name) if is_holiday and name else None


def _kind_of_name(name: str) -> HolidayKind | None:
    label = str(name).strip()
    if label.lower() in _NOT_HOLIDAY_NAMES:
        return None
    return "new_year" if any(n in label for n in _NEW_YEAR_NAMES) else "festival"


def _computed_kind(d: date) -> HolidayKind | None:
    if (d.month, d.day) == (1, 1):
        return "new_year"
    if any(d.month == m and first <= d.day <= last for m, first, last in _SOLAR_FESTIVALS):
        return "festival"
    lunar = Solar.fromYmd(d.year, d.month, d.day).getLunar()
    month, day = lunar.getMonth(), lunar.getDay()  # leap months are negative
    if month == 1 and day <= 7:
        return "new_year"
    if _is_chuxi(d):
        return "new_year"
    if (month, day) in ((5, 5), (8, 15)):
        return "festival"
    return None


def _is_chuxi(d: date) -> bool:
    """除夕: the last day of the lunar year (腊月廿九 or 三十), i.e. the eve of 正月初一."""
    if d == date.max:
        return False
    following = d + timedelta(days=1)
    lunar = Solar.fromYmd(following.year, following.month, following.day).getLunar()
    return lunar.getMonth() == 1 and lunar.getDay() == 1
