"""Question analysis: language, intent, part numbers, warehouses, period and keywords.

Rules, not a model: each intent has weighted cue patterns, the highest total wins and ties go
to the more specific intent (``_PRIORITY``). Korean cues are plain substrings because
particles attach to words ("재고는", "재고가"); English cues match whole words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .models import Intent, Language, QueryAnalysis
from .periods import parse_period
from .search import STOPWORDS
from .store import Part, Warehouse

PART_NUMBER = re.compile(r"(?<![A-Za-z0-9-])([A-Za-z]{2,4})-(\d{3,6})(?![0-9])")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")

_CUES: dict[str, list[tuple[str, int]]] = {
    "document": [
        (r"정책|절차|규정|규칙|매뉴얼|메뉴얼|가이드|방법|문서|faq", 2),
        (r"어떻게\s*(?:하|해|처리|신청|계산|관리)|하려면|안전\s*재고|운영\s*시간|반품|검수|실사", 2),
        (r"기준(?!점)|주기|점검|정비|교체|보관|이동|안내|처리", 1),
        (r"\b(?:polic(?:y|ies)|procedures?|manuals?|guides?|rules?|instructions?|faq)\b", 2),
        (r"\bhow (?:do|does|should|can|to|often)\b|\bsafety stock\b|\bopening hours\b", 2),
        (r"\breturns?\b|\binspection\b|\bcycle count", 2),
        (r"\b(?:maintenance|maintain|replace|replacement|storage|store|transfer|hours)\b", 1),
        (r"\b(?:calibrat\w*|handling|process|steps?)\b", 1),
    ],
    "low_stock": [
        (r"부족|모자란|품절|발주\s*필요|결품|기준점?\s*(?:미만|이하|아래)", 2),
        (r"재주문|미만|이하|떨어진", 1),
        (r"\blow(?: on)? (?:stock|inventory)\b|\brunning low\b|\bshortages?\b|\bout of stock\b", 2),
        (r"\brestock", 2),
        (r"\b(?:below|under) (?:the |their |its )?(?:reorder|minimum)|\bneeds? (?:to be )?reorder", 2),
        (r"\breorder(?:ing)?\b|\bbelow\b|\bunder\b", 1),
    ],
    "usage": [
        (r"사용량|소모량|소비량|출고량|추이|트렌드", 2),
        (r"사용했|썼|소모|소비|월별|매달|매월", 1),
        (r"\b(?:usage|consumption|consumed|trend|trends|burn rate)\b", 2),
        (r"\b(?:used|use|monthly|per month|each month)\b", 1),
    ],
    "stock": [
        (r"재고|수량|몇\s*개|보유|남아|남은|있나|있어|있습니까|얼마나", 1),
        (r"\b(?:stock|inventory|how many|how much|on hand|quantity|available|in store)\b", 1),
    ],
    "part_info": [
        (r"가격|단가|공급업체|공급사|납품업체|리드\s*타임|납기|재주문\s*기준점", 2),
        (r"정보|사양|업체|어떤\s*부품|무슨\s*부품", 1),
        (r"\b(?:price|cost|costs|supplier|vendor|lead time|unit price|reorder point)\b", 2),
        (r"\b(?:info|information|details|specs?|category)\b", 1),
    ],
}
# "What is X?" asks about a part when X is a part, otherwise about a concept in the documents.
_DEFINITION = re.compile(
    r"\bwhat(?:'s| is| are)\b|\bexplain\b|\bdescribe\b|뭐야|뭔가요|무엇|뭐예요|이란|란\??$|설명"
)
_PRIORITY: tuple[Intent, ...] = ("document", "low_stock", "usage", "stock", "part_info")
_NAME_INTENTS = frozenset({"stock", "usage", "part_info", "general"})
_COMPILED = {
    intent: [(re.compile(pattern), weight) for pattern, weight in cues] for intent, cues in _CUES.items()
}
# Longest first, so "에서는" is stripped whole rather than as "는".
_PARTICLES = (
    "인가요",
    "입니까",
    "에서는",
    "에서",
    "으로",
    "에게",
    "까지",
    "부터",
    "처럼",
    "이나",
    "이랑",
    "인가",
    "나요",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "의",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
    "요",
)
_MAX_NAME_MATCHES = 3
# Units of time left behind once a period is read ("3월" -> "월"): not useful as keywords.
_TIME_WORDS = frozenset({"년", "월", "일", "분기", "달", "개월"})


def detect_language(text: str) -> Language:
    """``ko`` when the text contains Hangul, else ``en``."""
    return "ko" if _HANGUL.search(text) else "en"


def find_part_numbers(text: str) -> list[str]:
    """Part numbers in order of appearance, upper-cased, without duplicates."""
    found = (f"{prefix}-{digits}".upper() for prefix, digits in PART_NUMBER.findall(text))
    return list(dict.fromkeys(found))


def score_intent(text: str, has_parts: bool) -> Intent:
    """The intent whose cues weigh most in ``text``; ``general`` when none appears."""
    lowered = text.lower()
    scores = {
        intent: sum(weight for pattern, weight in cues if pattern.search(lowered))
        for intent, cues in _COMPILED.items()
    }
    if _DEFINITION.search(lowered):
        scores["part_info" if has_parts else "document"] += 1
    best = max(scores.values())
    if best == 0:
        return "general"
    intent = next(intent for intent in _PRIORITY if scores[intent] == best)
    # "Is ABC-12345 out of stock?" is about that part, not a list of every low part.
    if intent == "low_stock" and has_parts:
        return "stock"
    return intent


def extract_keywords(text: str) -> list[str]:
    """Content words: English without stop words, Korean without trailing particles."""
    keywords: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z0-9']*|[\uac00-\ud7a3]+", PART_NUMBER.sub(" ", text)):
        if _HANGUL.match(word):
            stem = _strip_particle(word)
            if stem not in _TIME_WORDS:
                keywords.append(stem)
        else:
            lowered = word.lower().split("'")[0]
            if len(lowered) > 1 and lowered not in STOPWORDS:
                keywords.append(lowered)
    return list(dict.fromkeys(keywords))


def _strip_particle(word: str) -> str:
    """ "재고는" -> "재고"; a word is never cut below two syllables ("이가" stays)."""
    for particle in _PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


class QueryAnalyzer:
    """Analyses questions against the catalogue, warehouses and months of one database."""

    def __init__(self, parts: Sequence[Part], warehouses: Sequence[Warehouse], months: Sequence[str]) -> None:
        self._months = list(months)
        self._warehouse_patterns = [
            (
                warehouse.code,
                re.compile(
                    rf"\b{re.escape(warehouse.code.lower())}\b|\b{re.escape(warehouse.name_en.lower())}\b"
                    # A Korean name counts only as a word of its own ("부산 창고", "부산에"),
                    # not inside another word such as the supplier "서울베어링공업".
                    rf"|{re.escape(warehouse.name_ko)}(?:창고|센터)?"
                    r"(?:에서|으로|은|는|이|가|을|를|의|에|로|와|과|도|만)?(?![\uac00-\ud7a3])"
                ),
            )
            for warehouse in warehouses
        ]
        self._part_names = [
            (part.part_number, _name_words(part.name_en), _name_words(part.name_ko)) for part in parts
        ]

    def analyze(self, question: str) -> QueryAnalysis:
        lowered = question.lower()
        part_numbers = find_part_numbers(question)
        named_parts = [] if part_numbers else self.match_part_names(question)
        intent = score_intent(question, bool(part_numbers or named_parts))
        if not part_numbers and intent in _NAME_INTENTS:
            part_numbers = named_parts
        return QueryAnalysis(
            language=detect_language(question),
            intent=intent,
            part_numbers=part_numbers,
            warehouses=[code for code, pattern in self._warehouse_patterns if pattern.search(lowered)],
            period=parse_period(PART_NUMBER.sub(" ", question), self._months),
            keywords=extract_keywords(question),
        )

    def match_part_names(self, question: str) -> list[str]:
        """Parts whose name shares at least two words with the question (or its only word).

        Korean words are matched as substrings so particles do not hide them; the best
        matches (most shared words, then the largest share of the name) are kept.
        """
        lowered = question.lower()
        english_words = set(re.findall(r"[a-z0-9/.]+", lowered))
        candidates: list[tuple[int, float, str]] = []
        for part_number, words_en, words_ko in self._part_names:
            for words, matched in (
                (words_en, sum(1 for word in words_en if word in english_words)),
                (words_ko, sum(1 for word in words_ko if word in lowered)),
            ):
                if matched >= 2 or (matched == 1 and len(words) == 1):
                    candidates.append((matched, matched / len(words), part_number))
        if not candidates:
            return []
        best = max(matched for matched, _, _ in candidates)
        ranked = sorted((c for c in candidates if c[0] == best), key=lambda c: (-c[1], c[2]))
        return list(dict.fromkeys(part for _, _, part in ranked))[:_MAX_NAME_MATCHES]


def _name_words(name: str) -> list[str]:
    """Words of a part name that can identify it: no bare numbers, no one-letter Latin."""
    words = re.findall(r"[a-z0-9/.]+|[\uac00-\ud7a3]+", name.lower())
    return [
        word
        for word in words
        if (len(word) > 1 or _HANGUL.match(word)) and not word.replace("/", "").replace(".", "").isdigit()
    ]
