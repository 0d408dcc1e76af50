"""A real gunicorn on a free loopback port against a test database, and clients in separate
processes that log in and post forms over plain HTTP like browsers do.

Only the standard library at import time: client processes are spawned and import this module
afresh, so they start fast. Waits use time.monotonic, which time-machine leaves alone.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "demo1234"  # webapp.services.users.DEMO_PASSWORD, not imported: see the docstring
SECRET_KEY = "test-secret"
# Production (a server database) needs the public address; processes without one of their own.
PUBLIC_BASE_URL = "http://127.0.0.1:5000"
# What a client sees while the server is down or being killed: it retries.
CONNECTION_ERRORS = (ConnectionError, http.client.HTTPException, urllib.error.URLError, OSError)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving `webapp:create_app()` on 127.0.0.1, in its own process group."""

    def __init__(self, database_url: str, workdir: Path, workers: int = 4, threads: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers, self.threads = workers, threads
        self.log = Path(workdir) / "gunicorn.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "PUBLIC_BASE_URL": self.url,
            "UPLOAD_DIR": str(Path(workdir) / "uploads"),
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 60) -> None:
        """Start gunicorn and wait until /health answers 200."""
        command = [
            GUNICORN,
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--bind", f"127.0.0.1:{self.port}",
            # The app is imported once and forked: restarts after a kill take a second or two.
            "--preload",
            "--timeout", "60",
            "--graceful-timeout", "5",
            "webapp:create_app()",
        ]  # fmt: skip
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.process.returncode}:\n{self.tail()}"
                )
            if health(self.url) == 200:
                return
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gunicorn did not answer /health within {timeout} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL the master and its workers at once, as a crash or an OOM killer would."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM), killing what is still there after 15 s."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def health(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except CONNECTION_ERRORS:
        return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is the answer we want to see, not a page to follow


class Client:
    """One person's browser: a cookie jar, CSRF tokens read from pages, no redirects."""

    def __init__(self, base_url: str, timeout: float = 30):
        self.base_url, self.timeout = base_url, timeout
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )
        self.csrf = ""

    def request(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base_url + path, body, timeout=self.timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            page = err.read().decode("utf-8", "replace")
            if err.headers.get("Location"):
                # Where a redirect leads tells a completed step from a lost login.
                page = f"Location: {err.headers['Location']}\n{page}"
            return err.code, page

    def token(self, page: str = "/board") -> str:
        status, html = self.request(page)
        match = CSRF_RE.search(html)
        if match is None:
            raise RuntimeError(f"no CSRF token on {page} ({status})")
        self.csrf = match.group(1)
        return self.csrf

    def login(self, username: str, password: str = PASSWORD) -> Client:
        self.token("/login")
        status, html = self.request(
            "/login", {"username": username, "password": password, "csrf_token": self.csrf}
        )
        if status != 302:
            raise RuntimeError(f"login of {username} failed: {status} {html[:300]}")
        self.token()  # the session is new after login, and so is its CSRF token
        return self

    def post(self, path: str, data: dict) -> tuple[int, str]:
        return self.request(path, {**data, "csrf_token": self.csrf})


def completed(status: int, page: str) -> bool:
    """A task's form was accepted: redirected on, but not to the login page."""
    return status == 302 and not page.startswith("Location: /login")


# --- clients in processes -------------------------------------------------------------------


def _synchronized_client(base_url, username, steps, barrier, results, index) -> None:
    """Log in, then post each step the moment every other client posts its own."""
    try:
        client = Client(base_url).login(username)
        outcome = []
        for path, data in steps:
            barrier.wait(timeout=120)
            # The whole page: the message naming who was first comes after the navigation and
            # any flashed messages, so a cut-off head could miss it.
            outcome.append(client.post(path, data))
        results.put((index, outcome))
    except BaseException as err:  # reported to the test, never swallowed
        barrier.abort()
        results.put((index, err))


def run_synchronized(base_url: str, plans: list[tuple[str, list[tuple[str, dict]]]]) -> list:
    """One process per (username, steps); step i of every plan is posted at the same moment.

    Returns each process's [(status, page)] in plan order; raises if a client failed.
    """
    return _run(_synchronized_client, base_url, plans, barrier_parties=len(plans))


def _retrying_client(base_url, username, steps, barrier, results, index) -> None:
    """Post each step until the server answers it; a crash in between is retried."""
    try:
        deadline = time.monotonic() + 300
        client = None
        outcome = []
        for path, data in steps:
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{username}: server did not come back")
                try:
                    if client is None:
                        client = Client(base_url, timeout=20).login(username)
                    status, html = client.post(path, data)
                except CONNECTION_ERRORS:
                    # Down, or killed while answering: the step may or may not have committed;
                    # asking again tells (a 409 naming this very user means it had).
                    time.sleep(0.05)
                    continue
                outcome.append((status, html[:300]))
                break
        results.put((index, outcome))
    except BaseException as err:
        results.put((index, err))


def run_retrying(base_url: str, plans: list[tuple[str, list[tuple[str, dict]]]], during=None):
    """Clients that ride out server crashes; `during()` runs in this process meanwhile."""
    return _run(_retrying_client, base_url, plans, during=during)


def _run(target, base_url, plans, barrier_parties=1, during=None) -> list:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(barrier_parties)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=target, args=(base_url, user, steps, barrier, results, i))
        for i, (user, steps) in enumerate(plans)
    ]
    for p in processes:
        p.start()
    try:
        if during is not None:
            during()
        collected = dict(results.get(timeout=600) for _ in processes)
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    for index, outcome in collected.items():
        if isinstance(outcome, BaseException):
            raise RuntimeError(f"client {plans[index][0]} failed: {outcome!r}") from outcome
    return [collected[i] for i in range(len(plans))]
