"""Tokenizer for Korean and English text, and Okapi BM25 ranking over the documents."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .documents import Document

K1 = 1.5
B = 0.75

_TOKEN = re.compile(
    r"(?P<code>[a-z]{2,4}-\d{3,6})"
    r"|(?P<word>[a-z0-9]+)"
    r"|(?P<cjk>[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3\u3040-\u30ff\u4e00-\u9fff]+)"
)

STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)


def _stem(word: str) -> str:
    """Fold English plurals so "pumps" matches "pump"; nothing more aggressive."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _is_cjk(token: str) -> bool:
    return token[0] >= "\u1100" and not token[0].isascii()


def tokenize(text: str) -> list[str]:
    """Lower-case words, part numbers as single tokens, and character bigrams for CJK runs.

    Bigrams let "재고는" match "재고" without a Korean morphological analyser.
    """
    tokens: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        if match.lastgroup == "code":
            tokens.append(match.group())
        elif match.lastgroup == "word":
            word = match.group()
            if len(word) > 1 and word not in STOPWORDS:
                tokens.append(_stem(word))
        else:
            run = match.group()
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


class BM25Index:
    """Okapi BM25 over a fixed list of texts."""

    def __init__(self, texts: Sequence[str], k1: float = K1, b: float = B) -> None:
        self.k1 = k1
        self.b = b
        self._term_freqs = [Counter(tokenize(text)) for text in texts]
        self._lengths = [sum(freqs.values()) for freqs in self._term_freqs]
        self._avg_length = sum(self._lengths) / len(self._lengths) if self._lengths else 0.0
        document_freq: Counter[str] = Counter()
        for freqs in self._term_freqs:
            document_freq.update(freqs.keys())
        count = len(texts)
        self._idf = {
            term: math.log(1 + (count - df + 0.5) / (df + 0.5)) for term, df in document_freq.items()
        }
        self._max_idf = math.log(1 + (count + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        """Inverse document frequency; 0 for a term no text contains."""
        return self._idf.get(term, 0.0)

    def raw_score(self, query_terms: set[str], index: int) -> float:
        freqs = self._term_freqs[index]
        norm = self.k1 * (1 - self.b + self.b * self._lengths[index] / self._avg_length)
        score = 0.0
        for term in query_terms:
            tf = freqs.get(term, 0)
            if tf:
                score += self.idf(term) * tf * (self.k1 + 1) / (tf + norm)
        return score

    def search(self, query: str, limit: int) -> list[tuple[int, float]]:
        """``(text index, score)`` of the best matches, best first; scores are in 0..1.

        A score is the BM25 score divided by its upper bound for this query (every query
        term present with unbounded frequency), so it reads as "how much of the question's
        weight this text covers", comparable across queries. Unknown words and part numbers
        weigh as much as the rarest term, so "weather today" does not look answered; unknown
        CJK bigrams are left out because most of them straddle a word and its particle.
        """
        query_terms = set(tokenize(query))
        terms = {term for term in query_terms if term in self._idf}
        unknown = sum(1 for term in query_terms - terms if not _is_cjk(term))
        ceiling = (sum(self.idf(term) for term in terms) + unknown * self._max_idf) * (self.k1 + 1)
        if not terms:
            return []
        scored = [(i, self.raw_score(terms, i) / ceiling) for i in range(len(self._term_freqs))]
        ranked = sorted((item for item in scored if item[1] > 0), key=lambda it: (-it[1], it[0]))
        return [(i, round(score, 4)) for i, score in ranked[:limit]]


@dataclass(frozen=True, slots=True)
class DocumentHit:
    document: Document
    score: float


class DocumentIndex:
    """BM25 search over the bundled documents (title counted twice, plus related parts)."""

    def __init__(self, documents: Sequence[Document]) -> None:
        self.documents = list(documents)
        self._bm25 = BM25Index(
            [f"{doc.title} {doc.title} {doc.body} {' '.join(doc.part_numbers)}" for doc in self.documents]
        )
        # Each answer citing a document ranks its sentences: split and tokenised once here,
        # that was most of the CPU of a retrieval.
        self._sentences = {
            doc: [(sentence, set(tokenize(sentence))) for sentence in doc.sentences] for doc in self.documents
        }

    def search(self, query: str, limit: int = 5, min_score: float = 0.0) -> list[DocumentHit]:
        return [
            DocumentHit(self.documents[i], score)
            for i, score in self._bm25.search(query, limit)
            if score >= min_score
        ]

    def best_sentences(self, document: Document, query: str, count: int) -> list[str]:
        """The ``count`` sentences of ``document`` that share most query weight, in order.

        Falls back to the opening sentences when none shares a term with the query.
        """
        terms = set(tokenize(query))
        sentences = self._sentences[document]
        weights = [
            sum(self._bm25.idf(term) for term in terms & sentence_terms) for _, sentence_terms in sentences
        ]
        ranked = sorted(range(len(sentences)), key=lambda i: (-weights[i], i))[:count]
        return [sentences[i][0] for i in sorted(ranked)]
