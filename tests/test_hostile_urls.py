"""URLs no page links to — ids beyond any column, page numbers beyond any list, NUL characters
— get 404 or 400, never a 500 (PostgreSQL refuses NUL in text and integers past 2³¹)."""

import pytest

from webapp.routing import MAX_PAGE

HUGE = "99999999999999999999"
BIG = str(2**31)

URLS = [
    f"/cases/{HUGE}",
    f"/cases/{BIG}",
    f"/cases/{BIG}/diagram",
    f"/cases/{HUGE}/audit",
    f"/cases/{HUGE}/audit.csv",
    f"/cases/{BIG}/certificate.pdf",
    f"/board/{HUGE}/objection",
    f"/board/{BIG}/objection",
    f"/models/admission/versions/{BIG}/export.bpmn",
    f"/models/admission/versions/{HUGE}/export.zip",
    f"/models/admission/edit?version={BIG}",
    f"/models/admission/migrate?target={BIG}",
    "/verify/a%00b",
    "/documents/a%00b",
    "/models/a%00/edit",
    "/models/a%00/migrate",
    "/tasks/a%00b",
    "/inbox?lane=%00",
    f"/api/v1/cases/{BIG}",
    f"/api/v1/models/admission/versions/{BIG}",
    "/api/v1/certificates/a%00b",
    "/api/v1/tasks?lane=%00",
]

PAGES = [f"/cases?page={HUGE}", f"/inbox?page={HUGE}", f"/inbox?page={BIG}"]


@pytest.mark.parametrize("username", [None, "applicant", "secretary", "owner"])
def test_no_url_makes_a_server_error(actors, username, submitted):
    actor = actors(username)
    for url in URLS + PAGES:
        response = actor.get(url)
        assert response.status_code < 500, (url, response.status_code)
        assert response.status_code != 200 or url in PAGES, (url, response.status_code)


def _list_page(actor, url: str) -> str:
    response = actor.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "path", "empty_row"),
    [
        ("secretary", "/inbox", '<tr><td colspan="8" class="text-muted">'),
        ("applicant", "/cases", '<p class="text-muted">'),
    ],
)
def test_a_page_number_past_the_end_is_an_empty_page(actors, submitted, username, path, empty_row):
    actor, row = actors(username), f'data-case="{submitted.id}"'
    assert row in _list_page(actor, path)  # page 1 lists the application...
    page = _list_page(actor, f"{path}?page={HUGE}")
    assert row not in page and "data-case=" not in page  # ...the far page lists nothing
    assert empty_row in page  # and says it is empty
    # Clamped to the deepest page a list serves, with the way back to the previous one.
    assert f'aria-current="page"><span class="page-link">{MAX_PAGE}</span>' in page
    assert 'id="page-previous"' in page and 'id="page-next"' not in page
