"""The workspace stores UTC; people read the company's local time. China Standard Time unless
``guifan serve --timezone`` names another zone (one zone per server: a call centre's day is its own)."""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

_zone = ZoneInfo("Asia/Shanghai")


def set_zone(name: str) -> None:
    """Use the IANA zone ``name`` (e.g. ``Asia/Shanghai``); raises ``ZoneInfoNotFoundError``."""
    global _zone
    _zone = ZoneInfo(name)


def zone() -> ZoneInfo:
    return _zone


def zone_label() -> str:
    """The zone as the dashboard names it: 北京时间 (UTC+08:00)."""
    offset = datetime.now(_zone).strftime("%z")
    name = "北京时间" if _zone.key in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else _zone.key
    return f"{name} (UTC{offset[:3]}:{offset[3:]})"


def aware(moment: datetime | None) -> datetime | None:
    """A stored time with its zone: a naive value is UTC (SQLite returns stored times without one)."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def local(moment: datetime) -> datetime:
    """``moment`` in local time."""
    return aware(moment).astimezone(_zone)


def when(moment: datetime | str | None) -> str:
    """A time as people write it: 2026-05-18 14:10 (local); ISO text from JSON columns too."""
    if not moment:
        return "—"
    return local(datetime.fromisoformat(moment) if isinstance(moment, str) else moment).strftime("%Y-%m-%d %H:%M")


def midnight(day: date) -> datetime:
    """The instant a local calendar day starts, in UTC (as the workspace stores times)."""
    return datetime.combine(day, time.min, _zone).astimezone(timezone.utc)


def today() -> date:
    return datetime.now(_zone).date()


def utc_offset_minutes() -> int:
    """The zone's current offset from UTC (days are grouped with it where the database knows no zones)."""
    return int(datetime.now(_zone).utcoffset().total_seconds() // 60)
