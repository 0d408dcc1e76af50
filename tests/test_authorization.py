"""Each role sees only its lanes, an applicant only its own applications, nobody decides on
its own application, and a task that is no longer open refuses — with a clear message."""

from sqlalchemy import func, select

from tests.conftest import VALID_APPLICATION, Actor, add_user, open_task, reload
from webapp.extensions import db
from webapp.models import AuditEvent, User


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_another_applicant_cannot_see_the_application_or_its_tasks(app, actors, submitted):
    other = actors("applicant2")
    response = other.get(f"/cases/{submitted.id}")
    assert response.status_code == 404
    assert submitted.name not in response.get_data(as_text=True)
    applicant_task = actors("applicant").start_application()
    guid = open_task(app, applicant_task.id).task_guid
    assert other.get(f"/tasks/{guid}").status_code == 404
    assert other.complete(guid, VALID_APPLICATION).status_code == 404
    assert open_task(app, applicant_task.id).task_guid == guid  # nothing moved


def test_applicant_cannot_work_a_secretariat_task(app, actors, submitted):
    applicant = actors("applicant")
    guid = open_task(app, submitted.id).task_guid
    response = applicant.complete(guid, {"review_decision": "pass"})
    assert response.status_code == 403
    assert "此任务属于您未担任的角色" in response.get_data(as_text=True)
    assert reload(app, submitted.id).stage == "review"


def test_council_member_cannot_do_the_preliminary_review(app, actors, submitted):
    council = actors("council")
    guid = open_task(app, submitted.id).task_guid
    before = _audit_count(app)
    assert council.get(f"/tasks/{guid}").status_code == 403
    assert council.complete(guid, {"review_decision": "pass"}).status_code == 403
    assert reload(app, submitted.id).stage == "review"
    assert _audit_count(app) == before


def test_inbox_shows_only_the_lanes_of_the_role(app, actors, submitted):
    assert 'data-task="preliminary_review"' in actors("secretary").get("/inbox").get_data(True)
    assert 'data-task="preliminary_review"' not in actors("finance").get("/inbox").get_data(True)
    assert 'data-task="preliminary_review"' not in actors("council").get("/inbox").get_data(True)
    assert actors("applicant").get("/inbox").status_code == 403


def test_anonymous_visitors_see_only_the_notice_board(app, submitted):
    visitor = Actor(app, None)
    assert visitor.get("/board").status_code == 200
    for url in (
        "/inbox",
        "/cases",
        f"/cases/{submitted.id}",
        f"/tasks/{open_task(app, submitted.id).task_guid}",
    ):
        response = visitor.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_nobody_reviews_their_own_application(app, actors):
    add_user(app, "both", "既是秘书处又是申请人", "applicant,secretariat")
    member = Actor(app, "both")
    case = member.start_application()
    member.complete(open_task(app, case.id).task_guid, VALID_APPLICATION)
    review = open_task(app, case.id)
    assert review.bpmn_id == "preliminary_review"
    assert f'data-case="{case.id}"' not in member.get("/inbox").get_data(True)
    response = member.complete(review.task_guid, {"review_decision": "pass"})
    assert response.status_code == 403
    assert "不能审查" in response.get_data(as_text=True)
    assert reload(app, case.id).stage == "review"
    # a colleague of the secretariat may
    assert (
        actors("secretary").complete(review.task_guid, {"review_decision": "pass"}).status_code
        == 302
    )


def test_completed_task_refuses_with_who_did_it_in_the_users_language(app, actors, submitted):
    secretary = actors("secretary")
    guid = open_task(app, submitted.id).task_guid
    assert secretary.complete(guid, {"review_decision": "pass"}).status_code == 302
    again = secretary.complete(guid, {"review_decision": "reject", "review_reasons": "重复"})
    assert again.status_code == 409
    assert "王秘书（秘书处）" in again.get_data(as_text=True)
    assert "已不再办理" in again.get_data(as_text=True) or "不再" in again.get_data(as_text=True)
    secretary.get("/lang/en")
    english = secretary.get(f"/tasks/{guid}")
    assert english.status_code == 409
    assert "no longer open" in english.get_data(as_text=True)
    assert reload(app, submitted.id).stage == "notice"


def test_unknown_task_is_not_found_in_a_page_not_a_stack_trace(actors):
    response = actors("secretary").get("/tasks/not-a-task")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_posting_without_csrf_token_is_refused(app, actors, submitted):
    secretary = actors("secretary")
    guid = open_task(app, submitted.id).task_guid
    response = secretary.client.post(f"/tasks/{guid}", data={"review_decision": "pass"})
    assert response.status_code == 400
    assert reload(app, submitted.id).stage == "review"


def test_only_process_owners_see_the_process_models(app, actors):
    page = actors("owner").get("/models")
    assert page.status_code == 200 and 'data-model="admission"' in page.get_data(as_text=True)
    for username in ("applicant", "secretary", "council", "finance"):
        assert actors(username).get("/models").status_code == 403, username


def test_only_applicant_accounts_start_applications(app, actors):
    for username in ("secretary", "owner"):
        response = actors(username).post("/cases", {})
        assert response.status_code == 403, username


def test_a_newcomer_registers_and_starts_an_application(app):
    visitor = Actor(app, None)
    response = visitor.post(
        "/register",
        {
            "username": "newco",
            "display_name": "新公司",
            "email": "new@example.com",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
        },
        token_page="/register",
    )
    assert response.status_code == 302
    case = visitor.start_application()
    with app.app_context():
        assert db.session.get(User, case.applicant_id).username == "newco"
    taken = Actor(app, None).post(
        "/register",
        {
            "username": "NEWCO",
            "display_name": "x",
            "email": "x@example.com",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
        },
        token_page="/register",
    )
    assert taken.status_code == 200 and "newco" not in taken.headers.get("Location", "")


def test_wrong_password_is_refused_and_audited(app):
    visitor = Actor(app, None)
    response = visitor.post(
        "/login", {"username": "secretary", "password": "wrong"}, token_page="/login"
    )
    assert response.status_code == 200 and "用户名或密码错误" in response.get_data(as_text=True)
    assert visitor.get("/inbox").status_code == 302
    with app.app_context():
        failed = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "login_failed")
        ).all()
    assert [e.data["username"] for e in failed] == ["secretary"]


def test_next_parameter_never_redirects_off_site(app):
    visitor = Actor(app, None)
    response = visitor.client.post(
        "/login?next=https://evil.example/",
        data={
            "username": "secretary",
            "password": "demo1234",
            "csrf_token": visitor.token("/login"),
        },
    )
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]
