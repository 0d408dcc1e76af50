"""Every route of the app × every role: what each may do, read from one table
(tests/route_matrix_table.py). The routes come from app.url_map, so a route added without a
row fails here by name; each request's route is asked of the map, not assumed."""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine
from flask import Flask
from sqlalchemy import select
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tests import staged
from tests.conftest import Actor, _config, add_user, reload
from tests.procedure import PAYMENT, START
from tests.route_matrix_table import CASES, ROLES, SAMPLE_VALUES, Case
from webapp import create_app
from webapp.extensions import db
from webapp.models import HumanTask
from webapp.services import (
    api_tokens,
    cases,
    delegations,
    groups,
    members,
    timers,
    users,
    workdays,
)
from webapp.services.process_models import live_version

# Routes every browser gets but no request of ours names: HEAD and OPTIONS are answered by
# Flask for every GET route.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
RECEIVED = {"payment_check": "received"}
# The account behind each column (anon has none); `both` is added by the world.
USERNAMES = {role: None if role == "anon" else role for role in ROLES}


@pytest.fixture
def app(unlimited_app):
    """The app without rate limits: a few hundred requests from one address are the point."""
    return unlimited_app


def _routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - IMPLICIT_METHODS
    }


def _reached(app: Flask, case: Case, values: dict) -> tuple[str, str] | None:
    """The (endpoint, method) a request of the table reaches, None if it reaches none."""
    adapter = app.url_map.bind("localhost")
    path = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), case.url)
    try:
        endpoint, _args = adapter.match(urlsplit(path).path, method=case.method)
    except (NotFound, MethodNotAllowed):
        return None
    return endpoint, case.method


def _coverage(app: Flask, values: dict) -> tuple[list[str], list[str]]:
    """(routes that no request reaches, requests that reach no route)."""
    reached, strays = set(), []
    for case in CASES:
        route = _reached(app, case, values)
        if route is None:
            strays.append(f"{case.method} {case.url} ({case.name})")
        else:
            reached.add(route)
    missing = sorted(f"{m} {e}" for e, m in _routes(app) - reached)
    return missing, strays


def test_every_route_has_requests_in_the_matrix_and_every_request_a_route():
    app = create_app(_config("sqlite://"))
    missing, strays = _coverage(app, SAMPLE_VALUES)
    assert not missing, (
        "routes missing from tests/route_matrix_table.py (add what each role gets): "
        + ", ".join(missing)
    )
    assert not strays, "requests of the matrix that reach no route: " + ", ".join(strays)


# --- the world the requests act on ----------------------------------------------------------


@dataclass
class World:
    """Applications at every stage, and what the table's placeholders stand for."""

    app: Flask
    values: dict
    own: dict  # what `both` sees of its own application instead
    tokens: dict[str, str] = field(default_factory=dict)  # role → plain API token
    spare_tokens: dict[str, int] = field(default_factory=dict)  # role → a token id to revoke
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    def value(self, name: str, role: str):
        if name == "fresh_review":
            return self.fresh_review("both" if role == "both" else "applicant")
        if name == "login_as":
            return USERNAMES[role] or "applicant"
        if name == "new_username":
            return f"matrix{next(self._names)}"
        if name == "own_token":
            return self.spare_tokens.get(role, self.spare_tokens["applicant"])
        if role == "both" and name in self.own:
            return self.own[name]
        return self.values[name]

    def fresh_review(self, applicant: str) -> str:
        """A new application of that applicant, submitted: its review task."""
        with self.app.test_request_context():
            [case_id] = staged.submitted(1, applicant=applicant)
            return staged.open_tasks(case_id, "preliminary_review")[0].task_guid


def _task(case_id: int, bpmn_id: str, username: str | None = None) -> str:
    query = staged.open_tasks(case_id, bpmn_id)
    if username is not None:
        user_id = users.by_username(username).id
        query = [t for t in query if t.assignee_id == user_id]
    return query[0].task_guid


def build_world(app: Flask, traveller) -> World:
    """One application at each step (the later ones through a notice period), tokens for the
    API, an owner-entered calendar day."""
    add_user(app, "both", "既是申请人又是秘书处", "applicant,secretariat")
    add_user(app, "spare", "备用账号", "applicant")
    with app.test_request_context():
        later = staged.on_notice(6)
        vote_app, declare_app, confirm_app, issue_app, issue_app2, admitted = later
        closes = max(reload(app, i).notice_closes_at for i in later)
        traveller.move_to(closes.timestamp() + 60)
        timers.fire_due()
        for case_id in later[1:]:
            for member in staged.COUNCIL:
                staged.complete(member, case_id, "council_vote", {"vote": "approve"})
        for case_id in later[2:]:
            staged.complete("applicant", case_id, "declare_payment", PAYMENT)
        for case_id in later[3:]:
            staged.complete("finance", case_id, "confirm_payment", RECEIVED)
        staged.complete("secretary", admitted, "issue_certificate", {"certificate_confirmed": "on"})
        [in_review] = staged.submitted(1)
        [own] = staged.submitted(1, applicant="both")
        [on_notice] = staged.on_notice(1)
        done = db.session.scalars(
            select(HumanTask).where(
                HumanTask.instance_id == reload(app, on_notice).instance_id,
                HumanTask.bpmn_id == "preliminary_review",
            )
        ).one()
        draft = cases.start(users.by_username("applicant"))
        version = live_version("admission")
        workdays.set_day(date(2031, 1, 2), "holiday", "矩阵", users.by_username("owner"))
        board = groups.create("matrix_board", "矩阵监事会", "Matrix board", None)
        spare = users.by_username("spare")
        membership = groups.add_member(board, spare, None, None, None)
        away = delegations.create(
            spare, users.by_username("council2"), date(2031, 1, 1), date(2031, 1, 5)
        )
        db.session.commit()
        world = World(
            app,
            values={
                "app": in_review,
                "review": _task(in_review, "preliminary_review"),
                "doc": reload(app, in_review).data["application_form_scan"],
                "draft_app": draft.id,
                "draft": _task(draft.id, "submit_application"),
                "vote": _task(vote_app, "council_vote", "council"),
                "declare": _task(declare_app, "declare_payment"),
                "confirm": _task(confirm_app, "confirm_payment"),
                "issue": _task(issue_app, "issue_certificate"),
                "admitted": admitted,
                "cert": members.certificate_of(admitted).verify_token,
                "member": members.certificate_of(admitted).member_id,
                "notice_app": on_notice,
                "done": done.task_guid,
                "model": "admission",
                "number": version.number,
                "version_id": version.id,
                "bpmn": version.bpmn,
                "forms": dict(version.forms),
                "day": "2031-01-02",
                "spare_user": spare.id,
                "group": board.id,
                "membership": membership.id,
                "delegation": away.id,
            },
            own={
                "app": own,
                "review": _task(own, "preliminary_review"),
                "doc": reload(app, own).data["application_form_scan"],
                "issue": _task(issue_app2, "issue_certificate"),
            },
        )
        for role, username in USERNAMES.items():
            if username is None:
                continue
            user = users.by_username(username)
            world.tokens[role] = api_tokens.create(user, "矩阵")[1]
            world.spare_tokens[role] = api_tokens.create(user, "备用")[0].id
        foreign, _plain = api_tokens.create(users.by_username("council2"), "别人的")
        world.values["foreign_token"] = foreign.id
    return world


# --- making the requests ----------------------------------------------------------------------


def _fill(value, world: World, role: str):
    """The table's value with its placeholders replaced; a string that is exactly one
    placeholder takes the value as it is (a dict of forms, a number)."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return world.value(whole.group(1), role)
        return PLACEHOLDER.sub(lambda m: str(world.value(m.group(1), role)), value)
    if isinstance(value, dict):
        return {k: _fill(v, world, role) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_fill(v, world, role) for v in value)
    return value


class Clients:
    """A logged-in client per role, each with its CSRF token fetched once."""

    def __init__(self, app: Flask):
        self.app = app
        self._actors: dict[str, Actor] = {}

    def actor(self, role: str, fresh: bool = False) -> Actor:
        if fresh:
            return Actor(self.app, USERNAMES[role])
        if role not in self._actors:
            self._actors[role] = Actor(self.app, USERNAMES[role])
        return self._actors[role]

    @staticmethod
    def csrf(actor: Actor) -> str:
        if not hasattr(actor, "csrf"):
            actor.csrf = actor.token("/login")  # a form every visitor gets
        return actor.csrf


def send(clients: Clients, world: World, case: Case, role: str):
    """Make the case's request as the role: a Bearer token under /api/, else the session."""
    actor = clients.actor(role, fresh=case.fresh_login)
    url = _fill(case.url, world, role)
    headers = {}
    is_api = url.startswith("/api/")
    if is_api and role != "anon":
        headers["Authorization"] = f"Bearer {world.tokens[role]}"
    elif case.method != "GET":
        headers["X-CSRFToken"] = clients.csrf(actor)
    kwargs: dict = {"headers": headers}
    if case.json is not None:
        kwargs["json"] = _fill(case.json, world, role)
    elif case.form is not None or case.files is not None:
        data = dict(_fill(case.form or {}, world, role))
        if "username" in data and case.url == "/login":
            data["password"] = users.DEMO_PASSWORD
        if not is_api:
            data["csrf_token"] = clients.csrf(actor)
        for name, (content, filename) in (case.files or {}).items():
            content = _fill(content, world, role)
            if isinstance(content, str):
                content = content.encode("utf-8")
            data[name] = (io.BytesIO(content), filename)
        kwargs["data"] = data
    return actor.client.open(url, method=case.method, **kwargs)


def outcome(response) -> str:
    """What the response amounts to, in the table's words."""
    status = response.status_code
    if 300 <= status < 400:
        target = urlsplit(response.headers.get("Location", ""))
        return "login" if target.path == "/login" and "next=" in target.query else "ok"
    return "ok" if 200 <= status < 300 else str(status)


def test_every_route_answers_every_role_as_the_matrix_says(app, capsys):
    with time_machine.travel(START, tick=False) as traveller:
        world = build_world(app, traveller)
        values = {**world.values, "fresh_review": "guid", "own_token": 1}
        missing, strays = _coverage(app, values)
        assert not missing and not strays, (missing, strays)
        clients = Clients(app)
        mismatches, checked, routes = [], 0, set()
        for case in CASES:
            routes.add(_reached(app, case, values))
            for role in ROLES:
                response = send(clients, world, case, role)
                got, wanted = outcome(response), case.expected[role]
                checked += 1
                if got != wanted:
                    body = response.get_data(as_text=True)[:200].replace("\n", " ")
                    mismatches.append(
                        f"{case.method} {case.url} [{case.name}] as {role}: "
                        f"expected {wanted}, got {got} ({response.status_code} {body})"
                    )
    with capsys.disabled():
        print(
            f"\nauthorization matrix: {len(routes)} routes, {len(CASES)} requests × "
            f"{len(ROLES)} roles = {checked} checks, {len(mismatches)} mismatches"
        )
    assert not mismatches, "\n".join(mismatches)


# Path values an attacker (or a broken link) may send: NUL bytes, numbers beyond the columns'
# range, traversal, bytes that are not UTF-8, markup, a very long segment.
HOSTILE_SEGMENTS = (
    "%00",
    "a%00b",
    "9" * 25,
    "-1",
    "0",
    "%2e%2e%2f%2e%2e%2fpyproject.toml",
    "%ff%fe",
    "%F0%9F%98%80",
    "%27%20OR%20%271%27%3D%271",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "x" * 3000,
)
_RULE_VARIABLE = re.compile(r"<(?:[^:<>]+:)?(\w+)>")
# The query parameters pages and the API read (lists, filters, the editor's version, the
# migration target, where to go after logging in), each sent the same hostile value at once.
QUERY_NAMES = ("page", "per_page", "lane", "sort", "process", "overdue", "version", "target")
HOSTILE_QUERY_VALUES = ("\x00", "9" * 25, "-1", "x" * 3000, "//evil.example/", "１")


def _first_reaching(app: Flask, values: dict) -> dict[tuple[str, str], tuple[Case, str]]:
    """For each route: the table's first request to it, and a role that gets through."""
    chosen = {}
    for case in CASES:
        route = _reached(app, case, values)
        if route is not None and route not in chosen:
            role = next((r for r in ROLES if case.expected[r] == "ok"), "secretary")
            chosen[route] = (case, role)
    return chosen


def test_hostile_path_and_query_values_never_cause_a_server_error(app, capsys):
    with time_machine.travel(START, tick=False) as traveller:
        world = build_world(app, traveller)
        values = {**world.values, "fresh_review": world.values["review"], "own_token": 1}
        rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
        adapter = app.url_map.bind("localhost")
        clients, failures, sent = Clients(app), [], 0
        for (endpoint, _method), (case, role) in _first_reaching(app, values).items():
            rule = rules[endpoint]
            path = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), case.url)
            _endpoint, args = adapter.match(urlsplit(path).path, method=case.method)
            for name in args:
                for hostile in HOSTILE_SEGMENTS:
                    url = _path(rule.rule, {**args, name: hostile})
                    response = send(clients, world, _with_url(case, url), role)
                    sent += 1
                    body = response.get_data()
                    if response.status_code >= 500 or b"Traceback" in body:
                        status = response.status_code
                        failures.append(f"{case.method} {url[:120]} as {role}: {status}")
                    elif "%2e%2e" in hostile and response.status_code == 200:
                        assert b"[project]" not in body, url  # never a file outside the folder
            for hostile in HOSTILE_QUERY_VALUES:
                query = {name: hostile for name in QUERY_NAMES} | {"next": hostile}
                url = f"{path}?{urlencode(query)}"
                response = send(clients, world, _with_url(case, url), role)
                sent += 1
                if response.status_code >= 500 or b"Traceback" in response.get_data():
                    failures.append(f"{case.method} {url[:120]} as {role}: {response.status_code}")
                location = response.headers.get("Location", "")
                assert "evil.example" not in urlsplit(location).netloc, (url, location)
    with capsys.disabled():
        print(f"\nhostile path and query values: {sent} requests, {len(failures)} server errors")
    assert not failures, "\n".join(failures)


def _path(rule: str, args: dict) -> str:
    """The rule's path with these values put in as they are (no converter checks them)."""
    return _RULE_VARIABLE.sub(lambda m: str(args[m.group(1)]), rule)


def _with_url(case: Case, url: str) -> Case:
    return dataclasses.replace(case, url=url)
