"""stub"""
from flask import Blueprint

bp = Blueprint("ag_ui", __name__)
