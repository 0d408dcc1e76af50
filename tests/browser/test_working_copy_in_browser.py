"""The working copy in Chromium: the owner renames a task in bpmn-js and saves without deploying;
after a reload the editor opens the saved copy (the rename still there, who saved it said in
the header) while the live version is unchanged; deploying it with a comment makes version 2
live, the header says so and the working copy is gone. Also what the modeler's first view
must give: the whole diagram in view, the palette clear of the lane headers, the canvas as wide
as the page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.test_process_owner_in_browser import select_element, set_field
from webapp.extensions import db
from webapp.models import ProcessModel, WorkingCopy

pytestmark = pytest.mark.browser

NEW_NAME = "初审（工作副本）"


def login(browser, base, username, width=1366, height=900):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo1234")
    page.click("#login-submit")
    page.wait_for_load_state()
    return page


def open_editor(page, base):
    page.goto(f"{base}/models/admission/edit")
    page.wait_for_selector("#model-editor[data-ready=true]")


def element_name(page, element_id) -> str:
    return page.evaluate(
        "(id) => window.modelEditor.modeler.get('elementRegistry').get(id).businessObject.name",
        element_id,
    )


def live(app):
    with app.app_context():
        model = db.session.scalars(
            select(ProcessModel).where(ProcessModel.key == "admission")
        ).one()
        return model.live_version.number, model.live_version.deploy_comment


def test_a_saved_working_copy_survives_a_reload_and_deploys_with_a_comment(
    browser, live_server, app, artifacts
):
    base, _live_app = live_server
    owner = login(browser, base, "owner")
    open_editor(owner, base)
    assert owner.get_attribute("#model-editor", "data-copy-revision") == "0"
    expect(owner.locator("#discard-button")).to_be_hidden()

    select_element(owner, "preliminary_review")
    set_field(owner, "name", NEW_NAME)
    assert element_name(owner, "preliminary_review") == NEW_NAME
    # Model data goes with it: the notice period, in the settings form.
    owner.click("#tab-data")
    owner.click('#data-files [data-file="settings.data.json"]')
    owner.fill("#data-table [data-setting=notice_working_days]", "7")
    owner.press("#data-table [data-setting=notice_working_days]", "Tab")
    owner.screenshot(path=str(artifacts / "working-copy-settings-form-1366.png"))
    owner.click("#tab-diagram")
    owner.click("#save-button")
    expect(owner.locator("#editor-status")).to_have_attribute("data-saved", "1")
    with app.app_context():
        saved = db.session.scalars(select(WorkingCopy)).one()
        assert saved.forms["settings.data.json"]["notice_working_days"] == 7
    expect(owner.locator("#copy-saved")).to_be_visible()
    expect(owner.locator("#discard-button")).to_be_visible()
    assert live(app) == (1, None)  # saved, not deployed

    # Reload (no "leave the page?" question: the edit is saved) and the edit is still there.
    owner.reload()
    owner.wait_for_selector("#model-editor[data-ready=true]")
    assert element_name(owner, "preliminary_review") == NEW_NAME
    owner.click("#tab-data")
    owner.click('#data-files [data-file="settings.data.json"]')
    expect(owner.locator("#data-table [data-setting=notice_working_days]")).to_have_value("7")
    owner.click("#tab-diagram")
    expect(owner.locator("#copy-saved")).to_contain_text("工作副本由 周管理员")
    expect(owner.locator("#copy-notice")).to_be_visible()
    assert owner.get_attribute("#model-editor", "data-copy-revision") == "1"
    owner.screenshot(path=str(artifacts / "working-copy-reopened-1366.png"))

    # The live version is not the copy.
    owner.goto(f"{base}/models")
    expect(owner.locator("#copy-admission")).to_be_visible()
    owner.screenshot(path=str(artifacts / "working-copy-models-with-copy-1366.png"), full_page=True)
    owner.click("#edit-admission")
    owner.wait_for_selector("#model-editor[data-ready=true]")
    assert element_name(owner, "preliminary_review") == NEW_NAME

    # Deploying asks to confirm with a comment; cancelling deploys nothing.
    owner.once("dialog", lambda dialog: dialog.dismiss())
    owner.click("#deploy-button")
    assert live(app) == (1, None)
    owner.once("dialog", lambda dialog: dialog.accept("初审改名为工作副本"))
    owner.click("#deploy-button")
    expect(owner.locator("#editor-status")).to_have_attribute("data-version", "2")
    expect(owner.locator("#live-version")).to_have_text("2")
    expect(owner.locator("#copy-saved")).to_be_hidden()
    expect(owner.locator("#discard-button")).to_be_hidden()
    assert live(app) == (2, "初审改名为工作副本")
    with app.app_context():
        model = db.session.scalars(
            select(ProcessModel).where(ProcessModel.key == "admission")
        ).one()
        assert model.live_version.forms["settings.data.json"]["notice_working_days"] == 7
    with app.app_context():
        assert db.session.scalars(select(WorkingCopy)).one().bpmn is None
    owner.screenshot(path=str(artifacts / "working-copy-deployed-1366.png"))

    # Reopened: the live version 2, no working copy.
    open_editor(owner, base)
    assert element_name(owner, "preliminary_review") == NEW_NAME
    expect(owner.locator("#live-version")).to_have_text("2")
    expect(owner.locator("#copy-notice")).to_have_count(0)


def test_discarding_the_copy_brings_back_the_live_version(browser, live_server, app, artifacts):
    base, _live_app = live_server
    owner = login(browser, base, "owner")
    open_editor(owner, base)
    select_element(owner, "preliminary_review")
    set_field(owner, "name", NEW_NAME)
    owner.click("#save-button")
    expect(owner.locator("#editor-status")).to_have_attribute("data-saved", "1")
    owner.once("dialog", lambda dialog: dialog.accept())
    with owner.expect_navigation():
        owner.click("#discard-button")
    owner.wait_for_selector("#model-editor[data-ready=true]")
    assert element_name(owner, "preliminary_review") == "初审"
    expect(owner.locator("#discard-button")).to_be_hidden()
    assert live(app) == (1, None)


def test_a_second_owner_saving_over_a_changed_copy_is_told_who_saved_it(
    browser, live_server, app, artifacts
):
    base, _live_app = live_server
    first, second = login(browser, base, "owner"), login(browser, base, "owner")
    open_editor(first, base)
    open_editor(second, base)
    first.click("#save-button")
    expect(first.locator("#editor-status")).to_have_attribute("data-saved", "1")
    second.click("#save-button")
    expect(second.locator("#editor-status")).to_have_attribute("data-kind", "warning")
    expect(second.locator("#editor-status")).to_contain_text("保存了工作副本")
    expect(second.locator("#save-anyway")).to_be_visible()
    second.screenshot(path=str(artifacts / "working-copy-conflict-1366.png"))
    second.click("#save-anyway")
    expect(second.locator("#editor-status")).to_have_attribute("data-saved", "2")


@pytest.mark.parametrize("width", [1366, 390])
def test_the_modeler_opens_fitted_clear_of_the_palette_and_page_wide(
    browser, live_server, artifacts, width
):
    base, _live_app = live_server
    owner = login(browser, base, "owner", width=width, height=900 if width > 500 else 844)
    open_editor(owner, base)
    geometry = owner.evaluate(
        """() => {
            const modeler = window.modelEditor.modeler, canvas = modeler.get('canvas');
            const box = document.getElementById('canvas').getBoundingClientRect();
            const palette = document.querySelector('.djs-palette').getBoundingClientRect();
            const shapes = Array.from(document.querySelectorAll('.djs-shape .djs-visual'))
                .map((node) => node.getBoundingClientRect());
            return {
                canvasLeft: box.left, canvasRight: box.right, canvasTop: box.top,
                canvasBottom: box.bottom, paletteRight: palette.right,
                left: Math.min(...shapes.map((r) => r.left)),
                right: Math.max(...shapes.map((r) => r.right)),
                top: Math.min(...shapes.map((r) => r.top)),
                bottom: Math.max(...shapes.map((r) => r.bottom)),
                scale: canvas.zoom(),
            };
        }"""
    )
    owner.screenshot(path=str(artifacts / f"working-copy-editor-{width}.png"))
    # The whole diagram is in view, left of it the palette, nothing under the palette.
    assert geometry["left"] >= geometry["paletteRight"] - 1, geometry
    assert geometry["right"] <= geometry["canvasRight"] + 1, geometry
    assert geometry["top"] >= geometry["canvasTop"] - 1, geometry
    assert geometry["bottom"] <= geometry["canvasBottom"] + 1, geometry
    # Fitted, not tiny: the diagram spans the room beside the palette (or its height).
    room_x = geometry["canvasRight"] - geometry["paletteRight"]
    room_y = geometry["canvasBottom"] - geometry["canvasTop"]
    spans = max(
        (geometry["right"] - geometry["left"]) / room_x,
        (geometry["bottom"] - geometry["top"]) / room_y,
    )
    assert spans > 0.85, geometry
    if width > 1000:
        # The canvas takes the page's width, less the properties panel beside it.
        assert geometry["canvasRight"] - geometry["canvasLeft"] > 0.65 * width, geometry
    # Saving works at this width too, and the list then says so.
    owner.click("#save-button")
    expect(owner.locator("#editor-status")).to_have_attribute("data-saved", "1")
    owner.screenshot(path=str(artifacts / f"working-copy-saved-{width}.png"))
    owner.goto(f"{base}/models")
    expect(owner.locator("#copy-admission")).to_be_visible()
    # The page fits the screen's width (a wide table scrolls in its own box).
    assert owner.evaluate("document.documentElement.scrollWidth") <= width
    owner.screenshot(path=str(artifacts / f"working-copy-models-{width}.png"), full_page=True)
