"""The administrator's pages, the start page and delegation in Chromium, as their users work
them: groups with terms, accounts stopped and passwords reset; a procedure started about a
member chosen by number; a substitute doing an absent council member's vote. Each page is
photographed at a desktop's and a phone's width, where nothing may run off the screen and
every field must have a label."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.conftest import add_user
from tests.procedure import Procedure
from tests.test_model_editor import post_json
from tests.test_procedures_as_data import KEY as NOMINATION
from tests.test_procedures_as_data import bundle
from webapp.extensions import db
from webapp.models import AuditEvent, Case, Group, GroupMembership

pytestmark = pytest.mark.browser

PASSWORD = "demo1234"
START = datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Monday
WIDTHS = (1366, 390)  # a common laptop, a common phone
OFFICE = {"key": "presidents_office", "name_zh": "会长办公会", "name_en": "President's office"}

# Inputs a person can fill that have no label, no aria-label and no aria-labelledby.
UNLABELED = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden' && !el.labels.length
                  && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map(el => el.name || el.id)"""
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def login(browser, base, username, password=PASSWORD):
    """A fresh browser session (Chinese, laptop-sized) after the login form."""
    context = browser.new_context(locale="zh-CN", viewport={"width": WIDTHS[0], "height": 900})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def logged_in(page) -> bool:
    return page.locator("#who").count() == 1


def shoot(page, artifacts, name):
    """The page at each width, full length; on none may it be wider than the screen, and every
    field carries a label."""
    folder = artifacts / "admin"
    folder.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
        assert page.evaluate(OVERFLOW) <= 0, f"{name} runs off a {width}px screen"
    assert page.evaluate(UNLABELED) == [], name
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def errors_of(page, form) -> list[str]:
    return page.locator(f"{form} .invalid-feedback").all_inner_texts()


def group_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Group))


def test_administrator_keeps_groups_and_accounts(browser, live_server, app, artifacts):
    base, _live = live_server
    with time_machine.travel(START, tick=True):
        admin = login(browser, base, "admin")
        admin.click("#nav-groups")
        expect(admin.locator("h1")).to_have_text("组")
        groups_before = group_count(app)

        # A bad key and a name another group has: both said at once, nothing created.
        admin.fill("#new-group [name=name_zh]", "秘书处")
        admin.fill("#new-group [name=name_en]", OFFICE["name_en"])
        admin.fill("#new-group [name=key]", "Office!")
        admin.click("#new-group button[type=submit]")
        assert len(errors_of(admin, "#new-group")) == 2
        assert admin.input_value("#new-group [name=key]") == "Office!"
        assert group_count(app) == groups_before
        shoot(admin, artifacts, "groups-errors")

        for field in ("name_zh", "name_en", "key"):
            admin.fill(f"#new-group [name={field}]", OFFICE[field])
        admin.click("#new-group button[type=submit]")
        expect(admin.locator("h1")).to_contain_text("会长办公会")
        assert group_count(app) == groups_before + 1

        # An unknown username and a term that ends before it begins: both, nothing added.
        admin.fill("#add-member [name=username]", "nobody")
        admin.fill("#add-member [name=starts_on]", "2026-06-10")
        admin.fill("#add-member [name=ends_on]", "2026-06-01")
        admin.click("#add-member button[type=submit]")
        assert len(errors_of(admin, "#add-member")) == 2
        expect(admin.locator("#members tbody tr[data-username]")).to_have_count(0)

        for username in ("council2", "council3"):
            admin.fill("#add-member [name=username]", username)
            admin.fill("#add-member [name=starts_on]", "2026-01-01")
            admin.fill("#add-member [name=ends_on]", "2030-12-31")
            admin.click("#add-member button[type=submit]")
            row = admin.locator(f"#members tr[data-username={username}]")
            expect(row).to_have_attribute("data-current", "1")
            expect(row).to_contain_text("2026-01-01 – 2030-12-31")

        # Ending a membership keeps its history: the term now ended yesterday.
        admin.locator("#members tr[data-username=council3] button").click()
        ended = admin.locator("#members tr[data-username=council3]")
        expect(ended).to_have_attribute("data-current", "0")
        expect(ended).to_contain_text("2026-01-01 – 2026-05-31")

        # Renaming: blank names are refused together; then the new names hold.
        admin.fill("#rename-group [name=name_zh]", "")
        admin.fill("#rename-group [name=name_en]", " ")
        admin.click("#rename-group button[type=submit]")
        assert len(errors_of(admin, "#rename-group")) == 2
        expect(admin.locator("h1")).to_contain_text("会长办公会")
        admin.fill("#rename-group [name=name_zh]", "会长办公会（第八届）")
        admin.fill("#rename-group [name=name_en]", "President's office (8th)")
        admin.click("#rename-group button[type=submit]")
        expect(admin.locator("h1")).to_contain_text("会长办公会（第八届）")
        with app.app_context():
            group = db.session.scalars(select(Group).where(Group.key == OFFICE["key"])).one()
            assert group.name_en == "President's office (8th)"
            assert (
                db.session.scalar(select(func.count()).where(GroupMembership.group_id == group.id))
                == 2
            )
        shoot(admin, artifacts, "group")

        # Accounts: applicant2 stopped can no longer log in.
        admin.click("#nav-accounts")
        admin.locator("#accounts tr[data-username=applicant2] button", has_text="停用").click()
        expect(admin.locator("#accounts tr[data-username=applicant2]")).to_have_attribute(
            "data-active", "0"
        )
        stopped = login(browser, base, "applicant2")
        assert not logged_in(stopped)
        expect(stopped.locator(".alert-danger")).to_contain_text("用户名或密码错误")

        # A new password for finance: the old one stops working, the new one logs in.
        admin.locator("#accounts tr[data-username=finance] button", has_text="重置密码").click()
        notice = admin.locator(".alert-warning").inner_text()
        new_password = re.search(r"新密码：(\S+)", notice).group(1)
        shoot(admin, artifacts, "accounts")
        assert not logged_in(login(browser, base, "finance"))
        finance = login(browser, base, "finance", new_password)
        assert logged_in(finance)
        expect(finance.locator("#who")).to_contain_text("孙会计")

        # The English view of the same pages.
        admin.click("#lang-en")
        expect(admin.locator("h1")).to_have_text("Accounts")
        shoot(admin, artifacts, "accounts-en")
        admin.click("#nav-groups")
        admin.locator("#groups tr[data-group=presidents_office] a").click()
        expect(admin.locator("h1")).to_contain_text("President's office (8th)")
        expect(admin.locator("#members")).to_contain_text("not in term")
        shoot(admin, artifacts, "group-en")


def test_start_page_offers_what_each_may_start(browser, live_server, app, actors, artifacts):
    base, _live = live_server
    with time_machine.travel(START, tick=True) as traveller:
        p = Procedure(app, actors, traveller)
        assert actors("admin").post("/admin/groups", OFFICE).status_code == 302
        deployed = post_json(actors("owner"), f"/models/{NOMINATION}/deploy", bundle())
        assert deployed.status_code == 200, deployed.get_json()
        # A secretariat clerk who is also a member of the register: the case is about it.
        add_user(app, "clerk", "郑干事（秘书处，亦为会员）", "applicant,secretariat")
        number = p.admit("clerk")

        # An applicant sees admission only, and starts it.
        applicant = login(browser, base, "applicant2")
        applicant.click("#nav-start")
        procedures = applicant.locator("#catalogue [data-procedure]")
        expect(procedures).to_have_count(1)
        assert procedures.get_attribute("data-procedure") == "admission"
        shoot(applicant, artifacts, "start-applicant")
        procedures.locator("button[type=submit]").click()
        applicant.wait_for_selector("#task-form")

        # The clerk may start the nomination, but not about its own membership.
        clerk = login(browser, base, "clerk")
        clerk.click("#nav-start")
        card = clerk.locator(f'#catalogue [data-procedure="{NOMINATION}"]')
        card.locator("[name=member_number]").fill(number)
        card.locator("button[type=submit]").click()
        card = clerk.locator(f'#catalogue [data-procedure="{NOMINATION}"]')
        expect(card.locator(".invalid-feedback")).to_contain_text("您本人")
        shoot(clerk, artifacts, "start-own-membership")

        # The secretariat starts the nomination about the member, chosen by number.
        secretary = login(browser, base, "secretary")
        secretary.click("#nav-start")
        card = secretary.locator(f'#catalogue [data-procedure="{NOMINATION}"]')
        expect(card).to_contain_text("名誉会员推荐")
        expect(secretary.locator('#catalogue [data-procedure="admission"]')).to_have_count(0)
        card.locator("[name=member_number]").fill("2026-U-999999")
        card.locator("button[type=submit]").click()
        card = secretary.locator(f'#catalogue [data-procedure="{NOMINATION}"]')
        expect(card.locator(".invalid-feedback")).to_contain_text("没有此会员编号的有效会员")
        assert card.locator("[name=member_number]").input_value() == "2026-U-999999"
        shoot(secretary, artifacts, "start-unknown-member")
        with app.app_context():  # the member's admission only: a first form makes no case
            assert db.session.scalar(select(func.count()).select_from(Case)) == 1
        card.locator("[name=member_number]").fill(number)
        card.locator("button[type=submit]").click()
        secretary.wait_for_selector("#task-form")
        expect(secretary.locator("main")).to_contain_text(number)
        secretary.click("#save-draft")  # the case begins with its first save
        secretary.wait_for_selector("#draft-note")
        expect(secretary.locator("main")).to_contain_text("填写推荐理由 — 北京示例科技有限公司")

        # The new case: in the secretariat's inbox, and among the member's own cases.
        secretary.goto(f"{base}/inbox")
        expect(secretary.locator("#inbox tr[data-task=nominate]")).to_contain_text("北京示例")
        shoot(secretary, artifacts, "inbox-new-case")
        clerk.goto(f"{base}/cases")
        expect(clerk.locator("main")).to_contain_text("名誉会员推荐")
        shoot(clerk, artifacts, "own-cases")

        secretary.click("#nav-start")
        secretary.click("#lang-en")
        expect(secretary.locator("main")).to_contain_text("Honorary membership nomination")
        shoot(secretary, artifacts, "start-en")


def test_a_substitute_votes_for_the_absent_council_member(
    browser, live_server, app, actors, artifacts
):
    base, _live = live_server
    with time_machine.travel(START, tick=True) as traveller:
        p = Procedure(app, actors, traveller)
        app_id = p.submit()
        p.review(app_id)
        p.close_notice(app_id)
        today = datetime.now(START.tzinfo).date()

        council = login(browser, base, "council")
        council.click("#nav-delegation")
        # Oneself as substitute, and a period ending before it begins: both refused.
        council.fill("#new-delegation [name=substitute]", "council")
        council.fill("#new-delegation [name=starts_on]", (today + timedelta(days=3)).isoformat())
        council.fill("#new-delegation [name=ends_on]", today.isoformat())
        council.click("#new-delegation button[type=submit]")
        assert len(errors_of(council, "#new-delegation")) == 2
        expect(council.locator("#delegations tr[data-delegation]")).to_have_count(0)
        shoot(council, artifacts, "delegation-errors")

        council.fill("#new-delegation [name=substitute]", "council2")
        council.fill("#new-delegation [name=starts_on]", today.isoformat())
        council.fill("#new-delegation [name=ends_on]", (today + timedelta(days=7)).isoformat())
        council.click("#new-delegation button[type=submit]")
        expect(council.locator("#delegations tr[data-delegation]")).to_contain_text("钱理事")
        shoot(council, artifacts, "delegation")

        substitute = login(browser, base, "council2")
        substitute.goto(f"{base}/inbox")
        standing_in = substitute.locator("section[data-standing-in=council]")
        expect(standing_in.locator("h2")).to_contain_text("代 赵理事（理事会） 办理")
        expect(standing_in.locator("tr[data-task=council_vote]")).to_have_count(1)
        shoot(substitute, artifacts, "inbox-standing-in")
        standing_in.locator("tr[data-task=council_vote] a.btn").click()
        substitute.wait_for_selector("#task-form")
        expect(substitute.locator("#standing-in")).to_contain_text("赵理事")
        substitute.check("input[name=vote][value=approve]")
        substitute.click("#submit-task")
        substitute.wait_for_load_state()
        assert substitute.locator("#form-errors").count() == 0
        # Its own vote is still there for it to cast.
        substitute.goto(f"{base}/inbox")
        expect(substitute.locator("section[data-standing-in=council]")).to_contain_text(
            "暂无待办任务"
        )
        expect(substitute.locator("#inbox tr[data-task=council_vote]")).to_have_count(1)

        # The trail names the substitute, for the member away.
        secretary = login(browser, base, "secretary")
        secretary.goto(f"{base}/cases/{app_id}/audit")
        votes = secretary.locator("#audit tr[data-action=task_completed]", has_text="代")
        expect(votes).to_have_count(1)
        expect(votes).to_contain_text("钱理事（理事会） 代 赵理事（理事会）")
        shoot(secretary, artifacts, "audit")
        with app.app_context():
            assert (
                db.session.scalar(select(func.count()).where(AuditEvent.action == "task_completed"))
                == 3
            )  # submitted, reviewed, one vote

        # Withdrawn: the substitute no longer sees the member's tasks.
        council.reload()
        council.locator("#delegations tr[data-delegation] button").click()
        expect(council.locator("#delegations tr[data-delegation]")).to_have_count(0)
        substitute.goto(f"{base}/inbox")
        expect(substitute.locator("section[data-standing-in]")).to_have_count(0)
        council.click("#lang-en")
        expect(council.locator("h1")).to_have_text("Substitute while you are away")
        shoot(council, artifacts, "delegation-en")
