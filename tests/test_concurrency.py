"""Two people completing the same task at the same moment: exactly one transition, one 409."""

import threading

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from tests.conftest import Actor, add_user, fresh_application, open_task
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask, ProcessInstance


def test_concurrent_double_completion_gives_one_transition_and_one_conflict(app, actors):
    add_user(app, "secretary2", "陈秘书（秘书处）", "secretariat")
    people = [actors("secretary"), Actor(app, "secretary2")]
    applicant = actors("applicant")
    for _round in range(4):
        case = applicant.start_application()
        applicant.complete(open_task(app, case.id).task_guid, fresh_application())
        guid = open_task(app, case.id).task_guid
        tokens = [p.token() for p in people]
        barrier = threading.Barrier(2)
        responses = [None, None]

        def submit(i, decision, barrier=barrier, responses=responses, guid=guid, tokens=tokens):
            barrier.wait()
            responses[i] = people[i].client.post(
                f"/tasks/{guid}",
                data={
                    "csrf_token": tokens[i],
                    "review_decision": decision,
                    "review_reasons": "并发测试" if decision == "reject" else "",
                },
            )

        threads = [
            threading.Thread(target=submit, args=(0, "pass")),
            threading.Thread(target=submit, args=(1, "reject")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in responses)
        assert codes == [302, 409], codes
        loser = next(r for r in responses if r.status_code == 409).get_data(as_text=True)
        with app.app_context():
            task = db.session.scalars(select(HumanTask).where(HumanTask.task_guid == guid)).one()
            assert task.state == "completed"
            assert task.completed_by.display_name in loser  # says who got there first
            assert (
                db.session.scalar(
                    select(func.count()).select_from(AuditEvent).where(AuditEvent.task_guid == guid)
                )
                == 1
            )
            instance = db.session.get(ProcessInstance, case.instance_id)
            open_rows = db.session.scalars(
                select(HumanTask).where(
                    HumanTask.instance_id == instance.id, HumanTask.state == "ready"
                )
            ).all()
            # exactly one path was taken: on notice after a pass, the end after a rejection
            passed = task.submitted_data["review_decision"] == "pass"
            assert [row.bpmn_id for row in open_rows] == []
            assert instance.status == ("running" if passed else "finished")
            assert (instance.next_timer_at is not None) == passed


def test_a_stale_write_of_an_instance_is_refused_by_its_version(app, actors, submitted):
    with app.app_context():
        stale = db.session.get(ProcessInstance, submitted.instance_id)
        with app.app_context():  # a second session moves the instance on first
            fresh = db.session.get(ProcessInstance, submitted.instance_id)
            fresh.status = "running"
            fresh.next_timer_at = None
            fresh.state = fresh.state + " "
            db.session.commit()
        stale.state = stale.state + "  "
        try:
            db.session.commit()
        except StaleDataError:
            db.session.rollback()
        else:
            raise AssertionError("a stale write went through")
