"""The parts-request review graph: classify -> purpose -> policy checks (in parallel) ->
refine -> approval (``interrupt()`` above the order-value limit) -> recommend.

Offline and deterministic, like the default agent's offline writer: every step reads the
bundled inventory and policies. The policy checks run as parallel branches (``Send``), and
each reports its own progress with ``step`` and ``total``.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Overwrite, Send, interrupt

from ....knowledge.labels import money, quantity
from ....knowledge.sources import document_source
from ..streaming import stream_text
from . import prompts
from .approval import approval_request, read_decision
from .context import ReviewContext
from .policies import CHECKS, Rules, order_value, run_check, usage_cap
from .reading import purpose_of, request_lines
from .state import CheckTask, RequestLine, ReviewState

DESCRIPTION = (
    "Reviews a parts request: classifies it, finds its purpose, checks it against the purchase, "
    "reorder, usage, lead-time and hazardous-materials policies in parallel, refines the "
    "quantities, asks a human to approve orders above the approval limit, and recommends."
)

STAGE_MESSAGES: dict[str, tuple[str, str]] = {
    "classify": ("Reading the request", "Request classified"),
    "purpose": ("Identifying the purpose", "Purpose identified"),
    "policy_check": ("Checking policies", "Policy checked"),
    "refine": ("Refining the request", "Request refined"),
    "approval": ("Checking the approval limit", "Approval settled"),
    "recommend": ("Writing the recommendation", "Recommendation written"),
}

_POLICY_DOCUMENTS = {
    "emergency": "emergency purchase order lead time",
    "maintenance": "purchase order approval limits",
    "project": "purchase order approval limits",
    "replenishment": "reorder point safety stock",
    "unspecified": "purchase order approval limits",
}


def classify(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    knowledge = runtime.context.knowledge
    analysis = knowledge.analyze(state["question"])
    lines, unknown = request_lines(state["question"], analysis.part_numbers, knowledge.store)
    return {
        "language": analysis.language,
        "kind": "none" if not lines else "single" if len(lines) == 1 else "multi",
        "lines": lines,
        "unknown_parts": unknown,
        "findings": Overwrite([]),  # this turn's checks only
        "decision": {},
        "table_data": None,
        "sources": [],
    }


def purpose(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    found = purpose_of(state["question"])
    index = runtime.context.knowledge.index
    hits = index.search(_POLICY_DOCUMENTS[found], limit=2)
    sources = [
        document_source(hit.document, hit.score, index.best_sentences(hit.document, state["question"], 1))
        for hit in hits
    ]
    return {"purpose": found, "sources": [source.model_dump() for source in sources]}


def fan_out(state: ReviewState) -> list[Send] | Literal["recommend"]:
    """One parallel branch per policy; a request with no known part goes straight to the answer."""
    if not state.get("lines"):
        return "recommend"
    total = len(CHECKS)
    return [
        Send(
            "policy_check",
            CheckTask(
                check=check,
                step=step,
                total=total,
                lines=state["lines"],
                purpose=state["purpose"],
                language=state["language"],
            ),
        )
        for step, check in enumerate(CHECKS, 1)
    ]


def policy_check(task: CheckTask, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    writer = get_stream_writer()
    title = prompts.CHECK_TITLES[task["check"]]["en"]
    progress = {
        "node": "policy_check",
        "stage": f"policy:{task['check']}",
        "step": task["step"],
        "total": task["total"],
    }
    writer(
        {
            **progress,
            "status": "in_progress",
            "message": prompts.STAGE_TEXT["check_started"].format(title=title),
        }
    )
    finding = run_check(task, _rules(runtime.context))
    writer(
        {
            **progress,
            "status": "completed",
            "message": prompts.STAGE_TEXT["check_done"].format(title=title, verdict=finding["verdict"]),
        }
    )
    return {"findings": [finding]}


def refine(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    """Trim each quantity to a few months of use when the usage check warned."""
    rules = _rules(runtime.context)
    trim = any(f["check"] == "usage" and f["verdict"] == "warn" for f in state["findings"])
    lines = [
        RequestLine(
            **{
                **line,
                "recommended": min(line["quantity"], usage_cap(rules, line)) if trim else line["quantity"],
            }
        )
        for line in state["lines"]
    ]
    return {"lines": lines, "order_value": order_value(lines)}


def approval(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    threshold = runtime.context.approval_threshold
    value = state["order_value"]
    if value <= threshold:
        return {"decision": {"approved": True, "by": "limit", "note": None}}
    language = state["language"]
    question = prompts.APPROVAL_QUESTION[language].format(
        value=money(value, language), limit=money(threshold, language)
    )
    answer = interrupt(approval_request(question, state["lines"], value, threshold))
    decision = read_decision(answer)
    update: dict[str, Any] = {"decision": {"by": "human", **decision.fields}}
    if decision.quantities:
        lines = [
            RequestLine(
                **{**line, "recommended": decision.quantities.get(line["part_number"], line["recommended"])}
            )
            for line in state["lines"]
        ]
        update |= {"lines": lines, "order_value": order_value(lines)}
    return update


def recommend(state: ReviewState, runtime: Runtime[ReviewContext]) -> dict[str, Any]:
    context = runtime.context
    language = state["language"]
    lines = state.get("lines") or []
    if not lines:
        unknown = state.get("unknown_parts") or []
        text = prompts.NO_PARTS[language].format(unknown=f" ({', '.join(unknown)})" if unknown else "")
        return {
            "messages": [stream_text(text, context.control, context.offline_token_delay_s)],
            "confidence_score": 0.0,
        }
    decision = state["decision"]
    verdict = "limit" if decision["by"] == "limit" else "approved" if decision["approved"] else "rejected"
    changes = "".join(
        prompts.TRIMMED[language].format(
            part=line["part_number"],
            requested=quantity(line["quantity"], line["unit"], language),
            recommended=quantity(line["recommended"], line["unit"], language),
        )
        for line in lines
        if line["recommended"] != line["quantity"]
    )
    warnings = [f["detail"] for f in state["findings"] if f["verdict"] == "warn"]
    text = (
        prompts.RECOMMENDATION[language]
        .format(
            purpose=prompts.PURPOSES[state["purpose"]][language],
            count=len(lines),
            verdict=prompts.VERDICTS[verdict][language],
            value=money(state["order_value"], language),
            changes=changes,
            warnings=prompts.WARNINGS_INTRO[language] + " ".join(warnings) if warnings else "",
        )
        .strip()
    )
    if decision.get("note"):
        text += prompts.NOTE[language].format(note=decision["note"])
    table = {
        "title": prompts.TABLE_TITLE[language],
        "columns": prompts.TABLE_COLUMNS[language],
        "rows": [
            [
                line["part_number"],
                line["name"],
                line["quantity"],
                line["recommended"],
                line["unit_price"],
                line["unit_price"] * line["recommended"],
            ]
            for line in lines
        ],
    }
    known = len(lines) / (len(lines) + len(state.get("unknown_parts") or []))
    return {
        "messages": [stream_text(text, context.control, context.offline_token_delay_s)],
        "table_data": table,
        "confidence_score": round(known, 2),
    }


def _rules(context: ReviewContext) -> Rules:
    return Rules(knowledge=context.knowledge, approval_threshold=context.approval_threshold)


builder = StateGraph(ReviewState, context_schema=ReviewContext)
builder.add_node("classify", classify)
builder.add_node("purpose", purpose)
# A Send target takes its task, not the graph's state; LangGraph's overloads type only
# state-shaped nodes.
builder.add_node("policy_check", policy_check)  # type: ignore[call-overload]
builder.add_node("refine", refine)
builder.add_node("approval", approval)
builder.add_node("recommend", recommend)
builder.add_edge(START, "classify")
builder.add_edge("classify", "purpose")
builder.add_conditional_edges("purpose", fan_out, ["policy_check", "recommend"])
builder.add_edge("policy_check", "refine")
builder.add_edge("refine", "approval")
builder.add_edge("approval", "recommend")
builder.add_edge("recommend", END)

graph = builder.compile(name="review")
