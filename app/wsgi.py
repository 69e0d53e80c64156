"""WSGI entry point of the service inside the package: ``gunicorn -c python:stagecast.gunicorn_conf
stagecast.wsgi:app`` (what ``stagecast serve`` runs); the repository's wsgi.py is the same."""

from . import create_app

app = create_app()
