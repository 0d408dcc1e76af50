"""(stub: the API core helper writes this module)"""

from webapp.api import bp  # noqa: F401
