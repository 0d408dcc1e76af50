"""Each task page puts first what the person decides on, as the task's UI schema says
("ui:first", "ui:firstText", "ui:prefill"): nothing about the procedure is in Python."""

from __future__ import annotations

import re

from tests.procedure import PAYMENT


def _page(actors, username, task):
    return actors(username).get(f"/tasks/{task.task_guid}").get_data(as_text=True)


def _before_form(html: str, marker: str) -> bool:
    return marker in html and html.index(marker) < html.index('id="task-form"')


def test_what_each_person_decides_on_comes_first(app, actors, procedure):
    case_id = procedure.submit()
    procedure.review(case_id, "more_material", review_request="请补充财务报表。")
    procedure.do(
        "applicant",
        case_id,
        "provide_material",
        {
            "material_response": "财务报表已上传。",
            "additional_document": (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "报表.pdf"),
        },
    )
    # The reviewer's second round: the applicant's answer and file, open, above the form.
    html = _page(actors, "secretary", procedure.task(case_id, "preliminary_review"))
    assert _before_form(html, 'data-task="provide_material"')
    assert "财务报表已上传。" in html and "报表.pdf" in html

    procedure.review(case_id, review_notes="材料齐全。")
    procedure.close_notice(case_id)
    # The council: the reviewer's recommendation, the rule in words, how many have voted.
    html = _page(actors, "council", procedure.task(case_id, "council_vote", "council"))
    assert _before_form(html, 'data-task="preliminary_review"') and "材料齐全。" in html
    rule = re.search(r'id="first-text">(.*?)</div>', html, re.S).group(1)
    assert "2/3" in rule and "&gt;1/2" in rule and "0/3" in rule
    procedure.vote(case_id, "council", "approve")
    html = _page(actors, "council2", procedure.task(case_id, "council_vote", "council2"))
    assert re.search(r'id="peer-count">[^<]*1/3', html)
    procedure.vote(case_id, "council2", "approve")
    procedure.vote(case_id, "council3", "approve")

    # The payment form starts with the amount due.
    html = _page(actors, "applicant", procedure.task(case_id, "declare_payment"))
    assert re.search(r'name="payment_amount"[^>]*value="5000', html)
    procedure.declare_payment(case_id)
    # Finance: the amount due and the declared payment at the top.
    html = _page(actors, "finance", procedure.task(case_id, "confirm_payment"))
    assert _before_form(html, 'id="fee-notice"')
    assert _before_form(html, 'data-task="declare_payment"')
    assert PAYMENT["payment_reference"] in html

    procedure.confirm_payment(case_id)
    html = _page(actors, "secretary", procedure.task(case_id, "issue_certificate"))
    assert "证书编号" not in html
