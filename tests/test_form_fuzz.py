"""Every task form, fuzzed through both doors — the page (POST /tasks/<guid>) and the API
(POST /api/v1/tasks/<guid>/complete) — with data made from its JSON Schema: valid data is
accepted and moves the task on; data with one field broken is refused with an error at that
field, and the workflow stays where it was. Nothing answers 500. The public objection form and
the API operations that take input are fuzzed too."""

from __future__ import annotations

import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import time_machine
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from werkzeug.datastructures import FileStorage, MultiDict

from tests import staged
from tests.conftest import ROOT, Actor, fresh_credit_code, fresh_id_number, reload
from tests.fuzz_strategies import (
    DOCUMENTS,
    FOREIGN_DOCUMENT,
    INVISIBLE,
    Broken,
    Form,
    display_names,
    form,
    invalid_data,
    junk_fields,
    mutations_for,
    oracle_errors,
    valid_data,
    without_invisible,
)
from tests.procedure import PAYMENT, START
from webapp import formschema
from webapp.extensions import db
from webapp.models import HumanTask, Objection, ProcessInstance
from webapp.services import api_tokens, cases, documents, notice, tasks, timers, users

# Examples per form and door. Valid ones each need a fresh task (an application brought to
# that step), so they are the dear ones; the whole file stays within about three minutes.
VALID_EXAMPLES = 20
EXAMPLES_PER_MUTATION = 12
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
COUNCIL = staged.COUNCIL

# The user task of each form, and who works it.
FORM_TASKS = {
    "application.schema.json": ("submit_application", "applicant"),
    "review.schema.json": ("preliminary_review", "secretary"),
    "provide_material.schema.json": ("provide_material", "applicant"),
    "answer_objection.schema.json": ("answer_objection", "secretary"),
    "council_vote.schema.json": ("council_vote", "council"),
    "declare_payment.schema.json": ("declare_payment", "applicant"),
    "confirm_payment.schema.json": ("confirm_payment", "finance"),
    "issue_certificate.schema.json": ("issue_certificate", "secretary"),
}


def _errors_of(response) -> str:
    """What a refusal says: the JSON, or the page's field and alert messages."""
    if response.is_json:
        return json.dumps(response.get_json(), ensure_ascii=False)[:1500]
    page = response.get_data(as_text=True)
    said = re.findall(r'class="(?:invalid-feedback|alert[^"]*)"[^>]*>\s*([^<]+)', page)
    return " | ".join(s.strip() for s in said)[:1500] or page[:1500]


def fuzz_settings(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,  # the same examples on every run, so CI is stable
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@pytest.fixture
def app(unlimited_app):
    """The app without rate limits: the objection form takes many posts from one address."""
    return unlimited_app


def test_every_form_a_user_task_names_is_fuzzed():
    """Every (procedure folder, form) a user task names: admission's through real tasks here,
    the other procedures' at the schema level (test_form_schema_fuzz.py). A form is known by
    its folder and file name: the same file name may be two procedures' different forms."""
    from tests.test_form_schema_fuzz import SCHEMA_FUZZED

    named = set()
    for diagram in (ROOT / "workflows").glob("*.bpmn"):
        text = diagram.read_text(encoding="utf-8")
        # A diagram's forms are in forms/<its file name without .bpmn>/ (load_directory).
        forms = re.findall(r'formJsonSchemaFilename" value="([^"]+)"', text)
        named |= {(diagram.stem, name) for name in forms}
    by_tasks = {("admission", name) for name in FORM_TASKS}
    assert not by_tasks & set(SCHEMA_FUZZED), by_tasks & set(SCHEMA_FUZZED)
    fuzzed = by_tasks | set(SCHEMA_FUZZED)
    assert named - fuzzed == set(), f"not fuzzed: {sorted(named - fuzzed)}"
    assert fuzzed - named == set(), f"fuzzed, but no user task names them: {sorted(fuzzed - named)}"


# --- tasks to submit to ------------------------------------------------------------------------


# The steps that bring a submitted application to each task.
BEFORE = {
    "preliminary_review": (),
    "provide_material": ("more material",),
    "answer_objection": ("pass", "objection", "notice ends"),
    "council_vote": ("pass", "notice ends"),
    "declare_payment": ("pass", "notice ends", "approve"),
    "confirm_payment": ("pass", "notice ends", "approve", "declare"),
    "issue_certificate": ("pass", "notice ends", "approve", "declare", "confirm"),
}
# The tasks each step completes: (who, task, data).
STEPS = {
    "more material": [
        (
            "secretary",
            "preliminary_review",
            {"review_decision": "more_material", "review_request": "请补充"},
        )
    ],
    "pass": [("secretary", "preliminary_review", {"review_decision": "pass"})],
    "approve": [(member, "council_vote", {"vote": "approve"}) for member in COUNCIL],
    "declare": [("applicant", "declare_payment", PAYMENT)],
    "confirm": [("finance", "confirm_payment", {"payment_check": "received"})],
}


@dataclass
class Target:
    """An open task, who works it, and the documents of its application."""

    guid: str
    username: str
    case_id: int
    documents: list[str]


class Tasks:
    """Open tasks of one form, brought there through the services, a batch at a time."""

    def __init__(self, app, traveller, form_name: str):
        self.app, self.traveller, self.form_name = app, traveller, form_name
        self.bpmn_id, self.username = FORM_TASKS[form_name]
        self.fresh: list[Target] = []
        self.probe: Target | None = None  # the task invalid data is sent to; it never moves
        self.after_travel = lambda: None

    def take(self, count: int = 1) -> Target:
        """A task nobody has submitted yet."""
        while self.fresh:
            target = self.fresh.pop(0)
            if self.state(target) == "ready":  # a timer may have withdrawn it meanwhile
                return target
        self.fresh = self.make(max(count, 2))
        return self.fresh.pop(0)

    def probing(self) -> Target:
        if self.probe is None or self.state(self.probe) != "ready":
            self.probe = self.take()
        return self.probe

    def state(self, target: Target) -> str:
        with self.app.app_context():
            return db.session.scalars(
                select(HumanTask.state).where(HumanTask.task_guid == target.guid)
            ).one()

    def snapshot(self, target: Target) -> tuple[str, str]:
        """The task's state and its instance's serialized state: what must not move."""
        with self.app.app_context():
            task = db.session.scalars(
                select(HumanTask).where(HumanTask.task_guid == target.guid)
            ).one()
            return task.state, db.session.get(ProcessInstance, task.instance_id).state

    def make(self, count: int) -> list[Target]:
        """New open tasks of the form: at least `count`."""
        with self.app.test_request_context():
            if self.bpmn_id == "submit_application":
                return [self._new_case() for _ in range(count)]
            workers = COUNCIL if self.bpmn_id == "council_vote" else (self.username,)
            ids = staged.submitted(math.ceil(count / len(workers)))
            for step in BEFORE[self.bpmn_id]:
                self._step(step, ids)
            return [self._target(i, worker) for i in ids for worker in workers]

    def _step(self, step: str, ids: list[int]) -> None:
        """One step of the procedure for each application; the end of a notice period is the
        clock passing it, and the ticker firing."""
        if step == "notice ends":
            closes = max(reload(self.app, i).notice_closes_at for i in ids)
            self.traveller.move_to(closes.timestamp() + 60)
            self.after_travel()
            timers.fire_due()
            return
        for i in ids:
            if step == "objection":
                notice.file_objection(i, "该申请人存在未披露的经营异常情况。", None)
            for username, bpmn_id, data in STEPS.get(step, ()):
                staged.complete(username, i, bpmn_id, data)

    def _new_case(self) -> Target:
        """An application just started, with a document uploaded for each document field."""
        applicant = users.by_username("applicant")
        case = cases.start(applicant)
        [task] = staged.open_tasks(case.id)
        names = documents.document_fields(tasks.form_of(task)[0])
        files = {name: FileStorage(io.BytesIO(PDF), f"{name}.pdf") for name in names}
        tasks.save_draft(applicant, task.task_guid, MultiDict(), files)
        draft = db.session.scalars(
            select(HumanTask.draft).where(HumanTask.task_guid == task.task_guid)
        ).one()
        return Target(task.task_guid, "applicant", case.id, [draft[n] for n in names])

    def _target(self, case_id: int, username: str | None = None) -> Target:
        username = username or self.username
        user_id = users.by_username(username).id
        open_now = staged.open_tasks(case_id, self.bpmn_id)
        task = next(t for t in open_now if t.assignee_id in (None, user_id))
        data = reload(self.app, case_id).data or {}
        tokens = [v for k, v in data.items() if isinstance(v, str) and k in DOCUMENT_NAMES]
        return Target(task.task_guid, username, case_id, tokens)


DOCUMENT_NAMES = {"application_form_scan", "business_licence", "id_document", "cv"}


# --- the two doors ---------------------------------------------------------------------------


class Doors:
    """Submitting data to a task through the page or the API, as the task's worker."""

    def __init__(self, app, foreign_document: str):
        self.app = app
        self.foreign_document = foreign_document
        self._actors: dict[str, Actor] = {}
        self._csrf: dict[str, str] = {}
        self._tokens: dict[str, str] = {}

    def actor(self, username: str) -> Actor:
        if username not in self._actors:
            self._actors[username] = Actor(self.app, username)
            self._csrf[username] = self._actors[username].token("/login")
        return self._actors[username]

    def forget_sessions(self) -> None:
        self._actors.clear()

    def token(self, username: str) -> str:
        if username not in self._tokens:
            with self.app.app_context():
                user = users.by_username(username)
                self._tokens[username] = api_tokens.create(user, "fuzz")[1]
        return self._tokens[username]

    def _real(self, value, target: Target):
        """A document placeholder replaced by a real token."""
        if value == FOREIGN_DOCUMENT:
            return self.foreign_document
        if value in DOCUMENTS:
            return target.documents[DOCUMENTS.index(value) % len(target.documents)]
        return value

    def submit(self, door: str, the_form: Form, target: Target, data: dict):
        data = {name: self._real(value, target) for name, value in data.items()}
        if door == "api":
            return self.actor(target.username).client.post(
                f"/api/v1/tasks/{target.guid}/complete",
                data=json.dumps({"data": data}),  # NaN and Infinity as Python writes them
                content_type="application/json",
                headers={"Authorization": f"Bearer {self.token(target.username)}"},
            )
        actor = self.actor(target.username)
        fields = {"csrf_token": self._csrf[target.username]}
        for name, value in data.items():
            if value is None or value is False:
                continue  # a box left unticked, a field never filled: nothing is sent
            if the_form.properties.get(name, {}).get("format") == "document":
                name += "__current"  # the page posts the token of the file submitted so far
            fields[name] = "on" if value is True else str(value)
        return actor.client.post(f"/tasks/{target.guid}", data=fields)


def field_errors(door: str, response) -> set[str]:
    """The fields an answer marks as wrong."""
    if door == "api":
        body = response.get_json(silent=True) or {}
        assert body.get("error") == "invalid_data", body
        return set(body.get("fields") or {})
    page = response.get_data(as_text=True)
    marked = set()
    for block in page.split('data-field="')[1:]:
        name, _sep, rest = block.partition('"')
        if "invalid-feedback" in rest:
            marked.add(name)
    return marked


def accepted(door: str, response) -> bool:
    if door == "api":
        body = response.get_json(silent=True) or {}
        return response.status_code == 200 and body.get("task", {}).get("state") == "completed"
    target = urlsplit(response.headers.get("Location", ""))
    return response.status_code == 302 and target.path != "/login"


def _describe(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)[:600]


@pytest.mark.parametrize("door", ["html", "api"])
@pytest.mark.parametrize("form_name", sorted(FORM_TASKS))
def test_task_form_accepts_valid_and_refuses_broken_data(app, form_name, door, capsys):
    the_form = form(form_name)
    seen: Counter = Counter()
    with time_machine.travel(START, tick=False) as traveller:
        with app.test_request_context():
            [other] = staged.submitted(1)
            foreign = reload(app, other).data["application_form_scan"]
        pool, doors = Tasks(app, traveller, form_name), Doors(app, foreign)
        # Login sessions end after days without use, and periods are days long: who logged
        # in before the clock jumped logs in again.
        pool.after_travel = doors.forget_sessions
        pool.probe = pool.take(VALID_EXAMPLES + 1)

        @fuzz_settings(VALID_EXAMPLES)
        @given(data=valid_data(the_form), junk=junk_fields())
        def valid_is_accepted(data, junk):
            # One identity applies once at a time (the form's submissionCheck): each example
            # applies under its own.
            if "credit_code" in data:
                data = {**data, "credit_code": fresh_credit_code()}
            if "id_number" in data:
                data = {**data, "id_number": fresh_id_number()}
            target = pool.take(VALID_EXAMPLES)
            sent = {**data, **junk} if door == "html" else data
            response = doors.submit(door, the_form, target, sent)
            assert accepted(door, response), (
                f"{form_name} via {door}: valid data refused with {response.status_code}: "
                f"{_describe(sent)} → {_errors_of(response)}"
            )
            assert pool.state(target) == "completed", _describe(sent)
            seen["valid"] += 1

        def broken_is_refused(how: str):
            @fuzz_settings(EXAMPLES_PER_MUTATION)
            @given(broken=invalid_data(the_form, door, how))
            def run(broken: Broken):
                # A field the data's own choices hide (e.g. the request for material when the
                # review passes) is dropped, not judged: breaking it proves nothing.
                whens = formschema.conditions(the_form.schema).get(broken.field, [])
                assume(formschema.applies(whens, broken.data))
                target = pool.probing()
                before = pool.snapshot(target)
                response = doors.submit(door, the_form, target, broken.data)
                text = response.get_data(as_text=True)
                assert response.status_code == 400, (
                    f"{form_name} via {door}, {broken.how} at {broken.field}: "
                    f"{response.status_code} for {_describe(broken.data)} → {text[:1500]}"
                )
                marked = field_errors(door, response)
                assert broken.field in marked, (broken.how, broken.field, marked, broken.data)
                assert pool.snapshot(target) == before, f"the workflow moved on {broken.how}"
                seen[how] += 1

            run()

        valid_is_accepted()
        for how in mutations_for(the_form, door):
            broken_is_refused(how)
    with capsys.disabled():
        kinds = ", ".join(f"{how} {n}" for how, n in sorted(seen.items()) if how != "valid")
        print(f"\nfuzz {form_name} via {door}: {seen['valid']} valid accepted; refused: {kinds}")


# --- the public objection form -------------------------------------------------------------------

BLANKS = " \t\r\n\u3000"


def _objection_texts(longest: int) -> st.SearchStrategy[str]:
    """Short and long texts, text padded with blanks, and text near the longest allowed."""
    return st.one_of(
        st.text(max_size=30),
        st.tuples(
            st.text(BLANKS, max_size=12), st.text(max_size=14), st.text(BLANKS, max_size=12)
        ).map("".join),
        st.integers(longest - 3, longest + 3).map(lambda n: "议" * n),
        st.tuples(st.text(min_size=5, max_size=14), st.text(min_size=5, max_size=14)).map(
            "\x00".join
        ),
    )


def objection_is_acceptable(reason: str, contact: str) -> bool:
    """The form's rules as its page states them: grounds of 10 to 4000 characters and a
    contact of at most 200 (blanks around them do not count), text a database keeps."""
    return (
        10 <= len(reason.strip()) <= 4000
        and len(contact.strip()) <= 200
        and "\x00" not in reason + contact
    )


def _objections(app, case_id: int) -> list[Objection]:
    with app.app_context():
        return list(db.session.scalars(select(Objection).where(Objection.case_id == case_id)))


def test_objection_form_takes_what_its_rules_allow_and_nothing_else(app, capsys):
    seen: Counter = Counter()
    with time_machine.travel(START, tick=False):
        with app.test_request_context():
            [case_id] = staged.on_notice(1)
        url = f"/board/{case_id}/objection"
        visitor = Actor(app, None)
        token = visitor.token(url)

        @fuzz_settings(120)
        @given(reason=_objection_texts(4000), contact=_objection_texts(200))
        def run(reason, contact):
            before = len(_objections(app, case_id))
            response = visitor.client.post(
                url, data={"reason": reason, "contact": contact, "csrf_token": token}
            )
            after = _objections(app, case_id)
            if objection_is_acceptable(reason, contact):
                assert response.status_code == 302, (reason, contact, response.status_code)
                assert after[-1].reason == reason.strip()
                assert len(after) == before + 1
                seen["accepted"] += 1
            else:
                assert response.status_code == 400, (reason, contact, response.status_code)
                assert len(after) == before, (reason, contact)
                seen["refused"] += 1

        run()
    with capsys.disabled():
        print(f"\nfuzz objection form: {seen['accepted']} accepted, {seen['refused']} refused")


def _post_objection(app, reason: str):
    with time_machine.travel(START, tick=False):
        with app.test_request_context():
            [case_id] = staged.on_notice(1)
        url = f"/board/{case_id}/objection"
        visitor = Actor(app, None)
        response = visitor.post(url, {"reason": reason, "contact": ""}, token_page=url)
        return response, _objections(app, case_id)


# Found by the fuzzing above: WTForms counted the blanks that notice.file_objection strips.
def test_objection_grounds_padded_with_blanks_to_ten_characters_are_refused(app):
    response, filed = _post_objection(app, "000000000 ")
    assert response.status_code == 400 and filed == []


# Found by the fuzzing above: a NUL was stored on SQLite and a server error on PostgreSQL.
def test_objection_grounds_with_a_nul_character_are_refused(app):
    response, filed = _post_objection(app, "000000000\x00")
    assert response.status_code == 400 and filed == []


# --- API operations that take input ------------------------------------------------------------

TASK_LIST_VALUES = {
    "lane": ["secretariat", "秘书处", "council", "finance", "applicant", "nobody"],
    "process": ["admission", "no_such_procedure", "adm%"],
    "overdue": ["true", "false", "yes", "1"],
    "sort": ["due", "-due", "created", "-created", "name", "due;drop"],
    "page": ["1", "2", "10000", "10001", "0", "-1", "1.5", "١", "99999999999999999999"],
    "per_page": ["1", "20", "100", "101", "0", "x"],
}
OWN_LANES = {"secretariat", "秘书处"}  # the lanes of `secretary`


def task_list_problems(query: dict[str, str]) -> tuple[int, set[str]]:
    """The answer the contract asks for: 403 for another role's lane, else 400 naming every
    parameter that cannot be meant, else 200. Unknown parameters are ignored."""
    if query.get("lane") in {"council", "理事会", "finance", "财务", "applicant", "申请人"}:
        return 403, set()
    checks = {
        "lane": lambda v: v in OWN_LANES,
        "process": lambda v: v == "admission",
        "overdue": lambda v: v in ("true", "false"),
        "sort": lambda v: v in ("due", "-due", "created", "-created"),
        "page": lambda v: v.isascii() and v.isdigit() and 1 <= int(v) <= 10_000,
        "per_page": lambda v: v.isascii() and v.isdigit() and 1 <= int(v) <= 100,
    }
    bad = {name for name, ok in checks.items() if name in query and not ok(query[name])}
    return (400 if bad else 200), bad


def test_task_list_parameters_are_checked_one_by_one(app, capsys):
    seen: Counter = Counter()
    with time_machine.travel(START, tick=False):
        with app.test_request_context():
            staged.submitted(3)
            token = api_tokens.create(users.by_username("secretary"), "fuzz")[1]
        client = app.test_client()
        values = {
            name: st.one_of(st.sampled_from(choices), st.text(max_size=12))
            for name, choices in TASK_LIST_VALUES.items()
        }

        @fuzz_settings(150)
        @given(
            query=st.fixed_dictionaries({}, optional={**values, "zz_other": st.text(max_size=5)})
        )
        def run(query):
            status, bad = task_list_problems(query)
            response = client.get(
                "/api/v1/tasks",
                query_string=query,
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.get_json()
            assert response.status_code == status, (query, response.status_code, body)
            if status == 400:
                assert set(body["fields"]) == bad, (query, body)
            elif status == 200:
                assert len(body["items"]) <= int(query.get("per_page", "20"))
                assert all(item["lane"] in OWN_LANES for item in body["items"])
            seen[status] += 1

        run()
    with capsys.disabled():
        print(f"\nfuzz GET /api/v1/tasks: {dict(sorted(seen.items()))} (status: examples)")


BODIES = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda t: t.encode("utf-8")),
    st.just(b'{"name": "x"}'),
    st.just(b"[" * 5000),
)
CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "text/plain", "application/x-www-form-urlencoded"]
)


def test_starting_a_case_answers_any_body_with_a_start_or_a_clear_refusal(app, capsys):
    """No body, or a JSON object naming nothing, starts the applicant's own admission; a body
    that is not a JSON object is refused with its reason; nothing answers 5xx."""
    seen: Counter = Counter()
    with time_machine.travel(START, tick=False):
        with app.test_request_context():
            token = api_tokens.create(users.by_username("applicant"), "fuzz")[1]
        client = app.test_client()

        @fuzz_settings(20)
        @given(body=BODIES, content_type=CONTENT_TYPES)
        def run(body, content_type):
            headers = {"Authorization": f"Bearer {token}"}
            if content_type:
                headers["Content-Type"] = content_type
            response = client.post("/api/v1/cases", data=body, headers=headers)
            seen[response.status_code] += 1
            if not body or body == b'{"name": "x"}' and content_type == "application/json":
                assert response.status_code == 201, (body, content_type, response.get_data())
            assert response.status_code in (201, 400, 415), (body, response.get_data()[:300])
            if response.status_code == 201:
                assert response.headers["Location"].endswith(f"/{response.get_json()['id']}")
            else:
                assert response.get_json()["message"]

        run()
    with capsys.disabled():
        print(f"\nfuzz POST /api/v1/cases: {dict(seen)} (status: bodies)")


APPLICATION_DOCUMENTS = {"application_form_scan", "business_licence", "id_document", "cv"}
MAGIC = (b"%PDF", b"\xff\xd8\xff", b"\x89PNG")


def test_document_upload_checks_field_name_and_file(app, capsys):
    seen: Counter = Counter()
    with time_machine.travel(START, tick=False):
        with app.test_request_context():
            draft = cases.start(users.by_username("applicant"))
            token = api_tokens.create(users.by_username("applicant"), "fuzz")[1]
        client = app.test_client()
        fields = st.one_of(
            st.sampled_from(
                [*sorted(APPLICATION_DOCUMENTS), "payment_receipt", "name", "", "cv\x00"]
            ),
            st.text(max_size=20),
        )
        files = st.one_of(
            st.just(PDF),
            st.binary(max_size=64).filter(lambda b: not b.startswith(MAGIC)),
            st.none(),
        )

        @fuzz_settings(80)
        @given(field=fields, content=files)
        def run(field, content):
            data = {"field": field}
            if content is not None:
                data["file"] = (io.BytesIO(content), "upload.pdf")
            response = client.post(
                f"/api/v1/cases/{draft.id}/documents",
                data=data,
                content_type="multipart/form-data",
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.get_json()
            wrong = set()
            if field not in APPLICATION_DOCUMENTS:
                wrong.add("field")
            if content != PDF:
                wrong.add("file")
            if not wrong:
                assert response.status_code == 201, (field, content, body)
                assert body["content_type"] == "application/pdf" and body["size"] == len(PDF)
            else:
                assert response.status_code == 400, (field, content, body)
                assert body["error"] == "invalid_data"
                # A bad name is always reported, a missing file too; the content of a file
                # need not be read when there is no field to keep it for.
                must = wrong - {"file"}
                if content is None or wrong == {"file"}:
                    must.add("file")
                assert must <= set(body["fields"]) <= wrong, (field, content, body)
            seen[response.status_code] += 1

        run()
    with capsys.disabled():
        print(f"\nfuzz POST .../documents: {dict(sorted(seen.items()))} (status: examples)")


def _containers(inner):
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    _containers,
    max_leaves=12,
)


def test_completing_a_task_refuses_any_body_that_is_not_the_forms_data(app, capsys):
    seen: Counter = Counter()
    review = form("review.schema.json")
    with time_machine.travel(START, tick=False):
        with app.test_request_context():
            [case_id] = staged.submitted(1)
            guid = staged.open_tasks(case_id)[0].task_guid
            token = api_tokens.create(users.by_username("secretary"), "fuzz")[1]
        client = app.test_client()
        bodies = st.one_of(
            JSON_VALUES.map(lambda v: json.dumps(v).encode()),
            st.fixed_dictionaries({"data": JSON_VALUES}).map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=40),
            st.integers(10, 100_000).map(lambda depth: b"[" * depth + b"]" * depth),
        )

        @fuzz_settings(100)
        @given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain"]))
        def run(body, content_type):
            try:
                data = json.loads(body)["data"]
                assume(not isinstance(data, dict) or oracle_errors(review, data))
            except (ValueError, TypeError, KeyError, RecursionError):
                pass
            response = client.post(
                f"/api/v1/tasks/{guid}/complete",
                data=body,
                content_type=content_type,
                headers={"Authorization": f"Bearer {token}"},
            )
            expected = 415 if content_type != "application/json" else 400
            assert response.status_code == expected, (body[:200], response.get_data()[:300])
            seen[response.get_json()["error"]] += 1

        run()
        with app.app_context():
            still = db.session.scalars(select(HumanTask.state).where(HumanTask.task_guid == guid))
            assert still.one() == "ready"
    with capsys.disabled():
        print(f"\nfuzz POST .../complete bodies: {dict(sorted(seen.items()))} (error: examples)")


def test_application_list_pages_are_whole_numbers_in_range(app, capsys):
    seen: Counter = Counter()
    with app.test_request_context():
        token = api_tokens.create(users.by_username("applicant"), "fuzz")[1]
    client = app.test_client()

    @fuzz_settings(60)
    @given(page=st.one_of(st.sampled_from(["1", "2", "10000", "10001", "0", "01"]), st.text()))
    def run(page):
        response = client.get(
            "/api/v1/cases",
            query_string={"page": page},
            headers={"Authorization": f"Bearer {token}"},
        )
        ok = page.isascii() and page.isdigit() and 1 <= int(page) <= 10_000
        assert response.status_code == (200 if ok else 400), (page, response.get_json())
        if not ok:
            assert set(response.get_json()["fields"]) == {"page"}
        seen[response.status_code] += 1

    run()
    with capsys.disabled():
        print(f"\nfuzz GET /api/v1/cases?page=: {dict(sorted(seen.items()))}")


# --- registration: display names -----------------------------------------------------------------


def test_registration_keeps_only_the_visible_characters_of_a_display_name(app, capsys):
    seen: Counter = Counter()
    numbers = iter(range(10_000))

    @fuzz_settings(40)
    @given(typed=display_names())
    def run(typed):
        username = f"fuzz{next(numbers)}"
        password = "copper-kettle-lantern"
        response = Actor(app, None).post(
            "/register",
            {"username": username, "display_name": typed, "email": f"{username}@example.com",
             "password": password, "confirm": password},
            token_page="/register",
        )  # fmt: skip
        assert response.status_code in (200, 302), (typed, response.status_code)
        user = users_by_name(app, username)
        if response.status_code == 200:
            assert user is None
            seen["refused"] += 1
            return
        stored = user.display_name
        assert not any(ch in INVISIBLE for ch in stored), repr(stored)
        assert stored == stored.strip() and len(stored) >= 2
        assert without_invisible(stored) == without_invisible(typed), (typed, stored)
        seen["accepted"] += 1

    run()
    with capsys.disabled():
        print(f"\nfuzz display names: {seen['accepted']} accepted, {seen['refused']} refused")


def users_by_name(app, username: str):
    with app.app_context():
        return users.by_username(username)
