"""A model's stages come from its diagram, in the order of the flow, and their names from its
model data: a process owner renames a stage by editing stages.data.json, with no Python."""

from __future__ import annotations

from webapp.extensions import db
from webapp.services import process_models, stages


def test_the_stages_are_the_diagrams_in_flow_order(app):
    with app.app_context():
        version = process_models.live_version("admission")
        assert stages.order_of(version.id) == [
            "application", "review", "notice", "approval", "payment", "certificate"
        ]  # fmt: skip


def test_a_stage_renamed_in_the_model_data_is_shown_by_its_new_name(app, procedure):
    with app.app_context():
        version = process_models.live_version("admission")
        forms = dict(version.forms)
        names = dict(forms["stages.data.json"])
        names["review"] = {"zh": "资格初审", "en": "Eligibility check"}
        forms["stages.data.json"] = names
        process_models.deploy("admission", version.bpmn, forms)
        db.session.commit()
    app_id = procedure.submit()
    page = procedure.actors("applicant").get(f"/cases/{app_id}").get_data(as_text=True)
    assert 'data-stage="review"' in page and "资格初审" in page
    inbox = procedure.actors("secretary").get("/inbox").get_data(as_text=True)
    assert "资格初审" in inbox
    outcome = stages.outcome_label
    with app.test_request_context():
        assert outcome("no_quorum").startswith("理事会表决未达到")
        assert outcome("not_a_code") == ""
        assert stages.stage_label("undrawn") == "undrawn"


def test_member_types_are_model_data_down_to_the_number_and_the_register(app, procedure):
    with app.app_context():
        version = process_models.live_version("admission")
        forms = dict(version.forms)
        types = dict(forms["member_types.data.json"])
        types["unit"] = {**types["unit"], "zh": "团体会员", "number_code": "G"}
        forms["member_types.data.json"] = types
        process_models.deploy("admission", version.bpmn, forms)
        db.session.commit()
    p = procedure
    number = p.admit()
    assert number.split("-")[1] == "G", number
    register = p.actors("secretary").get("/members").get_data(as_text=True)
    assert number in register and "团体会员" in register
