"""The retrieved facts as compact text for an LLM prompt (the online answer path)."""

from __future__ import annotations

from typing import Any

from .labels import number
from .models import QueryAnalysis, Retrieval


def build_llm_context(analysis: QueryAnalysis, retrieval: Retrieval) -> str:
    """Everything retrieval found, one fact per line, with both Korean and English names.

    Figures are pre-formatted the way the offline writer prints them, so a model that
    quotes them stays consistent with the offline answers.
    """
    facts = retrieval.facts
    lines = [
        f"Question language: {analysis.language}; intent: {analysis.intent}",
        f"Retrieval confidence: {retrieval.confidence_score:.2f}",
    ]
    if facts.get("as_of"):
        months = facts.get("months") or []
        span = f"; usage data covers {months[0]} to {months[-1]}" if months else ""
        lines.append(f"Stock snapshot date: {facts['as_of']}{span}")
    if analysis.period:
        covered = ", ".join(facts.get("period_months") or []) or "no months with data"
        lines.append(f"Period asked: {analysis.period} ({covered})")
    if facts.get("warehouse_filter"):
        lines.append(f"Warehouses asked: {', '.join(facts['warehouse_filter'])}")
    if retrieval.missing_parts:
        lines.append("Part numbers with NO record in the database: " + ", ".join(retrieval.missing_parts))
    for part in facts.get("parts", []):
        lines.extend(_part_lines(part))
    if facts.get("kind") == "low_stock":
        lines.append("Parts below their reorder point (total stock / reorder point, unit):")
        lines.extend(
            f"- {i['part_number']} {i['name_en']} / {i['name_ko']}: "
            f"{number(i['total'])} / {number(i['reorder_point'])} {i['unit']}"
            for i in facts["low_stock"]
        )
        if not facts["low_stock"]:
            lines.append("- none")
    if facts.get("kind") == "warehouses":
        lines.append("Warehouses (parts in stock, parts at zero, stock value KRW):")
        lines.extend(
            f"- {s['code']} {s['name_en']} / {s['name_ko']}: {s['parts_in_stock']}, "
            f"{s['parts_out_of_stock']}, {number(s['stock_value'])}"
            for s in facts["warehouses"]
        )
    for code, items in facts.get("out_of_stock", {}).items():
        listed = ", ".join(i["part_number"] for i in items) or "none"
        lines.append(f"Parts at zero in {code}: {listed}")
    if facts.get("kind") == "usage_overview":
        overview = facts["usage_overview"]
        series = ", ".join(
            f"{m} {number(v)}" for m, v in zip(overview["months"], overview["values"], strict=True)
        )
        lines.append(f"Usage value of all parts by month (KRW): {series or 'no data'}")
        lines.extend(
            f"- top: {t['part_number']} {t['name_en']} / {t['name_ko']}: "
            f"{number(t['quantity'])} {t['unit']}, KRW {number(t['value'])}"
            for t in overview["top_parts"]
        )
    documents = facts.get("documents", [])
    if documents:
        lines.append("Documents (best match first):")
        lines.extend(
            f"[doc:{d['id']}] {d['title']} ({d['language']}, relevance {d['score']:.2f}): {d['body']}"
            for d in documents
        )
    if facts.get("kind", "none") in ("none", "missing") and not documents:
        lines.append("No matching stock records or documents were found.")
    return "\n".join(lines)


def _part_lines(part: dict[str, Any]) -> list[str]:
    unit = part["unit"]
    stock = ", ".join(
        f"{lv['warehouse_code']} {lv['name_en']}/{lv['name_ko']} {number(lv['quantity'])}"
        for lv in part["stock"]
    )
    usage = part["usage"]
    series = ", ".join(f"{m} {number(q)}" for m, q in zip(usage["months"], usage["quantities"], strict=True))
    below = "yes" if part["below_reorder"] else "no"
    return [
        f"[sql:part:{part['part_number']}] {part['part_number']} {part['name_en']} / "
        f"{part['name_ko']}; category {part['category']}; unit {unit}; unit price KRW "
        f"{number(part['unit_price'])}; supplier {part['supplier_en']} / {part['supplier_ko']} "
        f"(lead time {part['lead_time_days']} days); reorder point {number(part['reorder_point'])}",
        f"[sql:stock:{part['part_number']}] total stock {number(part['total_stock'])} {unit} "
        f"({stock}); below reorder point: {below}",
        f"[sql:usage:{part['part_number']}] monthly usage ({unit}): {series}; "
        f"total {number(usage['total'])}, average {number(usage['average'])} a month",
    ]
