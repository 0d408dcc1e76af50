"""A newcomer's first minutes in Chromium: on a phone the navigation sits behind a menu button
(logout reachable), and the demo's button ends a case's notice period on its page.
Screenshots at 390 px go to test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import staged

pytestmark = pytest.mark.browser


def test_phone_menu_and_the_demo_button(live_server, browser, artifacts):
    base, app = live_server
    # A demo on any database: the live server on PostgreSQL is otherwise run as production.
    app.config["DEMO_MODE"] = True
    with app.test_request_context():
        (case_id,) = staged.on_notice(1)
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "secretary")
    page.fill("input[name=password]", "demo1234")
    page.click("#login-submit")
    page.goto(f"{base}/cases/{case_id}")
    logout = page.get_by_role("button", name="退出登录")
    expect(logout).to_be_hidden()  # folded into the menu, not off the screen
    page.click("#nav-toggle")
    expect(logout).to_be_visible()
    box = logout.bounding_box()
    assert box["x"] + box["width"] <= 390
    page.screenshot(path=str(artifacts / "phone-menu-390.png"))
    page.click("#nav-toggle")
    button = page.locator("button.demo-timer[data-element=notice_period]")
    expect(button).to_contain_text("公示期届满")
    button.click()
    page.wait_for_load_state()
    expect(page.locator(".next-step").first).to_contain_text("理事会表决")
    page.screenshot(path=str(artifacts / "demo-ended-notice-390.png"), full_page=True)
    context.close()
