"""Reading a free-text parts request: which parts, how many of each, and what for.

Deterministic: part numbers come from the knowledge base's analyser; a quantity is the
number nearest to its part number, preferring one written with a unit or a multiplication
sign ("40개", "40 units", "40 x"); the purpose comes from keywords in either language.
"""

from __future__ import annotations

import re

from ....knowledge.store import InventoryStore
from .state import RequestLine

_NUMBER = re.compile(
    r"(?<![A-Za-z0-9-])(\d[\d,]*)"
    r"(?:(\s*(?:개|세트|박스|ea|units?|pcs|sets?|boxes?|x|×))(?![A-Za-z])|(?![A-Za-z0-9-]))",
    re.IGNORECASE,
)
# A number that names a place or a machine, not a quantity: "line 3", "#2", "3라인", "2호기".
_NOT_A_QUANTITY_BEFORE = re.compile(r"(?:line|no\.|#|machine|press)\s*$", re.IGNORECASE)
_NOT_A_QUANTITY_AFTER = re.compile(r"^\s*(?:라인|호기|번|line)")

PURPOSE_KEYWORDS: dict[str, tuple[str, ...]] = {
    "emergency": ("urgent", "emergency", "breakdown", "stopped", "asap", "긴급", "고장", "정지", "멈"),
    "maintenance": (
        "maintenance",
        "overhaul",
        "repair",
        "replace",
        "inspection",
        "정비",
        "수리",
        "교체",
        "점검",
    ),
    "project": ("project", "installation", "install", "new line", "프로젝트", "설치", "신규"),
    "replenishment": ("restock", "replenish", "reorder", "stock up", "보충", "재주문", "비축"),
}


def request_lines(
    text: str, part_numbers: list[str], store: InventoryStore
) -> tuple[list[RequestLine], list[str]]:
    """The catalogue parts of the request with their quantities, and the unknown part numbers."""
    known = store.parts(part_numbers)
    numbers = [
        (match.start(), match.end(), int(match.group(1).replace(",", "")), bool(match.group(2)))
        for match in _NUMBER.finditer(text)
        if not _NOT_A_QUANTITY_BEFORE.search(text[: match.start()])
        and not _NOT_A_QUANTITY_AFTER.match(text[match.end() :])
    ]
    lines: list[RequestLine] = []
    for part_number in part_numbers:
        part = known.get(part_number)
        if part is None:
            continue
        position = text.upper().find(part_number)
        count = _nearest_quantity(numbers, position, position + len(part_number))
        lines.append(
            RequestLine(
                part_number=part_number,
                name=part.name_en,
                unit=part.unit,
                unit_price=part.unit_price,
                quantity=count,
                recommended=count,
            )
        )
    return lines, [number for number in part_numbers if number not in known]


def _nearest_quantity(numbers: list[tuple[int, int, int, bool]], start: int, end: int) -> int:
    def distance(item: tuple[int, int, int, bool]) -> int:
        return item[0] - end if item[0] >= end else start - item[1]

    candidates = [item for item in numbers if item[2] > 0 and (item[1] <= start or item[0] >= end)]
    qualified = [item for item in candidates if item[3]]
    pool = qualified or candidates
    return min(pool, key=distance)[2] if pool else 1


def purpose_of(text: str) -> str:
    lowered = text.lower()
    for purpose, words in PURPOSE_KEYWORDS.items():
        if any(word in lowered for word in words):
            return purpose
    return "unspecified"
