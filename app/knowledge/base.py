"""``KnowledgeBase``: the bundled inventory database and documents behind one object."""

from __future__ import annotations

from functools import lru_cache

from .analysis import QueryAnalyzer
from .documents import load_documents
from .models import QueryAnalysis, Retrieval, Source
from .retrieval import Retriever
from .search import DocumentIndex
from .sources import document_source
from .store import InventoryStore


class KnowledgeBase:
    """Question analysis and retrieval over the embedded default data.

    Open one per process and share it: every method is safe to call from many greenlets
    (the database connection is guarded by a lock; everything else is read-only).
    """

    def __init__(self, store: InventoryStore, index: DocumentIndex) -> None:
        self.store = store
        self.index = index
        self._analyzer = QueryAnalyzer(store.catalogue(), store.warehouses(), store.months())
        self._retriever = Retriever(store, index)

    @classmethod
    def open(cls, path: str | None = None) -> KnowledgeBase:
        """Build from the bundled data: in memory, or in the SQLite file ``path``.

        An existing database at ``path`` that already has the tables is used as it is.
        """
        return cls(InventoryStore.open(path), DocumentIndex(load_documents()))

    def close(self) -> None:
        self.store.close()

    def analyze(self, question: str) -> QueryAnalysis:
        """Language, intent, part numbers, warehouses, period and keywords of a question."""
        return self._analyzer.analyze(question)

    def retrieve(self, analysis: QueryAnalysis, question: str) -> Retrieval:
        """Database records and ranked documents for an analysed question."""
        return self._retriever.retrieve(analysis, question)

    def search_documents(self, query: str, limit: int = 5) -> list[Source]:
        """The documents ranked by BM25 for ``query``, best first, as sources."""
        return [
            document_source(hit.document, hit.score, self.index.best_sentences(hit.document, query, 2))
            for hit in self.index.search(query, limit)
        ]


@lru_cache(maxsize=1)
def bundled_knowledge() -> KnowledgeBase:
    """The bundled knowledge base, opened once per process and shared by the bundled agents."""
    return KnowledgeBase.open()
