"""The committee's desk: all cases its groups may see (searched, filtered, counted, paged),
what each person has done, bulk claims in the inbox, and the dashboard's figures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from tests import staged
from tests.conftest import add_user, open_task
from tests.test_model_editor import post_json
from tests.test_procedures_as_data import KEY as OTHER_KEY
from tests.test_procedures_as_data import bundle
from webapp.extensions import db
from webapp.models import AuditEvent, Case, HumanTask
from webapp.services import desk, users


def _cases(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr[^>]* data-case="(\d+)"', html)]


def _rows(app, count: int) -> list[int]:
    with app.test_request_context():
        return staged.submitted(count)


def test_all_cases_search_filters_counts_and_paging(app, actors, monkeypatch):
    ids = _rows(app, 4)
    with app.test_request_context():
        staged.complete("secretary", ids[0], "preliminary_review", {"review_decision": "pass"})
        # Names to search by, a member number and one case long overdue.
        for n, case_id in enumerate(ids):
            db.session.get(Case, case_id).name = f"测试公司{n}号"
        db.session.get(Case, ids[1]).member_number = "2026-U-000777"
        db.session.execute(
            update(HumanTask)
            .where(HumanTask.instance_id == db.session.get(Case, ids[2]).instance_id)
            .values(due_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
        db.session.commit()
    secretary = actors("secretary")
    page = secretary.get("/desk/cases")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert _cases(html) == sorted(ids, reverse=True)
    assert 'id="desk-total">4<' in html
    # Counts per stage: one on notice, three in review.
    assert re.search(r'data-count="3"[^>]*>[^<]*\(3\)', html)
    assert _cases(secretary.get("/desk/cases?q=公司2").get_data(as_text=True)) == [ids[2]]
    assert _cases(secretary.get("/desk/cases?q=2026-U-000777").get_data(as_text=True)) == [ids[1]]
    assert _cases(secretary.get(f"/desk/cases?q={ids[3]}").get_data(as_text=True)) == [ids[3]]
    with app.app_context():
        stage = db.session.get(Case, ids[0]).stage
    assert _cases(secretary.get(f"/desk/cases?stage={stage}").get_data(as_text=True)) == [ids[0]]
    assert _cases(secretary.get("/desk/cases?overdue=1").get_data(as_text=True)) == [ids[2]]
    mine = _cases(secretary.get("/desk/cases?mine=1").get_data(as_text=True))
    assert set(mine) == set(ids) - {ids[0]}  # on notice: waiting on no one
    assert _cases(secretary.get("/desk/cases?sort=created").get_data(as_text=True)) == ids
    # Claimed by: the review a secretary holds.
    guid = open_task(app, ids[3]).task_guid
    assert secretary.post(f"/tasks/{guid}/claim", {}).status_code == 302
    assert _cases(secretary.get("/desk/cases?claimed_by=me").get_data(as_text=True)) == [ids[3]]
    # Keyset paging: two pages of two.
    monkeypatch.setattr(desk, "PAGE_SIZE", 2)
    first = secretary.get("/desk/cases").get_data(as_text=True)
    assert _cases(first) == sorted(ids, reverse=True)[:2]
    next_url = re.search(r'id="page-next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert _cases(secretary.get(next_url).get_data(as_text=True)) == sorted(ids, reverse=True)[2:]
    # Bad values are ignored, never a 500.
    for bad in ("after=nonsense", "model=abc", "claimed_by=-1", "sort=evil", "q=%25_%5C"):
        assert secretary.get(f"/desk/cases?{bad}").status_code == 200
    # The applicant has no desk; the case's own applicant never sees it there.
    assert actors("applicant").get("/desk/cases").status_code == 403


def test_done_lists_what_the_user_completed_newest_first(app, actors):
    ids = _rows(app, 2)
    with app.test_request_context():
        for case_id in ids:
            staged.complete("secretary", case_id, "preliminary_review", {"review_decision": "pass"})
    html = actors("secretary").get("/desk/done").get_data(as_text=True)
    assert _cases(html) == list(reversed(ids))
    assert f'/cases/{ids[0]}"' in html
    assert _cases(actors("finance").get("/desk/done").get_data(as_text=True)) == []
    assert actors("applicant").get("/desk/done").status_code == 403


def test_a_member_sees_the_cases_of_procedures_its_groups_have_a_lane_in(app, procedure):
    p = procedure
    created = p.actors("admin").post(
        "/admin/groups",
        {"key": "presidents_office", "name_zh": "会长办公会", "name_en": "President's office"},
    )
    group_id = int(created.headers["Location"].rsplit("/", 1)[1])
    p.actors("admin").post(f"/admin/groups/{group_id}/members", {"username": "council2"})
    assert post_json(p.actors("owner"), f"/models/{OTHER_KEY}/deploy", bundle()).status_code == 200
    number = p.admit()
    started = p.actors("secretary").post(f"/start/{OTHER_KEY}", {"member_number": number})
    assert started.status_code == 302
    with app.app_context():
        other = db.session.scalars(select(Case).order_by(Case.id.desc())).first().id
        admitted = db.session.scalars(select(Case.id).where(Case.member_number == number)).one()
    # The council works no lane of the nomination: it sees the admission only.
    assert _cases(p.actors("council").get("/desk/cases").get_data(as_text=True)) == [admitted]
    assert (
        p.actors("council").get(f"/desk/cases?q={other}").get_data(as_text=True).count("data-case=")
        == 0
    )
    # A member of the president's office (and of the council) sees both; so does the
    # secretariat, which keeps the register.
    assert set(_cases(p.actors("council2").get("/desk/cases").get_data(as_text=True))) == {
        admitted,
        other,
    }
    secretariat = p.actors("secretary").get("/desk/cases").get_data(as_text=True)
    assert set(_cases(secretariat)) == {admitted, other}
    # The member's number finds its admission and the case about it.
    found = p.actors("secretary").get(f"/desk/cases?q={number}").get_data(as_text=True)
    assert set(_cases(found)) == {admitted, other}
    # Filter by procedure, with its count.
    with app.app_context():
        model_id = db.session.get(Case, other).model_id
    assert _cases(
        p.actors("secretary").get(f"/desk/cases?model={model_id}").get_data(as_text=True)
    ) == [other]
    # The finance group has a lane in admission only.
    assert _cases(p.actors("finance").get("/desk/cases").get_data(as_text=True)) == [admitted]


def _holders(app, ids) -> list[str | None]:
    with app.app_context():
        out = []
        for case_id in ids:
            task = open_task(app, case_id)
            out.append(
                db.session.get(users.User, task.claimed_by_id).username
                if task.claimed_by_id
                else None
            )
        return out


def test_bulk_claim_release_and_assign_each_alone_and_never_a_vote(app, procedure):
    p = procedure
    add_user(app, "secretary2", "Second Secretary", "secretariat")
    with app.test_request_context():
        ids = staged.submitted(3)
        [vote_case] = staged.in_vote(1, p.traveller)
    guids = [open_task(app, case_id).task_guid for case_id in ids]
    secretary, second = p.actors("secretary"), p.actors("secretary2")

    done = secretary.post(
        "/inbox/bulk", {"action": "claim", "task": guids[:2]}, token_page="/inbox"
    )
    assert done.status_code == 303
    assert _holders(app, ids) == ["secretary", "secretary", None]
    inbox = secretary.get("/inbox").get_data(as_text=True)
    assert "已处理 2 项任务" in inbox and inbox.count("data-claimed-by-name") == 2
    # The second secretary's claim of both: the one nobody holds is taken, the other refused.
    second.post("/inbox/bulk", {"action": "claim", "task": guids[1:]}, token_page="/inbox")
    assert _holders(app, ids) == ["secretary", "secretary", "secretary2"]
    # Releasing another's claim is refused; one's own goes.
    secretary.post("/inbox/bulk", {"action": "release", "task": guids}, token_page="/inbox")
    assert _holders(app, ids) == [None, None, "secretary2"]
    # Assigning: to a colleague of the lane, yes; to a council member, no; a claimed one, no.
    with app.app_context():
        to_second = users.by_username("secretary2").id
        to_council = users.by_username("council").id
    secretary.post(
        "/inbox/bulk", {"action": "assign", "to": to_council, "task": guids[0]}, token_page="/inbox"
    )
    assert _holders(app, ids)[0] is None
    secretary.post(
        "/inbox/bulk", {"action": "assign", "to": to_second, "task": guids}, token_page="/inbox"
    )
    assert _holders(app, ids) == ["secretary2", "secretary2", "secretary2"]
    with app.app_context():
        assigned = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "task_assigned").order_by(AuditEvent.id)
        ).all()
        assert [e.task_guid for e in assigned] == guids[:2]
        assert all(e.data["to"] == to_second for e in assigned)
    # A council member's vote is its own: neither claimed nor assigned in bulk.
    vote = p.task(vote_case, "council_vote", "council").task_guid
    council = p.actors("council")
    refused = council.post("/inbox/bulk", {"action": "claim", "task": vote}, token_page="/inbox")
    assert refused.status_code == 303
    page = council.get("/inbox").get_data(as_text=True)
    assert "不能认领" in page and "已处理" not in page
    assert 'name="task"' not in page  # no box to tick for a vote
    with app.app_context():
        assert (
            db.session.scalars(
                select(HumanTask.claimed_by_id).where(HumanTask.task_guid == vote)
            ).one()
            is None
        )
    # Bad requests: no action, no task, assign without a colleague — each said, nothing done.
    bad = secretary.post(
        "/inbox/bulk", {"action": "complete", "task": guids[0]}, token_page="/inbox"
    )
    assert bad.status_code == 303
    assert "请选择对任务的操作" in secretary.get("/inbox").get_data(as_text=True)
    secretary.post("/inbox/bulk", {"action": "assign"}, token_page="/inbox")
    html = secretary.get("/inbox").get_data(as_text=True)
    assert "请至少选择一项任务" in html and "请选择接手任务的同事" in html
    assert (
        p.actors("applicant").post("/inbox/bulk", {"action": "claim", "task": guids[0]}).status_code
        == 403
    )
    # Search and filters in the inbox; the "claimed by" column.
    with app.app_context():
        db.session.get(Case, ids[2]).name = "独一无二科技"
        db.session.commit()
    found = second.get("/inbox?q=独一无二").get_data(as_text=True)
    assert _cases(found) == [ids[2]]
    assert set(_cases(second.get(f"/inbox?claimed_by={to_second}").get_data(as_text=True))) == set(
        ids
    )
    assert _cases(second.get("/inbox?claimed_by=nobody").get_data(as_text=True)) == []
    assert set(_cases(second.get("/inbox?stage=review").get_data(as_text=True))) == set(ids)
    assert _cases(second.get("/inbox?stage=payment").get_data(as_text=True)) == []
    # The clock went past the notice for the vote: the reviews are overdue by now.
    assert set(_cases(second.get("/inbox?overdue=1").get_data(as_text=True))) == set(ids)


def _table(html: str, key: str) -> list[list[str]]:
    """The rows of one dashboard figure's table, as text."""
    section = html.split(f'id="figure-{key}"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_dashboard_figures_and_their_downloads(app, procedure):
    import io

    from openpyxl import load_workbook

    p = procedure
    p.admit()
    with app.test_request_context():
        staged.submitted(2)
    secretary = p.actors("secretary")
    page = secretary.get("/desk/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "echarts/dist/echarts.min.js" in html and "js/dashboard.js" in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
    assert ["初审", "2"] in _table(html, "funnel")
    times = {row[0]: row for row in _table(html, "stage_times")}
    assert "初审" in times and float(times["初审"][1]) >= 0
    assert sum(int(n) for _m, n in _table(html, "admissions_month")) == 1
    assert sum(int(row[-1]) for row in _table(html, "members_region")) == 1
    assert sum(int(row[-1]) for row in _table(html, "admissions_quarter")) == 1
    # Nothing overdue yet; after the review's deadline, one per waiting case, nobody holding it.
    assert _table(html, "overdue_stage") == [["—"]]
    with app.app_context():
        db.session.execute(
            update(HumanTask)
            .where(HumanTask.state == "ready", HumanTask.stage == "review")
            .values(due_at=p.now() - timedelta(days=1))
        )
        db.session.commit()
    later = secretary.get("/desk/dashboard").get_data(as_text=True)
    assert ["初审", "2"] in _table(later, "overdue_stage")
    assert sum(int(row[-1]) for row in _table(later, "overdue_person")) >= 2
    # Downloads: the same rows as CSV and XLSX.
    csv = secretary.get("/desk/dashboard/funnel.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert "初审,2" in csv.get_data(as_text=True)
    xlsx = secretary.get("/desk/dashboard/admissions_month.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("月份", "入会数") and sum(n for _m, n in rows[1:]) == 1
    assert secretary.get("/desk/dashboard/nothing.csv").status_code == 404
    assert p.actors("applicant").get("/desk/dashboard").status_code == 403
    assert p.actors("applicant").get("/desk/dashboard/funnel.csv").status_code == 403
