"""One member's life after admission, clicked through in Chromium with each role in its own
browser session: a change of name (the old certificate's page says it was replaced), a year's
dues with a reminder (the clock travels, the ticker's own functions run), and an expulsion
overturned on appeal (the member restored, its certificate valid again on /verify).
Screenshots of each page go to test-artifacts/member-life-*.png."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from tests.browser.test_admission_in_browser import login, open_task_from_inbox, submit, upload
from tests.test_timer_starts import make_member
from webapp.extensions import db
from webapp.models import Case, Certificate, Member
from webapp.services import scheduled_starts, timers

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)


def test_a_members_life_in_chromium(browser, live_server, artifacts):
    base, app = live_server
    shots = iter(range(1, 100))

    def shot(page, name):
        page.screenshot(path=str(artifacts / f"member-life-{next(shots):02d}-{name}.png"))

    def tokens():
        """The member's certificates' verification codes, oldest first, and which are valid."""
        with app.app_context():
            rows = db.session.scalars(
                select(Certificate)
                .where(Certificate.member_id == member_id)
                .order_by(Certificate.id)
            ).all()
            return [(c.verify_token, c.revoked_at is None) for c in rows]

    def verify(token, expected):
        page = anonymous.goto(f"{base}/verify/{token}") and anonymous
        assert page.get_attribute("#verify-result", "data-result") == expected
        return page

    def own_step(page):
        """The member opens its next step from its newest case's page, as members do."""
        with app.app_context():
            case_id = db.session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1))
        page.goto(f"{base}/cases/{case_id}")
        page.click(".next-step a.btn")
        page.wait_for_selector("#task-form")

    def decide(username, bpmn_id, choices, texts, name):
        page = login(browser, base, username)
        open_task_from_inbox(page, base, bpmn_id)
        for field, value in choices.items():
            page.check(f"input[name={field}][value={value}]")
        for field, value in texts.items():
            page.fill(f"textarea[name={field}]", value)
        shot(page, name)
        submit(page)
        page.context.close()

    with time_machine.travel(START, tick=True) as traveller:
        member_id = make_member(app, "applicant", "unit")
        anonymous = browser.new_context(locale="zh-CN").new_page()

        # 1. A change of name: the member asks from 我的会籍, the secretariat approves.
        member = login(browser, base, "applicant")
        member.goto(f"{base}/membership")
        shot(member, "membership")
        member.click("a[data-process=change_of_details]")
        member.wait_for_selector("#task-form")
        member.fill("input[name=new_name]", "浏览器更名科技有限公司")
        member.fill("textarea[name=change_reason]", "经市场监督管理部门核准更名")
        upload(member, "supporting_document", "营业执照.pdf")
        shot(member, "change-of-details")
        submit(member)
        [(old, _valid)] = tokens()
        decide(
            "secretary",
            "review_changes",
            {"review_decision": "approve"},
            {"review_reasons": "材料齐全，同意变更"},
            "review-changes",
        )
        [(_old, old_valid), (renamed, renamed_valid)] = tokens()
        assert (old_valid, renamed_valid) == (False, True)
        page = verify(old, "not-valid")
        assert page.locator("#verify-superseded").count() == 1
        shot(page, "verify-replaced")
        assert "浏览器更名科技有限公司" in verify(renamed, "valid").content()

        # 2. A year's dues: the cycle opens, the first reminder goes out, the member pays.
        traveller.move_to(datetime(2027, 1, 10, 9, 1, tzinfo=SHANGHAI))
        with app.app_context():
            assert scheduled_starts.start_due() == 1
        traveller.move_to(datetime(2027, 2, 20, 9, 0, tzinfo=SHANGHAI))
        with app.app_context():
            assert timers.fire_due() >= 1
        # Months later: the member logs in again (an idle session does not last that long).
        member.context.close()
        member = login(browser, base, "applicant")
        member.goto(f"{base}/messages")
        assert member.locator("article[data-event=dues_reminder]").count() == 1
        shot(member, "dues-reminder")
        own_step(member)
        member.check("input[name=payment_method][value=bank_transfer]")
        member.fill("input[name=payment_reference]", "TX-2027-0220")
        member.fill("input[name=payment_amount]", "5000")
        member.fill("input[name=payment_date]", "2027-02-20")
        upload(member, "payment_receipt", "回单.pdf")
        shot(member, "declare-dues")
        submit(member)
        decide("finance", "confirm_dues", {"payment_check": "received"}, {}, "confirm-dues")

        # 3. Discipline: the secretariat opens a case, the member answers, the council expels.
        secretary = login(browser, base, "secretary")
        secretary.goto(f"{base}/start")
        with app.app_context():
            number = db.session.get(Member, member_id).member_number
        secretary.fill("form[data-procedure=discipline] input[name=member_number]", number)
        secretary.click("form[data-procedure=discipline] button[type=submit]")
        secretary.wait_for_selector("#task-form")
        secretary.fill("textarea[name=grounds]", "该会员在行业评比中提供虚假材料，违反章程第十条。")
        upload(secretary, "evidence", "证据.pdf")
        secretary.check("input[name=proposed_sanction][value=expulsion]")
        shot(secretary, "open-discipline")
        submit(secretary)
        secretary.context.close()
        own_step(member)
        member.fill("textarea[name=defence]", "不同意立案所述事实。")
        submit(member)
        decide(
            "secretary",
            "decide",
            {"sanction": "expulsion"},
            {"decision_reasons": "情节严重，予以除名。"},
            "decide-expulsion",
        )
        for voter in ("council", "council2", "council3"):
            decide(voter, "council_vote", {"vote": "approve"}, {}, f"vote-{voter}")
        with app.app_context():
            expulsion = db.session.scalars(
                select(Case).where(Case.status == "expelled").order_by(Case.id.desc())
            ).first()
            assert expulsion is not None and expulsion.subject_member_id == member_id
            assert db.session.get(Member, member_id).status == "expelled"
        shot(verify(renamed, "not-valid"), "verify-expelled")

        # 4. The member appeals; the supervisors overturn; the member is restored.
        member.goto(f"{base}/start")
        member.click("form[data-procedure=appeal] button[type=submit]")
        member.wait_for_selector("#task-form")
        member.fill("input[name=appealed_case_number]", str(expulsion.id))
        member.fill("textarea[name=appeal_reasons]", "立案所述材料系第三方伪造，已向公安机关报案。")
        shot(member, "lodge-appeal")
        submit(member)
        decide(
            "supervisor",
            "decide_appeal",
            {"appeal_decision": "overturn"},
            {"appeal_decision_reasons": "证据系伪造，原决定事实不清。"},
            "decide-appeal",
        )
        with app.app_context():
            assert db.session.get(Member, member_id).status == "active"
        *_earlier, (restored, restored_valid) = tokens()
        assert restored_valid and [t for t, valid in tokens() if valid] == [restored]
        page = verify(restored, "valid")
        assert "浏览器更名科技有限公司" in page.content()
        shot(page, "verify-restored")
        member.goto(f"{base}/membership")
        shot(member, "membership-restored")
