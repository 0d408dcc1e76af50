"""An app on a fresh SQLite database (migrated, workflows loaded, demo users), and one
logged-in client per role that posts forms with their CSRF tokens like a browser does."""

from __future__ import annotations

import io
import itertools
import os
import queue
import re
import shutil
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import make_url, select
from stdnum.cn import ric, uscc

from webapp import create_app
from webapp.extensions import db
from webapp.models import Case, Group, HumanTask, User
from webapp.roles import PLATFORM_ROLES
from webapp.services import groups, process_models, users

ROOT = Path(__file__).resolve().parent.parent
# The procedure helpers (tests/procedure.py) offer the `procedure` fixture to every test.
pytest_plugins = ["tests.procedure"]
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

VALID_APPLICATION = {
    "member_type": "unit",
    "name": "北京示例科技有限公司",
    "credit_code": "91110000600037341L",
    "contact_person": "张三",
    "phone": "010-12345678",
    "email": "zhangsan@example.com",
    "address": "北京市东城区示例路1号",
    "region": "北京市",
    "industry": "it",
    "reasons": "希望加入协会，参与行业交流与标准制定工作。",
    "contribution": "提供技术培训资源。",
    "accept_charter": "on",
    "accept_integrity_pact": "on",
    # Uploads: (content, file name) pairs, which Actor.post sends as files.
    "application_form_scan": (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "申请表.pdf"),
    "business_licence": (b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "营业执照.pdf"),
}

_credit_codes = itertools.count(1)


def fresh_credit_code() -> str:
    """A valid credit code no other application of the run gave: one credit code is one
    applicant, and a second application under a code in progress is refused at submission."""
    body = f"91110000{next(_credit_codes):09d}"
    return body + uscc.calc_check_digit(body)


_id_numbers = itertools.count(0)


def fresh_id_number() -> str:
    """A valid resident ID number no other application of the run gave (as fresh_credit_code)."""
    n = next(_id_numbers)
    born = date(1980, 1, 1) + timedelta(days=n // 999)
    body = f"110101{born:%Y%m%d}{n % 999 + 1:03d}"
    # The check character is found by trying the eleven (calc_check_digit's does not pass
    # is_valid for every body).
    return next(body + c for c in "0123456789X" if ric.is_valid(body + c))


def fresh_application(**changes) -> dict:
    """The valid application under a credit code of its own."""
    return {**VALID_APPLICATION, "credit_code": fresh_credit_code(), **changes}


# Set TEST_DATABASE_URL=postgresql+psycopg://… to run the suite on PostgreSQL: each test then
# gets its own database cloned from a migrated template, as each SQLite test gets a file copy.
PG_URL = os.environ.get("TEST_DATABASE_URL", "")


def _config(url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        # Tests travel days and weeks through deadlines with their users logged in; the lifetime
        # of a login has its own test.
        "LOGIN_LIFETIME_HOURS": 24 * 365 * 10,
        # Tests log in (and fail to) hundreds of times from 127.0.0.1; tests/test_rate_limits.py
        # builds its own app with a low limit.
        "LOGIN_RATE_LIMIT": "10000 per minute",
    }


def _pg_admin():
    import psycopg

    dsn = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(dsn, autocommit=True)


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


class _PgClones:
    """Copies of the template database, each made while the test before it runs.

    `CREATE DATABASE … TEMPLATE` takes the server about 0.12 s, mostly waiting on the disk, and the
    drop a little more: done in a thread of their own, one copy ahead, they no longer add to each
    test's time (2–3 minutes of the PostgreSQL run)."""

    def __init__(self, template: str):
        self._template = template
        self._orders: queue.Queue[tuple[str, str]] = queue.Queue()
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="pg-clones", daemon=True)
        self._thread.start()
        self._orders.put(("create", ""))

    def _work(self) -> None:
        with _pg_admin() as admin:
            while True:
                order, name = self._orders.get()
                if order == "stop":
                    return
                try:
                    if order == "create":
                        name = f"ma_{os.getpid()}_{next(_clones)}"
                        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
                        self._ready.put(name)
                    else:
                        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except BaseException as err:  # the test waiting for its copy raises it
                    if order == "create":
                        self._ready.put(err)

    def take(self) -> str:
        """The next copy's name; the one after it is started at once."""
        made = self._ready.get(timeout=120)
        self._orders.put(("create", ""))
        if isinstance(made, BaseException):
            raise made
        return made

    def give_back(self, name: str) -> None:
        self._orders.put(("drop", name))

    def close(self) -> None:
        self._orders.put(("stop", ""))
        self._thread.join(timeout=120)
        while not self._ready.empty():
            made = self._ready.get()
            if isinstance(made, str):
                with _pg_admin() as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> str:
    """A migrated database with the workflows and demo users, cloned for each test."""
    if PG_URL:
        name = f"ma_tpl_{os.getpid()}"
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
    app = create_app(_config(url))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        process_models.load_directory(app.config["WORKFLOWS_DIR"], app.config["FORMS_DIR"])
        users.ensure_demo_users()
        db.engine.dispose()
    yield url
    if PG_URL:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


_clones = itertools.count()


@pytest.fixture(scope="session")
def pg_clones(template_db):
    clones = _PgClones(make_url(template_db).database)
    yield clones
    clones.close()


@pytest.fixture
def database_url(template_db, tmp_path, request):
    """A fresh copy of the template database for one test."""
    if not PG_URL:
        path = tmp_path / "app.db"
        shutil.copy(template_db.removeprefix("sqlite:///"), path)
        yield f"sqlite:///{path}"
        return
    clones = request.getfixturevalue("pg_clones")
    name = clones.take()
    yield _pg_url(name)
    clones.give_back(name)


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({**_config(database_url), "UPLOAD_DIR": str(tmp_path / "uploads")})
    # No app context is held while requests run: Flask would reuse it, and `g` (the logged-in
    # user, the CSRF token) would leak from one client's request into the next one's.
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def unlimited_app(database_url, tmp_path):
    """The app without rate limits, for tests whose point is hundreds of requests from one
    address."""
    app = create_app(
        {
            **_config(database_url),
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            "RATELIMIT_ENABLED": False,
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


class Actor:
    """A logged-in user driving the app through the test client."""

    def __init__(self, app, username: str | None):
        self.app = app
        self.client = app.test_client()
        self.username = username
        if username:
            response = self.post(
                "/login",
                {"username": username, "password": users.DEMO_PASSWORD},
                token_page="/login",
            )
            assert response.status_code == 302, response.get_data(as_text=True)[:500]

    def token(self, page: str = "/board") -> str:
        match = CSRF_RE.search(self.client.get(page).get_data(as_text=True))
        assert match, f"no CSRF token on {page}"
        return match.group(1)

    def post(self, url: str, data: dict, token_page: str = "/board"):
        # A (bytes, file name) pair is uploaded as a file, from a fresh stream on every post.
        data = {
            k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) and isinstance(v[0], bytes) else v
            for k, v in data.items()
        }
        return self.client.post(url, data={**data, "csrf_token": self.token(token_page)})

    def get(self, url: str):
        return self.client.get(url)

    def start_application(self) -> Case:
        response = self.post("/cases", {})
        assert response.status_code == 302, response.status_code
        with self.app.app_context():
            return db.session.scalars(select(Case).order_by(Case.id.desc())).first()

    def complete(self, task_guid: str, data: dict):
        return self.post(f"/tasks/{task_guid}", data)


def add_user(app, username: str, display_name: str, roles: str) -> None:
    """An extra account with the demo password, for tests that need more than the demo set;
    `roles` names platform roles and group keys, comma-separated."""
    with app.app_context():
        keys = [r for r in roles.split(",") if r]
        platform = [r for r in keys if r in PLATFORM_ROLES]
        user = User(username=username, display_name=display_name, roles=",".join(platform))
        user.set_password(users.DEMO_PASSWORD)
        db.session.add(user)
        db.session.flush()
        for key in keys:
            if key not in PLATFORM_ROLES:
                group = db.session.scalars(select(Group).where(Group.key == key)).one()
                groups.add_member(group, user, None, None, None)
        db.session.commit()


def open_task(app, case_id: int, bpmn_id: str | None = None) -> HumanTask:
    """The open task of an application (optionally: the one with that BPMN id)."""
    with app.app_context():
        case = db.session.get(Case, case_id)
        query = select(HumanTask).where(
            HumanTask.instance_id == case.instance_id, HumanTask.state == "ready"
        )
        if bpmn_id:
            query = query.where(HumanTask.bpmn_id == bpmn_id)
        task = db.session.scalars(query).first()
    assert task is not None, f"no open task {bpmn_id or ''} on application {case_id}"
    return task


def reload(app, case_id: int) -> Case:
    """The application as stored now (detached; its columns are loaded)."""
    with app.app_context():
        return db.session.get(Case, case_id)


@pytest.fixture
def actors(app):
    """One logged-in client per role, created on first use."""
    cache = {}

    def get(username):
        if username not in cache:
            cache[username] = Actor(app, username)
        return cache[username]

    return get


@pytest.fixture
def submitted(app, actors):
    """An application filled and submitted by the demo applicant, now in preliminary review."""
    applicant = actors("applicant")
    case = applicant.start_application()
    response = applicant.complete(open_task(app, case.id).task_guid, fresh_application())
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return reload(app, case.id)
