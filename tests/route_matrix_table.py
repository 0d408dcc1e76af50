"""The authorization matrix: requests that reach every route of the app, each with what every
role must get back. Which route a request reaches is asked of app.url_map itself
(tests/test_route_matrix.py), so a route that no request here reaches fails the test by name.

Roles (columns), in order:
  anon        nobody logged in (no cookie, no token)
  applicant   the applicant who owns the world's applications
  applicant2  another applicant
  secretary   secretariat
  council     council (the world's vote task is this member's own)
  finance     finance
  owner       process owner
  admin       administrator (accounts and groups)
  both        an account that is applicant AND secretariat; for it `{app}`, `{review}`, `{doc}`
              and `{fresh_review}` are its OWN application's, so its column shows that nobody
              decides on their own application; and `{issue}` is another certificate task
              than the secretary's, so that the one's claim does not meet the other's

Outcomes: "ok" (2xx, or a redirect anywhere but the login page), "login" (a redirect to the login
page with ?next=), else the status code ("401", "403", "404", "409"...).

Placeholders, filled from the world the test builds:
  {app} an application of `applicant` in preliminary review, {review} its review task, {doc}
  one of its documents; {draft_app} an application being filled in, {draft} its form task;
  {vote} the vote task of `council`; {declare}, {confirm}, {issue}: the open payment declaration,
  payment confirmation and certificate tasks of three other applications; {admitted} an
  application with a certificate, {cert} its verification code; {notice_app} an application on
  public notice, {done} its completed review task; {model}, {number}, {version_id}: the admission
  model and its live version; {own_token} a spare API token of the acting user, {foreign_token}
  somebody else's; {fresh_review} a review task made for this one request; {day} a calendar day
  the owner entered; {login_as}, {new_username}: the acting user's name, a new name;
  {spare_user} an account nobody logs in with, {group} a group the administrator may edit and
  {membership} the spare account's membership of it; {delegation} the spare account's
  delegation to council2 (nobody else's to withdraw); {member} the register entry of {admitted}.
JSON bodies and uploads may hold {bpmn} (the live diagram) and {forms} (its forms).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = (
    "anon", "applicant", "applicant2", "secretary", "council", "finance", "owner", "admin", "both"
)  # fmt: skip
COMMITTEE_COLUMNS = ("secretary", "council", "finance", "both")


def expect(rest: str, **cells: str) -> dict[str, str]:
    """An outcome per role: the named ones, `rest` for the others."""
    unknown = set(cells) - set(ROLES)
    assert not unknown, unknown
    return {role: cells.get(role, rest) for role in ROLES}


def api(outcomes: dict[str, str]) -> dict[str, str]:
    """The same outcomes through the JSON API, where nobody is sent to the login page."""
    return {role: "401" if out == "login" else out for role, out in outcomes.items()}


PUBLIC = expect("ok")
LOGGED_IN = expect("ok", anon="login")
OWNERS = expect("403", anon="login", owner="ok")
ADMINS = expect("403", anon="login", admin="ok")
COMMITTEE = expect("403", anon="login", **{r: "ok" for r in COMMITTEE_COLUMNS})
# The groups flagged `sees_dashboard` (the secretariat and the council, not finance).
DASHBOARD = expect("403", anon="login", secretary="ok", council="ok", both="ok")
APPLICANTS = expect("403", anon="login", applicant="ok", applicant2="ok", both="ok")
# An application of `applicant` (for `both` its own): its applicant and the committee see it.
VISIBLE = expect("ok", anon="login", applicant2="404", owner="404", admin="404")
AUDIT = expect("403", anon="login", applicant2="404", owner="404", admin="404", secretary="ok")
NOT_FOUND = expect("404", anon="login")
# The applicant's own controls on {app}: refused as asked for its own; nobody else finds it.
OWN_CASE_400 = expect("404", anon="login", applicant="400", both="400")
OWN_CASE_403 = expect("404", anon="login", applicant="403", both="403")
REGISTER = expect("403", anon="login", secretary="ok", both="ok")  # groups keeping the register

# Tasks of each lane and who may open them; another applicant's task is not even found.
REVIEW = expect("403", anon="login", secretary="ok")  # `both`: its own application → 403
VOTE = expect("403", anon="login", council="ok")
CONFIRM = expect("403", anon="login", finance="ok")
ISSUE = expect("403", anon="login", secretary="ok", both="ok")
APPLICANT_TASK = expect("404", anon="login", applicant="ok")
DONE = expect("403", anon="login", secretary="409", both="409")


@dataclass(frozen=True)
class Case:
    """One request, made once per role."""

    method: str
    url: str
    name: str
    expected: dict[str, str]
    form: dict | None = None  # HTML form fields (CSRF token added for the session)
    json: object | None = None  # JSON body (CSRF header added for session requests)
    files: dict | None = None  # multipart files {field: (bytes or "{placeholder}", name)}
    fresh_login: bool = False  # the request changes the session: a new one per role


def get(url: str, name: str, expected: dict[str, str]) -> Case:
    return Case("GET", url, name, expected)


def post(url: str, name: str, expected: dict[str, str], **body) -> Case:
    return Case("POST", url, name, expected, **body)


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n"
BUNDLE = {"bpmn": "{bpmn}", "forms": "{forms}"}
BPMN_UPLOAD = {"file": ("{bpmn}", "admission.bpmn")}

TASKS = (
    ("review", "{review}", REVIEW),
    ("vote", "{vote}", VOTE),
    ("confirm payment", "{confirm}", CONFIRM),
    ("issue certificate", "{issue}", ISSUE),
    ("application form", "{draft}", APPLICANT_TASK),
    ("declare payment", "{declare}", APPLICANT_TASK),
    ("completed", "{done}", DONE),
    ("unknown", "no-such-task", NOT_FOUND),
)
# Claiming is for tasks a lane shares: not an applicant's own form, nor a council member's
# vote, which is given to that member alone (so even its member cannot claim it).
COMMITTEE_TASKS = tuple(
    (name, guid, expect("403", anon="login") if out is VOTE else out)
    for name, guid, out in TASKS
    if out is not APPLICANT_TASK
)


CASES: tuple[Case, ...] = (
    # --- public, and every user -------------------------------------------------------------
    get("/", "home", PUBLIC),
    get("/favicon.ico", "favicon", PUBLIC),
    get("/static/app.css", "stylesheet", PUBLIC),
    get("/vendor/bootstrap/dist/css/bootstrap.min.css", "bootstrap", PUBLIC),
    get("/vendor/bootstrap/package.json", "outside dist", expect("404")),
    get("/health", "health", PUBLIC),
    get("/login", "page", PUBLIC),
    post("/login", "log in", PUBLIC, form={"username": "{login_as}"}, fresh_login=True),
    post("/logout", "log out", LOGGED_IN, form={}, fresh_login=True),
    get("/register", "page", PUBLIC),
    post(
        "/register",
        "new account",
        PUBLIC,
        form={
            "username": "{new_username}",
            "display_name": "新账户",
            "email": "{new_username}@example.com",
            "password": "long-enough-1",
            "confirm": "long-enough-1",
        },
        fresh_login=True,
    ),
    get("/lang/zh_CN", "chinese", PUBLIC),
    get("/board", "board", PUBLIC),
    get("/board/{notice_app}/objection", "on notice", PUBLIC),
    get("/board/{app}/objection", "in review", expect("404")),
    get("/board/{admitted}/objection", "notice over", expect("409")),
    post(
        "/board/{notice_app}/objection",
        "on notice",
        PUBLIC,
        form={"reason": "该申请人存在未披露的经营异常情况。", "contact": ""},
    ),
    post("/board/{app}/objection", "in review", expect("404"), form={"reason": "理由" * 10}),
    get("/verify/{cert}", "valid", PUBLIC),
    get("/verify/not-a-certificate", "unknown", expect("404")),
    get("/messages", "messages", LOGGED_IN),
    # --- applications -----------------------------------------------------------------------
    get("/cases", "list", LOGGED_IN),
    post("/cases", "start", APPLICANTS, form={}),
    # The process owner follows any case's progress (diagram, stages), never its data.
    get("/cases/{app}", "in review", {**VISIBLE, "owner": "ok"}),
    get("/cases/999999", "unknown", NOT_FOUND),
    # A new case's first form, before any case exists; the case is made by its first save.
    get("/cases/new", "first form", APPLICANTS),
    get("/cases/new?process={model}", "first form", APPLICANTS),
    post("/cases/new", "first save", APPLICANTS, form={"action": "draft"}),
    # The applicant's own controls: only on its own case (others do not even find it); {app}
    # is submitted, so not an empty draft, and a withdrawal without a reason is refused.
    post("/cases/{app}/withdraw", "no reason", OWN_CASE_400, form={"reason": ""}),
    post("/cases/999999/withdraw", "unknown", NOT_FOUND, form={"reason": "不再申请"}),
    post("/cases/{app}/delete", "not empty", OWN_CASE_403, form={}),
    post("/cases/999999/delete", "unknown", NOT_FOUND, form={}),
    get("/cases/{app}/diagram", "in review", {**VISIBLE, "owner": "ok"}),
    get("/cases/{app}/audit", "in review", AUDIT),
    get("/cases/{app}/audit.csv", "in review", AUDIT),
    get("/cases/{admitted}/certificate.pdf", "admitted", VISIBLE),
    get("/cases/{app}/certificate.pdf", "none yet", NOT_FOUND),
    # the addresses cases had at first redirect, whoever asks (the target decides)
    get("/applications", "old address", PUBLIC),
    get("/applications/{app}", "old address", PUBLIC),
    get("/api/v1/applications/{app}", "old address", PUBLIC),
    post("/api/v1/applications", "old address", PUBLIC, json={}),
    # Demo time: {app} waits on no timer, so no period can be ended (and others never see it).
    post("/cases/{app}/demo-timers/notice_period", "no such timer", NOT_FOUND, form={}),
    get("/documents/{doc}", "application form", VISIBLE),
    get("/documents/not-a-document", "unknown", NOT_FOUND),
    # --- committee --------------------------------------------------------------------------
    get("/inbox", "inbox", COMMITTEE),
    get("/members", "register", REGISTER),
    get("/members?q=北京&status=active&before=999", "register search", REGISTER),
    get("/members/{member}", "member", REGISTER),
    get(
        "/members/999999",
        "unknown member",
        expect("403", anon="login", secretary="404", both="404"),
    ),
    get("/members/export.csv", "export", REGISTER),
    get("/members/export.xlsx", "export", REGISTER),
    get("/membership", "my membership", LOGGED_IN),
    # The arrears list: the register's keepers; a group that confirms dues once it has some
    # (this world has none, so finance is refused here; tests/test_annual_dues.py shows it in).
    *(
        get(
            f"/dues/arrears{ext}",
            f"arrears{ext}",
            expect("403", anon="login", secretary="ok", both="ok"),
        )
        for ext in ("", ".csv", ".xlsx")
    ),
    get("/desk/cases", "all cases", COMMITTEE),
    get("/desk/cases?q=x&stage=review&overdue=1&mine=1&claimed_by=me", "filtered", COMMITTEE),
    get("/desk/done", "done", COMMITTEE),
    get("/desk/dashboard", "dashboard", DASHBOARD),
    get("/desk/dashboard/funnel.csv", "figure as CSV", DASHBOARD),
    get("/desk/dashboard/members_region.xlsx", "figure as XLSX", DASHBOARD),
    get("/desk/dashboard/dues_collection.csv", "dues figure as CSV", DASHBOARD),
    get(
        "/desk/dashboard/nothing.csv",
        "unknown figure",
        expect("403", anon="login", secretary="404", council="404", both="404"),
    ),
    post(
        "/inbox/bulk",
        "claim none",
        expect("403", anon="login", **{r: "ok" for r in COMMITTEE_COLUMNS}),
        form={"action": "claim"},
    ),
    *(get(f"/tasks/{guid}", name, out) for name, guid, out in TASKS),
    # A draft goes through the same checks as completing, and leaves the world as it was.
    *(post(f"/tasks/{g}", f"draft {n}", o, form={"action": "draft"}) for n, g, o in TASKS),
    post("/tasks/{fresh_review}", "complete review", REVIEW, form={"review_decision": "pass"}),
    *(post(f"/tasks/{guid}/claim", name, out, form={}) for name, guid, out in COMMITTEE_TASKS),
    *(post(f"/tasks/{guid}/unclaim", name, out, form={}) for name, guid, out in COMMITTEE_TASKS),
    # --- process owners ---------------------------------------------------------------------
    get("/models", "list", OWNERS),
    get("/admin/calendar", "page", OWNERS),
    post(
        "/admin/calendar",
        "add day",
        OWNERS,
        form={"day": "2031-03-03", "kind": "holiday", "note": "矩阵"},
    ),
    post("/admin/calendar/{day}/delete", "delete day", OWNERS, form={}),
    # --- the administrator --------------------------------------------------------------------
    get("/admin/accounts", "list", ADMINS),
    post("/admin/accounts/{spare_user}/active", "deactivate", ADMINS, form={"active": "0"}),
    post("/admin/accounts/{spare_user}/password", "reset", ADMINS, form={}),
    get("/admin/groups", "list", ADMINS),
    post("/admin/groups", "bad group", expect("403", anon="login", admin="400"), form={"key": "?"}),
    get("/admin/groups/{group}", "page", ADMINS),
    post("/admin/groups/{group}", "rename", ADMINS, form={"name_zh": "监事会", "name_en": "Board"}),
    post("/admin/groups/{group}/members", "add", ADMINS, form={"username": "applicant2"}),
    post("/admin/groups/{group}/members/{membership}/end", "end", ADMINS, form={}),
    get("/models/{model}/edit", "editor", OWNERS),
    get("/models/{model}/heatmap", "heatmap of the live version", OWNERS),
    get("/models/{model}/heatmap?version={number}", "heatmap of a version", OWNERS),
    get(
        "/models/{model}/heatmap?version=999999",
        "heatmap of no version",
        expect("403", anon="login", owner="404"),
    ),
    post("/models/{model}/validate", "live bundle", OWNERS, json=BUNDLE),
    post("/models/{model}/deploy", "unchanged bundle", OWNERS, json=BUNDLE),
    # The owner's save makes revision 1 of the working copy, which its discard then names.
    post(
        "/models/{model}/working-copy",
        "first save",
        OWNERS,
        json={**BUNDLE, "revision": 0, "base_version": None},
    ),
    post("/models/{model}/working-copy/discard", "discard", OWNERS, json={"revision": 1}),
    post(
        "/models/form-preview",
        "schema",
        OWNERS,
        json={"schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
    ),
    post("/models/{model}/import", "bpmn file", OWNERS, files=BPMN_UPLOAD),
    get("/models/{model}/versions/{number}/export.bpmn", "live", OWNERS),
    get("/models/{model}/versions/{number}/export.zip", "live", OWNERS),
    post("/models/import", "bpmn file", OWNERS, form={"target": "{model}"}, files=BPMN_UPLOAD),
    get("/models/{model}/migrate", "page", OWNERS),
    post("/models/{model}/migrate", "nothing chosen", OWNERS, form={"target": "{version_id}"}),
    # --- incidents: process owners and the secretariat see them, owners retry ------------------
    get("/incidents", "list", expect("403", anon="login", secretary="ok", owner="ok", both="ok")),
    post("/incidents/999999/retry", "unknown", expect("403", anon="login", owner="404"), form={}),
    # --- settings: personal API tokens ------------------------------------------------------
    get("/start", "catalogue", LOGGED_IN),
    post("/start/{model}", "admission", APPLICANTS, form={}),
    post("/start/no_such_process", "unknown", NOT_FOUND, form={}),
    get("/settings/delegation", "page", LOGGED_IN),
    post(
        "/settings/delegation",
        "without a substitute",
        expect("400", anon="login"),
        form={"substitute": "", "starts_on": "2031-01-01", "ends_on": "2031-01-05"},
    ),
    post("/settings/delegation/{delegation}/withdraw", "somebody else's", NOT_FOUND, form={}),
    get("/settings/tokens", "list", LOGGED_IN),
    post("/settings/tokens", "create", LOGGED_IN, form={"name": "矩阵"}),
    post("/settings/tokens/{own_token}/revoke", "own", LOGGED_IN, form={}),
    post("/settings/tokens/{foreign_token}/revoke", "somebody else's", NOT_FOUND, form={}),
    # --- JSON API: a Bearer token per role, anon sends none ---------------------------------
    get("/api/v1/me", "me", api(LOGGED_IN)),
    get("/api/v1/tasks", "list", api(COMMITTEE)),
    *(get(f"/api/v1/tasks/{guid}", name, api(out)) for name, guid, out in TASKS),
    *(post(f"/api/v1/tasks/{g}/claim", n, api(o), json={}) for n, g, o in COMMITTEE_TASKS),
    *(post(f"/api/v1/tasks/{g}/unclaim", n, api(o), json={}) for n, g, o in COMMITTEE_TASKS),
    post(
        "/api/v1/tasks/{fresh_review}/complete",
        "review",
        api(REVIEW),
        json={"data": {"review_decision": "pass"}},
    ),
    post(
        "/api/v1/tasks/{done}/complete",
        "completed",
        api(DONE),
        json={"data": {"review_decision": "pass"}},
    ),
    get("/api/v1/cases", "own", api(LOGGED_IN)),
    post("/api/v1/cases", "start", api(APPLICANTS), json={}),
    get("/api/v1/cases/{app}", "in review", api(VISIBLE)),
    get("/api/v1/cases/999999", "unknown", api(NOT_FOUND)),
    post(
        "/api/v1/cases/{draft_app}/documents",
        "application form",
        # the committee sees the application but does not file documents for it
        expect("403", anon="401", applicant="ok", applicant2="404", owner="404", admin="404"),
        form={"field": "application_form_scan"},
        files={"file": (PDF, "申请表.pdf")},
    ),
    get("/api/v1/catalogue", "startable", api(LOGGED_IN)),
    post("/api/v1/cases", "admission", api(APPLICANTS), json={"process": "{model}"}),
    get("/api/v1/notices", "board", PUBLIC),
    get("/api/v1/certificates/{cert}", "valid", PUBLIC),
    get("/api/v1/certificates/not-a-certificate", "unknown", expect("404")),
    get("/api/v1/models", "list", api(OWNERS)),
    get("/api/v1/models/{model}", "admission", api(OWNERS)),
    get("/api/v1/models/{model}/versions/{number}", "live", api(OWNERS)),
    get("/api/v1/openapi.json", "spec", PUBLIC),
)

# Stand-ins for the placeholders of URLs, good enough to find the route a URL reaches.
SAMPLE_VALUES = {
    "app": "1",
    "draft_app": "2",
    "admitted": "3",
    "notice_app": "4",
    "number": "1",
    "own_token": "1",
    "foreign_token": "2",
    "day": "2031-01-02",
    "spare_user": "1",
    "group": "1",
    "membership": "1",
    "delegation": "1",
    "member": "1",
    "model": "admission",
    "cert": "code",
    "doc": "token",
    **{name: "guid" for name in ("review", "vote", "confirm", "issue", "draft", "declare")},
    **{name: "guid" for name in ("done", "fresh_review")},
}
