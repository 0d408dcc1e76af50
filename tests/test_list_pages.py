"""The inbox and "my applications" show a page at a time, and the inbox's counts stop at a cap,
so that both cost the same however many applications are open."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.conftest import add_user
from webapp.services import cases, inbox


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-task="[^"]+" data-case="(\d+)"', page)


def test_inbox_pages_through_open_tasks_and_caps_its_counts(procedure, monkeypatch):
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    monkeypatch.setattr(inbox, "COUNT_CAP", 3)
    p = procedure
    submitted = []
    for _ in range(4):
        submitted.append(str(p.submit()))
        p.travel_to(p.now() + timedelta(hours=1))
    secretary = p.actors("secretary")

    first = secretary.get("/inbox?sort=waiting").get_data(as_text=True)
    assert _rows(first) == submitted[:2]  # waiting longest first
    assert 'id="page-next"' in first and 'id="page-previous"' not in first
    assert re.search(r'id="inbox-total">3\+<', first)  # four open, counted up to the cap

    second = secretary.get("/inbox?sort=waiting&page=2").get_data(as_text=True)
    assert _rows(second) == submitted[2:]
    assert 'id="page-next"' not in second and 'id="page-previous"' in second

    by_due = _rows(secretary.get("/inbox").get_data(as_text=True))
    by_due += _rows(secretary.get("/inbox?page=2").get_data(as_text=True))
    assert by_due == submitted  # the earliest deadline first, across pages


def test_inbox_page_out_of_range_or_garbled_is_an_empty_or_first_page(procedure, monkeypatch):
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    p = procedure
    app_id = p.submit()
    secretary = p.actors("secretary")
    assert _rows(secretary.get("/inbox?page=7").get_data(as_text=True)) == []
    response = secretary.get("/inbox?page=abc")
    assert response.status_code == 200 and _rows(response.get_data(as_text=True)) == [str(app_id)]


def test_my_applications_newest_first_a_page_at_a_time(procedure, monkeypatch):
    monkeypatch.setattr(cases, "PAGE_SIZE", 2)
    p = procedure
    ids = []
    for _ in range(3):
        ids.append(p.submit())
        p.travel_to(p.now() + timedelta(minutes=5))
    applicant = p.actors("applicant")

    def shown(page: str) -> list[int]:
        return [
            int(i) for i in re.findall(r'class="card mb-3 application" data-case="(\d+)"', page)
        ]

    first = applicant.get("/cases").get_data(as_text=True)
    assert shown(first) == [ids[2], ids[1]]
    assert 'id="page-next"' in first
    second = applicant.get("/cases?page=2").get_data(as_text=True)
    assert shown(second) == [ids[0]]
    assert 'id="page-previous"' in second and 'id="page-next"' not in second
    # Each card still says what the application waits for, read for the page in one query.
    assert first.count("下一步：初审——等待秘书处办理。") == 2


def test_my_applications_lists_only_the_users_own(procedure):
    p = procedure
    mine = p.submit()
    theirs = p.submit("applicant2", None)
    page = p.actors("applicant").get("/cases").get_data(as_text=True)
    assert f'data-case="{mine}"' in page
    assert f'data-case="{theirs}"' not in page


def test_inbox_counts_leave_out_the_users_own_application(app, procedure):
    add_user(app, "clerk", "郑秘书兼申请人", "secretariat,applicant")
    p = procedure
    own = p.submit("clerk")
    other = p.submit()
    page = p.actors("clerk").get("/inbox").get_data(as_text=True)
    assert _rows(page) == [str(other)]
    assert 'id="inbox-total">1<' in page
    everyone = p.actors("secretary").get("/inbox").get_data(as_text=True)
    assert sorted(_rows(everyone)) == sorted([str(own), str(other)])
    assert 'id="inbox-total">2<' in everyone
