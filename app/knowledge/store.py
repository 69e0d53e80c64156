"""The inventory database: built from the bundled SQL text, queried with parameters.

One connection is shared by every greenlet of a process, so it is opened with
``check_same_thread=False`` and each query runs under a lock. Queries never yield to the
gevent hub while holding it (sqlite3 is plain blocking C code), so the lock is never contended
for long.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")
SCHEMA_FILE = DATA_DIR / "schema.sql"
INVENTORY_FILE = DATA_DIR / "inventory.sql"


@dataclass(frozen=True, slots=True)
class Warehouse:
    code: str
    name_en: str
    name_ko: str
    city: str


@dataclass(frozen=True, slots=True)
class Part:
    part_number: str
    name_en: str
    name_ko: str
    category: str
    unit: str
    unit_price: int
    supplier_code: str
    supplier_en: str
    supplier_ko: str
    lead_time_days: int
    reorder_point: int


@dataclass(frozen=True, slots=True)
class StockLevel:
    warehouse_code: str
    name_en: str
    name_ko: str
    quantity: int


@dataclass(frozen=True, slots=True)
class LowStockItem:
    part_number: str
    name_en: str
    name_ko: str
    unit: str
    total: int
    reorder_point: int


@dataclass(frozen=True, slots=True)
class WarehouseSummary:
    code: str
    name_en: str
    name_ko: str
    parts_in_stock: int
    parts_out_of_stock: int
    stock_value: int


@dataclass(frozen=True, slots=True)
class UsageTotal:
    part_number: str
    name_en: str
    name_ko: str
    unit: str
    quantity: int
    value: int


_PART_COLUMNS = """
    p.part_number, p.name_en, p.name_ko, p.category, p.unit, p.unit_price, p.supplier_code,
    s.name_en AS supplier_en, s.name_ko AS supplier_ko, s.lead_time_days, p.reorder_point
"""


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


class InventoryStore:
    """Typed, parameterised queries over the parts-inventory tables."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | None = None) -> InventoryStore:
        """Open ``path`` (or a new in-memory database), loading the bundled data if it is empty."""
        connection = sqlite3.connect(path or ":memory:", check_same_thread=False)
        connection.row_factory = sqlite3.Row
        has_parts = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'parts'"
        ).fetchone()
        if not has_parts:
            script = SCHEMA_FILE.read_text(encoding="utf-8")
            script += INVENTORY_FILE.read_text(encoding="utf-8")
            connection.executescript(script)
        return cls(connection)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    def months(self) -> list[str]:
        """Every month with usage data, oldest first (``YYYY-MM``)."""
        return [row[0] for row in self._rows("SELECT DISTINCT month FROM monthly_usage ORDER BY 1")]

    def as_of(self) -> str:
        """Date of the stock snapshot."""
        return str(self._rows("SELECT MAX(as_of) FROM stock_levels")[0][0])

    def warehouses(self) -> list[Warehouse]:
        rows = self._rows("SELECT code, name_en, name_ko, city FROM warehouses ORDER BY rowid")
        return [Warehouse(*row) for row in rows]

    def catalogue(self) -> list[Part]:
        """All parts, by part number."""
        rows = self._rows(
            f"SELECT {_PART_COLUMNS} FROM parts p JOIN suppliers s ON s.code = p.supplier_code "
            "ORDER BY p.part_number"
        )
        return [Part(*row) for row in rows]

    def parts(self, part_numbers: Sequence[str]) -> dict[str, Part]:
        """The parts among ``part_numbers`` that exist, keyed by part number."""
        if not part_numbers:
            return {}
        rows = self._rows(
            f"SELECT {_PART_COLUMNS} FROM parts p JOIN suppliers s ON s.code = p.supplier_code "
            f"WHERE p.part_number IN ({_placeholders(len(part_numbers))})",
            list(part_numbers),
        )
        return {row["part_number"]: Part(*row) for row in rows}

    def stock_levels(self, part_number: str) -> list[StockLevel]:
        """Quantity of one part in every warehouse, in warehouse order."""
        rows = self._rows(
            "SELECT w.code, w.name_en, w.name_ko, COALESCE(l.quantity, 0) "
            "FROM warehouses w LEFT JOIN stock_levels l "
            "ON l.warehouse_code = w.code AND l.part_number = ? ORDER BY w.rowid",
            [part_number],
        )
        return [StockLevel(*row) for row in rows]

    def usage(self, part_number: str, months: Sequence[str]) -> list[int]:
        """Units of one part used in each of ``months`` (0 where nothing is recorded)."""
        if not months:
            return []
        rows = self._rows(
            "SELECT month, quantity FROM monthly_usage "
            f"WHERE part_number = ? AND month IN ({_placeholders(len(months))})",
            [part_number, *months],
        )
        by_month = {row["month"]: int(row["quantity"]) for row in rows}
        return [by_month.get(month, 0) for month in months]

    def low_stock(self) -> list[LowStockItem]:
        """Parts whose network-wide stock is below their reorder point, most urgent first."""
        rows = self._rows(
            "SELECT p.part_number, p.name_en, p.name_ko, p.unit, "
            "COALESCE(SUM(l.quantity), 0) AS total, p.reorder_point "
            "FROM parts p LEFT JOIN stock_levels l ON l.part_number = p.part_number "
            "GROUP BY p.part_number HAVING total < p.reorder_point "
            "ORDER BY CAST(total AS REAL) / p.reorder_point, p.part_number"
        )
        return [LowStockItem(*row) for row in rows]

    def warehouse_summaries(self, codes: Sequence[str] = ()) -> list[WarehouseSummary]:
        """Parts held, parts at zero and stock value (KRW) per warehouse."""
        where = f"WHERE w.code IN ({_placeholders(len(codes))})" if codes else ""
        rows = self._rows(
            "SELECT w.code, w.name_en, w.name_ko, "
            "SUM(CASE WHEN l.quantity > 0 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN l.quantity = 0 THEN 1 ELSE 0 END), "
            "COALESCE(SUM(l.quantity * p.unit_price), 0) "
            "FROM warehouses w JOIN stock_levels l ON l.warehouse_code = w.code "
            f"JOIN parts p ON p.part_number = l.part_number {where} "
            "GROUP BY w.code ORDER BY w.rowid",
            list(codes),
        )
        return [WarehouseSummary(*row) for row in rows]

    def out_of_stock(self, warehouse_code: str) -> list[LowStockItem]:
        """Parts with zero stock in one warehouse, with their network totals."""
        rows = self._rows(
            "SELECT p.part_number, p.name_en, p.name_ko, p.unit, "
            "(SELECT SUM(quantity) FROM stock_levels t WHERE t.part_number = p.part_number), "
            "p.reorder_point "
            "FROM stock_levels l JOIN parts p ON p.part_number = l.part_number "
            "WHERE l.warehouse_code = ? AND l.quantity = 0 ORDER BY p.part_number",
            [warehouse_code],
        )
        return [LowStockItem(*row) for row in rows]

    def usage_value_by_month(self, months: Sequence[str]) -> list[int]:
        """Value (KRW) of all parts used in each of ``months``."""
        if not months:
            return []
        rows = self._rows(
            "SELECT u.month, SUM(u.quantity * p.unit_price) FROM monthly_usage u "
            "JOIN parts p ON p.part_number = u.part_number "
            f"WHERE u.month IN ({_placeholders(len(months))}) GROUP BY u.month",
            list(months),
        )
        by_month = {row[0]: int(row[1]) for row in rows}
        return [by_month.get(month, 0) for month in months]

    def top_usage(self, months: Sequence[str], limit: int = 5) -> list[UsageTotal]:
        """Parts with the highest usage value (KRW) over ``months``."""
        if not months:
            return []
        rows = self._rows(
            "SELECT p.part_number, p.name_en, p.name_ko, p.unit, SUM(u.quantity), "
            "SUM(u.quantity * p.unit_price) AS value FROM monthly_usage u "
            "JOIN parts p ON p.part_number = u.part_number "
            f"WHERE u.month IN ({_placeholders(len(months))}) "
            "GROUP BY p.part_number ORDER BY value DESC, p.part_number LIMIT ?",
            [*months, limit],
        )
        return [UsageTotal(*row) for row in rows]
