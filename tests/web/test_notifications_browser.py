"""Notifications in headless Chromium (Debian's, through Playwright): the header's unread count, the
page, opening one (read, and its conversation shown) and marking all read, with no CSP violation."""

from __future__ import annotations

import pytest

from tests.web.conftest import serving, stored
from tests.web.test_browser import CHROMIUM, browser, log_in, violations  # noqa: F401 (fixtures)
from tests.web.test_notifications import two_findings, users_with_addresses

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def test_the_badge_and_the_notifications_page(tmp_path, browser, violations):  # noqa: F811
    from guifan.web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'notes.db'}", secret="e2e")
    users_with_addresses(app)  # agent1, with agent code 1024 (no mail: the app has no SMTP server)
    with serving(app) as base:
        stored(app, "n-1", two_findings(), agent="1024")
        stored(app, "n-2", two_findings(), agent="1024")
        page = log_in(browser, base, "agent1", violations)
        badge = page.locator("header.top a.notifications .badge")
        assert badge.inner_text() == "2" and badge.is_visible()
        page.click("header.top a.notifications")
        page.wait_for_url(f"{base}/notifications")
        assert page.locator("h1").inner_text() == "通知"
        assert page.locator("tr.notification.unread").count() == 2
        page.click("text=您的会话 n-1 有 2 个新问题")
        page.wait_for_url("**/conversations/*")
        assert "n-1" in page.locator("h1").inner_text() and badge.inner_text() == "1"
        page.click("header.top a.notifications")
        page.click("text=全部标为已读")
        page.wait_for_selector("tr.notification:not(.unread)")
        assert page.locator("tr.notification.unread").count() == 0 and badge.count() == 0
