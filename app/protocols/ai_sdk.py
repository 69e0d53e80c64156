"""stub"""
from flask import Blueprint

bp = Blueprint("ai_sdk", __name__)
