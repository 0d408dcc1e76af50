"""(stub: the API core helper writes this module)"""

from flask import Blueprint

bp = Blueprint("settings", __name__)
