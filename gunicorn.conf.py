"""gunicorn settings for ``make run``: the package's own (app/gunicorn_conf.py), which
``stagecast serve`` uses from an installed package too."""

from app.gunicorn_conf import *  # noqa: F403  (gunicorn reads this module's names)
