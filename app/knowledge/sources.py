"""Retrieved records and documents rendered as ``Source`` items for clients.

Database records score 1.0 (an exact lookup); documents carry their BM25 score.
"""

from __future__ import annotations

from typing import Any, Literal

from . import labels
from .documents import Document
from .labels import pick
from .models import Language, Source

Record = dict[str, Any]
PartRecord = Literal["part", "stock", "usage"]

_TABLES: dict[PartRecord, str] = {"stock": "stock_levels", "usage": "monthly_usage", "part": "parts"}


def part_source(part: Record, record: PartRecord, language: Language, as_of: str) -> Source:
    """One part's details, stock by warehouse, or monthly usage."""
    number, unit = part["part_number"], part["unit"]

    def qty(value: float) -> str:
        return labels.quantity(value, unit, language)

    if record == "stock":
        levels = ", ".join(f"{labels.name(lv, language)} {qty(lv['quantity'])}" for lv in part["stock"])
        suffix = pick(language, "창고별 재고", "stock by warehouse")
        content = pick(
            language,
            f"총 재고 {qty(part['total_stock'])} ({levels}); "
            f"재주문 기준점 {qty(part['reorder_point'])}; 기준일 {as_of}",
            f"total stock {qty(part['total_stock'])} ({levels}); "
            f"reorder point {qty(part['reorder_point'])}; as of {as_of}",
        )
    elif record == "usage":
        usage = part["usage"]
        series = ", ".join(f"{m} {q}" for m, q in zip(usage["months"], usage["quantities"], strict=True))
        total, average = labels.number(usage["total"]), labels.number(usage["average"])
        suffix = pick(language, "월별 사용량", "monthly usage")
        content = pick(
            language,
            f"월별 사용량({labels.unit_label(unit, language)}): {series}; 합계 {total}, 월평균 {average}",
            f"monthly usage ({labels.unit_label(unit, language)}): {series}; "
            f"total {total}, average {average}",
        )
    else:
        supplier = part["supplier_ko"] if language == "ko" else part["supplier_en"]
        category = labels.category(part["category"], language)
        price = labels.money(part["unit_price"], language)
        suffix = pick(language, "부품 정보", "part details")
        content = pick(
            language,
            f"분류 {category}; 단가 {price}; 공급업체 {supplier} "
            f"(리드타임 {part['lead_time_days']}일); 재주문 기준점 {qty(part['reorder_point'])}",
            f"category {category}; unit price {price}; supplier {supplier} "
            f"(lead time {part['lead_time_days']} days); "
            f"reorder point {qty(part['reorder_point'])}",
        )
    return Source(
        id=f"sql:{record}:{number}",
        title=f"{number} {labels.name(part, language)} {suffix}",
        content=content,
        metadata={"kind": "database", "table": _TABLES[record], "part_number": number},
        score=1.0,
    )


def low_stock_source(items: list[Record], language: Language) -> Source:
    return Source(
        id="sql:low_stock",
        title=pick(language, "재주문 기준점 미만 부품", "Parts below reorder point"),
        content="; ".join(
            f"{i['part_number']} {labels.number(i['total'])}/{labels.number(i['reorder_point'])}"
            for i in items
        ),
        metadata={"kind": "database", "table": "stock_levels", "count": len(items)},
        score=1.0,
    )


def warehouse_source(summary: Record, language: Language, as_of: str) -> Source:
    value = labels.money(summary["stock_value"], language)
    return Source(
        id=f"sql:warehouse:{summary['code']}",
        title=pick(language, f"{summary['name_ko']} 창고 재고 현황", f"{summary['name_en']} warehouse stock"),
        content=pick(
            language,
            f"재고 보유 {summary['parts_in_stock']}개 품목, 재고 없음 "
            f"{summary['parts_out_of_stock']}개 품목, 재고 금액 {value}; 기준일 {as_of}",
            f"{summary['parts_in_stock']} parts in stock, {summary['parts_out_of_stock']} at "
            f"zero, stock value {value}; as of {as_of}",
        ),
        metadata={"kind": "database", "table": "stock_levels", "warehouse": summary["code"]},
        score=1.0,
    )


def usage_overview_source(months: list[str], values: list[int], language: Language) -> Source:
    return Source(
        id="sql:usage_overview",
        title=pick(language, "월별 부품 사용 금액", "Parts usage value by month"),
        content=", ".join(f"{m} {labels.money(v, language)}" for m, v in zip(months, values, strict=True)),
        metadata={"kind": "database", "table": "monthly_usage"},
        score=1.0,
    )


def document_source(document: Document, score: float, sentences: list[str]) -> Source:
    """A ranked document; ``sentences`` are the excerpt shown to clients."""
    return Source(
        id=f"doc:{document.id}",
        title=document.title,
        content=" ".join(sentences),
        metadata={
            "kind": "document",
            "language": document.language,
            "part_numbers": list(document.part_numbers),
        },
        score=score,
    )
