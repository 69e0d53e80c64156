"""The embedded default knowledge base: parts inventory (SQLite) and documents (BM25).

Offline, deterministic and standard library + pydantic only. Typical use::

    kb = KnowledgeBase.open()            # once per process
    analysis = kb.analyze(question)
    retrieval = kb.retrieve(analysis, question)
    answer = compose_answer(question, analysis, retrieval)      # offline writer
    context = build_llm_context(analysis, retrieval)            # or: prompt for an LLM
"""

from .base import KnowledgeBase, bundled_knowledge
from .context import build_llm_context
from .models import (
    ChartData,
    ChartSeries,
    QueryAnalysis,
    Retrieval,
    Source,
    TableData,
)
from .writer import compose_answer

__all__ = [
    "ChartData",
    "ChartSeries",
    "KnowledgeBase",
    "QueryAnalysis",
    "Retrieval",
    "Source",
    "TableData",
    "build_llm_context",
    "bundled_knowledge",
    "compose_answer",
]
