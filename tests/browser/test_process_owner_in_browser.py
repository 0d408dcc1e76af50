"""The process owner in Chromium: the admission diagram opens in the modeler and comes back out
unchanged; the owner lengthens the notice period in the properties form and renames a form
field in the form editor (the preview follows), validates and deploys version 2. Applications
started before keep version 1, new ones follow version 2 to the end. An invalid edit is shown
on the canvas and in words, and deploying it saves nothing."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from lxml import etree
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import ROOT, open_task
from tests.procedure import Procedure
from webapp.extensions import db
from webapp.models import Case, ModelVersion, ProcessInstance, ProcessModel
from webapp.services import process_models, workdays

pytestmark = pytest.mark.browser

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 6, 1, 9, 0, tzinfo=SHANGHAI)  # a Monday, no holiday for weeks
OLD_LABEL, NEW_LABEL = "单位全称或姓名", "单位全称或姓名（新）"


def login(browser, base, username):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    # Deploying asks to confirm, with a comment: the owner confirms with one.
    page.on("dialog", lambda dialog: dialog.accept("浏览器测试部署"))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo1234")
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def open_editor(page, base):
    page.goto(f"{base}/models")
    page.click("#edit-admission")
    page.wait_for_selector("#model-editor[data-ready=true]")


def select_element(page, element_id):
    """Click the element on the canvas, as the owner does, and wait for its properties. The
    canvas is zoomed to full size around it first, as the owner would, so the click hits it,
    and the previous selection dropped, so its context pad does not cover the element."""
    page.evaluate(
        """(id) => {
            const modeler = window.modelEditor.modeler, canvas = modeler.get('canvas');
            modeler.get('selection').select(null);
            canvas.zoom(1);
            canvas.scrollToElement(modeler.get('elementRegistry').get(id));
        }""",
        element_id,
    )
    page.click(f'.djs-element[data-element-id="{element_id}"]', force=True)
    page.wait_for_selector(f'#properties[data-element="{element_id}"]')


def set_field(page, name, value):
    """Type into a field of the properties form and leave it, which commits the edit."""
    page.fill(f"#properties [name={name}]", value)
    page.press(f"#properties [name={name}]", "Tab")


def semantic_parts(xml: str) -> list[tuple]:
    """Every element of the process part (not the drawing) with its attributes and text."""
    drawing = ("{http://www.omg.org/spec/DD", "{http://www.omg.org/spec/BPMN/20100524/DI")
    return sorted(
        (el.tag, tuple(sorted(el.attrib.items())), (el.text or "").strip())
        for el in etree.fromstring(xml.encode("utf-8")).iter()
        if isinstance(el.tag, str) and not el.tag.startswith(drawing)
    )


def version_number(app, case_id) -> int:
    """The version the application's instance runs on."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        return db.session.get(ProcessInstance, case.instance_id).version.number


def notice_days(app, proc, case_id) -> int:
    """Working days from the review (today, on the travelling clock) to the end of the notice."""
    closes = proc.case(case_id).notice_closes_at.astimezone(SHANGHAI).date()
    with app.app_context():
        return workdays.working_days_between(START.date(), closes)


def test_owner_edits_notice_period_and_form_label_and_deploys_version_2(
    browser, live_server, app, actors, artifacts
):
    base, _live_app = live_server
    with time_machine.travel(START, tick=True) as traveller:
        proc = Procedure(app, actors, traveller)
        before_submitted = proc.submit()  # reviewed only after the deploy
        before_draft = actors("applicant").start_application()  # its form not yet filled

        owner = login(browser, base, "owner")
        open_editor(owner, base)

        # Round trip: the diagram saved by the modeler without edits is the same process.
        untouched = owner.evaluate(
            "window.modelEditor.modeler.saveXML({format: true}).then(r => r.xml)"
        )
        original = (ROOT / "workflows" / "admission.bpmn").read_text("utf-8")
        assert semantic_parts(untouched) == semantic_parts(original)
        forms = process_models.read_forms(ROOT / "forms" / "admission")
        with app.app_context():
            process_models.check_model(untouched, forms)

        # The notice period: the script of the task that opens the notice.
        select_element(owner, "open_notice")
        script = owner.input_value("#properties [name=script]")
        assert 'notice_working_days = settings["notice_working_days"]' in script
        set_field(
            owner,
            "script",
            script.replace(
                'notice_working_days = settings["notice_working_days"]', "notice_working_days = 7"
            ),
        )
        owner.screenshot(path=str(artifacts / "10-modeler-notice-script.png"))

        # A form label, with the preview following the edit.
        owner.click("#tab-forms")
        owner.click('#forms-files [data-file="application.schema.json"]')
        preview_name = owner.locator('#form-preview [data-field="name"] label')
        expect(preview_name).to_contain_text(OLD_LABEL)
        schema = json.loads(owner.input_value("#forms-text"))
        schema["properties"]["name"]["title"] = NEW_LABEL
        owner.fill("#forms-text", json.dumps(schema, ensure_ascii=False, indent=2))
        expect(preview_name).to_contain_text(NEW_LABEL)
        owner.screenshot(path=str(artifacts / "11-form-editor-preview.png"), full_page=True)

        # Broken JSON shows the parser's complaint instead of a new preview.
        owner.fill("#forms-text", '{"type": "object",')
        expect(owner.locator("#forms-error")).to_be_visible()
        owner.fill("#forms-text", json.dumps(schema, ensure_ascii=False, indent=2))
        expect(owner.locator("#forms-error")).to_be_hidden()

        owner.click("#validate-button")
        expect(owner.locator("#editor-status")).to_have_attribute("data-kind", "success")
        assert owner.locator("#problem-list li").count() == 0
        owner.click("#deploy-button")
        expect(owner.locator("#editor-status")).to_have_attribute("data-version", "2")
        assert "2" in owner.inner_text("#editor-status")
        owner.screenshot(path=str(artifacts / "12-deployed-version-2.png"))

        with app.app_context():
            model = db.session.scalars(
                select(ProcessModel).where(ProcessModel.key == "admission")
            ).one()
            assert model.live_version.number == 2
            live = model.live_version
            assert "notice_working_days = 7" in live.bpmn
            assert live.forms["application.schema.json"]["properties"]["name"]["title"] == NEW_LABEL

        # After the deploy: the old ones stay on version 1, a new one starts on version 2.
        after_submitted = proc.submit()
        assert version_number(app, before_submitted) == 1
        assert version_number(app, before_draft.id) == 1
        assert version_number(app, after_submitted) == 2

        applicant = actors("applicant")
        old_form = applicant.get(f"/tasks/{open_task(app, before_draft.id).task_guid}")
        assert OLD_LABEL in old_form.get_data(as_text=True)
        assert NEW_LABEL not in old_form.get_data(as_text=True)
        applicant_page = login(browser, base, "applicant")
        applicant_page.click("#start-application")
        applicant_page.wait_for_selector("#task-form")
        expect(applicant_page.locator('[data-field="name"] label')).to_contain_text(NEW_LABEL)
        applicant_page.screenshot(path=str(artifacts / "13-new-label-on-version-2.png"))

        proc.review(before_submitted)
        proc.review(after_submitted)
        assert notice_days(app, proc, before_submitted) == 5
        assert notice_days(app, proc, after_submitted) == 7

        # Version 1's notice ends first; version 2's two working days later.
        assert proc.after(proc.case(before_submitted).notice_closes_at) == 1
        assert proc.case(before_submitted).stage == "approval"
        assert proc.case(after_submitted).stage == "notice"
        assert proc.after(proc.case(after_submitted).notice_closes_at) == 1

        # The diagram saved by the modeler runs to the end.
        proc.approve_by_council(after_submitted)
        proc.declare_payment(after_submitted)
        proc.confirm_payment(after_submitted)
        proc.issue_certificate(after_submitted)
        finished = proc.case(after_submitted)
        assert finished.status == "admitted" and finished.member_number


def test_invalid_edit_is_shown_on_the_canvas_and_not_deployed(browser, live_server, app, artifacts):
    base, _live_app = live_server
    owner = login(browser, base, "owner")
    open_editor(owner, base)

    # A gateway whose flows have neither conditions nor a default.
    select_element(owner, "review_gateway")
    owner.select_option("#properties [name=default]", "")
    for flow in ("f_review_pass", "f_review_more"):
        select_element(owner, flow)
        set_field(owner, "conditionExpression", "")
    # A user task without its form.
    select_element(owner, "preliminary_review")
    set_field(owner, "formJsonSchemaFilename", "")

    owner.click("#validate-button")
    expect(owner.locator("#editor-status")).to_have_attribute("data-kind", "danger")
    for element_id, name in (("review_gateway", "初审结论？"), ("preliminary_review", "初审")):
        problem = owner.locator(f'#problem-list li[data-element="{element_id}"]').first
        expect(problem).to_contain_text(element_id)
        expect(problem).to_contain_text(name)
        marked = owner.locator(f'.djs-element.has-problem[data-element-id="{element_id}"]')
        expect(marked).to_have_count(1)
    owner.screenshot(path=str(artifacts / "14-invalid-edit-highlighted.png"))

    # Clicking a problem selects its element for editing.
    owner.click('#problem-list li[data-element="preliminary_review"] .problem-link')
    owner.wait_for_selector('#properties[data-element="preliminary_review"]')

    owner.click("#deploy-button")
    expect(owner.locator("#editor-status")).to_have_attribute("data-kind", "danger")
    with app.app_context():
        admission = select(ProcessModel.id).where(ProcessModel.key == "admission")
        numbers = select(ModelVersion.number).where(ModelVersion.model_id.in_(admission))
        assert list(db.session.scalars(numbers)) == [1]


def test_imported_file_with_changed_fees_becomes_the_next_version(
    browser, live_server, app, artifacts
):
    base, _live_app = live_server
    owner = login(browser, base, "owner")
    # A file from another tool: the same process with a six-day notice.
    made_elsewhere = (ROOT / "workflows" / "admission.bpmn").read_text("utf-8")
    made_elsewhere = made_elsewhere.replace(
        'notice_working_days = settings["notice_working_days"]', "notice_working_days = 6"
    )

    # The editor's own import button refuses what is not BPMN, and keeps the working copy.
    open_editor(owner, base)
    owner.set_input_files(
        "#import-file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"}]
    )
    expect(owner.locator("#editor-status")).to_have_attribute("data-kind", "danger")
    assert owner.locator('.djs-element[data-element-id="open_notice"]').count() == 1

    owner.goto(f"{base}/models")
    owner.set_input_files(
        "#import-file",
        files=[
            {
                "name": "admission.bpmn",
                "mimeType": "application/xml",
                "buffer": made_elsewhere.encode(),
            }
        ],
    )
    owner.select_option("#import-target", "admission")
    owner.click("#import-submit")
    owner.wait_for_selector("#model-editor[data-ready=true]")
    expect(owner.locator("#editor-notice")).to_contain_text("admission.bpmn")
    select_element(owner, "open_notice")
    assert "notice_working_days = 6" in owner.input_value("#properties [name=script]")

    # The fee schedule in its table: the unit fee goes up.
    owner.click("#tab-data")
    owner.click('#data-files [data-file="fee_schedule.data.json"]')
    amount = owner.locator('#data-table tr[data-member-type="unit"] input[type=number]')
    expect(amount).to_have_value("5000")
    amount.fill("6000")
    amount.press("Tab")
    assert json.loads(owner.input_value("#data-text"))["member_types"]["unit"]["amount"] == 6000
    owner.screenshot(path=str(artifacts / "15-fee-schedule-table.png"), full_page=True)

    # The receipt's English wording, in the Messages tab.
    owner.click("#tab-messages")
    owner.click('#messages-files [data-file="messages/application_received.en.txt"]')
    receipt = owner.input_value("#messages-text")
    assert receipt.startswith("[{{ association_name }}] We have received")
    owner.fill("#messages-text", receipt.replace("We have received", "We received"))

    owner.click("#deploy-button")
    expect(owner.locator("#editor-status")).to_have_attribute("data-version", "2")
    with app.app_context():
        live = (
            db.session.scalars(select(ProcessModel).where(ProcessModel.key == "admission"))
            .one()
            .live_version
        )
        assert live.number == 2 and "notice_working_days = 6" in live.bpmn
        assert live.forms["fee_schedule.data.json"]["member_types"]["unit"]["amount"] == 6000
        assert "] We received your" in live.forms["messages/application_received.en.txt"]

    # The list shows both versions, version 2 live, each with its export link.
    owner.goto(f"{base}/models")
    live_row = owner.locator('table[data-model="admission"] tr[data-version="2"]')
    expect(live_row.locator(".badge.text-bg-success")).to_have_count(1)
    owner.screenshot(path=str(artifacts / "16-model-list.png"), full_page=True)
    with owner.expect_download() as download:
        owner.click('tr[data-version="1"] a.export-bpmn')
    assert download.value.suggested_filename == "admission-v1.bpmn"
