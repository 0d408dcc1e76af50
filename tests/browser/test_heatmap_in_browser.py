"""The heatmap in Chromium: the version's diagram with a badge on every counted step, each
showing the same cases-now and median as its row of the table; at 1366 and 390 px wide. And
the group page's box that gives a group the dashboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests import staged
from tests.browser.test_incidents_in_browser import login
from webapp.extensions import db
from webapp.models import Group

pytestmark = pytest.mark.browser


def test_heatmap_draws_the_tables_numbers_on_the_diagram(live_server, browser, artifacts):
    base, app = live_server
    with app.test_request_context():
        ids = staged.submitted(3)
        staged.complete("secretary", ids[0], "preliminary_review", {"review_decision": "pass"})

    for width in (1366, 390):
        page = login(browser, base, "owner", width)
        page.goto(f"{base}/models")
        page.click("[data-model='admission'] tr[data-version='1'] a.heatmap-version")
        section = page.locator("#heatmap-diagram")
        expect(section).to_have_attribute("data-ready", "true")
        rows = page.locator("#heatmap-table tbody tr[data-element]")
        expect(section).to_have_attribute("data-overlays", str(rows.count()))
        assert rows.count() >= 5
        for element, now in (("preliminary_review", "2"), ("notice_period", "1")):
            row = page.locator(f"#heatmap-table tr[data-element='{element}']")
            expect(row.locator(".heat-now")).to_have_text(now)
            badge = page.locator(f".heat-badge[data-element='{element}']")
            expect(badge.locator(".heat-count")).to_have_text(now)
            expect(badge.locator(".heat-time")).to_have_text(
                row.locator(".heat-median").inner_text()
            )
        # Every badge agrees with its row; the busiest step has the darkest shade.
        for i in range(rows.count()):
            row = rows.nth(i)
            element = row.get_attribute("data-element")
            badge = page.locator(f".heat-badge[data-element='{element}']")
            expect(badge.locator(".heat-count")).to_have_text(row.locator(".heat-now").inner_text())
        expect(page.locator(".heat-badge[data-element='preliminary_review']")).to_have_class(
            "heat-badge heat-badge-4"
        )
        expect(page.locator("#heatmap-table")).to_contain_text("0.0 小时")
        page.screenshot(path=str(artifacts / f"heatmap-{width}.png"), full_page=True)
        page.context.close()


def test_the_administrator_gives_finance_the_dashboard(live_server, browser, artifacts):
    base, app = live_server
    with app.app_context():
        finance = db.session.scalar(select(Group.id).where(Group.key == "finance"))
    page = login(browser, base, "finance", 1366)
    page.goto(f"{base}/desk/cases")
    expect(page.locator("#tab-desk-dashboard")).to_have_count(0)
    page.context.close()
    for width in (1366, 390):
        page = login(browser, base, "admin", width)
        page.goto(f"{base}/admin/groups/{finance}")
        box = page.locator("#f-sees-dashboard")
        expect(box).not_to_be_checked()
        page.screenshot(path=str(artifacts / f"group-sees-dashboard-{width}.png"), full_page=True)
        page.context.close()
    page = login(browser, base, "admin", 1366)
    page.goto(f"{base}/admin/groups/{finance}")
    page.check("#f-sees-dashboard")
    page.click("#rename-group button[type=submit]")
    expect(page.locator("#f-sees-dashboard")).to_be_checked()
    page.context.close()
    page = login(browser, base, "finance", 1366)
    page.goto(f"{base}/desk/cases")
    page.click("#tab-desk-dashboard")
    expect(page.locator("#figure-funnel")).to_be_visible()
    page.context.close()
