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
