"""``/`` (ask the agent and watch it work) and ``/runs`` (live and recent runs)."""

from __future__ import annotations

from flask import Response, make_response, render_template

from app.config import DEFAULT_GRAPHS
from app.extension import stagecast
from app.web import bp

# The default agent's stages (DESIGN.md, "Wire contract": progress stage names of the
# default agent). The dashboard shows them as pending before the first event.
DEFAULT_STAGES = ("query_analysis", "data_retrieval", "response_generation")
DEFAULT_QUESTION = "ABC-12345 부품의 재고는?"
EXAMPLE_QUESTIONS = (
    DEFAULT_QUESTION,
    "ABC-12345 월별 사용량 추이 보여줘",
    "Which parts are below their reorder point?",
    "How should hydraulic pump seal kits be stored?",
)

@bp.get("/")
def dashboard() -> Response:
    return _page("dashboard.html", examples=EXAMPLE_QUESTIONS, default_question=DEFAULT_QUESTION)


@bp.get("/runs")
def runs_monitor() -> Response:
    return _page("runs.html")


def _page(template: str, **context: object) -> Response:
    settings = stagecast().settings
    bundled = settings.graphs.get(settings.default_agent) == DEFAULT_GRAPHS["chat"]
    response = make_response(
        render_template(
            template,
            default_agent=settings.default_agent,
            stages=DEFAULT_STAGES if bundled else (),
            writer="openai-compatible" if settings.llm_enabled else "offline",
            auth_required=settings.auth_enabled,
            **context,
        )
    )
    # The CSP and the other security headers are added to every response (app/security.py).
    response.headers["Cache-Control"] = "no-cache"
    return response
