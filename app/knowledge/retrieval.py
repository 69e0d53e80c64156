"""Retrieval: SQL lookups and document search for an analysed question.

``Retrieval.facts`` holds plain JSON-able data for the writers. Its keys:

- ``kind``: what the answer is built from: ``parts`` (records of named parts),
  ``warehouses`` (stock overview), ``low_stock``, ``usage_overview``, ``documents``,
  ``missing`` (only unknown part numbers were asked about) or ``none``;
- ``language``, ``intent``, ``as_of`` (stock snapshot date), ``months`` (months with data),
  ``period`` and ``period_months`` (the months the question's period covers; all when none),
  ``warehouse_filter`` (codes named in the question), ``warehouse_names`` (code -> names);
- ``parts``: one dict per found part (catalogue fields, ``total_stock``, ``stock`` per
  warehouse, ``below_reorder``, ``usage`` over all months and ``period_usage``);
- ``missing_parts``; ``documents`` (id, title, language, score, best ``sentences``, ``body``);
- per kind: ``warehouses`` and ``out_of_stock``, ``low_stock`` (and ``out_of_stock``),
  ``usage_overview``.
"""

from __future__ import annotations

from typing import Any

from . import displays
from .models import Language, QueryAnalysis, Retrieval
from .periods import resolve_period
from .search import DocumentHit, DocumentIndex
from .sources import (
    PartRecord,
    document_source,
    low_stock_source,
    part_source,
    usage_overview_source,
    warehouse_source,
)
from .store import InventoryStore, Part

Facts = dict[str, Any]

MAX_PARTS = 5
DOC_LIMIT = 5
# Below this a "match" is mostly shared particles or generic words such as "stock".
DOC_MIN_SCORE = 0.2
# Documents shown beside database records must be clearly about the question.
SIDE_DOC_LIMIT = 3
SIDE_DOC_MIN_SCORE = 0.3
# "부족한 부품" never names the reorder rules that decide what is short: search for them too.
_QUERY_EXPANSION = {("low_stock", "ko"): "재주문 기준점", ("low_stock", "en"): "reorder point"}
_RECORDS_BY_INTENT: dict[str, tuple[PartRecord, ...]] = {
    "stock": ("stock", "usage"),
    "low_stock": ("stock",),
    "usage": ("usage",),
    "part_info": ("part",),
    "general": ("part", "stock"),
}


class Retriever:
    """Turns a ``QueryAnalysis`` into sources, table, chart, confidence and facts."""

    def __init__(self, store: InventoryStore, index: DocumentIndex) -> None:
        self._store = store
        self._index = index
        self._months = store.months()
        self._as_of = store.as_of()
        self._warehouse_names = {
            w.code: {"name_en": w.name_en, "name_ko": w.name_ko} for w in store.warehouses()
        }

    def retrieve(self, analysis: QueryAnalysis, question: str) -> Retrieval:
        requested = list(dict.fromkeys(p.upper() for p in analysis.part_numbers))[:MAX_PARTS]
        catalogue = self._store.parts(requested)
        found = [catalogue[p] for p in requested if p in catalogue]
        missing = [p for p in requested if p not in catalogue]
        language = analysis.language
        period_months = resolve_period(analysis.period, self._months)
        facts: Facts = {
            "kind": "none",
            "language": language,
            "intent": analysis.intent,
            "as_of": self._as_of,
            "months": list(self._months),
            "period": analysis.period,
            "period_months": period_months,
            "warehouse_filter": [c for c in analysis.warehouses if c in self._warehouse_names],
            "warehouse_names": {code: dict(names) for code, names in self._warehouse_names.items()},
            "parts": [self._part_facts(part, period_months) for part in found],
            "missing_parts": missing,
            "documents": [],
        }
        result = Retrieval(found_parts=[p.part_number for p in found], missing_parts=missing)
        query = _document_query(question, found, analysis.intent, language)
        hits: list[DocumentHit] = []
        if analysis.intent == "document":
            hits = self._index.search(query, DOC_LIMIT, DOC_MIN_SCORE)
            if hits:
                facts["kind"] = "documents"
                result.sources.extend(
                    part_source(part, "part", language, self._as_of) for part in facts["parts"]
                )
            elif found:
                facts["kind"] = "parts"
                self._describe_parts(result, facts, "general", language)
            elif missing:
                facts["kind"] = "missing"
        elif found:
            facts["kind"] = "parts"
            self._describe_parts(result, facts, analysis.intent, language)
            hits = self._index.search(query, SIDE_DOC_LIMIT, SIDE_DOC_MIN_SCORE)
        elif missing:
            facts["kind"] = "missing"
        else:
            self._describe_network(result, facts, analysis.intent, language)
            if facts["kind"] == "none":
                hits = self._index.search(query, DOC_LIMIT, DOC_MIN_SCORE)
                facts["kind"] = "documents" if hits else "none"
            else:
                hits = self._index.search(query, SIDE_DOC_LIMIT, SIDE_DOC_MIN_SCORE)
        facts["documents"] = [self._document_facts(hit, question, rank) for rank, hit in enumerate(hits)]
        result.sources.extend(
            document_source(hit.document, hit.score, doc["sentences"])
            for hit, doc in zip(hits, facts["documents"], strict=True)
        )
        result.facts = facts
        result.confidence_score = _confidence(facts, found, missing)
        return result

    def _part_facts(self, part: Part, period_months: list[str]) -> Facts:
        stock = [_record(level) for level in self._store.stock_levels(part.part_number)]
        total = sum(level["quantity"] for level in stock)
        usage = self._store.usage(part.part_number, self._months)
        by_month = dict(zip(self._months, usage, strict=True))
        period_usage = [by_month[m] for m in period_months]
        return {
            **_record(part),
            "currency": "KRW",
            "total_stock": total,
            "stock": stock,
            "below_reorder": total < part.reorder_point,
            "usage": {
                "months": list(self._months),
                "quantities": usage,
                "total": sum(usage),
                "average": round(sum(usage) / len(usage), 1) if usage else 0.0,
            },
            "period_usage": {
                "months": period_months,
                "quantities": period_usage,
                "total": sum(period_usage),
            },
        }

    def _describe_parts(self, result: Retrieval, facts: Facts, intent: str, language: Language) -> None:
        parts: list[Facts] = facts["parts"]
        for part in parts:
            for record in _RECORDS_BY_INTENT.get(intent, ("part",)):
                result.sources.append(part_source(part, record, language, self._as_of))
        if intent == "part_info":
            result.table_data = displays.part_table(parts, language)
        elif intent == "usage":
            months = facts["period_months"] if len(facts["period_months"]) > 1 else self._months
            result.chart_data = displays.usage_chart(parts, months, language)
            result.table_data = displays.usage_table(parts, months, language)
        else:
            # The usage trend shows how long the stock will last.
            result.table_data = displays.stock_table(parts, language)
            result.chart_data = displays.usage_chart(parts, self._months, language)

    def _describe_network(self, result: Retrieval, facts: Facts, intent: str, language: Language) -> None:
        """Questions about every part: low stock, stock per warehouse, usage overall."""
        codes: list[str] = facts["warehouse_filter"]
        if intent == "low_stock":
            items = [_record(item) for item in self._store.low_stock()]
            facts.update(kind="low_stock", low_stock=items, out_of_stock=self._out_of_stock(codes))
            result.table_data = displays.low_stock_table(items, language)
            result.sources.append(low_stock_source(items, language))
        elif intent == "stock" or (intent == "general" and codes):
            summaries = [_record(s) for s in self._store.warehouse_summaries(codes)]
            facts.update(kind="warehouses", warehouses=summaries, out_of_stock=self._out_of_stock(codes))
            result.table_data = displays.warehouse_table(summaries, language)
            result.chart_data = displays.warehouse_value_chart(summaries, language)
            result.sources.extend(warehouse_source(s, language, self._as_of) for s in summaries)
        elif intent == "usage":
            months: list[str] = facts["period_months"]
            # A period outside the data leaves months empty; the writer then says so.
            values = self._store.usage_value_by_month(months)
            top = [_record(item) for item in self._store.top_usage(months)]
            facts["kind"] = "usage_overview"
            facts["usage_overview"] = {
                "months": months,
                "values": values,
                "total_value": sum(values),
                "top_parts": top,
            }
            if months:
                result.chart_data = displays.usage_value_chart(months, values, language)
                result.table_data = displays.top_usage_table(top, language)
                result.sources.append(usage_overview_source(months, values, language))

    def _out_of_stock(self, codes: list[str]) -> dict[str, list[Facts]]:
        return {code: [_record(item) for item in self._store.out_of_stock(code)] for code in codes}

    def _document_facts(self, hit: DocumentHit, question: str, rank: int) -> Facts:
        doc = hit.document
        return {
            "id": doc.id,
            "title": doc.title,
            "language": doc.language,
            "score": hit.score,
            "part_numbers": list(doc.part_numbers),
            "sentences": self._index.best_sentences(doc, question, 2 if rank == 0 else 1),
            "body": doc.body,
        }


def _record(record: Any) -> Facts:
    """``dataclasses.asdict`` for the store's records, whose fields are all scalars: without its
    recursive deep copy, which was a third of a retrieval's CPU."""
    return {name: getattr(record, name) for name in record.__slots__}


def _document_query(question: str, found: list[Part], intent: str, language: Language) -> str:
    # Parts taken from earlier turns are not in the question text: add them to the query.
    expansion = _QUERY_EXPANSION.get((intent, language), "")
    return " ".join([question, *(p.part_number for p in found), expansion]).strip()


def _confidence(facts: Facts, found: list[Part], missing: list[str]) -> float:
    """Exact part lookups score high, whole-network lookups a little less, documents by BM25."""
    kind = facts["kind"]
    if kind == "parts":
        return 0.95 if not missing else 0.75
    if kind == "usage_overview" and not facts["usage_overview"]["months"]:
        return 0.2
    if kind in ("warehouses", "low_stock", "usage_overview"):
        return 0.85
    if kind == "documents":
        top = max(doc["score"] for doc in facts["documents"])
        return round(min(0.9, top * 1.2 + (0.1 if found else 0.0)), 2)
    return 0.0
