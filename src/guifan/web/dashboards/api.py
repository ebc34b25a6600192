"""The dashboards' JSON API (``/api/v1/dashboard``) and each chart's data as XLSX, within the
caller's scope (agents: their own, team leads: their team's, others: everyone)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy.orm import Session

from guifan.web import clock
from guifan.web.app import DB, require
from guifan.web.dashboards import service
from guifan.web.models import User
from guifan.web.security import Permission
from guifan.web.validation import WEEK_YEARS, RowId, Text

router = APIRouter()
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ending(end: date, start: date | None, field: str) -> date:
    if not WEEK_YEARS[0] <= end.year <= WEEK_YEARS[1]:
        raise ValueError(f"年份应在 {WEEK_YEARS[0]} 到 {WEEK_YEARS[1]} 之间")
    if start is not None and start > end:
        raise ValueError(f"不能早于 {field} ({start.isoformat()})")
    if start is not None and (end - start).days + 1 > service.MAX_DAYS:
        raise ValueError(f"时间范围最多 {service.MAX_DAYS} 天 (两年)")
    return end


class DashboardQuery(BaseModel):
    """A date range (default: the last twelve weeks), the period it is compared with (default: the
    same number of days just before), and optionally one agent, one team, the clause agents are
    ranked by (default: the most-broken one). Dates are UTC days, both ends included."""

    date_from: date | None = None
    date_to: date | None = Field(default=None, validate_default=True)
    compare_from: date | None = None
    compare_to: date | None = Field(default=None, validate_default=True)
    agent: Text | None = Field(default=None, max_length=64)
    team: RowId | None = None
    clause: Text | None = Field(default=None, max_length=20)

    @model_validator(mode="before")
    @classmethod
    def _blank(cls, data: Any) -> Any:
        """The page's form sends its empty fields: they mean the default."""
        return {k: v for k, v in data.items() if v != ""} if isinstance(data, dict) else data

    @field_validator("date_from", "compare_from")
    @classmethod
    def _year(cls, value: date | None) -> date | None:
        if value is not None and not WEEK_YEARS[0] <= value.year <= WEEK_YEARS[1]:
            raise ValueError(f"年份应在 {WEEK_YEARS[0]} 到 {WEEK_YEARS[1]} 之间")
        return value

    @field_validator("date_to")
    @classmethod
    def _period(cls, value: date | None, info: ValidationInfo) -> date:
        start, end = info.data.get("date_from"), value
        if end is None:  # today, or twelve weeks from date_from if that ends sooner
            today = clock.today()
            end = today if start is None else max(start, min(start + timedelta(days=service.DEFAULT_DAYS - 1), today))
        return _ending(end, start, "date_from")

    @field_validator("compare_to")
    @classmethod
    def _compared(cls, value: date | None, info: ValidationInfo) -> date | None:
        return None if value is None else _ending(value, info.data.get("compare_from"), "compare_from")

    def periods(self) -> tuple[service.Period, service.Period]:
        end = self.date_to
        period = service.Period(self.date_from or end - timedelta(days=service.DEFAULT_DAYS - 1), end)
        if self.compare_from is None and self.compare_to is None:
            return period, period.before()
        compare_to = self.compare_to or (self.compare_from + timedelta(days=period.days - 1))
        compare_from = self.compare_from or (compare_to - timedelta(days=period.days - 1))
        return period, service.Period(compare_from, compare_to)


def figures_for(session: Session, user: User, query: DashboardQuery) -> dict[str, Any]:
    period, previous = query.periods()
    scope = service.Scope(user, query.agent, query.team)
    return service.figures(session, scope, period, previous, query.clause)


@router.get("/dashboard", tags=["dashboard"])
def dashboard_figures(session: DB, user: Annotated[User, Depends(require(Permission.DASHBOARD))],
                      query: Annotated[DashboardQuery, Query()]) -> dict:
    """Score distribution (buckets of ten points), agents ranked by score and by a clause, weekly
    score, clause and KPI trends (ISO weeks), and the two periods compared."""
    return figures_for(session, user, query)


@router.get("/dashboard/{chart}.xlsx", tags=["dashboard"], response_class=Response,
            responses={200: {"content": {XLSX: {}}}, 404: {"description": "没有这个图表"}})
def dashboard_export(chart: Annotated[str, Path(max_length=30)], session: DB,
                     user: Annotated[User, Depends(require(Permission.DASHBOARD))],
                     query: Annotated[DashboardQuery, Query()]) -> Response:
    """One chart's data as an XLSX sheet: distribution, agents, clause-ranking, trend, clause-trend,
    kpis or comparison."""
    from guifan.reporters.xlsx import table_xlsx

    tables = service.tables(figures_for(session, user, query))
    if chart not in tables:
        raise HTTPException(404, "没有这个图表")
    title, headers, rows = tables[chart]
    stream = io.BytesIO()
    table_xlsx(title, headers, rows, stream)
    return Response(stream.getvalue(), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="dashboard-{chart}.xlsx"'})
