"""Tables and charts for clients, built from retrieval facts in the question's language."""

from __future__ import annotations

from typing import Any

from . import labels
from .labels import pick
from .models import ChartData, ChartSeries, Language, TableData

Record = dict[str, Any]
Row = list[str | int | float | None]


def stock_table(parts: list[Record], language: Language) -> TableData:
    """One row per warehouse; one quantity column per part."""
    single = len(parts) == 1
    columns = pick(language, ["창고 코드", "창고"], ["Warehouse code", "Warehouse"])
    columns += [pick(language, "수량", "Quantity")] if single else [p["part_number"] for p in parts]
    rows: list[Row] = []
    for index, level in enumerate(parts[0]["stock"]):
        row: Row = [level["warehouse_code"], labels.name(level, language)]
        row += [part["stock"][index]["quantity"] for part in parts]
        rows.append(row)
    if single:
        number, total = parts[0]["part_number"], labels.number(parts[0]["total_stock"])
        title = pick(
            language,
            f"{number} 창고별 재고 (총 {total})",
            f"{number} stock by warehouse (total {total})",
        )
    else:
        title = pick(language, "창고별 재고", "Stock by warehouse")
    return TableData(title=title, columns=columns, rows=rows)


def usage_chart(parts: list[Record], months: list[str], language: Language) -> ChartData:
    """Monthly usage of each part as a line."""
    units = {p["unit"] for p in parts}
    unit = (
        labels.unit_label(units.pop(), language)
        if len(units) == 1
        else pick(language, "단위 혼합", "mixed units")
    )
    names = ", ".join(p["part_number"] for p in parts)
    return ChartData(
        type="line",
        title=pick(language, f"{names} 월별 사용량", f"{names} monthly usage"),
        labels=months,
        series=[
            ChartSeries(
                name=part["part_number"],
                values=[float(_usage_in(part, month)) for month in months],
            )
            for part in parts
        ],
        unit=unit,
    )


def usage_table(parts: list[Record], months: list[str], language: Language) -> TableData:
    """One row per month; one usage column per part."""
    names = ", ".join(p["part_number"] for p in parts)
    return TableData(
        title=pick(language, f"{names} 월별 사용량", f"{names} monthly usage"),
        columns=[pick(language, "월", "Month"), *(p["part_number"] for p in parts)],
        rows=[[month, *(_usage_in(part, month) for part in parts)] for month in months],
    )


def _usage_in(part: Record, month: str) -> int:
    usage = part["usage"]
    return int(usage["quantities"][usage["months"].index(month)])


def part_table(parts: list[Record], language: Language) -> TableData:
    """Catalogue details and total stock, one row per part."""
    return TableData(
        title=pick(language, "부품 정보", "Part details"),
        columns=pick(
            language,
            [
                "부품 번호",
                "부품명",
                "분류",
                "단가(원)",
                "공급업체",
                "리드타임(일)",
                "재주문 기준점",
                "총 재고",
            ],
            [
                "Part number",
                "Part",
                "Category",
                "Unit price (KRW)",
                "Supplier",
                "Lead time (days)",
                "Reorder point",
                "Total stock",
            ],
        ),
        rows=[
            [
                p["part_number"],
                labels.name(p, language),
                labels.category(p["category"], language),
                p["unit_price"],
                p["supplier_ko"] if language == "ko" else p["supplier_en"],
                p["lead_time_days"],
                p["reorder_point"],
                p["total_stock"],
            ]
            for p in parts
        ],
    )


def low_stock_table(items: list[Record], language: Language) -> TableData:
    return TableData(
        title=pick(language, "재주문 기준점 미만 부품", "Parts below reorder point"),
        columns=pick(
            language,
            ["부품 번호", "부품명", "총 재고", "재주문 기준점", "부족 수량", "단위"],
            ["Part number", "Part", "Total stock", "Reorder point", "Shortfall", "Unit"],
        ),
        rows=[
            [
                i["part_number"],
                labels.name(i, language),
                i["total"],
                i["reorder_point"],
                i["reorder_point"] - i["total"],
                labels.unit_label(i["unit"], language),
            ]
            for i in items
        ],
    )


def warehouse_table(summaries: list[Record], language: Language) -> TableData:
    return TableData(
        title=pick(language, "창고별 재고 현황", "Stock by warehouse"),
        columns=pick(
            language,
            ["창고 코드", "창고", "재고 보유 품목", "재고 없음 품목", "재고 금액(원)"],
            ["Warehouse code", "Warehouse", "Parts in stock", "Parts at zero", "Stock value (KRW)"],
        ),
        rows=[
            [
                s["code"],
                labels.name(s, language),
                s["parts_in_stock"],
                s["parts_out_of_stock"],
                s["stock_value"],
            ]
            for s in summaries
        ],
    )


def warehouse_value_chart(summaries: list[Record], language: Language) -> ChartData:
    # Quantities of parts in different units cannot be added up; their value in KRW can.
    return ChartData(
        type="bar",
        title=pick(language, "창고별 재고 금액", "Stock value by warehouse"),
        labels=[labels.name(s, language) for s in summaries],
        series=[
            ChartSeries(
                name=pick(language, "재고 금액", "Stock value"),
                values=[float(s["stock_value"]) for s in summaries],
            )
        ],
        unit=pick(language, "원", "KRW"),
    )


def usage_value_chart(months: list[str], values: list[int], language: Language) -> ChartData:
    return ChartData(
        type="line" if len(months) > 1 else "bar",
        title=pick(language, "월별 부품 사용 금액", "Parts usage value by month"),
        labels=months,
        series=[
            ChartSeries(name=pick(language, "사용 금액", "Usage value"), values=[float(v) for v in values])
        ],
        unit=pick(language, "원", "KRW"),
    )


def top_usage_table(top: list[Record], language: Language) -> TableData:
    return TableData(
        title=pick(language, "사용 금액 상위 부품", "Parts with the highest usage value"),
        columns=pick(
            language,
            ["부품 번호", "부품명", "사용량", "단위", "사용 금액(원)"],
            ["Part number", "Part", "Quantity used", "Unit", "Usage value (KRW)"],
        ),
        rows=[
            [
                t["part_number"],
                labels.name(t, language),
                t["quantity"],
                labels.unit_label(t["unit"], language),
                t["value"],
            ]
            for t in top
        ],
    )
