"""Rough edges a newcomer met, each reproduced and now held by a test."""

from __future__ import annotations

import re

OPEN_LINK = re.compile(r'href="/tasks/([0-9a-f-]+)"[^>]*>(?:办理|Open)<')


def test_a_case_page_offers_only_the_actions_its_viewer_may_take(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id, "more_material", review_request="请补充材料。")
    # The applicant owes material: the secretary sees who it waits on, and no button to a
    # task that would answer 404.
    html = actors("secretary").get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-task="provide_material"' in html and not OPEN_LINK.search(html)
    procedure.do("applicant", case_id, "provide_material", {"material_response": "已补充。"})
    procedure.review(case_id)
    procedure.close_notice(case_id)
    # The council's vote is one step: one box, and each member's button opens its own vote.
    for member in ("council", "council2"):
        html = actors(member).get(f"/cases/{case_id}").get_data(as_text=True)
        assert html.count('data-task="council_vote"') == 1
        links = OPEN_LINK.findall(html)
        assert links == [procedure.task(case_id, "council_vote", member).task_guid]
        assert actors(member).get(f"/tasks/{links[0]}").status_code == 200
    html = actors("secretary").get(f"/cases/{case_id}").get_data(as_text=True)
    assert not OPEN_LINK.search(html)
    procedure.vote(case_id, "council", "approve")
    html = actors("secretary").get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.search(r'class="badge text-bg-secondary peer-count">[^<]*1/3', html)


def test_every_error_at_once_and_the_valid_file_kept(app, actors):
    from tests.conftest import VALID_APPLICATION

    applicant = actors("applicant")
    case = applicant.start_application()
    task = _open(app, case.id, "submit_application")
    wrong = {
        **VALID_APPLICATION,
        "credit_code": "91110000600037341X",  # wrong check digit
        "business_licence": (b"MZ\x90\x00 not a document", "licence.exe"),
    }
    response = applicant.complete(task, wrong)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for name in ("credit_code", "business_licence"):
        field = html.split(f'<div class="mb-3" data-field="{name}"', 1)[1].split("data-field=")[0]
        assert "invalid-feedback" in field, name
    # The signed application form that passed is kept: the form offers it back.
    assert re.search(r'name="application_form_scan__current"[^>]*value="[^"]+"', html)
    right = {k: v for k, v in VALID_APPLICATION.items() if k != "application_form_scan"}
    kept = re.search(r'name="application_form_scan__current"[^>]*value="([^"]+)"', html)
    right["application_form_scan__current"] = kept.group(1)
    assert applicant.complete(task, right).status_code == 302


def _open(app, case_id, bpmn_id):
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import Case, HumanTask

    with app.app_context():
        case = db.session.get(Case, case_id)
        return db.session.scalars(
            select(HumanTask.task_guid).where(
                HumanTask.instance_id == case.instance_id,
                HumanTask.state == "ready",
                HumanTask.bpmn_id == bpmn_id,
            )
        ).one()


def test_summary_labels_take_the_width_they_need(app, actors, procedure):
    """The application beside a task was a dl with a fixed quarter for its labels: in the
    sidebar "统一社会信用代码" broke into four lines. Now a grid sized by the labels."""
    case_id = procedure.submit()
    html = (
        actors("secretary")
        .get(f"/tasks/{procedure.task(case_id, 'preliminary_review').task_guid}")
        .get_data(as_text=True)
    )
    assert '<dl class="summary">' in html and 'class="col-sm-3"' not in html
    css = actors(None).get("/static/app.css").get_data(as_text=True)
    assert ".summary { display: grid;" in css


def test_fields_for_individuals_are_hidden_and_ignored_for_a_unit(app, actors):
    """The schema's if/then says which fields apply to which member type: the page hides the
    others (and says when they apply), and the server neither validates nor keeps them."""
    import json
    from html import unescape

    from tests.conftest import VALID_APPLICATION

    applicant = actors("applicant")
    case = applicant.start_application()
    task = _open(app, case.id, "submit_application")
    html = applicant.get(f"/tasks/{task}").get_data(as_text=True)
    rule = re.search(r'data-field="id_number" data-show-when="([^"]+)"', html)
    assert json.loads(unescape(rule.group(1))) == [{"member_type": ["individual"]}]
    # A unit with an ID number typed before choosing: hidden on the page shown again…
    response = applicant.complete(task, {**VALID_APPLICATION, "id_number": "123", "name": ""})
    html = response.get_data(as_text=True)
    assert re.search(r'data-field="id_number" data-show-when="[^"]+" hidden', html)
    assert re.search(r'data-field="credit_code" data-show-when="[^"]+">', html)
    field = html.split('data-field="id_number"', 1)[1].split("data-field=")[0]
    assert "invalid-feedback" not in field  # …and not validated,
    assert applicant.complete(task, {**VALID_APPLICATION, "id_number": "123"}).status_code == 302
    from tests.conftest import reload

    assert "id_number" not in reload(app, case.id).data  # nor kept


def test_the_applicant_sees_current_information_only(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id)
    applicant = actors("applicant")
    page = applicant.get(f"/cases/{case_id}").get_data(as_text=True)
    assert page.count('id="on-notice"') == 1 and 'data-fact="notice"' not in page
    mine = applicant.get("/cases").get_data(as_text=True)
    assert "on-notice" in mine  # "My cases" says what happens next, and when
    procedure.close_notice(case_id)
    page = applicant.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="on-notice"' not in page
    mine = applicant.get("/cases").get_data(as_text=True)
    assert mine.count('class="mb-1 next-step"') == 1  # the council's vote: one line, not three
    procedure.approve_by_council(case_id)
    assert 'id="fee-notice"' in applicant.get(f"/cases/{case_id}").get_data(as_text=True)
    procedure.declare_payment(case_id)
    procedure.confirm_payment(case_id)
    page = applicant.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="fee-notice"' not in page  # paid: the payment notice is history


def test_the_applicant_reads_what_the_secretariat_asked_on_its_own_page(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id, "more_material", review_request="请补充近两年财务报表。")
    page = actors("applicant").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "秘书处要求：请补充近两年财务报表。" in page
    task = procedure.task(case_id, "provide_material")
    form = actors("applicant").get(f"/tasks/{task.task_guid}").get_data(as_text=True)
    assert form.index("请补充近两年财务报表。") < form.index('id="task-form"')


def test_one_date_format_per_language(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id)
    secretary = actors("secretary")
    pages = [secretary.get(p).get_data(as_text=True) for p in (f"/cases/{case_id}", "/board")]
    for html in pages:
        assert re.search(r"\b2026-06-\d\d \d\d:\d\d\b", html)
        assert not re.search(r"2026年|2026/6/", html)
    secretary.get("/lang/en?next=/")
    html = secretary.get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.search(r"\b\d{1,2} Jun 2026, \d\d:\d\d\b", html)
    assert not re.search(r"\b6/\d{1,2}/26\b|Jun \d{1,2}, 2026", html)


def test_messages_count_unread_and_link_their_addresses(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id, "more_material", review_request="请补充材料。")
    applicant = actors("applicant")
    home = applicant.get("/cases").get_data(as_text=True)
    count = int(re.search(r'id="nav-unread-count"[^>]*>(\d+)<', home).group(1))
    assert count >= 1
    page = applicant.get("/messages").get_data(as_text=True)
    assert page.count('class="badge text-bg-primary me-1 unread"') == count
    assert re.search(r'<a href="http://127\.0\.0\.1:5000/[^"]+" rel="noopener">', page)
    assert 'id="nav-unread-count"' not in applicant.get("/cases").get_data(as_text=True)


def test_the_audit_trail_reads_as_sentences_and_tables(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id, review_notes="材料齐全。")
    html = actors("secretary").get(f"/cases/{case_id}/audit").get_data(as_text=True)
    assert "case_started" not in html.split("<tbody>")[1].split("</tbody>")[0].replace(
        'data-action="case_started"', ""
    )
    assert '{"' not in html  # no raw JSON
    assert re.search(r'<th scope="row"[^>]*>review_notes</th><td[^>]*>\s*材料齐全。', html)


def test_task_names_in_english_come_from_the_diagram(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id)
    secretary = actors("secretary")
    secretary.get("/lang/en?next=/")
    page = secretary.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Preliminary review" in page and "Fill in the membership application" in page
    assert "End now: Public notice period ends" in page
    procedure.close_notice(case_id)
    task = procedure.task(case_id, "council_vote", "council")
    council = actors("council")
    council.get("/lang/en?next=/")
    html = council.get(f"/tasks/{task.task_guid}").get_data(as_text=True)
    assert "<title>Council vote" in html and "<script" not in html.split("</title>")[0]
    zh = actors("council2").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "理事会表决" in zh


def test_the_process_owner_follows_a_case_without_its_data(app, actors, procedure):
    from tests.conftest import VALID_APPLICATION

    case_id = procedure.submit()
    procedure.review(case_id)
    owner = actors("owner")
    page = owner.get(f"/cases/{case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="progress-only"' in html and 'id="progress-diagram"' in html
    for personal in ("name", "credit_code", "email", "phone"):
        assert VALID_APPLICATION[personal] not in html, personal
    diagram = owner.get(f"/cases/{case_id}/diagram")
    assert diagram.status_code == 200 and diagram.get_json()["states"]
    assert owner.get(f"/cases/{case_id}/audit").status_code == 404
    assert owner.get("/cases/999999").status_code == 404
