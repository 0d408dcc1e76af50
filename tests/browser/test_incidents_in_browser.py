"""The incidents page in Chromium, on a desk and on a phone: the secretary sees the failed step
and the navbar's count; the process owner's "retry now" fails again on the broken version and
says so. Screenshots at 1366 and 390 px wide go to test-artifacts/."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from tests import staged
from tests.test_incidents import BROKEN
from webapp.extensions import db
from webapp.models import Case
from webapp.services import process_models, timers

pytestmark = pytest.mark.browser

START = datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def login(browser, base, username, width):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo1234")
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def test_incidents_page_for_the_secretary_and_the_owners_retry(live_server, browser, artifacts):
    base, app = live_server
    with time_machine.travel(START, tick=False) as traveller:
        with app.test_request_context():
            forms = process_models.read_forms(app.config["FORMS_DIR"] / "admission")
            process_models.deploy("admission", BROKEN, forms)
            db.session.commit()
            [app_id] = staged.on_notice(1)
            closes = db.session.get(Case, app_id).notice_closes_at
            traveller.move_to(closes + timedelta(minutes=1))
            assert timers.fire_due() == 0  # it failed: an incident

        for width in (1366, 390):
            secretary = login(browser, base, "secretary", width)
            expect(secretary.locator("#nav-incident-count")).to_have_text("1")
            if secretary.is_visible(".navbar-toggler"):  # a phone: the menu button first
                secretary.click(".navbar-toggler")
            secretary.click("#nav-incidents")
            card = secretary.locator("article.incident")
            expect(card).to_have_count(1)
            expect(card).to_contain_text("确定表决规则与投票人")
            expect(card).to_contain_text("ValueError")
            expect(secretary.locator("[data-retry]")).to_have_count(0)
            secretary.screenshot(path=str(artifacts / f"incidents-{width}.png"), full_page=True)
            secretary.context.close()

        owner = login(browser, base, "owner", 1366)
        owner.goto(f"{base}/incidents")
        owner.click("[data-retry]")
        expect(owner.locator(".alert-danger")).to_contain_text("该步骤再次失败")
        expect(owner.locator("article.incident")).to_have_attribute("data-attempts", "2")
        owner.screenshot(path=str(artifacts / "incidents-owner-retried.png"), full_page=True)
        owner.context.close()
