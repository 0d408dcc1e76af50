"""What the benchmarks share: a migrated database of their own, applications prepared in-process
through the services, a real gunicorn on loopback, keep-alive HTTP clients, percentiles."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, inspect, make_url, select  # noqa: E402
from werkzeug.datastructures import FileStorage, MultiDict  # noqa: E402

from tests.conftest import VALID_APPLICATION, fresh_credit_code  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import HumanTask, User  # noqa: E402
from webapp.services import cases, process_models, tasks, users  # noqa: E402

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET_KEY = "bench-secret"
PUBLIC_BASE_URL = "http://127.0.0.1:5000"  # required with PostgreSQL; no mail leaves a bench
# The same valid application the tests submit: its fields, and its documents as (name → file name).
APPLICATION = {k: v for k, v in VALID_APPLICATION.items() if not isinstance(v, tuple)}
DOCUMENTS = {k: v[1] for k, v in VALID_APPLICATION.items() if isinstance(v, tuple)}
PDF = next(v[0] for v in VALID_APPLICATION.values() if isinstance(v, tuple))


# --- databases ------------------------------------------------------------------------------


def _pg_admin():
    import psycopg

    dsn = make_url(PG_ADMIN_URL).set(drivername="postgresql")
    return psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True)


@contextlib.contextmanager
def bench_database(kind: str, tmp: Path):
    """A fresh, migrated database with the workflows and demo users; dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp / 'bench.db'}"
        name = None
    else:
        name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        with _pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        app = make_app(url, tmp)
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            ADDED_INDEXES[:] = ensure_model_indexes()
            process_models.load_directory(app.config["WORKFLOWS_DIR"], app.config["FORMS_DIR"])
            users.ensure_demo_users()
            db.engine.dispose()
        yield url
    finally:
        if name:
            with _pg_admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Indexes the models declare that the migrations did not create (yet): the bench creates them
# so that it measures the models' design, and says so in its output.
ADDED_INDEXES: list[str] = []


def ensure_model_indexes() -> list[str]:
    """Create the models' indexes missing from the migrated database; their names."""
    existing = set()
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        existing |= {ix["name"] for ix in inspector.get_indexes(table.name)}
    added = []
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            if index.name not in existing:
                index.create(db.engine)
                added.append(index.name)
    return added


def make_app(url: str, tmp: Path):
    """The app as gunicorn would build it, on the bench's database."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": SECRET_KEY,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "UPLOAD_DIR": str(tmp / "uploads"),
        }
    )


def user(username: str) -> User:
    return db.session.scalars(select(User).where(User.username == username)).one()


def add_applicants(count: int) -> list[int]:
    """Extra applicant accounts (no password hashing: they never log in)."""
    rows = [
        {
            "username": f"bench_applicant_{i}",
            "display_name": f"Bench applicant {i}",
            "password_hash": "!",
            "roles": "applicant",
        }
        for i in range(count)
    ]
    db.session.execute(User.__table__.insert(), rows)
    db.session.commit()
    return list(
        db.session.scalars(
            select(User.id).where(User.username.like("bench_applicant_%")).order_by(User.id)
        )
    )


def submit_application(app, applicant: User) -> tuple[int, str]:
    """Start and submit one application through the services; (application id, review guid)."""
    with app.test_request_context():
        case = cases.start(applicant)
        guid = db.session.scalars(
            select(HumanTask.task_guid).where(
                HumanTask.instance_id == case.instance_id, HumanTask.state == "ready"
            )
        ).one()
        files = MultiDict(
            {
                name: FileStorage(stream=_bytes(PDF), filename=filename)
                for name, filename in DOCUMENTS.items()
            }
        )
        # One credit code per application: the diagram refuses a second case of one identity.
        form = {**APPLICATION, "credit_code": fresh_credit_code()}
        tasks.complete(applicant, guid, MultiDict(form), files)
        review = db.session.scalars(
            select(HumanTask.task_guid).where(
                HumanTask.instance_id == case.instance_id, HumanTask.state == "ready"
            )
        ).one()
        return case.id, review


def _bytes(content: bytes):
    import io

    return io.BytesIO(content)


def prepare_reviews(app, n: int, username: str = "applicant") -> list[str]:
    """N applications waiting at the preliminary review, through the services; their task guids."""
    with app.app_context():
        applicant = user(username)
        guids = [submit_application(app, applicant)[1] for _ in range(n)]
        db.session.remove()
        db.engine.dispose()
    return guids


# --- gunicorn -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """A real gunicorn serving the app on loopback, for the duration of a `with`."""

    def __init__(self, url: str, tmp: Path, workers: int = 1, threads: int = 1):
        # gthread even with one thread: the sync worker closes the connection after every
        # response, so a client could not keep it alive as a browser does.
        self.url, self.tmp, self.workers, self.threads = url, tmp, workers, threads
        self.port = free_port()
        self.process = None

    def __enter__(self):
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "SECRET_KEY": SECRET_KEY,
            "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "UPLOAD_DIR": str(self.tmp / "uploads"),
        }
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ]
        command += ["--worker-class", "gthread", "--threads", str(self.threads)]
        command.append("webapp:create_app()")
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/login")
                if conn.getresponse().status == 200:
                    conn.close()
                    return self
            except OSError:
                time.sleep(0.1)
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited")
        raise RuntimeError("gunicorn did not answer")

    def __exit__(self, *exc):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and its workers (Linux /proc; 0 elsewhere)."""
        pids = [self.process.pid]
        try:
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids += [int(p) for p in children.read_text().split()]
            total = 0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
            return total / os.sysconf("SC_CLK_TCK")
        except OSError:
            return 0.0


class Browser:
    """A logged-in user on one keep-alive connection; keeps the session cookie of its login."""

    def __init__(self, port: int, username: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        # Later responses may add flashed messages to the (client-side) session; a browser would
        # show and drop them, so the bench keeps the session as it was after the login.
        self.capture = True
        page = self.get("/login")
        status = self._post(
            "/login",
            {"username": username, "password": users.DEMO_PASSWORD, "csrf_token": _token(page)},
        )
        if status != 302:
            raise RuntimeError(f"login of {username}: {status}")
        self.token = _token(self.get("/board"))
        self.capture = False

    def get(self, path: str) -> str:
        self.conn.request("GET", path, headers={"Cookie": self.cookie})
        response = self.conn.getresponse()
        body = response.read().decode("utf-8")
        self._keep_cookie(response)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status}")
        return body

    def get_status(self, path: str) -> int:
        self.conn.request("GET", path, headers={"Cookie": self.cookie})
        response = self.conn.getresponse()
        response.read()
        return response.status

    def post(self, path: str, fields: dict) -> int:
        return self._post(path, {**fields, "csrf_token": self.token})

    def _post(self, path: str, fields: dict) -> int:
        body = urllib.parse.urlencode(fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie}
        self.conn.request("POST", path, body=body, headers=headers)
        response = self.conn.getresponse()
        response.read()
        self._keep_cookie(response)
        return response.status

    def _keep_cookie(self, response) -> None:
        if not self.capture:
            return
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]

    def close(self):
        self.conn.close()


def _token(page: str) -> str:
    match = CSRF_RE.search(page)
    if not match:
        raise RuntimeError("no CSRF token")
    return match.group(1)


# --- query plans ---------------------------------------------------------------------------


def query_plans(action) -> list[dict]:
    """The database's plan for each distinct SELECT `action()` runs (in an app context)."""
    seen: dict[str, object] = {}

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and statement not in seen:
            seen[statement] = parameters

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    sqlite = db.engine.dialect.name == "sqlite"
    plans = []
    connection = db.session.connection()
    for statement, parameters in seen.items():
        explain = ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement
        rows = connection.exec_driver_sql(explain, parameters).all()
        plan = [row[-1] if sqlite else row[0] for row in rows]
        plans.append({"sql": " ".join(statement.split())[:240], "plan": plan})
    db.session.rollback()
    return plans


# --- figures --------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of the values."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summary_ms(seconds: list[float]) -> dict:
    """p50, p95 and mean of timings given in seconds, in milliseconds."""
    return {
        "p50": round(percentile(seconds, 50) * 1000, 2),
        "p95": round(percentile(seconds, 95) * 1000, 2),
        "mean": round(statistics.fmean(seconds) * 1000, 2),
        "n": len(seconds),
    }
