"""Pydantic models exchanged between the knowledge base, the agent graph and clients."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Language = Literal["ko", "en"]
Intent = Literal["stock", "usage", "part_info", "low_stock", "document", "general"]


class Source(BaseModel):
    """One retrieved item (database record or document), sent to clients as-is."""

    id: str
    title: str
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    score: float = Field(ge=0.0, le=1.0)


class TableData(BaseModel):
    """Rows for a table, e.g. stock by warehouse."""

    title: str
    columns: list[str]
    rows: list[list[str | int | float | None]]


class ChartSeries(BaseModel):
    """One named line or set of bars."""

    name: str
    values: list[float]


class ChartData(BaseModel):
    """A chart, e.g. monthly usage of a part."""

    type: Literal["line", "bar"]
    title: str
    labels: list[str]
    series: list[ChartSeries]
    unit: str


class QueryAnalysis(BaseModel):
    """What the question asks for, as found by ``KnowledgeBase.analyze``."""

    language: Language
    intent: Intent
    part_numbers: list[str] = Field(default_factory=list)
    warehouses: list[str] = Field(default_factory=list)
    period: str | None = None
    keywords: list[str] = Field(default_factory=list)


class Retrieval(BaseModel):
    """Everything ``KnowledgeBase.retrieve`` found for one question."""

    sources: list[Source] = Field(default_factory=list)
    table_data: TableData | None = None
    chart_data: ChartData | None = None
    confidence_score: float = Field(default=0.0, ge=0.0, le=1.0)
    found_parts: list[str] = Field(default_factory=list)
    missing_parts: list[str] = Field(default_factory=list)
    facts: dict[str, Any] = Field(default_factory=dict)
