"""(stub: the security helper writes this module)"""

from flask import Flask


def register(app: Flask) -> None:
    """Install the security headers."""
