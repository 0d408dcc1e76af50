"""The progress diagram in Chromium: the applicant's page draws its application's diagram with the
current step marked on the right element and a legend, the secretariat's the full diagram."""

import pytest

from tests.conftest import VALID_APPLICATION, Actor, open_task

pytestmark = pytest.mark.browser

PASSWORD = "demo1234"


def login(browser, base, username):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def open_diagram(page, url):
    page.goto(url)
    page.wait_for_selector("#progress-diagram[data-ready]")
    assert page.get_attribute("#progress-diagram", "data-ready") == "true"


def marked(page, state) -> list[str]:
    """Ids of the drawn elements that carry the state's marker class."""
    return page.eval_on_selector_all(
        f"#progress-diagram .djs-element.state-{state}",
        "els => els.map(e => e.getAttribute('data-element-id'))",
    )


def label_of(page, element_id) -> str:
    selector = f'#progress-diagram .djs-element[data-element-id="{element_id}"]'
    return page.eval_on_selector(selector, "el => el.textContent")


def test_applicant_sees_its_current_step_and_the_legend(browser, live_server, artifacts):
    base, app = live_server
    applicant = Actor(app, "applicant")
    case = applicant.start_application()
    url = f"{base}/cases/{case.id}"

    page = login(browser, base, "applicant")
    open_diagram(page, url)
    assert marked(page, "current") == ["submit_application"]
    assert {"start", "open_file"} <= set(marked(page, "completed"))
    swatches = page.eval_on_selector_all(
        "#diagram-legend li",
        "els => els.map(e => [e.querySelector('.swatch').className, e.innerText])",
    )
    assert [cls.split()[-1] for cls, _text in swatches] == [
        "swatch-completed",
        "swatch-current",
        "swatch-cancelled",
        "swatch-future",
    ]
    assert all(text.strip() for _cls, text in swatches)
    page.screenshot(path=str(artifacts / "diagram-applicant-form.png"), full_page=True)

    applicant.complete(open_task(app, case.id).task_guid, VALID_APPLICATION)
    open_diagram(page, url)
    [current] = marked(page, "current")
    # The secretariat's review: marked where it is drawn, named by its stage only.
    assert current.startswith("step_") and "初审" in label_of(page, current)
    assert "submit_application" in marked(page, "completed")
    assert page.locator("text=确定表决规则与投票人").count() == 0
    page.screenshot(path=str(artifacts / "diagram-applicant-review.png"), full_page=True)

    secretary = login(browser, base, "secretary")
    open_diagram(secretary, url)
    assert marked(secretary, "current") == ["preliminary_review"]
    assert "确定表决规则与投票人" in secretary.inner_text("#progress-diagram")
    secretary.screenshot(path=str(artifacts / "diagram-secretariat-review.png"), full_page=True)
