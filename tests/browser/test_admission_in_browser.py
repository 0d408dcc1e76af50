"""The happy path clicked through in Chromium: each role in its own browser session."""

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "demo1234"


def login(browser, base, username):
    """A fresh browser session logged in as the user."""
    context = browser.new_context(locale="zh-CN")
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


def test_application_to_member_number_in_chromium(browser, live_server, artifacts):
    base, _app = live_server
    applicant = login(browser, base, "applicant")
    assert "我的申请" in applicant.content()
    applicant.click("#start-application")
    applicant.wait_for_selector("#task-form")
    applicant.check("input[name=member_type][value=unit]")
    applicant.fill("input[name=name]", "上海浏览器测试有限公司")
    applicant.fill("input[name=credit_code]", "91110000600037341L")
    applicant.fill("input[name=contact_person]", "张三")
    applicant.fill("input[name=phone]", "021-12345678")
    applicant.fill("input[name=email]", "test@example.com")
    applicant.select_option("select[name=region]", "上海市")
    applicant.select_option("select[name=industry]", "it")
    applicant.fill("textarea[name=reasons]", "希望加入协会，参与行业交流与标准制定。")
    applicant.check("input[name=accept_charter]")
    applicant.check("input[name=accept_integrity_pact]")
    applicant.screenshot(path=str(artifacts / "01-application-form.png"), full_page=True)
    submit(applicant)
    assert applicant.locator("li[data-stage=review][aria-current=step]").count() == 1

    secretary = login(browser, base, "secretary")
    open_task_from_inbox(secretary, base, "preliminary_review")
    assert "上海浏览器测试有限公司" in secretary.content()
    secretary.check("input[name=review_decision][value=pass]")
    submit(secretary)

    public = browser.new_context().new_page()
    public.goto(f"{base}/board")
    assert "上海浏览器测试有限公司" in public.locator("#notices").inner_text()

    open_task_from_inbox(secretary, base, "close_notice")
    secretary.check("input[name=notice_closed]")
    submit(secretary)

    council = login(browser, base, "council")
    open_task_from_inbox(council, base, "council_decision")
    council.check("input[name=council_decision][value=approve]")
    submit(council)

    applicant.goto(f"{base}/applications")
    applicant.click(".next-step a.btn")
    applicant.wait_for_selector("#task-form")
    applicant.check("input[name=payment_method][value=bank_transfer]")
    applicant.fill("input[name=payment_reference]", "BANK-2026-0001")
    applicant.fill("input[name=payment_amount]", "2000")
    applicant.fill("input[name=payment_date]", "2026-11-20")
    submit(applicant)

    finance = login(browser, base, "finance")
    open_task_from_inbox(finance, base, "confirm_payment")
    finance.check("input[name=payment_check][value=received]")
    submit(finance)

    open_task_from_inbox(secretary, base, "issue_certificate")
    secretary.check("input[name=certificate_confirmed]")
    submit(secretary)

    applicant.goto(f"{base}/applications")
    applicant.click("div.application h2 a")
    outcome = applicant.locator("#outcome").inner_text()
    assert "-U-000001" in outcome
    applicant.screenshot(path=str(artifacts / "02-admitted-zh.png"), full_page=True)

    applicant.click("#lang-en")
    applicant.wait_for_load_state()
    assert "Member number" in applicant.locator("#outcome").inner_text()
    assert applicant.locator("li[data-stage=certificate]").inner_text() == "Certificate"
    applicant.screenshot(path=str(artifacts / "03-admitted-en.png"), full_page=True)


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
