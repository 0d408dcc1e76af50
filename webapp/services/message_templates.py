"""Message templates a process model ships beside its forms, `messages/<name>.<language>.txt`:
plain Jinja that process owners write, so compiled and rendered in a sandbox, and checked when
the model is validated. The diagram's `notify` properties name them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from flask import current_app, has_app_context
from jinja2 import ChainableUndefined, DictLoader, TemplateSyntaxError, nodes
from jinja2.meta import find_referenced_templates
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from webapp.config import Config
from webapp.engine import N_, Problem

FOLDER = "messages/"
FILE_NAME = re.compile(r"messages/([A-Za-z0-9][A-Za-z0-9_\-]{0,80})\.([a-z]{2})\.txt")
# What a `notify` property may name: a file stem, never a path.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,80}")
# Platform messages a model need not ship but may replace: not about any one procedure.
PLATFORM_DIR = Path(__file__).resolve().parent.parent / "templates" / "mail"
# Bounds on what one expression may build: a mail is a few kilobytes.
MAX_REPEAT = 10_000
MAX_EXPONENT = 64

MISSING = N_(
    "The message %(file)s does not exist: add it in the Messages tab (one file per language), "
    "or correct the property notify."
)
BAD_NAME = N_(
    "The property notify names %(name)s, which cannot be a message: use letters, digits, _ and "
    "- only."
)
SYNTAX = N_("The message %(file)s cannot be read, line %(line)s: %(detail)s")
UNSAFE = N_(
    "The message %(file)s reaches for %(attribute)s on line %(line)s, which messages may not "
    "read: use the variables the message is given."
)
INCLUDE_MISSING = N_(
    "The message %(file)s includes %(name)s, which does not exist as %(missing)s: add it or "
    "remove the include."
)
NOT_TEXT = N_("The message %(file)s is not text.")


class MessageSandbox(SandboxedEnvironment):
    """Jinja's sandbox (no private attributes, no unsafe calls), also refusing the arithmetic
    that would build a huge value from a short expression."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        """Multiply and raise only within bounds a mail can use."""
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_EXPONENT:
            raise SecurityError("exponent too large for a message")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int):
                    if count > MAX_REPEAT or len(seq) * max(count, 0) > MAX_REPEAT * 10:
                        raise SecurityError("repetition too large for a message")
        return super().call_binop(context, operator, left, right)


def file_name(name: str, language: str) -> str:
    """Where a model keeps a message in one language."""
    return f"{FOLDER}{name}.{language}.txt"


def is_message_file(name: str) -> bool:
    """Whether a model file is a message template (text) rather than JSON."""
    return name.startswith(FOLDER)


def language_of(locale: str) -> str:
    """The language part of a locale: zh_CN → zh."""
    return locale.replace("-", "_").split("_")[0].lower()


def languages() -> list[str]:
    """The languages every message a diagram names must be written in."""
    # Validation also runs outside an app (the engine's tests, the shell before set-up).
    configured = current_app.config["LANGUAGES"] if has_app_context() else Config.LANGUAGES
    return list(dict.fromkeys(language_of(x) for x in configured))


def environment(files: Mapping[str, object], language: str) -> MessageSandbox:
    """A sandbox whose includes are the model's messages in one language, by name."""
    sources = {}
    for name, text in files.items():
        match = FILE_NAME.fullmatch(name)
        if match and match.group(2) == language and isinstance(text, str):
            sources[match.group(1)] = text
    # Chainable: a message may test `vote_result.passed` when no vote was ever counted.
    return MessageSandbox(
        loader=DictLoader(sources), autoescape=False, undefined=ChainableUndefined
    )


def has_platform_message(name: str) -> bool:
    """Whether the platform itself has a message of this name (in webapp/templates/mail)."""
    return bool(NAME.fullmatch(name or "")) and (PLATFORM_DIR / f"{name}.txt").is_file()


def problems(uses: Iterable, files: Mapping[str, object]) -> list[Problem]:
    """Every problem of a model's messages: each `notify` (element id, name, value) must have
    a template in every language, and every template must compile in the sandbox."""
    found = []
    for use in uses:
        name = use.value.strip()
        if not NAME.fullmatch(name):
            found.append(Problem(use.element_id, use.element_name, BAD_NAME, {"name": name}))
            continue
        for language in languages():
            wanted = file_name(name, language)
            if wanted not in files and not has_platform_message(name):
                found.append(Problem(use.element_id, use.element_name, MISSING, {"file": wanted}))
    for path, text in sorted(files.items()):
        match = FILE_NAME.fullmatch(path)
        if match:
            found += _template_problems(path, text, match.group(2), files)
    return found


def _template_problems(path: str, text, language: str, files) -> list[Problem]:
    if not isinstance(text, str):
        return [Problem("", path, NOT_TEXT, {"file": path})]
    env = environment(files, language)
    try:
        tree = env.parse(text)
    except TemplateSyntaxError as err:
        params = {"file": path, "line": err.lineno, "detail": err.message or ""}
        return [Problem("", path, SYNTAX, params)]
    found = []
    for node, attribute in _private_reads(tree):
        params = {"file": path, "attribute": attribute, "line": node.lineno}
        found.append(Problem("", path, UNSAFE, params))
    for name in find_referenced_templates(tree):
        if name is not None and file_name(name, language) not in files:
            params = {"file": path, "name": name, "missing": file_name(name, language)}
            found.append(Problem("", path, INCLUDE_MISSING, params))
    return found


def _private_reads(tree) -> Iterable[tuple[nodes.Node, str]]:
    """Attribute names starting with _ however spelled: `x.__class__`, `x['_y']`,
    `x|attr('__class__')`. The sandbox refuses them at run time too; refused here, the owner
    learns of it before deploying."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            names = [node.attr]
        elif isinstance(node, nodes.Getitem):
            names = [node.arg.value] if isinstance(node.arg, nodes.Const) else []
        elif node.name == "attr":
            names = [a.value for a in node.args if isinstance(a, nodes.Const)]
        else:
            names = []
        for name in names:
            if isinstance(name, str) and name.startswith("_"):
                yield node, name
