"""Expected figures straight from the shipped SQL, independent of the app's own queries."""

from __future__ import annotations

import sqlite3
from functools import lru_cache

from tests.support.server import REPO

DATA = REPO / "app" / "knowledge" / "data"


@lru_cache(maxsize=1)
def _database() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.executescript((DATA / "schema.sql").read_text() + (DATA / "inventory.sql").read_text())
    return conn


def true_stock(part_number: str) -> int:
    (total,) = (
        _database()
        .execute("SELECT SUM(quantity) FROM stock_levels WHERE part_number = ?", (part_number,))
        .fetchone()
    )
    return int(total)
