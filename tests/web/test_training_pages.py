"""Training pages end to end in headless Chromium (Debian's chromium through Playwright, no
download), against a real ``guifan serve`` app: a trainee practises a scenario by keyboard alone
(the customer's lines shown as text, the hints of 练习, the report card at the end), 放弃 stores the
attempt as abandoned, and a trainer sees the readiness view and the trainee's card. Every page
fails the test on a Content-Security-Policy violation or a script error."""

from __future__ import annotations

import shutil

import pytest

from guifan.training import load_scenarios
from tests.web.conftest import PASSWORD, serving
from tests.web.test_assist_pages import focused, log_in, problems  # noqa: F401 (fixture)
from tests.web.test_browser import browser, violations  # noqa: F401 (fixtures)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test extra")
expect = sync_api.expect
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")

SCENARIO = load_scenarios()["customer-suggestion"]
GRADED = 90_000  # ms: grading runs the full QA check (meaning stage included); the machine may be busy


@pytest.fixture
def site(tmp_path):
    """The workspace served for real: a trainee in 一组, its team lead and a supervisor (trainer)."""
    from guifan.web.app import create_app

    app = create_app(f"sqlite:///{tmp_path / 'training.db'}", secret="e2e")
    workspace = app.state.workspace
    with workspace.sessions() as session:
        workspace.add_user(session, "trainee1", PASSWORD, "trainee", team="一组", display_name="学员小陈")
        workspace.add_user(session, "lead1", PASSWORD, "team_lead", team="一组")
        workspace.add_user(session, "super", PASSWORD, "supervisor")
        session.commit()
    with serving(app) as base:
        yield base


def test_a_trainee_practises_by_keyboard_and_a_trainer_sees_readiness(site, browser, problems):
    trainee = log_in(browser, site, "trainee1", problems)
    trainee.click("nav >> text=陪练")
    row = trainee.locator(f"tr[data-scenario={SCENARIO.id}]")
    assert "入门" in row.inner_text() and "S-A14" in row.inner_text() and "在线" in row.inner_text()
    # Start 练习 by keyboard: focus the button, Enter.
    row.locator("button", has_text="练习").focus()
    trainee.keyboard.press("Enter")
    trainee.wait_for_url(f"{site}/training/attempts/*", timeout=GRADED)
    attempt_url = trainee.url

    # The customer opens the chat; 练习 shows the hints; the answer box has the focus.
    turns = trainee.locator("#turns .turn.customer")
    turns.first.wait_for()
    assert turns.first.inner_text().split("客户", 1)[1] in SCENARIO.states[SCENARIO.start].say  # a seed's variant
    hint = trainee.locator("#hints .hint", has_text="S-A14")
    hint.wait_for()
    assert "建议" in hint.inner_text() and "标准用语" in trainee.locator("#hints").inner_text()
    assert focused(trainee).startswith("TEXTAREA#answer")

    # Markup typed by the trainee is shown as text.
    good = list(SCENARIO.examples.good)
    trainee.keyboard.type(good[0] + "<b>")
    trainee.keyboard.press("Enter")
    trainee.locator("#turns .turn.agent").first.wait_for()
    assert "<b>" in trainee.locator("#turns .turn.agent").first.inner_text()
    assert trainee.locator("#turns b").count() == 0
    expect(trainee.locator("#hints")).to_contain_text("S-A9")  # the next step: the closing
    for line in good[1:]:
        trainee.keyboard.type(line)
        trainee.keyboard.press("Enter")
    # The customer is done: the report card.
    trainee.wait_for_selector("#verdict", timeout=GRADED)
    assert trainee.url == attempt_url
    verdict = trainee.locator("#verdict").inner_text()
    assert "通过" in verdict and "未通过" not in verdict and "客户满意" in verdict
    assert trainee.locator("#checklist .step.done").count() == len(SCENARIO.checklist)
    assert "<b>" in trainee.locator(".transcript").inner_text()

    # 放弃 halfway (Tab from the answer box reaches 发送, then 放弃): stored as abandoned.
    trainee.goto(f"{site}/training")
    trainee.locator(f"tr[data-scenario={SCENARIO.id}] button", has_text="考核").click()
    trainee.wait_for_url(f"{site}/training/attempts/*", timeout=GRADED)
    assert trainee.locator("#hints").count() == 0 and "分" in trainee.locator("#time-left").inner_text()
    trainee.locator("#turns .turn.customer").first.wait_for()
    trainee.keyboard.press("Tab")
    trainee.keyboard.press("Tab")
    assert "放弃" in trainee.evaluate("() => document.activeElement.textContent")
    trainee.keyboard.press("Enter")
    trainee.wait_for_selector("#verdict", timeout=GRADED)
    assert "中途放弃" in trainee.locator("#verdict").inner_text()
    trainee.goto(f"{site}/training")
    statuses = trainee.locator("tr.attempt").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses == ["abandoned", "finished"]

    # The trainer: readiness (nobody has passed the 考核 scenarios yet) and the trainee's card.
    for name in ("super", "lead1"):
        trainer = log_in(browser, site, name, problems)
        trainer.click("nav >> text=陪练")
        trainer.click("text=学员进度与考核")
        ready = trainer.locator("#readiness tr[data-user=trainee1]")
        assert ready.get_attribute("data-ready") == "no" and "未就绪" in ready.inner_text()
        assert "学员小陈" in ready.inner_text() and "0/5" in ready.inner_text()
        assert "S-A14" in trainer.locator("#clauses").inner_text()
        trainer.locator(".attempts a", has_text=SCENARIO.title).last.click()
        assert "学员小陈" in trainer.locator("h1").inner_text() and "通过" in trainer.locator("#verdict").inner_text()
    assert trainer.locator("#answer").count() == 0  # a trainer looks; only the trainee answers
