"""The dashboard page (``/dashboard``): the API's figures drawn as server-made SVG charts, each
with a link to its data as XLSX. Permissions and scope are the API's."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from guifan.web import api
from guifan.web.app import DB, require
from guifan.web.dashboards import charts, service
from guifan.web.dashboards.api import DashboardQuery, figures_for
from guifan.web.models import User
from guifan.web.pages import render
from guifan.web.security import Permission

router = APIRouter(include_in_schema=False)
WEEK = "周 (ISO,周一起)"


def drawn(data: dict[str, Any], clause_title) -> dict[str, Any]:
    """The page's SVG charts from the API's figures."""
    weeks = data["weeks"]
    labels = [w["week"] for w in weeks]
    kpi = {key: [w["kpis"][key] for w in weeks] for key in service.KPI_KEYS}
    compared = data["comparison"]
    before = compared["previous_weeks"]
    aligned = max(len(weeks), len(before))
    return {
        "distribution": charts.bar_chart([f"{b['low']}–{b['high']}" for b in data["distribution"]],
                                         [b["conversations"] for b in data["distribution"]], "得分区间", "会话数"),
        "comparison": charts.line_chart(
            [f"第{n}周" for n in range(1, aligned + 1)],
            [(f"本期 {compared['current']['from']} 起", [w["score"] for w in weeks]),
             (f"上期 {compared['previous']['from']} 起", [w["score"] for w in before])],
            "各期的第几周", "平均得分", 0, 100),
        "trend": charts.line_chart(labels, [("平均得分", [w["score"] for w in weeks])], WEEK, "平均得分", 0, 100),
        "clause_trend": charts.line_chart(
            labels, [(f"{c} {clause_title(c)}"[:16], [w["clauses"][c] for w in weeks]) for c in (weeks[0]["clauses"] if weeks else [])],
            WEEK, "问题数", 0),
        "handle": charts.line_chart(labels, [("平均处理时长", kpi["handle_seconds"])], WEEK, "平均处理时长(秒)", 0),
        "hold": charts.line_chart(labels, [("平均保持时长", kpi["hold_seconds"])], WEEK, "平均保持时长(秒)", 0),
        "silence": charts.line_chart(labels, [("静默占比", [None if v is None else round(v * 100, 1)
                                                           for v in kpi["silence_ratio"]])], WEEK, "静默占比(%)", 0),
        "interruptions": charts.line_chart(labels, [("平均抢话次数", kpi["interruptions"])], WEEK, "平均抢话次数", 0),
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page(request: Request, session: DB, user: Annotated[User, Depends(require(Permission.DASHBOARD))],
                   query: Annotated[DashboardQuery, Query()]) -> HTMLResponse:
    data = figures_for(session, user, query)
    workspace = request.app.state.workspace
    rulebook = workspace.checker(workspace.active_rulebook(session)).engine.rulebook
    params = urlencode({k: v for k, v in query.model_dump().items() if v is not None})
    return render(request, "dashboard.html", user, d=data, charts=drawn(data, rulebook.clause_title), q=query,
                  params=params, teams=api.teams(session, user), clause_title=rulebook.clause_title,
                  kpi_names=service.KPI_NAMES)
