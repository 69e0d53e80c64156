"""``/`` (ask the agent and watch it work) and ``/runs`` (live and recent runs)."""

from __future__ import annotations

from flask import Response, make_response, render_template

from ..state import stagecast
from . import bp

DEFAULT_QUESTION = "ABC-12345 부품의 재고는?"
# (question, the agent that answers it): a chip switches the agent picker to its agent.
EXAMPLE_QUESTIONS = (
    (DEFAULT_QUESTION, "chat"),
    ("ABC-12345 월별 사용량 추이 보여줘", "chat"),
    ("Which parts are below their reorder point?", "chat"),
    ("How should hydraulic pump seal kits be stored?", "chat"),
    ("Request 120 x ABC-12345 for the line 3 pump overhaul", "review"),
)


@bp.get("/")
def dashboard() -> Response:
    registry = stagecast().manager.agents
    # The picker lists the served agents; each one's stages show as pending before a run's events.
    agents = [agent.describe() for agent in registry.agents.values()]
    examples = [(question, agent) for question, agent in EXAMPLE_QUESTIONS if agent in registry.agents]
    return _page("dashboard.html", agents=agents, examples=examples, default_question=DEFAULT_QUESTION)


@bp.get("/runs")
def runs_monitor() -> Response:
    return _page("runs.html")


def _page(template: str, **context: object) -> Response:
    state = stagecast()
    settings = state.settings
    response = make_response(
        render_template(
            template,
            # The service's own static route, or the assets beside the pages in a host app.
            static_endpoint=state.endpoint("web_assets.static") if state.endpoint_prefix else "static",
            api_path=state.url_prefix,
            default_agent=settings.default_agent,
            writer="openai-compatible" if settings.llm_enabled else "offline",
            auth_required=settings.auth_enabled,
            **context,
        )
    )
    # The CSP and the other security headers are added to every response (app/security.py).
    response.headers["Cache-Control"] = "no-cache"
    return response
