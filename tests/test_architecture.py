"""The layering holds: SpiffWorkflow only in the engine package, the engine free of Flask and
of the rest of the app, models and services free of blueprints and of the request."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "webapp"

# What models and services may build on. Every other package or module under webapp/ is web layer
# (blueprints, CLI, error pages, security headers, …): the list below is derived from the tree, so
# a new blueprint is covered the day it is added.
DOMAIN = (
    "webapp.models",
    "webapp.services",
    "webapp.engine",
    "webapp.extensions",
    "webapp.config",
    "webapp.formschema",
    "webapp.roles",
    "webapp.text",
    "webapp.formats",
)
WEB_LAYER = tuple(
    sorted(
        name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").is_file()
        if (name := f"webapp.{path.stem}") not in DOMAIN
    )
)

# Flask names a service or model may use: the application (its config, logger, templates), never
# the request, the session, `g`, URL building for the current host, or responses.
FLASK_ALLOWED = {"current_app", "has_app_context"}
FLASK_LOGIN_ALLOWED = {"UserMixin"}  # the login mixin on User; never current_user


def _module_name(path: Path) -> str:
    name = path.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".")
    return name.removesuffix(".__init__")


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module an ImportFrom names, with relative imports resolved against `module`."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_module(name: str) -> bool:
    path = PACKAGE.parent / name.replace(".", "/")
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every module the file imports; `from webapp import formschema` counts as
    webapp.formschema, and `from webapp import create_app` as webapp (the app factory)."""
    module, is_package = _module_name(path), path.name == "__init__.py"
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, module, is_package)
            for alias in node.names:
                name = f"{source}.{alias.name}"
                names.add(name if _is_module(name) else source)
    return names


def _flask_uses(path: Path) -> list[str]:
    """Each import of flask or flask_login beyond the allowed names, as written in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            # `import flask` (or flask.globals) reaches flask.request: nothing to allow-list.
            found += [f"import {a.name}" for a in node.names if _starts(a.name, FLASK_PACKAGES)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            allowed = {"flask": FLASK_ALLOWED, "flask_login": FLASK_LOGIN_ALLOWED}.get(node.module)
            if _starts(node.module, FLASK_PACKAGES):
                found += [
                    f"from {node.module} import {a.name}"
                    for a in node.names
                    if allowed is None or a.name not in allowed
                ]
    return found


FLASK_PACKAGES = ("flask", "flask_login")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield _module_name(path), path


def _starts(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_only_the_engine_package_imports_spiffworkflow():
    offenders = [
        m
        for m, path in _modules()
        if not m.startswith("webapp.engine")
        and any(_starts(i, ["SpiffWorkflow"]) for i in _imports(path))
    ]
    assert offenders == []
    assert any(
        _starts(i, ["SpiffWorkflow"])
        for m, p in _modules()
        if m.startswith("webapp.engine")
        for i in _imports(p)
    )


def test_engine_imports_neither_flask_nor_the_web_app():
    for module, path in _modules():
        if not module.startswith("webapp.engine"):
            continue
        for name in _imports(path):
            assert not _starts(name, ["flask", "flask_babel", "flask_login", "werkzeug"]), module
            if _starts(name, ["webapp"]):
                assert _starts(name, ["webapp.engine"]), (module, name)


def test_models_and_services_never_import_a_blueprint():
    for module, path in _modules():
        if _starts(module, ["webapp.models", "webapp.services"]):
            # "webapp" alone is the app factory, which wires the web layer together.
            bad = [n for n in _imports(path) if n == "webapp" or _starts(n, WEB_LAYER)]
            assert bad == [], (module, bad)


def test_the_web_layer_is_everything_but_the_domain():
    assert {"webapp.api", "webapp.settings", "webapp.security", "webapp.admin"} <= set(WEB_LAYER)
    assert not set(WEB_LAYER) & set(DOMAIN)
    for name in DOMAIN:  # a stale entry would let a new web module of that name through
        assert _is_module(name), name


def test_models_and_services_never_read_the_request():
    offenders = {
        module: uses
        for module, path in _modules()
        if _starts(module, ["webapp.models", "webapp.services"]) and (uses := _flask_uses(path))
    }
    assert offenders == {}


# --- procedures are data ----------------------------------------------------------------------

ROOT = PACKAGE.parent
_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# Calls whose text argument is the kind of object not found or the reason of a refusal: the
# platform's words ("application", "certificate", "notice"), whatever a diagram calls its stages.
_ERROR_KINDS = {"NotFound", "Forbidden", "NoticeClosed"}


def _procedure_names() -> dict[str, str]:
    """Every process key, lane, group, stage and member type the procedures in
    workflows/ and forms/ name, each with what it is."""
    import json

    from lxml import etree

    from webapp.roles import APPLICANT, APPLICANT_LANES

    names: dict[str, str] = {}
    for path in sorted((ROOT / "workflows").glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for process in root.iter(f"{{{_BPMN}}}process"):
            names[process.get("id")] = f"process key ({path.name})"
        for lane in root.iter(f"{{{_BPMN}}}lane"):
            names[lane.get("name")] = f"lane ({path.name})"
        for prop in root.iter(f"{{{_SPIFF}}}property"):
            # (Message names are left out: the audit's own actions, e.g. certificate_issued,
            # share them; a message is only ever named by a diagram since notify.EVENTS went.)
            if prop.get("name") in ("stage", "notifyRole", "notifyOnObjectionRole"):
                names[prop.get("value")] = f"{prop.get('name')} ({path.name})"
    for group in json.loads((ROOT / "workflows" / "groups.json").read_text("utf-8"))["groups"]:
        for name in (group["key"], group["zh"], group["en"]):
            names[name] = "group (workflows/groups.json)"
    for path in sorted((ROOT / "forms").glob("*/member_types.data.json")):
        for key in json.loads(path.read_text("utf-8")):
            names[key] = f"member type ({path.relative_to(ROOT)})"
    # The person a case is about is the platform's own lane, whatever the procedure.
    for platform in APPLICANT_LANES | {APPLICANT}:
        names.pop(platform, None)
    return names


def _named_texts(tree: ast.AST):
    """String constants that act as values in the code: not docstrings, dict keys, subscripts,
    .get() keys (data fields), or the kind an error names."""
    skipped = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skipped.add(id(body[0].value))
        if isinstance(node, ast.Dict):
            skipped.update(id(k) for k in node.keys if k is not None)
        elif isinstance(node, ast.Subscript):
            skipped.add(id(node.slice))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _ERROR_KINDS or name in ("get", "pop", "setdefault"):
                skipped.update(id(a) for a in node.args[:1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in skipped:
                yield node


def test_no_module_names_a_procedure_a_lane_a_stage_or_a_member_type():
    """Procedures are data: what a diagram, its forms or the groups file names never appears as
    a value in the app's code. (The scan finds what was planted: see the test below.)"""
    names = _procedure_names()
    assert {"admission", "review", "secretariat", "理事会", "individual"} <= set(names)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in _named_texts(ast.parse(path.read_text("utf-8"))):
            if node.value in names:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.append(f"{where} names {node.value!r}, a {names[node.value]}")
    assert not found, "\n".join(found)


def test_the_scan_finds_a_planted_name():
    planted = ast.parse('if task.stage == "review" or lane in ("理事会",):\n    send("admission")')
    names = _procedure_names()
    assert sorted(n.value for n in _named_texts(planted) if n.value in names) == [
        "admission",
        "review",
        "理事会",
    ]
