"""(stub: the API surface helper writes this module)"""

from webapp.api import bp  # noqa: F401
