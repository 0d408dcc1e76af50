"""The process owner's working copy through the test client: saved without deploying, reopened
in the editor with who saved it when, discarded, deployed (then gone, the header naming the
live version). A second owner saving over a copy changed since it opened the editor gets 409
with who and when, and nothing is written. An invalid diagram may be saved as a draft; deploying
it answers its problems and changes nothing. Only process owners; the CSRF token is required."""

from __future__ import annotations

import json
import threading
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.conftest import add_user
from tests.test_model_editor import (
    BPMN,
    FORM_PROPERTY,
    bundle,
    live_number,
    post_json,
    token,
    versions,
)
from webapp.extensions import db
from webapp.models import AuditEvent, ProcessModel, WorkingCopy

SAVE = "/models/admission/working-copy"
DISCARD = "/models/admission/working-copy/discard"
DEPLOY = "/models/admission/deploy"
EDIT = "/models/admission/edit"
CHANGED = BPMN.replace('name="初审"', 'name="初审（工作副本）"')
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def owners(app, actors):
    add_user(app, "owner2", "第二位流程负责人", "process_owner")
    return actors("owner"), actors("owner2")


def page_bundle(actor, url: str = EDIT) -> tuple[dict, str]:
    """The bundle the editor page opens, and the page."""
    page = actor.get(url).get_data(as_text=True)
    start = page.index('id="editor-bundle">') + len('id="editor-bundle">')
    return json.loads(page[start : page.index("</script>", start)]), page


def revision_on(page: str) -> int:
    marker = 'data-copy-revision="'
    start = page.index(marker) + len(marker)
    return int(page[start : page.index('"', start)])


def moment(app) -> str:
    """When the working copy was saved, as the pages write it in Chinese."""
    return stored(app).saved_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def save(actor, revision: int, bpmn: str = CHANGED, **forms):
    return post_json(
        actor, SAVE, {**bundle(bpmn, **forms), "revision": revision, "base_version": 1}
    )


def stored(app) -> WorkingCopy | None:
    with app.app_context():
        row = db.session.scalars(select(WorkingCopy)).first()
        if row is not None:
            db.session.refresh(row)
            _ = row.bpmn, row.forms  # load the deferred columns before the session closes
            db.session.expunge(row)
        return row


def test_save_stores_a_working_copy_without_deploying_and_the_editor_reopens_it(app, owners):
    owner, _other = owners
    _start, page = page_bundle(owner)
    assert revision_on(page) == 0 and 'id="save-button"' in page
    fee = {"standard": {"amount": 999, "currency": "CNY"}}
    response = save(owner, 0, **{"fee_schedule.data.json": fee})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["ok"] and body["revision"] == 1
    assert moment(app) in body["saved"] and body["message"]
    assert versions(app) == [1] and live_number(app) == 1  # nothing deployed

    reopened, page = page_bundle(owner)
    assert reopened["bpmn"] == CHANGED
    assert reopened["forms"]["fee_schedule.data.json"] == fee
    assert revision_on(page) == 1
    assert 'id="copy-saved"' in page and moment(app) in page
    assert 'id="discard-button"' in page and 'id="copy-notice"' in page
    # The live version is still one click away, and says the copy exists.
    models = owner.get("/models").get_data(as_text=True)
    assert 'id="copy-admission"' in models and "编辑工作副本" in models
    live, page = page_bundle(owner, f"{EDIT}?version=1")
    assert live["bpmn"] == BPMN and 'id="open-copy"' in page
    with app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(AuditEvent.action == "working_copy_saved"))
            == 1
        )


def test_saving_again_replaces_the_copy_and_bumps_the_revision(app, owners):
    owner, _other = owners
    assert save(owner, 0).status_code == 200
    second = save(owner, 1, CHANGED.replace("工作副本", "第二稿"))
    assert second.status_code == 200 and second.get_json()["revision"] == 2
    assert "第二稿" in stored(app).bpmn


def test_discard_drops_the_copy_and_the_editor_opens_the_live_version(app, owners):
    owner, _other = owners
    save(owner, 0)
    response = post_json(owner, DISCARD, {"revision": 1})
    assert response.status_code == 200 and response.get_json()["revision"] == 2
    row = stored(app)
    assert row.bpmn is None and row.forms is None and row.last_action == "discarded"
    reopened, page = page_bundle(owner)
    assert reopened["bpmn"] == BPMN and revision_on(page) == 2
    assert 'id="copy-notice"' not in page
    assert versions(app) == [1]


def test_deploying_the_copy_makes_it_live_and_ends_it(app, owners):
    owner, _other = owners
    save(owner, 0)
    response = post_json(
        owner,
        DEPLOY,
        {**bundle(CHANGED), "live_version": 1, "copy_revision": 1, "comment": "初审改名"},
    )
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["version"] == 2 and body["created"] and body["copy_revision"] == 2
    assert versions(app) == [1, 2] and live_number(app) == 2
    assert stored(app).bpmn is None and stored(app).last_action == "deployed"
    with app.app_context():
        model = db.session.scalars(select(ProcessModel)).first()
        model = db.session.scalars(
            select(ProcessModel).where(ProcessModel.key == "admission")
        ).one()
        assert model.live_version.deploy_comment == "初审改名"
    reopened, page = page_bundle(owner)
    assert reopened["bpmn"] == CHANGED  # the live version now
    assert '<span id="live-version">2</span>' in page and 'id="copy-saved" class="d-none"' in page
    # The version list shows the comment kept with the version.
    assert "初审改名" in owner.get("/models").get_data(as_text=True)


def test_a_save_over_a_copy_changed_since_opening_is_refused_with_who_and_when(app, owners):
    owner, other = owners
    assert revision_on(page_bundle(owner)[1]) == revision_on(page_bundle(other)[1]) == 0
    assert save(other, 0, CHANGED.replace("工作副本", "第二位的")).status_code == 200
    late = save(owner, 0)
    body = late.get_json()
    assert late.status_code == 409 and body["ok"] is False
    assert "第二位流程负责人" in body["error"] and moment(app) in body["error"]
    assert "保存了工作副本" in body["error"]  # Chinese, the default language
    assert body["revision"] == 1
    assert "第二位的" in stored(app).bpmn  # nothing written
    # An owner who read the message may save over it knowingly, naming the revision it saw.
    assert save(owner, body["revision"]).status_code == 200
    assert "工作副本" in stored(app).bpmn
    # The same check guards discard and deploy: the first owner's newer save stands.
    assert post_json(other, DISCARD, {"revision": 1}).status_code == 409
    stale_deploy = post_json(
        other, DEPLOY, {**bundle(CHANGED), "live_version": 1, "copy_revision": 1}
    )
    assert stale_deploy.status_code == 409 and "revision" in stale_deploy.get_json()
    assert versions(app) == [1] and stored(app).revision == 2


def test_a_stale_owner_is_refused_after_a_discard_too(app, owners):
    owner, other = owners
    save(owner, 0)
    assert post_json(other, DISCARD, {"revision": 1}).status_code == 200
    late = save(owner, 1)
    assert late.status_code == 409
    assert "第二位流程负责人" in late.get_json()["error"]
    assert stored(app).bpmn is None


def test_an_invalid_diagram_saves_as_a_draft_but_does_not_deploy(app, owners):
    owner, _other = owners
    broken = BPMN.replace(FORM_PROPERTY, "")
    assert save(owner, 0, broken).status_code == 200
    assert stored(app).bpmn == broken
    response = post_json(
        owner, DEPLOY, {**bundle(broken), "live_version": 1, "copy_revision": 1, "comment": "x"}
    )
    body = response.get_json()
    assert response.status_code == 422
    assert any(p["element_id"] == "preliminary_review" for p in body["problems"])
    assert versions(app) == [1] and live_number(app) == 1
    row = stored(app)
    assert row.bpmn == broken and row.revision == 1 and row.last_action == "saved"


def test_deploy_without_a_copy_revision_leaves_the_copy_alone(app, owners):
    # The JSON API and older pages deploy a bundle without knowing of working copies.
    owner, _other = owners
    save(owner, 0)
    assert post_json(owner, DEPLOY, {**bundle(CHANGED), "live_version": 1}).status_code == 200
    assert stored(app).bpmn == CHANGED and stored(app).revision == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"bpmn": CHANGED, "forms": {}},  # no revision
        {"bpmn": CHANGED, "forms": {}, "revision": "1"},
        {"bpmn": CHANGED, "forms": {}, "revision": -1},
        {"bpmn": CHANGED, "forms": {}, "revision": True},
        {"bpmn": CHANGED, "forms": {}, "revision": 0, "base_version": "1"},
        {"bpmn": "", "forms": {}, "revision": 0},
        {"bpmn": CHANGED, "forms": {"../x.json": {}}, "revision": 0},
        [],
    ],
)
def test_bad_saves_are_refused_with_a_message_and_store_nothing(app, owners, payload):
    owner, _other = owners
    response = post_json(owner, SAVE, payload)
    assert response.status_code == 400 and response.get_json()["error"]
    assert stored(app) is None


def test_a_working_copy_of_an_unknown_model_is_not_found(owners):
    owner, _other = owners
    response = post_json(owner, "/models/nothing/working-copy", {**bundle(), "revision": 0})
    assert response.status_code == 404


@pytest.mark.parametrize("url", [SAVE, DISCARD])
def test_only_process_owners_save_or_discard(app, actors, url):
    payload = {**bundle(CHANGED), "revision": 0} if url == SAVE else {"revision": 0}
    for username in ("applicant", "secretary", "council", "finance", "admin"):
        response = post_json(actors(username), url, payload)
        assert response.status_code == 403, username
        assert response.get_json()["error"]
    anonymous = post_json(actors(None), url, payload)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert stored(app) is None


@pytest.mark.parametrize("url", [SAVE, DISCARD])
def test_a_post_without_the_csrf_token_is_refused(app, actors, url):
    payload = {**bundle(CHANGED), "revision": 0} if url == SAVE else {"revision": 0}
    response = actors("owner").client.post(
        url, json=payload, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400 and response.get_json()["error"]
    assert stored(app) is None


def test_the_header_and_buttons_speak_english_too(app, owners):
    owner, _other = owners
    save(owner, 0)
    owner.get("/lang/en?next=/")
    page = owner.get(EDIT).get_data(as_text=True)
    assert "Save working copy" in page and "Discard working copy" in page
    assert "working copy saved by" in page


@pytest.mark.parametrize("opened", [0, 1], ids=["first save", "over a saved copy"])
def test_two_owners_saving_at_once_one_wins_the_other_is_told(app, owners, opened):
    # Real concurrent requests: the revision check and the write are one statement (or an
    # insert against the unique model), so the database lets exactly one through.
    first, second = owners
    if opened:
        assert save(first, 0).status_code == 200
    tokens = [token(first), token(second)]
    names = ["甲稿", "乙稿"]
    barrier = threading.Barrier(2)
    responses = [None, None]

    def send(i):
        barrier.wait()
        responses[i] = (first, second)[i].client.post(
            SAVE,
            json={**bundle(CHANGED.replace("工作副本", names[i])), "revision": opened},
            headers={"X-CSRFToken": tokens[i], "Accept": "application/json"},
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status_code for r in responses) == [200, 409]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 200)
    loser = responses[1 - winner].get_json()
    assert ("周管理员", "第二位流程负责人")[winner] in loser["error"]
    row = stored(app)
    assert names[winner] in row.bpmn and row.revision == opened + 1


def test_a_copy_that_is_not_even_xml_reopens_with_its_discard_button(app, owners):
    # A draft is stored as typed; the page must still offer the way out.
    owner, _other = owners
    assert save(owner, 0, "<bpmn:definitions unfinished").status_code == 200
    reopened, page = page_bundle(owner)
    assert reopened["bpmn"] == "<bpmn:definitions unfinished"
    assert 'id="discard-button"' in page and 'd-none" id="discard-button"' not in page
    assert post_json(owner, DISCARD, {"revision": 1}).status_code == 200
    assert page_bundle(owner)[0]["bpmn"] == BPMN
