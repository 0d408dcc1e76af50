"""Reading a BPMN file as plain XML: a safe parser and the few helpers the checks share.

The checks look at the raw XML as well as at SpiffWorkflow's parse, because the parser stops at
the first error and silently skips elements it does not know or never reaches.
"""

from __future__ import annotations

from lxml import etree

from webapp.engine.types import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
NS = {"bpmn": BPMN, "spiffworkflow": SPIFF, "camunda": CAMUNDA, "zeebe": ZEEBE}

# Uploaded files are untrusted: no entity expansion, no DTD, no network.
_PARSER_OPTIONS = dict(
    resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False, remove_comments=True
)


def parse(bpmn: bytes) -> etree._Element:
    """The document's root element; raises etree.XMLSyntaxError for a file that is not XML."""
    return etree.fromstring(bpmn, etree.XMLParser(**_PARSER_OPTIONS))


def q(tag: str) -> str:
    """The Clark name of a BPMN tag: q('task') == '{…/MODEL}task'."""
    return f"{{{BPMN}}}{tag}"


def local(element) -> str:
    """The tag of a BPMN element without its namespace ('' for anything else)."""
    tag = element.tag
    if isinstance(tag, str) and tag.startswith(f"{{{BPMN}}}"):
        return tag[len(BPMN) + 2 :]
    return ""


def label(element) -> str:
    """The element's name on one line, as the modeler shows it."""
    return " ".join((element.get("name") or "").split())


def text(element) -> str:
    """The element's text, stripped ('' when it has none)."""
    return (element.text or "").strip() if element is not None else ""


def problem(element, template: str, **params) -> Problem:
    """A problem about one element of the diagram."""
    if element is None:
        return Problem("", "", template, params)
    return Problem(element.get("id") or "", label(element), template, params)


def xpath(element, path: str) -> list:
    return element.xpath(path, namespaces=NS)


def processes(root) -> list:
    """The top-level processes of the document (pools with their contents)."""
    return xpath(root, "./bpmn:process")


def is_executable(process) -> bool:
    # SpiffWorkflow's own rule: a missing attribute counts as executable, anything but "true" not.
    return process.get("isExecutable", "true") == "true"


def by_id(root) -> dict[str, etree._Element]:
    """Every element with an id, by id (the first one wins if the file repeats an id)."""
    found: dict[str, etree._Element] = {}
    for element in root.iter():
        if isinstance(element.tag, str) and element.get("id"):
            found.setdefault(element.get("id"), element)
    return found


def event_definitions(element) -> list:
    """The event definitions of an event (ignoring referenced global definitions)."""
    return [child for child in element if local(child).endswith("EventDefinition")]
