"""会员类别变更 clicked through in Chromium, each role in its own browser session: the member
asks from 我的会籍 to become a 理事单位 (its form shows the current type), the secretariat
approves, the council votes with the proposal open at the top of its page, and the register's
member page shows the change in 会员类别变更记录. Screenshots at 1366 and 390 px go to
test-artifacts/member-type-*.png."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.browser.test_admission_in_browser import login, open_task_from_inbox, submit
from tests.test_timer_starts import make_member
from webapp.extensions import db
from webapp.models import Member

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)
WIDTHS = (1366, 390)


def test_a_change_of_member_type_in_chromium(browser, live_server, artifacts):
    base, app = live_server

    def shots(page, name):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(artifacts / f"member-type-{name}-{width}.png"), full_page=True)
        page.set_viewport_size({"width": 1366, "height": 900})

    with time_machine.travel(START, tick=True):
        member_id = make_member(app, "applicant", "unit")

        # The member asks from 我的会籍; the proposal says which type it has now.
        member = login(browser, base, "applicant")
        member.goto(f"{base}/membership")
        member.click("a[data-process=member_type_change]")
        member.wait_for_selector("#task-form")
        assert "当前会员类别：单位会员" in member.inner_text("#first-text")
        member.check("input[name=new_type][value=council]")
        member.fill("textarea[name=type_change_reasons]", "经会员大会推选为理事单位候选单位。")
        shots(member, "propose")
        submit(member)
        member.context.close()

        # The secretariat reviews, the proposal shown first, and sends it to the council.
        secretary = login(browser, base, "secretary")
        open_task_from_inbox(secretary, base, "review_type")
        assert "单位会员 → 申请变更为：理事单位" in secretary.inner_text("#first-text")
        assert "理事单位候选单位" in secretary.inner_text(".first-step[data-task=propose_type]")
        secretary.check("input[name=type_review_decision][value=approve]")
        secretary.fill("textarea[name=type_review_reasons]", "同意提交理事会表决。")
        shots(secretary, "review")
        submit(secretary)
        secretary.context.close()

        # Each council member sees the proposal at the top, open, and votes.
        for voter in ("council", "council2", "council3"):
            page = login(browser, base, voter)
            open_task_from_inbox(page, base, "council_vote")
            proposal = page.locator(".first-step[data-task=propose_type]")
            assert proposal.is_visible() and "理事单位候选单位" in proposal.inner_text()
            top = page.locator("#first-text").bounding_box()["y"]
            assert top < page.locator("#task-form").bounding_box()["y"]
            page.check("input[name=vote][value=approve]")
            if voter == "council":
                shots(page, "council-vote")
            submit(page)
            page.context.close()

        with app.app_context():
            assert db.session.get(Member, member_id).member_type == "council"

        # The register's page of the member: its type and the history of its types.
        secretary = login(browser, base, "secretary")
        secretary.goto(f"{base}/members/{member_id}")
        assert "会员类别变更记录" in secretary.content()
        row = secretary.locator("#type-history .type-change[data-to=council]")
        assert (
            row.count() == 1 and "单位会员" in row.inner_text() and "理事单位" in row.inner_text()
        )
        # Decided by the council's vote, not by whoever cast the last ballot.
        assert "经理事会表决通过（赞成 3 票，反对 0 票，弃权 0 票）" in row.inner_text()
        shots(secretary, "member-page")
        # The case it links to, with the diagram of the path it took.
        row.locator("a").click()
        secretary.wait_for_load_state()
        shots(secretary, "case")
