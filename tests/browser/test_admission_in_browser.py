"""One application clicked through in Chromium from the form to the downloaded certificate:
each role in its own browser session, the ticker run as time passes."""

import re
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from webapp.models import Case
from webapp.services import timers

pytestmark = pytest.mark.browser

PASSWORD = "demo1234"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
START = datetime(2026, 6, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def login(browser, base, username):
    """A fresh browser session logged in as the user."""
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def open_task_from_inbox(page, base, bpmn_id):
    page.goto(f"{base}/inbox")
    page.click(f"tr[data-task={bpmn_id}] a.btn")
    page.wait_for_selector("#task-form")


def submit(page):
    page.click("#submit-task")
    page.wait_for_load_state()
    assert page.locator("#form-errors").count() == 0, page.content()[:3000]


def upload(page, field, name):
    page.set_input_files(
        f"input[name={field}]", files=[{"name": name, "mimeType": "application/pdf", "buffer": PDF}]
    )


def run_ticker_after(app, traveller, moment):
    traveller.move_to(moment + timedelta(minutes=1))
    with app.app_context():
        assert timers.fire_due() == 1


def test_application_to_downloaded_certificate_in_chromium(
    browser, live_server, artifacts, tmp_path
):
    base, app = live_server
    with time_machine.travel(START, tick=True) as traveller:
        applicant = login(browser, base, "applicant")
        assert "我的事项" in applicant.content()
        applicant.click("#start-application")
        applicant.wait_for_selector("#task-form")
        applicant.check("input[name=member_type][value=unit]")
        applicant.fill("input[name=name]", "上海浏览器测试有限公司")
        upload(applicant, "application_form_scan", "入会申请表.pdf")
        applicant.click("#save-draft")  # come back later: the draft and its file are kept
        applicant.wait_for_selector("#draft-note")
        assert applicant.input_value("input[name=name]") == "上海浏览器测试有限公司"
        assert "入会申请表.pdf" in applicant.content()
        applicant.fill("input[name=credit_code]", "91110000600037341L")
        applicant.fill("input[name=contact_person]", "张三")
        applicant.fill("input[name=phone]", "021-12345678")
        applicant.fill("input[name=email]", "test@example.com")
        applicant.select_option("select[name=region]", "上海市")
        applicant.select_option("select[name=industry]", "it")
        applicant.fill("textarea[name=reasons]", "希望加入协会，参与行业交流与标准制定。")
        upload(applicant, "business_licence", "营业执照.pdf")
        applicant.check("input[name=accept_charter]")
        applicant.check("input[name=accept_integrity_pact]")
        applicant.screenshot(path=str(artifacts / "01-application-form.png"), full_page=True)
        submit(applicant)
        assert applicant.locator("li[data-stage=review][aria-current=step]").count() == 1

        secretary = login(browser, base, "secretary")
        open_task_from_inbox(secretary, base, "preliminary_review")
        assert "上海浏览器测试有限公司" in secretary.content()
        assert secretary.locator("a.document-link", has_text="营业执照.pdf").count() == 1
        secretary.check("input[name=review_decision][value=pass]")
        submit(secretary)

        public = browser.new_context().new_page()
        public.goto(f"{base}/board")
        notices = public.locator("#notices").inner_text()
        assert "上海浏览器测试有限公司" in notices and "2026" in notices
        public.screenshot(path=str(artifacts / "02-notice-board.png"), full_page=True)

        with app.app_context():
            from webapp.extensions import db

            case = db.session.query(Case).one()
            app_id, closes = case.id, case.notice_closes_at
        run_ticker_after(app, traveller, closes)

        for member in ("council", "council2", "council3"):
            council = login(browser, base, member)
            open_task_from_inbox(council, base, "council_vote")
            council.check("input[name=vote][value=approve]")
            submit(council)
            council.context.close()

        applicant.goto(f"{base}/cases/{app_id}")
        assert "5,000" in applicant.locator("#fee-notice").inner_text() or "5000" in (
            applicant.locator("#fee-notice").inner_text()
        )
        applicant.click(".next-step a.btn")
        applicant.wait_for_selector("#task-form")
        applicant.check("input[name=payment_method][value=bank_transfer]")
        applicant.fill("input[name=payment_reference]", "BANK-2026-0001")
        applicant.fill("input[name=payment_amount]", "5000")
        applicant.fill("input[name=payment_date]", "2026-06-12")
        submit(applicant)

        finance = login(browser, base, "finance")
        open_task_from_inbox(finance, base, "confirm_payment")
        finance.check("input[name=payment_check][value=received]")
        submit(finance)

        open_task_from_inbox(secretary, base, "issue_certificate")
        secretary.check("input[name=certificate_confirmed]")
        submit(secretary)

        applicant.goto(f"{base}/cases/{app_id}")
        outcome = applicant.locator("#outcome").inner_text()
        assert "2026-U-000001" in outcome
        applicant.screenshot(path=str(artifacts / "03-admitted-zh.png"), full_page=True)
        with applicant.expect_download() as download:
            applicant.click("#certificate-link")
        pdf_path = tmp_path / "certificate.pdf"
        download.value.save_as(pdf_path)
        text = subprocess.run(
            ["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "上海浏览器测试有限公司" in text and "2026-U-000001" in text
        verify_url = re.search(r"https?://\S+/verify/\S+", text).group(0)

        public.goto(verify_url)
        verdict = public.content()
        assert "此证书有效" in verdict and "2026-U-000001" in verdict
        public.screenshot(path=str(artifacts / "04-verification.png"), full_page=True)

        applicant.click("#lang-en")
        applicant.wait_for_load_state()
        assert "Member number" in applicant.locator("#outcome").inner_text()
        assert applicant.locator("li[data-stage=certificate]").inner_text() == "Certificate"
        applicant.screenshot(path=str(artifacts / "05-admitted-en.png"), full_page=True)


def test_invalid_form_shows_errors_next_to_fields_in_chromium(browser, live_server):
    base, _app = live_server
    applicant = login(browser, base, "applicant2")
    applicant.click("#start-application")
    applicant.wait_for_selector("#task-form")
    applicant.check("input[name=member_type][value=unit]")
    applicant.fill("input[name=name]", "测试")
    applicant.fill("input[name=credit_code]", "123")
    applicant.click("#submit-task")
    applicant.wait_for_load_state()
    assert applicant.locator("#form-errors").count() == 1
    field = applicant.locator("[data-field=credit_code] .invalid-feedback")
    assert "统一社会信用代码" in " ".join(field.all_inner_texts())
    assert applicant.input_value("input[name=name]") == "测试"
