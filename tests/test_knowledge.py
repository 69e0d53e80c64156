"""The embedded knowledge base: data, analysis, SQL retrieval, BM25 ranking and the writers.

Expected figures are computed here with independent SQL over the bundled SQL text, never
copied from the module under test.
"""

from __future__ import annotations

import re
import sqlite3
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.agent.graphs.chat.tools import knowledge_tools
from app.knowledge import (
    KnowledgeBase,
    QueryAnalysis,
    Retrieval,
    build_llm_context,
    compose_answer,
)
from app.knowledge.data import generate
from app.knowledge.documents import load_documents
from app.knowledge.periods import parse_period, resolve_period
from app.knowledge.search import BM25Index, tokenize

DATA_DIR = Path(__file__).resolve().parents[1] / "app" / "knowledge" / "data"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
MONTHS = [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]


@pytest.fixture(scope="module")
def kb() -> Iterator[KnowledgeBase]:
    knowledge = KnowledgeBase.open()
    yield knowledge
    knowledge.close()


@pytest.fixture(scope="module")
def db() -> Iterator[sqlite3.Connection]:
    """A separate database built straight from the committed SQL files."""
    connection = sqlite3.connect(":memory:")
    connection.executescript(
        (DATA_DIR / "schema.sql").read_text(encoding="utf-8")
        + (DATA_DIR / "inventory.sql").read_text(encoding="utf-8")
    )
    yield connection
    connection.close()


def ask(kb: KnowledgeBase, question: str) -> tuple[QueryAnalysis, Retrieval, str]:
    analysis = kb.analyze(question)
    retrieval = kb.retrieve(analysis, question)
    return analysis, retrieval, compose_answer(question, analysis, retrieval)


def total_stock(db: sqlite3.Connection, part_number: str) -> int:
    row = db.execute(
        "SELECT SUM(quantity) FROM stock_levels WHERE part_number = ?", (part_number,)
    ).fetchone()
    return int(row[0])


# --- data --------------------------------------------------------------------------------


def test_bundled_data_meets_the_size_requirements(db: sqlite3.Connection) -> None:
    parts = db.execute("SELECT COUNT(*) FROM parts").fetchone()[0]
    warehouses = db.execute("SELECT COUNT(*) FROM warehouses").fetchone()[0]
    assert parts >= 50
    assert warehouses >= 3
    assert db.execute("SELECT COUNT(*) FROM stock_levels").fetchone()[0] == parts * warehouses
    months = [r[0] for r in db.execute("SELECT DISTINCT month FROM monthly_usage ORDER BY 1")]
    assert months == MONTHS
    per_part = {r[0] for r in db.execute("SELECT COUNT(*) FROM monthly_usage GROUP BY part_number")}
    assert per_part == {12}
    assert db.execute("SELECT COUNT(*) FROM stock_levels WHERE quantity = 0").fetchone()[0] > 0
    below = db.execute(
        "SELECT COUNT(*) FROM parts p WHERE reorder_point > "
        "(SELECT SUM(quantity) FROM stock_levels s WHERE s.part_number = p.part_number)"
    ).fetchone()[0]
    assert below > 0
    assert all(re.fullmatch(r"[A-Z]{2,4}-\d{3,6}", r[0]) for r in db.execute("SELECT part_number FROM parts"))


def test_demo_part_is_stocked_in_several_warehouses(db: sqlite3.Connection) -> None:
    stocked = db.execute(
        "SELECT COUNT(*) FROM stock_levels WHERE part_number = 'ABC-12345' AND quantity > 0"
    ).fetchone()[0]
    assert stocked >= 2


def test_documents_cover_both_languages() -> None:
    documents = load_documents()
    assert len(documents) >= 30
    assert {doc.language for doc in documents} == {"ko", "en"}
    assert len({doc.id for doc in documents}) == len(documents)
    for doc in documents:
        assert doc.title and len(doc.sentences) >= 2
        assert bool(HANGUL.search(doc.body)) == (doc.language == "ko"), doc.id


def test_generator_reproduces_the_committed_inventory() -> None:
    assert generate.render() == (DATA_DIR / "inventory.sql").read_text(encoding="utf-8")


# --- analysis ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "intent", "parts", "warehouses", "period"),
    [
        ("ABC-12345 부품의 재고는?", "stock", ["ABC-12345"], [], None),
        ("How many abc-12345 are in Busan?", "stock", ["ABC-12345"], ["WH-PUS"], None),
        ("HYD-20310 사용량 추이 3월", "usage", ["HYD-20310"], [], "2026-03"),
        ("usage of XYZ-00421 over the last 3 months", "usage", ["XYZ-00421"], [], "last-3-months"),
        ("ABC-12345 가격과 공급업체는?", "part_info", ["ABC-12345"], [], None),
        ("재주문 기준점보다 부족한 부품은?", "low_stock", [], [], None),
        ("Which parts are below the reorder point?", "low_stock", [], [], None),
        ("창고 간 재고 이동 절차는?", "document", [], [], None),
        ("What is the returns policy?", "document", [], [], None),
        ("WH-ICN 인천 창고 재고 현황", "stock", [], ["WH-ICN"], None),
        ("유압 펌프 씰 키트 재고", "stock", ["ABC-12345"], [], None),
        ("오늘 날씨 어때?", "general", [], [], None),
    ],
)
def test_analysis_extracts_intent_and_entities(
    kb: KnowledgeBase,
    question: str,
    intent: str,
    parts: list[str],
    warehouses: list[str],
    period: str | None,
) -> None:
    analysis = kb.analyze(question)
    assert (analysis.intent, analysis.part_numbers, analysis.warehouses, analysis.period) == (
        intent,
        parts,
        warehouses,
        period,
    )
    assert analysis.language == ("ko" if HANGUL.search(question) else "en")


def test_supplier_name_is_not_read_as_a_warehouse(kb: KnowledgeBase) -> None:
    assert kb.analyze("서울베어링공업 리드타임은?").warehouses == []


@pytest.mark.parametrize(
    ("text", "period", "months"),
    [
        ("2026년 3월", "2026-03", ["2026-03"]),
        ("in March 2026", "2026-03", ["2026-03"]),
        ("11월 사용량", "2025-11", ["2025-11"]),
        ("최근 3개월", "last-3-months", ["2026-08", "2026-09", "2026-10"]),
        ("2026 Q1", "2026-Q1", ["2026-01", "2026-02", "2026-03"]),
        ("작년", "2025", ["2025-11", "2025-12"]),
        ("May I ask something?", None, MONTHS),
    ],
)
def test_periods_resolve_within_the_data_window(text: str, period: str | None, months: list[str]) -> None:
    assert parse_period(text, MONTHS) == period
    assert resolve_period(period, MONTHS) == months


# --- stock -------------------------------------------------------------------------------


def test_korean_stock_question_gives_the_sql_total(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    analysis, retrieval, answer = ask(kb, "ABC-12345 부품의 재고는?")
    assert (analysis.language, analysis.intent, analysis.part_numbers) == (
        "ko",
        "stock",
        ["ABC-12345"],
    )
    total = total_stock(db, "ABC-12345")
    assert f"총 재고는 {total:,}개입니다" in answer
    for name, quantity in db.execute(
        "SELECT w.name_ko, s.quantity FROM stock_levels s JOIN warehouses w "
        "ON w.code = s.warehouse_code WHERE s.part_number = 'ABC-12345'"
    ):
        assert f"{name} {quantity:,}개" in answer
    assert retrieval.found_parts == ["ABC-12345"] and retrieval.missing_parts == []
    assert retrieval.confidence_score >= 0.9
    assert retrieval.sources[0].id == "sql:stock:ABC-12345"
    assert retrieval.sources[0].metadata["kind"] == "database"
    assert retrieval.table_data is not None
    assert sum(row[-1] for row in retrieval.table_data.rows) == total  # type: ignore[misc]


def test_english_stock_question_is_answered_in_english(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    analysis, _, answer = ask(kb, "How many ABC-12345 do we have in stock?")
    assert analysis.language == "en"
    assert f"total stock is {total_stock(db, 'ABC-12345'):,} units" in answer
    assert not HANGUL.search(answer)


def test_stock_in_one_warehouse(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    busan = db.execute(
        "SELECT quantity FROM stock_levels WHERE part_number = 'ABC-12345' AND warehouse_code = 'WH-PUS'"
    ).fetchone()[0]
    _, _, answer = ask(kb, "부산 창고의 ABC-12345 재고는?")
    assert f"부산 창고 재고는 {busan:,}개입니다" in answer


def test_part_below_reorder_point_says_so(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    total = total_stock(db, "HYD-20310")
    reorder = db.execute("SELECT reorder_point FROM parts WHERE part_number = 'HYD-20310'").fetchone()[0]
    assert total < reorder
    _, _, answer = ask(kb, "What is the stock of HYD-20310?")
    assert f"{reorder - total} units below the reorder point of {reorder} units" in answer


@pytest.mark.parametrize(
    ("question", "statement"),
    [
        ("ZZZ-99999 재고는?", "ZZZ-99999 부품은 데이터베이스에 없습니다."),
        ("How many ZZZ-99999 are in stock?", "I have no record of part ZZZ-99999."),
    ],
)
def test_unknown_part_is_reported_without_figures(kb: KnowledgeBase, question: str, statement: str) -> None:
    _, retrieval, answer = ask(kb, question)
    assert retrieval.missing_parts == ["ZZZ-99999"] and retrieval.found_parts == []
    assert statement in answer
    assert not re.search(r"\d", answer.replace("ZZZ-99999", ""))
    assert retrieval.sources == [] and retrieval.table_data is None and retrieval.chart_data is None
    assert retrieval.confidence_score == 0.0


def test_known_and_unknown_parts_together(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    _, retrieval, answer = ask(kb, "stock of ABC-12345 and QQQ-00001?")
    assert (retrieval.found_parts, retrieval.missing_parts) == (["ABC-12345"], ["QQQ-00001"])
    assert "I have no record of part QQQ-00001." in answer
    assert f"{total_stock(db, 'ABC-12345'):,} units" in answer
    assert 0 < retrieval.confidence_score < 0.95


def test_low_stock_lists_exactly_the_parts_below_reorder_point(
    kb: KnowledgeBase, db: sqlite3.Connection
) -> None:
    expected = {
        r[0]
        for r in db.execute(
            "SELECT p.part_number FROM parts p JOIN stock_levels s USING (part_number) "
            "GROUP BY p.part_number HAVING SUM(s.quantity) < p.reorder_point"
        )
    }
    _, retrieval, answer = ask(kb, "재고 부족 부품 목록 알려줘")
    assert retrieval.table_data is not None
    assert {row[0] for row in retrieval.table_data.rows} == expected
    assert f"{len(expected)}개입니다" in answer
    assert all(part in answer for part in expected)


# --- usage -------------------------------------------------------------------------------


def test_usage_question_returns_the_monthly_series(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    analysis, retrieval, answer = ask(kb, "ABC-12345 월별 사용량 추이는?")
    assert analysis.intent == "usage"
    expected = dict(db.execute("SELECT month, quantity FROM monthly_usage WHERE part_number = 'ABC-12345'"))
    chart = retrieval.chart_data
    assert chart is not None and chart.type == "line"
    assert chart.labels == MONTHS
    assert chart.series[0].values == [float(expected[m]) for m in MONTHS]
    assert f"총 {sum(expected.values()):,}개" in answer


def test_usage_for_one_month(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    used = db.execute(
        "SELECT quantity FROM monthly_usage WHERE part_number = 'BRG-62050' AND month = '2026-03'"
    ).fetchone()[0]
    _, _, answer = ask(kb, "BRG-62050 usage in March 2026")
    assert f"used {used:,} units in 2026-03" in answer


def test_usage_outside_the_data_says_there_is_none(kb: KnowledgeBase) -> None:
    _, retrieval, answer = ask(kb, "2023년 사용량은?")
    assert "2023" in answer and "데이터는 없습니다" in answer
    assert retrieval.chart_data is None


# --- documents ---------------------------------------------------------------------------


def test_tokenizer_keeps_part_numbers_and_splits_korean_into_bigrams() -> None:
    tokens = tokenize("ABC-12345 부품의 재고는? Pumps")
    assert "abc-12345" in tokens
    assert {"부품", "재고", "고는"} <= set(tokens)
    assert "pump" in tokens


def test_bm25_prefers_the_rarer_term_and_scores_in_unit_range() -> None:
    index = BM25Index(["pump seal kit", "pump filter", "pump hose", "warehouse transfer"])
    ranked = index.search("seal pump", limit=4)
    assert ranked[0][0] == 0
    assert all(0 < score <= 1 for _, score in ranked)
    assert [score for _, score in ranked] == sorted((s for _, s in ranked), reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("창고 간 재고 이동은 어떻게 하나요?", "doc:warehouse-transfer"),
        ("안전 재고는 어떻게 계산하나요?", "doc:safety-stock-rule"),
        ("How do I return a defective part?", "doc:returns-policy-en"),
        ("hydraulic pump maintenance schedule", "doc:hydraulic-pump-maintenance"),
    ],
)
def test_bm25_ranks_the_relevant_document_first(kb: KnowledgeBase, query: str, expected: str) -> None:
    results = kb.search_documents(query)
    assert results[0].id == expected
    assert results[0].metadata["kind"] == "document"
    assert 0 < results[0].score <= 1
    scores = [result.score for result in results]
    assert scores == sorted(scores, reverse=True)


def test_document_question_quotes_the_top_document(kb: KnowledgeBase) -> None:
    _, retrieval, answer = ask(kb, "재주문 정책은 무엇인가요?")
    assert retrieval.sources[0].id == "doc:reorder-policy"
    assert "「재주문 정책」" in answer
    assert "2영업일 안에 발주서를 작성해야 합니다." in answer
    assert retrieval.table_data is None


@pytest.mark.parametrize(
    ("question", "opening"),
    [("Tell me a joke about penguins", "I don't know"), ("오늘 점심 메뉴 추천해줘", "죄송합니다")],
)
def test_unanswerable_question_says_it_does_not_know(kb: KnowledgeBase, question: str, opening: str) -> None:
    _, retrieval, answer = ask(kb, question)
    assert answer.startswith(opening)
    assert retrieval.confidence_score == 0.0 and retrieval.sources == []
    # The agent takes a follow-up's part numbers from earlier answers: this one must name none.
    assert kb.analyze(answer).part_numbers == []


# --- writers and runtime behaviour -------------------------------------------------------


def test_answers_are_deterministic(kb: KnowledgeBase) -> None:
    other = KnowledgeBase.open()
    for question in ("ABC-12345 부품의 재고는?", "What is the reorder policy?", "부산 창고 재고 현황"):
        first = ask(kb, question)
        assert first == ask(kb, question) == ask(other, question)
    other.close()


def test_retrieval_survives_a_json_round_trip(kb: KnowledgeBase) -> None:
    question = "ABC-12345 사용량 추이"
    analysis, retrieval, answer = ask(kb, question)
    restored = Retrieval.model_validate_json(retrieval.model_dump_json())
    analysis = QueryAnalysis.model_validate_json(analysis.model_dump_json())
    assert compose_answer(question, analysis, restored) == answer


def test_llm_context_carries_the_figures_and_the_gaps(kb: KnowledgeBase, db: sqlite3.Connection) -> None:
    analysis = kb.analyze("ABC-12345 and ZZZ-99999 stock?")
    context = build_llm_context(analysis, kb.retrieve(analysis, "ABC-12345 and ZZZ-99999 stock?"))
    assert f"total stock {total_stock(db, 'ABC-12345'):,} EA" in context
    assert "NO record in the database: ZZZ-99999" in context
    assert "WH-PUS Busan/부산" in context


def test_open_builds_and_reuses_a_database_file(tmp_path: Path, db: sqlite3.Connection) -> None:
    path = str(tmp_path / "knowledge.sqlite")
    for _ in range(2):
        knowledge = KnowledgeBase.open(path)
        _, retrieval, _ = ask(knowledge, "ABC-12345 stock")
        assert retrieval.facts["parts"][0]["total_stock"] == total_stock(db, "ABC-12345")
        knowledge.close()


def test_concurrent_questions_share_one_instance(kb: KnowledgeBase) -> None:
    questions = ["ABC-12345 재고", "HYD-20310 usage", "재고 부족 부품", "반품 정책"]
    expected = {q: ask(kb, q)[2] for q in questions}
    errors: list[str] = []

    def worker() -> None:
        for _ in range(25):
            for question in questions:
                if ask(kb, question)[2] != expected[question]:
                    errors.append(question)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_one_question_takes_well_under_ten_milliseconds(kb: KnowledgeBase) -> None:
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        ask(kb, "ABC-12345 부품의 재고는?")
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.010


def test_the_chat_tools_are_built_once_per_knowledge_base_and_shared_read_only(kb: KnowledgeBase) -> None:
    tools = knowledge_tools(kb)
    assert knowledge_tools(kb) is tools
    assert set(tools) == {"stock_lookup", "usage_history", "document_search"}
    # What sharing them saves: each tool builds the schema the model is told once.
    assert all(tool.tool_call_schema is tool.tool_call_schema for tool in tools.values())
    with pytest.raises(TypeError):
        tools["stock_lookup"] = tools["usage_history"]  # type: ignore[index]
