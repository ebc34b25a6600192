"""The dashboard page in headless Chromium (Debian's, through Playwright): a date range chosen in
the form, its SVG charts with Chinese axis titles and week ticks, no CSP violation."""

from __future__ import annotations

import pytest

from tests.web.conftest import PASSWORD, serving
from tests.web.test_browser import CHROMIUM, browser, log_in, violations  # noqa: F401 (fixtures)
from tests.web.test_dashboards import KPIS_A, KPIS_B, scored

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def test_dashboard_draws_charts_for_a_date_range(tmp_path, browser, violations):  # noqa: F811
    from guifan.web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'board.db'}", secret="e2e")
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "lead", PASSWORD, "team_lead", team="一组")
        workspace.add_user(session, "agent1", PASSWORD, "agent", team="一组", agent_code="1024")
        session.commit()
    with serving(app) as base:
        scored(app, "a1", "1024", "2026-11-02", 95, kpis=KPIS_A)
        scored(app, "a2", "1024", "2026-11-10", 85, kpis=KPIS_B)
        page = log_in(browser, base, "lead", violations)
        page.goto(f"{base}/dashboard")
        page.fill("input[name=date_from]", "2026-11-02")
        page.fill("input[name=date_to]", "2026-11-15")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**/dashboard?*date_from=2026-11-02*")
        assert "2026-11-02 至 2026-11-15 · 2 通会话" in page.locator("h1").inner_text()
        charts = page.locator("svg.chart")
        assert charts.count() == 8  # the two periods, distribution, trend, clause trend, four KPIs
        titles = page.locator("svg.chart text.axis-title").all_text_contents()
        assert {"平均得分", "得分区间", "会话数", "静默占比(%)", "平均处理时长(秒)"} <= set(titles)
        trend = charts.nth(2)
        assert trend.locator("text.tick.x").all_text_contents() == ["2026-W45", "2026-W46"]
        assert trend.locator("text.tick.y").all_text_contents() == ["0", "20", "40", "60", "80", "100"]
        assert trend.locator("polyline").count() == 1 and trend.bounding_box()["width"] > 300
