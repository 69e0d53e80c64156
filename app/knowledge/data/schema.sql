-- Schema of the bundled inventory database; rows come from inventory.sql.

CREATE TABLE warehouses (
    code    TEXT PRIMARY KEY,
    name_en TEXT NOT NULL,
    name_ko TEXT NOT NULL,
    city    TEXT NOT NULL
);

CREATE TABLE suppliers (
    code           TEXT PRIMARY KEY,
    name_en        TEXT NOT NULL,
    name_ko        TEXT NOT NULL,
    country        TEXT NOT NULL,
    lead_time_days INTEGER NOT NULL CHECK (lead_time_days > 0)
);

CREATE TABLE parts (
    part_number   TEXT PRIMARY KEY,
    name_en       TEXT NOT NULL,
    name_ko       TEXT NOT NULL,
    category      TEXT NOT NULL,
    unit          TEXT NOT NULL,   -- EA, SET, BOX, M, L, KG
    unit_price    INTEGER NOT NULL CHECK (unit_price >= 0),   -- KRW
    supplier_code TEXT NOT NULL REFERENCES suppliers (code),
    reorder_point INTEGER NOT NULL CHECK (reorder_point >= 0) -- network-wide total
);

CREATE TABLE stock_levels (
    part_number    TEXT NOT NULL REFERENCES parts (part_number),
    warehouse_code TEXT NOT NULL REFERENCES warehouses (code),
    quantity       INTEGER NOT NULL CHECK (quantity >= 0),
    as_of          TEXT NOT NULL,
    PRIMARY KEY (part_number, warehouse_code)
);

CREATE TABLE monthly_usage (
    part_number TEXT NOT NULL REFERENCES parts (part_number),
    month       TEXT NOT NULL,     -- YYYY-MM
    quantity    INTEGER NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (part_number, month)
);
