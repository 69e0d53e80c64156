"""The review's approval question, in LangChain's human-in-the-loop format, and reading the answer.

The interrupt value is a LangChain ``HITLRequest`` (what ``HumanInTheLoopMiddleware`` sends and
LangChain's agent chat UI answers): one action request, ``approve_order``, with the order's
lines as its arguments, and a review config naming the decisions allowed. It also keeps the
review's own keys (``question``, ``order_value``, ``threshold``, ``options``) for clients that
read those.

Answers read (anything else is refused before the run starts, with :data:`EXPECTED`; never
taken as a rejection):

- ``{"decisions": [{"type": "approve"}]}``, ``{"decisions": [{"type": "reject", "message": ...}]}``,
  ``{"decisions": [{"type": "edit", "edited_action": {"name": "approve_order", "args":
  {"lines": [{"part_number", "quantity"}]}}}]}`` (approved with those quantities);
- ``"approve"``/``"reject"`` (and yes/no, 승인/거절), ``true``/``false``;
- ``{"approved": bool, "note": text}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .state import RequestLine

ACTION = "approve_order"
DECISIONS = ["approve", "edit", "reject"]
EXPECTED = (
    'Answer with {"decisions": [{"type": "approve"}]}, '
    '{"decisions": [{"type": "reject", "message": "..."}]}, '
    '{"decisions": [{"type": "edit", "edited_action": {"name": "approve_order", "args": {"lines": '
    '[{"part_number": "...", "quantity": 1}]}}}]}, "approve", "reject", true, false, '
    'or {"approved": true, "note": "..."}.'
)
_APPROVALS = {"approve", "approved", "yes", "y", "ok", "승인", "예"}
_REJECTIONS = {"reject", "rejected", "no", "n", "거절", "아니오", "아니요"}


class UnreadableAnswer(ValueError):
    """An answer to the approval question that is none of the accepted shapes."""


@dataclass(frozen=True)
class Decision:
    approved: bool
    note: str | None = None
    quantities: dict[str, int] = field(default_factory=dict)
    """An edit's quantities by part number (what the approver allowed instead)."""

    @property
    def fields(self) -> dict[str, Any]:
        return {"approved": self.approved, "note": self.note}


def approval_request(question: str, lines: list[RequestLine], value: int, threshold: int) -> dict[str, Any]:
    """The interrupt value: a LangChain ``HITLRequest`` plus the review's own keys."""
    args = {
        "lines": [{"part_number": line["part_number"], "quantity": line["recommended"]} for line in lines],
        "order_value": value,
    }
    return {
        "action_requests": [{"name": ACTION, "args": args, "description": question}],
        "review_configs": [{"action_name": ACTION, "allowed_decisions": DECISIONS}],
        "question": question,
        "order_value": value,
        "threshold": threshold,
        "options": ["approve", "reject"],
    }


def read_decision(answer: Any) -> Decision:
    """The approver's decision, or :class:`UnreadableAnswer` naming the shapes accepted."""
    if isinstance(answer, dict) and "decisions" in answer:
        return _hitl(answer["decisions"])
    if isinstance(answer, dict) and isinstance(answer.get("approved"), bool):
        note = answer.get("note")
        return Decision(answer["approved"], note if isinstance(note, str) else None)
    if isinstance(answer, bool):
        return Decision(answer)
    if isinstance(answer, str):
        word = answer.strip().lower()
        if word in _APPROVALS:
            return Decision(True)
        if word in _REJECTIONS:
            return Decision(False)
    raise UnreadableAnswer(f"The approval answer {_show(answer)} is not one this agent reads. {EXPECTED}")


def _hitl(decisions: Any) -> Decision:
    if not isinstance(decisions, list) or len(decisions) != 1 or not isinstance(decisions[0], dict):
        raise UnreadableAnswer(f"decisions must hold one decision, for {ACTION}. {EXPECTED}")
    decision = decisions[0]
    kind = decision.get("type")
    if kind == "approve":
        return Decision(True)
    if kind == "reject":
        message = decision.get("message")
        return Decision(False, message if isinstance(message, str) and message else None)
    if kind == "edit":
        return Decision(True, "Quantities edited by the approver.", _edited_quantities(decision))
    raise UnreadableAnswer(f"A decision's type is one of {DECISIONS}, not {_show(kind)}. {EXPECTED}")


def _edited_quantities(decision: dict[str, Any]) -> dict[str, int]:
    action = decision.get("edited_action")
    args = action.get("args") if isinstance(action, dict) else None
    lines = args.get("lines") if isinstance(args, dict) else None
    if not isinstance(lines, list) or not lines:
        raise UnreadableAnswer(f"An edit names the lines it allows: edited_action.args.lines. {EXPECTED}")
    quantities: dict[str, int] = {}
    for line in lines:
        part = line.get("part_number") if isinstance(line, dict) else None
        count = line.get("quantity") if isinstance(line, dict) else None
        if not isinstance(part, str) or not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise UnreadableAnswer(f"Each edited line is {{part_number, quantity >= 0}}. {EXPECTED}")
        quantities[part] = count
    return quantities


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
