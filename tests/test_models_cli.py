"""`flask models validate FILE…` from the shell: accepted or each problem with its element, exit 1
when any file is rejected, and never a traceback, not even for a file that is not there."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.test_model_validation import between, diagram, flow, user_task

ADMISSION = ROOT / "workflows" / "admission.bpmn"
NO_CHOICE = diagram(
    '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="gw" name="Pass?"/>'
    '<bpmn:endEvent id="a"/><bpmn:endEvent id="b"/>'
    + flow("f0", "s", "gw")
    + flow("to_a", "gw", "a")
    + flow("to_b", "gw", "b")
)


def validate(app, *args):
    return app.test_cli_runner().invoke(args=["models", "validate", *map(str, args)])


def test_the_admission_procedure_is_accepted_with_its_own_forms(app):
    result = validate(app, ADMISSION)
    assert result.exit_code == 0, result.output
    assert result.output == f"{ADMISSION}: accepted\n"


def test_a_rejected_file_lists_each_problem_with_its_element_and_exits_1(app, tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text(NO_CHOICE, "utf-8")
    result = validate(app, ADMISSION, broken)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{ADMISSION}: accepted"
    assert lines[1] == f"{broken}: rejected"
    assert lines[2].startswith("  gw Pass?: The gateway has 2 outgoing flows")
    assert "Traceback" not in result.output


def test_a_missing_or_unreadable_file_is_a_rejection_not_a_traceback(app, tmp_path):
    result = validate(app, tmp_path / "nowhere.bpmn", tmp_path)
    assert result.exit_code == 1
    assert f"{tmp_path / 'nowhere.bpmn'}: rejected\n  the file cannot be read" in result.output
    assert f"{tmp_path}: rejected" in result.output
    assert "Traceback" not in result.output


def test_forms_come_from_the_forms_option_or_the_folder_named_after_the_file(app, tmp_path):
    bpmn = tmp_path / "club.bpmn"
    bpmn.write_text(between(("review", user_task("review"))), "utf-8")
    without = validate(app, bpmn)
    assert without.exit_code == 1 and "review.schema.json does not exist" in without.output
    forms = tmp_path / "club_forms"
    forms.mkdir()
    (forms / "review.schema.json").write_text(json.dumps({"type": "object"}), "utf-8")
    assert validate(app, bpmn, "--forms", forms).exit_code == 0
    app.config["FORMS_DIR"] = tmp_path  # FORMS_DIR/<file stem>
    (tmp_path / "club").mkdir()
    (tmp_path / "club" / "review.schema.json").write_text('{"type": "object"}', "utf-8")
    assert validate(app, bpmn).exit_code == 0


def test_a_form_folder_with_broken_json_rejects_the_file(app, tmp_path):
    bpmn = tmp_path / "club.bpmn"
    bpmn.write_text(between(("review", user_task("review"))), "utf-8")
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "review.schema.json").write_text('{"type": ', "utf-8")
    result = validate(app, bpmn, "--forms", forms)
    assert result.exit_code == 1
    assert "review.schema.json: the form file is not readable JSON" in result.output
    missing = validate(app, bpmn, "--forms", tmp_path / "absent")
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_the_real_command_runs_without_a_migrated_database(tmp_path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text(NO_CHOICE, "utf-8")
    database = tmp_path / "never-created.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "FLASK_DEBUG": "0"}
    flask = [sys.executable, "-m", "flask", "--app", "webapp:create_app", "models", "validate"]
    accepted = subprocess.run(
        [*flask, str(ADMISSION)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout == f"{ADMISSION}: accepted\n"
    rejected = subprocess.run(
        [*flask, str(broken), str(tmp_path / "missing.bpmn")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rejected.returncode == 1
    assert "  gw Pass?: The gateway has 2 outgoing flows" in rejected.stdout
    assert f"{tmp_path / 'missing.bpmn'}: rejected" in rejected.stdout
    assert "Traceback" not in rejected.stdout + rejected.stderr
    assert not database.exists()


def test_a_process_calling_itself_is_rejected_with_the_call_named(app, tmp_path):
    call = '<bpmn:callActivity id="again" name="Start over" calledElement="p"/>'
    looping = tmp_path / "looping.bpmn"
    looping.write_text(between(("again", call)), "utf-8")
    result = validate(app, looping)
    assert result.exit_code == 1
    assert result.output.startswith(f"{looping}: rejected\n")
    assert "  again Start over: The call activity calls the process p, which leads back " in (
        result.output
    )
    assert "(p → p)" in result.output
