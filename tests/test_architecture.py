"""The layering holds: SpiffWorkflow only in the engine package, the engine free of Flask and
of the rest of the app, models and services free of blueprints."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "webapp"
WEB_LAYER = (
    "webapp.admin",
    "webapp.auth",
    "webapp.portal",
    "webapp.inbox",
    "webapp.board",
    "webapp.tasks",
    "webapp.certificates",
    "webapp.documents",
    "webapp.messages",
    "webapp.views",
    "webapp.errors",
    "webapp.cli",
    "webapp.cli_models",
    "webapp.cli_operations",
    "webapp.migration",
    "webapp.health",
)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", "."), path


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
            bad = [n for n in _imports(path) if _starts(n, WEB_LAYER)]
            assert bad == [], (module, bad)


def test_services_never_read_the_request():
    for module, path in _modules():
        if _starts(module, ["webapp.services"]):
            tree = ast.parse(path.read_text("utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "flask":
                    assert "request" not in {a.name for a in node.names}, module
