"""The committee's desk in Chromium, on a desk and on a phone: all cases searched and filtered,
a bulk claim in the inbox, and the dashboard's charts drawn with the numbers of their tables.
Screenshots at 1366 and 390 px wide go to test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import staged
from tests.browser.test_incidents_in_browser import login
from webapp.extensions import db
from webapp.models import Case

pytestmark = pytest.mark.browser


def test_all_cases_bulk_claim_and_dashboard(live_server, browser, artifacts):
    base, app = live_server
    with app.test_request_context():
        ids = staged.submitted(3)
        for n, case_id in enumerate(ids):
            db.session.get(Case, case_id).name = ["星河智能", "申联物流", "西湖软件"][n]
        db.session.commit()

    for width in (1366, 390):
        page = login(browser, base, "secretary", width)
        page.goto(f"{base}/desk/cases")
        expect(page.locator("#desk-cases tbody tr[data-case]")).to_have_count(3)
        page.fill("#q", "申联")
        page.click("#desk-apply")
        expect(page.locator("#desk-cases tbody tr[data-case]")).to_have_count(1)
        expect(page.locator("#desk-cases")).to_contain_text("申联物流")
        page.screenshot(path=str(artifacts / f"desk-cases-{width}.png"), full_page=True)

        page.goto(f"{base}/desk/dashboard")
        funnel = page.locator("#figure-funnel")
        expect(funnel.locator(".dash-chart")).to_have_attribute("data-rendered", "1")
        expect(funnel.locator(".dash-table")).to_contain_text("3")
        expect(funnel.locator(".dash-chart svg")).to_contain_text("初审: 3")
        page.screenshot(path=str(artifacts / f"desk-dashboard-{width}.png"), full_page=True)
        page.context.close()

    page = login(browser, base, "secretary", 1366)
    page.goto(f"{base}/inbox")
    boxes = page.locator("input[name=task]")
    expect(boxes).to_have_count(3)
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("#bulk-claim")
    expect(page.locator(".alert-success")).to_contain_text("已处理 2 项任务")
    expect(page.locator("[data-claimed-by-name]")).to_have_count(2)
    page.screenshot(path=str(artifacts / "desk-inbox-bulk-1366.png"), full_page=True)
    page.context.close()
