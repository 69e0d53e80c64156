"""The offline answer writer: a deterministic, grounded answer from ``Retrieval.facts``.

Every figure in an answer is copied from the facts (which come from SQL) or quoted from a
document; when the facts hold nothing relevant the writer says it does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import labels
from .labels import pick
from .models import Language, QueryAnalysis, Retrieval

Facts = dict[str, Any]

# Documents scoring under half the best one are listed as sources but not quoted: they
# usually share only a generic word ("policy", "재고") with the question.
RELATIVE_DOC_CUTOFF = 0.5


def compose_answer(question: str, analysis: QueryAnalysis, retrieval: Retrieval) -> str:
    """The answer to ``question`` in its language, as paragraphs separated by blank lines.

    Everything it needs is already in ``analysis`` and ``retrieval``; ``question`` is part of
    the writer contract so an LLM writer and this one are interchangeable.
    """
    language = analysis.language
    facts = retrieval.facts
    kind = facts.get("kind", "none")
    paragraphs: list[str] = []
    if retrieval.missing_parts:
        paragraphs.append(_missing(retrieval.missing_parts, language, alone=kind == "missing"))
    write = _WRITERS.get(kind)
    if write is not None:
        paragraphs.extend(write(facts, analysis.intent, language))
    documents = _relevant_documents(facts)
    if kind not in ("documents", "none") and documents:
        titles = ", ".join(_quote_title(doc["title"], language) for doc in documents)
        paragraphs.append(pick(language, f"관련 문서: {titles}", f"Related documents: {titles}."))
    if not paragraphs:
        paragraphs.append(_dont_know(language))
    return "\n\n".join(paragraphs)


# --- parts ---------------------------------------------------------------------------------


def _parts(facts: Facts, intent: str, language: Language) -> list[str]:
    paragraphs = []
    for part in facts["parts"]:
        if intent == "usage":
            paragraphs.append(_usage(part, facts, language))
        elif intent == "part_info":
            paragraphs.append(_details(part, facts, language))
        elif intent in ("stock", "low_stock") or facts.get("warehouse_filter"):
            paragraphs.append(_stock(part, facts, language))
        else:
            paragraphs.append(_details(part, facts, language) + " " + _breakdown(part, language))
    return paragraphs


def _head(part: Facts, language: Language) -> str:
    return f"{part['part_number']} ({labels.name(part, language)})"


def _breakdown(part: Facts, language: Language, codes: list[str] | None = None) -> str:
    levels = [lv for lv in part["stock"] if codes is None or lv["warehouse_code"] in codes]
    listed = ", ".join(
        f"{labels.name(lv, language)} {labels.quantity(lv['quantity'], part['unit'], language)}"
        for lv in levels
    )
    return pick(language, f"창고별: {listed}.", f"By warehouse: {listed}.")


def _stock(part: Facts, facts: Facts, language: Language) -> str:
    unit = part["unit"]

    def qty(value: float) -> str:
        return labels.quantity(value, unit, language)

    head, total, reorder = _head(part, language), part["total_stock"], part["reorder_point"]
    codes = facts.get("warehouse_filter") or []
    sentences: list[str] = []
    if codes:
        chosen = [lv for lv in part["stock"] if lv["warehouse_code"] in codes]
        if len(chosen) == 1:
            where = labels.name(chosen[0], language)
            sentences.append(
                pick(
                    language,
                    f"{head}의 {where} 창고 재고는 {qty(chosen[0]['quantity'])}입니다.",
                    f"{head}: {qty(chosen[0]['quantity'])} in {where}.",
                )
            )
        else:
            sentences.append(f"{head}: {_breakdown(part, language, codes)}")
        sentences.append(
            pick(language, f"전체 창고 합계는 {qty(total)}입니다.", f"Total across warehouses: {qty(total)}.")
        )
    elif total == 0:
        sentences.append(
            pick(
                language,
                f"{head}의 총 재고는 {qty(0)}로, 모든 창고에 재고가 없습니다.",
                f"{head} is out of stock in every warehouse ({qty(0)}).",
            )
        )
    else:
        sentences.append(
            pick(
                language,
                f"{head}의 총 재고는 {qty(total)}입니다.",
                f"{head}: total stock is {qty(total)}.",
            )
        )
        sentences.append(_breakdown(part, language))
    if total < reorder:
        sentences.append(
            pick(
                language,
                f"재주문 기준점({qty(reorder)})보다 {qty(reorder - total)} 적어 재주문이 필요합니다.",
                f"That is {qty(reorder - total)} below the reorder point of {qty(reorder)}, "
                "so a reorder is needed.",
            )
        )
    elif total == reorder:
        sentences.append(
            pick(
                language,
                f"재주문 기준점({qty(reorder)})과 같습니다.",
                f"That equals the reorder point ({qty(reorder)}).",
            )
        )
    else:
        sentences.append(
            pick(
                language,
                f"재주문 기준점({qty(reorder)})보다 많습니다.",
                f"That is above the reorder point of {qty(reorder)}.",
            )
        )
    average, months = part["usage"]["average"], len(part["usage"]["months"])
    if average > 0 and total > 0:
        cover = labels.number(round(total / average, 1))
        sentences.append(
            pick(
                language,
                f"최근 {months}개월 월평균 사용량({qty(average)}) 기준으로 약 {cover}개월분입니다.",
                f"At the average usage of the last {months} months ({qty(average)} a month) "
                f"it covers about {cover} months.",
            )
        )
    sentences.append(pick(language, f"(기준일: {facts['as_of']})", f"(Stock as of {facts['as_of']}.)"))
    return " ".join(sentences)


def _usage(part: Facts, facts: Facts, language: Language) -> str:
    unit = part["unit"]

    def qty(value: float) -> str:
        return labels.quantity(value, unit, language)

    head = _head(part, language)
    period_usage = part["period_usage"]
    months, values = period_usage["months"], period_usage["quantities"]
    if not months:
        return _no_period_data(facts, language, head)
    if len(months) == 1:
        average = part["usage"]["average"]
        return pick(
            language,
            f"{head}의 {months[0]} 사용량은 {qty(values[0])}입니다. "
            f"최근 {len(part['usage']['months'])}개월 월평균은 {qty(average)}입니다.",
            f"{head} used {qty(values[0])} in {months[0]}, against an average of "
            f"{qty(average)} a month over the last {len(part['usage']['months'])} months.",
        )
    total = sum(values)
    average = round(total / len(values), 1)
    peak = max(range(len(values)), key=lambda i: (values[i], -i))
    low = min(range(len(values)), key=lambda i: (values[i], i))
    sentences = [
        pick(
            language,
            f"{head}의 {months[0]}~{months[-1]} 사용량은 총 {qty(total)}, 월평균 {qty(average)}입니다.",
            f"{head} used {qty(total)} from {months[0]} to {months[-1]}, {qty(average)} a month on average.",
        ),
        pick(
            language,
            f"가장 많이 사용한 달은 {months[peak]}({qty(values[peak])}), "
            f"가장 적게 사용한 달은 {months[low]}({qty(values[low])})입니다.",
            f"The busiest month was {months[peak]} ({qty(values[peak])}) and the quietest "
            f"{months[low]} ({qty(values[low])}).",
        ),
    ]
    if len(values) >= 6 and sum(values[-6:-3]) > 0:
        change = (sum(values[-3:]) - sum(values[-6:-3])) / sum(values[-6:-3]) * 100
        if abs(change) < 5:
            sentences.append(
                pick(
                    language,
                    "최근 3개월 사용량은 직전 3개월과 비슷합니다.",
                    "The last three months were about the same as the three before.",
                )
            )
        else:
            percent = f"{abs(change):.0f}%"
            sentences.append(
                pick(
                    language,
                    f"최근 3개월 사용량은 직전 3개월보다 {percent} "
                    f"{'늘었습니다' if change > 0 else '줄었습니다'}.",
                    f"The last three months used {percent} {'more' if change > 0 else 'less'} "
                    "than the three before.",
                )
            )
    return " ".join(sentences)


def _details(part: Facts, facts: Facts, language: Language) -> str:
    unit = part["unit"]
    reorder = labels.quantity(part["reorder_point"], unit, language)
    total = labels.quantity(part["total_stock"], unit, language)
    category = labels.category(part["category"], language)
    price = labels.money(part["unit_price"], language)
    return pick(
        language,
        f"{part['part_number']} 부품은 {part['name_ko']}({part['name_en']})입니다. "
        f"분류: {category}, 단가: {price}, 공급업체: {part['supplier_ko']}"
        f"({part['supplier_en']}, 리드타임 {part['lead_time_days']}일), "
        f"재주문 기준점: {reorder}, 현재 총 재고: {total} (기준일 {facts['as_of']}).",
        f"{part['part_number']} is the {part['name_en']} ({part['name_ko']}). "
        f"Category: {category}; unit price: {price}; supplier: {part['supplier_en']} "
        f"(lead time {part['lead_time_days']} days); reorder point: {reorder}; "
        f"current total stock: {total} (as of {facts['as_of']}).",
    )


# --- the whole network ---------------------------------------------------------------------


def _warehouses(facts: Facts, intent: str, language: Language) -> list[str]:
    lines = [
        pick(
            language,
            f"창고별 재고 현황입니다(기준일 {facts['as_of']}).",
            f"Stock by warehouse (as of {facts['as_of']}):",
        )
    ]
    for s in facts["warehouses"]:
        value = labels.money(s["stock_value"], language)
        lines.append(
            pick(
                language,
                f"- {s['name_ko']}({s['code']}): 재고 보유 {s['parts_in_stock']}개 품목, "
                f"재고 없음 {s['parts_out_of_stock']}개 품목, 재고 금액 {value}",
                f"- {s['name_en']} ({s['code']}): {s['parts_in_stock']} parts in stock, "
                f"{s['parts_out_of_stock']} at zero, stock value {value}",
            )
        )
    return ["\n".join(lines), *_zero_stock(facts, language)]


def _zero_stock(facts: Facts, language: Language) -> list[str]:
    """One sentence per warehouse asked about, naming (up to five of) its parts at zero."""
    paragraphs = []
    for code, items in facts.get("out_of_stock", {}).items():
        where = labels.name(facts["warehouse_names"][code], language)
        if not items:
            paragraphs.append(
                pick(
                    language,
                    f"{where} 창고에는 재고가 0인 부품이 없습니다.",
                    f"No part is at zero in {where}.",
                )
            )
            continue
        listed = ", ".join(f"{i['part_number']} {labels.name(i, language)}" for i in items[:5])
        more = len(items) - 5
        tail = pick(language, f" 외 {more}개", f" and {more} more") if more > 0 else ""
        paragraphs.append(
            pick(
                language,
                f"{where} 창고에 재고가 없는 부품: {listed}{tail}.",
                f"Parts at zero in {where}: {listed}{tail}.",
            )
        )
    return paragraphs


def _low_stock(facts: Facts, intent: str, language: Language) -> list[str]:
    items = facts["low_stock"]
    if not items:
        return [
            pick(
                language,
                f"재주문 기준점보다 재고가 적은 부품은 없습니다(기준일 {facts['as_of']}).",
                f"No part is below its reorder point (stock as of {facts['as_of']}).",
            ),
            *_zero_stock(facts, language),
        ]
    lines = [
        pick(
            language,
            f"재주문 기준점보다 총 재고가 적은 부품은 {len(items)}개입니다(기준일 {facts['as_of']}).",
            f"{len(items)} parts are below their reorder point (stock as of {facts['as_of']}):",
        )
    ]
    for i in items:
        unit = i["unit"]
        stock = labels.quantity(i["total"], unit, language)
        reorder = labels.quantity(i["reorder_point"], unit, language)
        short = labels.quantity(i["reorder_point"] - i["total"], unit, language)
        lines.append(
            pick(
                language,
                f"- {i['part_number']} {i['name_ko']}: 재고 {stock} / 기준점 {reorder} ({short} 부족)",
                f"- {i['part_number']} {i['name_en']}: {stock} in stock, reorder point {reorder} "
                f"(short by {short})",
            )
        )
    paragraphs = ["\n".join(lines)]
    if facts.get("warehouse_filter"):
        paragraphs.append(
            pick(
                language,
                "재주문 기준점은 창고별이 아니라 전체 창고 합계에 적용됩니다.",
                "Reorder points apply to the total across all warehouses, not to one warehouse.",
            )
        )
    return paragraphs + _zero_stock(facts, language)


def _usage_overview(facts: Facts, intent: str, language: Language) -> list[str]:
    overview = facts["usage_overview"]
    months = overview["months"]
    if not months:
        return [_no_period_data(facts, language)]
    span = months[0] if len(months) == 1 else f"{months[0]}~{months[-1]}"
    total = labels.money(overview["total_value"], language)
    lines = [
        pick(
            language,
            f"{span} 전체 부품 사용 금액은 {total}입니다. 사용 금액이 큰 부품은 다음과 같습니다.",
            f"Parts used in {span} were worth {total} in total. The largest by value:",
        )
    ]
    for t in overview["top_parts"]:
        used = labels.quantity(t["quantity"], t["unit"], language)
        lines.append(
            f"- {t['part_number']} {labels.name(t, language)}: {used}, {labels.money(t['value'], language)}"
        )
    return ["\n".join(lines)]


def _no_period_data(facts: Facts, language: Language, head: str = "") -> str:
    first, last = facts["months"][0], facts["months"][-1]
    subject = pick(language, f"{head} " if head else "", f" of {head}" if head else "")
    return pick(
        language,
        f"요청하신 기간({facts['period']})의 {subject}사용량 데이터는 없습니다. "
        f"사용량 데이터는 {first}부터 {last}까지 있습니다.",
        f"There is no usage data{subject} for {facts['period']}; usage data covers {first} to {last}.",
    )


# --- documents and the rest ----------------------------------------------------------------


def _documents(facts: Facts, intent: str, language: Language) -> list[str]:
    lines = [pick(language, "관련 문서에서 찾은 내용입니다.", "Here is what the documents say:")]
    for doc in _relevant_documents(facts):
        lines.append(f"- {_quote_title(doc['title'], language)}: {' '.join(doc['sentences'])}")
    return ["\n".join(lines)]


def _relevant_documents(facts: Facts) -> list[Facts]:
    documents: list[Facts] = facts.get("documents", [])
    if not documents:
        return []
    best = max(doc["score"] for doc in documents)
    return [doc for doc in documents if doc["score"] >= best * RELATIVE_DOC_CUTOFF]


def _quote_title(title: str, language: Language) -> str:
    return pick(language, f"「{title}」", f"“{title}”")


def _missing(part_numbers: list[str], language: Language, alone: bool) -> str:
    listed = ", ".join(part_numbers)
    if language == "ko":
        text = f"{listed} 부품은 데이터베이스에 없습니다."
        return text + (" 부품 번호를 다시 확인해 주세요." if alone else "")
    noun = "part" if len(part_numbers) == 1 else "parts"
    text = f"I have no record of {noun} {listed}."
    return text + (" Please check the part number." if alone else "")


def _dont_know(language: Language) -> str:
    # No example part number here: the agent reads part numbers of earlier answers as the
    # subject of a follow-up question, and an example would become that subject.
    return pick(
        language,
        "죄송합니다. 이 질문에 답할 수 있는 재고 데이터나 문서를 찾지 못해 답을 알 수 없습니다. "
        "부품 번호, 창고, 정책이나 절차에 대해 질문해 주세요.",
        "I don't know: I found no stock records or documents that answer this question. "
        "You can ask about a part number, a warehouse, or a policy or procedure.",
    )


_WRITERS: dict[str, Callable[[Facts, str, Language], list[str]]] = {
    "parts": _parts,
    "warehouses": _warehouses,
    "low_stock": _low_stock,
    "usage_overview": _usage_overview,
    "documents": _documents,
}
