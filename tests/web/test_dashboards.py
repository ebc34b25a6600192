"""Dashboards (docs/web.md): figures on a small known set, scope, input bounds, XLSX exports."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from guifan.web.models import Team
from tests.web.conftest import made, signed_in, stored

RANGE = {"date_from": "2026-11-02", "date_to": "2026-11-15"}  # ISO weeks 2026-W45 and 2026-W46


def scored(app, cid: str, agent: str, day: str, score: float, findings=(), kpis: dict | None = None) -> None:
    """A conversation with a known final score and KPIs (as a review and timestamps would give)."""
    from guifan.web.models import Conversation

    row_id = stored(app, cid, list(findings), agent=agent, started_at=f"{day}T10:00:00+08:00")
    with app.state.workspace.sessions() as session:
        row = session.get(Conversation, row_id)
        row.final_score, row.kpis = score, kpis or {}
        session.commit()


KPIS_A = {"handle_seconds": 60.0, "hold_count": 1, "hold_seconds": 10.0, "silence_ratio": 0.1, "interruptions": 0}
KPIS_B = {"handle_seconds": 120.0, "hold_count": 0, "hold_seconds": 0.0, "silence_ratio": 0.2, "interruptions": 2}


@pytest.fixture
def board(app, people):
    rude = made("FBD010", 1, "你好")
    scored(app, "a1", "1024", "2026-11-02", 95, [rude], KPIS_A)
    scored(app, "a2", "1024", "2026-11-10", 85, [rude, made("FBD010", 3, "我查一下")], KPIS_B)
    scored(app, "b1", "2048", "2026-11-03", 55, [made("CRT001", 1, "您好")])
    scored(app, "p1", "1024", "2026-10-26", 70)  # the period before
    scored(app, "late", "2048", "2026-12-01", 10)  # after the range
    return people


def test_distribution_ranking_trends_and_comparison(board):
    d = board["super"].get("/api/v1/dashboard", params=RANGE).json()
    assert d["period"] == {"from": "2026-11-02", "to": "2026-11-15"} and d["conversations"] == 3
    buckets = {b["low"]: b["conversations"] for b in d["distribution"]}
    assert len(buckets) == 10 and buckets[90] == buckets[80] == buckets[50] == 1 and sum(buckets.values()) == 3
    assert d["distribution"][-1] == {"low": 90, "high": 100, "conversations": 1}
    assert [(a["agent"], a["conversations"], a["score"]) for a in d["agents"]] == [("1024", 2, 90.0), ("2048", 1, 55.0)]
    assert d["clauses"] == [{"clause": "S-F10", "findings": 3}, {"clause": "S-A11", "findings": 1}]
    assert d["clause"] == "S-F10"
    assert [(a["agent"], a["findings"], a["per_conversation"]) for a in d["clause_ranking"]] == [("1024", 3, 1.5), ("2048", 0, 0.0)]
    by_clause = board["super"].get("/api/v1/dashboard", params={**RANGE, "clause": "S-A11"}).json()
    assert [a["agent"] for a in by_clause["clause_ranking"]] == ["2048", "1024"]
    weeks = d["weeks"]
    assert [(w["week"], w["from"], w["conversations"], w["score"]) for w in weeks] == [
        ("2026-W45", "2026-11-02", 2, 75.0), ("2026-W46", "2026-11-09", 1, 85.0)]
    assert [w["clauses"] for w in weeks] == [{"S-F10": 1, "S-A11": 1}, {"S-F10": 2, "S-A11": 0}]
    assert [w["kpis"]["handle_seconds"] for w in weeks] == [60.0, 120.0]
    assert [w["kpis"]["silence_ratio"] for w in weeks] == [0.1, 0.2]
    assert d["kpis"]["handle_seconds"] == 90.0 and d["kpis"]["interruptions"] == 1.0 and d["timed_conversations"] == 2
    c = d["comparison"]
    assert (c["previous"]["from"], c["previous"]["to"]) == ("2026-10-19", "2026-11-01")  # the same 14 days before
    assert (c["current"]["score"], c["previous"]["score"]) == (78.33, 70.0)
    assert c["change"]["conversations"] == 2 and c["change"]["score"] == 8.33 and c["change"]["findings"] == 4
    chosen = board["super"].get("/api/v1/dashboard", params={**RANGE, "compare_from": "2026-12-01",
                                                              "compare_to": "2026-12-01"}).json()["comparison"]
    assert chosen["previous"]["conversations"] == 1 and chosen["previous"]["score"] == 10.0


def test_scope_team_lead_agent_and_trainee(app, board):
    lead = board["lead1"].get("/api/v1/dashboard", params=RANGE).json()
    assert lead["conversations"] == 2 and [a["agent"] for a in lead["agents"]] == ["1024"]
    with app.state.workspace.sessions() as session:
        other = session.scalar(select(Team.id).where(Team.name == "二组"))
    assert board["lead1"].get("/api/v1/dashboard", params={**RANGE, "team": other}).json()["conversations"] == 0
    own = board["agent2"].get("/api/v1/dashboard", params=RANGE).json()
    assert own["conversations"] == 1 and [a["agent"] for a in own["agents"]] == ["2048"]
    assert board["agent2"].get("/api/v1/dashboard", params={**RANGE, "agent": "1024"}).json()["conversations"] == 0
    trainee = signed_in(app, "t1", "trainee")
    assert trainee.get("/api/v1/dashboard").status_code == 403
    assert trainee.get("/api/v1/dashboard/agents.xlsx").status_code == 403
    sheet = load_workbook(io.BytesIO(board["lead1"].get("/api/v1/dashboard/agents.xlsx", params=RANGE).content)).active
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["1024"]


@pytest.mark.parametrize(("params", "field"), [
    ({"date_from": "2026-11-15", "date_to": "2026-11-02"}, "date_to"),
    ({"date_from": "2024-01-01", "date_to": "2026-01-01"}, "date_to"),  # more than two years
    ({"date_from": "1900-01-01"}, "date_from"),
    ({"compare_from": "2026-11-10", "compare_to": "2026-11-01"}, "compare_to"),
    ({"date_to": "2026-13-01"}, "date_to"),
])
def test_ranges_are_bounded_and_validated(board, params, field):
    response = board["super"].get("/api/v1/dashboard", params=params)
    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["detail"]] == [field]
    assert response.json()["detail"][0]["msg"].startswith(f"字段 {field}:")


def test_each_chart_exports_its_data_to_xlsx(board):
    boss = board["super"]
    assert boss.get("/api/v1/dashboard/nope.xlsx").status_code == 404

    def rows(chart):
        response = boss.get(f"/api/v1/dashboard/{chart}.xlsx", params=RANGE)
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/vnd.openxml")
        return list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))

    distribution = rows("distribution")
    assert distribution[0] == ("得分区间", "会话数") and ("90–100", 1) in distribution and len(distribution) == 11
    assert rows("agents")[1:] == [(1, "1024", "agent1", 2, 90), (2, "2048", "agent2", 1, 55)]
    assert rows("trend")[1:] == [("2026-W45", "2026-11-02", "2026-11-08", 2, 75), ("2026-W46", "2026-11-09", "2026-11-15", 1, 85)]
    assert rows("clause-trend")[0] == ("周", "起", "止", "S-F10", "S-A11")
    assert rows("clause-ranking")[1][:3] == ("S-F10", 1, "1024")
    assert [r[4] for r in rows("kpis")[1:]] == [60, 120]
    assert rows("comparison-trend")[1:] == [(1, "2026-11-02 至 2026-11-08", 2, 75, "2026-10-19 至 2026-10-25", 0, None),
                                            (2, "2026-11-09 至 2026-11-15", 1, 85, "2026-10-26 至 2026-11-01", 1, 70)]
    comparison = rows("comparison")
    assert comparison[1] == ("会话数", 3, 1, 2) and comparison[0][1] == "本期 2026-11-02 至 2026-11-15"


def test_page_draws_labelled_svg_charts(board):
    page = board["lead1"].get("/dashboard", params=RANGE).text
    assert page.count('<svg class="chart"') == 8 and "cdn" not in page.lower()
    assert "本期 2026-11-02 起" in page and "上期 2026-10-19 起" in page and "第2周" in page  # the two periods drawn
    assert "日期按 北京时间 (UTC+08:00) 计" in page
    assert "2026-W45" in page and "2026-W46" in page and "平均得分" in page and "得分区间" in page
    assert ">100</text>" in page and "静默占比(%)" in page
    assert "/api/v1/dashboard/trend.xlsx?" in page and "date_to=2026-11-15" in page
    assert "2048" not in page  # the other team's agent
    assert "时间范围最多" in board["lead1"].get("/dashboard", params={"date_from": "2020-01-01", "date_to": "2026-01-01"}).text


def test_count_axes_tick_whole_numbers_only():
    from guifan.web.dashboards.charts import nice_ticks

    assert nice_ticks(0, 2) == [0.0, 0.5, 1.0, 1.5, 2.0]  # averages may fall between
    assert nice_ticks(0, 2, whole=True) == [0, 1, 2]  # "1.5 通会话" is no count
    assert nice_ticks(0, 100, whole=True) == [0, 20, 40, 60, 80, 100]


def test_days_and_times_are_the_companys_local_time(app, people):
    """Stored UTC, read in Beijing time: 01:30 on 16 November in Beijing is 15 November in UTC."""
    from guifan.web.models import Conversation

    scored(app, "night", "1024", "2026-11-15", 80)
    row_id = stored(app, "early", [], agent="1024", started_at="2026-11-16T01:30:00+08:00")
    with app.state.workspace.sessions() as session:
        assert session.get(Conversation, row_id).started_at.isoformat() == "2026-11-15T17:30:00+00:00"
    boss = people["super"]
    assert boss.get("/api/v1/dashboard", params=RANGE).json()["conversations"] == 1  # "early" is the 16th
    weeks = boss.get("/api/v1/dashboard", params={"date_from": "2026-11-16", "date_to": "2026-11-16"}).json()["weeks"]
    assert [(w["week"], w["conversations"]) for w in weeks] == [("2026-W47", 1)]
    assert "2026-11-16 01:30" in boss.get(f"/conversations/{row_id}").text


def test_serve_takes_the_companys_zone_by_its_iana_name(tmp_path):
    from typer.testing import CliRunner

    from guifan.cli import app

    result = CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'w.db'}", "--timezone", "Mars/Olympus"])
    assert result.exit_code != 0 and "未知的时区: Mars/Olympus" in result.output
