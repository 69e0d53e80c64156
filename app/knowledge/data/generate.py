"""Deterministic generator of ``inventory.sql``, the bundled inventory data.

The catalogue below is hand-written; stock levels and monthly usage are derived from it
with a hash (no random state), so ``python -m app.knowledge.data.generate`` always writes
the same file. ``--check`` exits non-zero when the committed file differs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

OUTPUT = Path(__file__).with_name("inventory.sql")

MONTHS = [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]
AS_OF = "2026-10-31"

# code, English name, Korean name, city
WAREHOUSES = [
    ("WH-SEL", "Seoul", "서울", "Seoul"),
    ("WH-PUS", "Busan", "부산", "Busan"),
    ("WH-ICN", "Incheon", "인천", "Incheon"),
    ("WH-DJN", "Daejeon", "대전", "Daejeon"),
]

# code, English name, Korean name, country, lead time in days
SUPPLIERS = [
    ("SUP-DH", "Daehan Hydraulics Co.", "대한유압", "KR", 14),
    ("SUP-HB", "Hanbit Electric", "한빛전기", "KR", 7),
    ("SUP-SB", "Seoul Bearing Industrial", "서울베어링공업", "KR", 10),
    ("SUP-BF", "Busan Filter Tech", "부산필터테크", "KR", 5),
    ("SUP-KP", "Kumho Pneumatics", "금호공압", "KR", 12),
    ("SUP-GS", "GlobalSeal Inc.", "글로벌씰", "US", 30),
    ("SUP-OS", "Orion Sensors GmbH", "오리온센서", "DE", 28),
    ("SUP-ML", "Mirae Lubricants", "미래윤활", "KR", 6),
    ("SUP-TF", "Taeyang Fasteners", "태양체결", "KR", 4),
    ("SUP-AS", "Hankook Safety Supply", "한국안전용품", "KR", 3),
]

# part number, English name, Korean name, category, unit, unit price (KRW), supplier, reorder point
PARTS = [
    ("ABC-12345", "Hydraulic Pump Seal Kit", "유압 펌프 씰 키트", "seals", "EA", 48500, "SUP-GS", 200),
    (
        "ABC-12346",
        "Hydraulic Cylinder Repair Kit",
        "유압 실린더 수리 키트",
        "seals",
        "EA",
        92000,
        "SUP-GS",
        40,
    ),
    ("ABC-20418", "Gearbox Gasket Set", "기어박스 개스킷 세트", "seals", "SET", 36000, "SUP-GS", 60),
    ("ABC-30772", "Conveyor Maintenance Kit", "컨베이어 정비 키트", "belts", "SET", 155000, "SUP-KP", 15),
    (
        "XYZ-00421",
        "Stainless Hex Bolt M12x40",
        "스테인리스 육각 볼트 M12x40",
        "fasteners",
        "BOX",
        18000,
        "SUP-TF",
        80,
    ),
    (
        "XYZ-00422",
        "Stainless Hex Nut M12",
        "스테인리스 육각 너트 M12",
        "fasteners",
        "BOX",
        9500,
        "SUP-TF",
        80,
    ),
    ("XYZ-00510", "Spring Washer M12", "스프링 와셔 M12", "fasteners", "BOX", 6000, "SUP-TF", 60),
    ("XYZ-01288", "Anchor Bolt M16x150", "앵커 볼트 M16x150", "fasteners", "EA", 3200, "SUP-TF", 300),
    ("XYZ-02040", "Cable Tie 300mm", "케이블 타이 300mm", "electrical", "BOX", 7800, "SUP-HB", 50),
    ("HYD-20310", "Hydraulic Gear Pump 20cc", "유압 기어 펌프 20cc", "hydraulics", "EA", 685000, "SUP-DH", 6),
    ("HYD-20311", "Hydraulic Pump Coupling", "유압 펌프 커플링", "hydraulics", "EA", 74000, "SUP-DH", 20),
    ("HYD-20455", "Hydraulic Hose 1/2in 2m", "유압 호스 1/2인치 2m", "hydraulics", "EA", 38000, "SUP-DH", 60),
    ("HYD-20460", "Hydraulic Hose 3/4in 3m", "유압 호스 3/4인치 3m", "hydraulics", "EA", 56000, "SUP-DH", 40),
    ("HYD-20502", "Hydraulic Cylinder 50x300", "유압 실린더 50x300", "hydraulics", "EA", 420000, "SUP-DH", 5),
    (
        "HYD-20610",
        "Hydraulic Oil Filter Element",
        "유압 오일 필터 엘리먼트",
        "filters",
        "EA",
        29000,
        "SUP-BF",
        120,
    ),
    ("HYD-20720", "Hydraulic Pressure Relief Valve", "유압 릴리프 밸브", "valves", "EA", 198000, "SUP-DH", 8),
    (
        "HYD-20815",
        "Hydraulic Quick Coupler 1/2in",
        "유압 퀵 커플러 1/2인치",
        "hydraulics",
        "EA",
        24500,
        "SUP-DH",
        50,
    ),
    ("FLT-10001", "Air Filter Cartridge", "에어 필터 카트리지", "filters", "EA", 22000, "SUP-BF", 150),
    ("FLT-10002", "Engine Oil Filter", "엔진 오일 필터", "filters", "EA", 15500, "SUP-BF", 150),
    ("FLT-10017", "Fuel Filter", "연료 필터", "filters", "EA", 18700, "SUP-BF", 100),
    ("FLT-10230", "HEPA Filter Panel", "HEPA 필터 패널", "filters", "EA", 87000, "SUP-BF", 20),
    (
        "BRG-62050",
        "Deep Groove Ball Bearing 6205",
        "깊은 홈 볼 베어링 6205",
        "bearings",
        "EA",
        8900,
        "SUP-SB",
        200,
    ),
    (
        "BRG-62080",
        "Deep Groove Ball Bearing 6208",
        "깊은 홈 볼 베어링 6208",
        "bearings",
        "EA",
        14200,
        "SUP-SB",
        120,
    ),
    (
        "BRG-22210",
        "Spherical Roller Bearing 22210",
        "구면 롤러 베어링 22210",
        "bearings",
        "EA",
        96000,
        "SUP-SB",
        30,
    ),
    (
        "BRG-30206",
        "Tapered Roller Bearing 30206",
        "테이퍼 롤러 베어링 30206",
        "bearings",
        "EA",
        21500,
        "SUP-SB",
        80,
    ),
    (
        "BRG-50120",
        "Pillow Block Bearing UCP205",
        "필로우 블록 베어링 UCP205",
        "bearings",
        "EA",
        32000,
        "SUP-SB",
        40,
    ),
    ("ELC-30010", "Circuit Breaker 3P 30A", "배선용 차단기 3P 30A", "electrical", "EA", 45000, "SUP-HB", 25),
    ("ELC-30025", "Magnetic Contactor 25A", "전자 접촉기 25A", "electrical", "EA", 52000, "SUP-HB", 20),
    ("ELC-30100", "Control Relay 24V DC", "제어 릴레이 24V DC", "electrical", "EA", 11000, "SUP-HB", 100),
    ("ELC-30215", "Limit Switch", "리밋 스위치", "electrical", "EA", 27500, "SUP-HB", 40),
    ("ELC-30340", "Power Cable 4C 2.5sq", "전원 케이블 4C 2.5sq", "electrical", "M", 3800, "SUP-HB", 500),
    ("ELC-30401", "LED Work Light 24V", "LED 작업등 24V", "electrical", "EA", 64000, "SUP-HB", 10),
    ("MTR-40075", "Induction Motor 0.75kW", "유도 전동기 0.75kW", "motors", "EA", 310000, "SUP-HB", 4),
    ("MTR-40220", "Induction Motor 2.2kW", "유도 전동기 2.2kW", "motors", "EA", 540000, "SUP-HB", 3),
    ("MTR-40550", "Gear Reducer 1:30", "기어 감속기 1:30", "motors", "EA", 470000, "SUP-HB", 3),
    ("MTR-41000", "Servo Motor 1kW", "서보 모터 1kW", "motors", "EA", 890000, "SUP-OS", 2),
    (
        "SNS-50012",
        "Inductive Proximity Sensor M12",
        "유도형 근접 센서 M12",
        "sensors",
        "EA",
        35000,
        "SUP-OS",
        50,
    ),
    ("SNS-50030", "Photoelectric Sensor", "광전 센서", "sensors", "EA", 58000, "SUP-OS", 30),
    (
        "SNS-50110",
        "Pressure Transmitter 0-250 bar",
        "압력 트랜스미터 0-250 bar",
        "sensors",
        "EA",
        265000,
        "SUP-OS",
        6,
    ),
    ("SNS-50240", "PT100 Temperature Sensor", "PT100 온도 센서", "sensors", "EA", 42000, "SUP-OS", 20),
    ("SNS-50301", "Vibration Sensor", "진동 센서", "sensors", "EA", 380000, "SUP-OS", 4),
    ("PNU-60008", "Pneumatic Cylinder 32x100", "공압 실린더 32x100", "pneumatics", "EA", 68000, "SUP-KP", 15),
    ("PNU-60014", "Solenoid Valve 5/2 24V", "솔레노이드 밸브 5/2 24V", "valves", "EA", 54000, "SUP-KP", 25),
    (
        "PNU-60020",
        "Air Regulator with Gauge",
        "게이지 부착 공기 레귤레이터",
        "pneumatics",
        "EA",
        41000,
        "SUP-KP",
        15,
    ),
    ("PNU-60033", "Pneumatic Tube 8mm", "공압 튜브 8mm", "pneumatics", "M", 1200, "SUP-KP", 400),
    ("PNU-60045", "Push-in Fitting 8mm", "원터치 피팅 8mm", "pneumatics", "EA", 1900, "SUP-KP", 300),
    ("LUB-70010", "Hydraulic Oil ISO VG 46", "유압유 ISO VG 46", "lubricants", "L", 4200, "SUP-ML", 800),
    ("LUB-70020", "Gear Oil ISO VG 220", "기어유 ISO VG 220", "lubricants", "L", 5600, "SUP-ML", 400),
    ("LUB-70031", "Lithium Grease EP2", "리튬 그리스 EP2", "lubricants", "KG", 9800, "SUP-ML", 150),
    ("LUB-70045", "Chain Lubricant Spray", "체인 윤활 스프레이", "lubricants", "EA", 8500, "SUP-ML", 60),
    ("BLT-80050", "V-Belt B-50", "V벨트 B-50", "belts", "EA", 12500, "SUP-KP", 60),
    ("BLT-80110", "Timing Belt HTD 8M", "타이밍 벨트 HTD 8M", "belts", "EA", 46000, "SUP-KP", 20),
    ("BLT-80200", "Roller Chain RS60", "롤러 체인 RS60", "belts", "M", 15000, "SUP-KP", 50),
    ("VLV-70100", "Ball Valve 1in", "볼 밸브 1인치", "valves", "EA", 32000, "SUP-DH", 25),
    ("VLV-70215", "Check Valve 1/2in", "체크 밸브 1/2인치", "valves", "EA", 18500, "SUP-DH", 30),
    ("SAF-90001", "Cut-Resistant Safety Gloves", "절단 방지 안전 장갑", "safety", "EA", 6500, "SUP-AS", 100),
    ("SAF-90012", "Safety Goggles", "보안경", "safety", "EA", 9000, "SUP-AS", 50),
    ("SAF-90030", "Lockout Tagout Kit", "LOTO 잠금표지 키트", "safety", "SET", 128000, "SUP-AS", 6),
]

# Parts whose network stock sits below the reorder point (stock = factor x reorder point).
LOW_STOCK_FACTORS = {
    "HYD-20310": 0.5,
    "BRG-22210": 0.6,
    "ELC-30025": 0.75,
    "SNS-50110": 0.5,
    "MTR-40220": 0.34,
    "FLT-10002": 0.8,
    "PNU-60014": 0.7,
    "LUB-70031": 0.6,
    "SNS-50301": 0.0,
}

# The demo part of the README keeps hand-picked, round-looking figures.
FIXED_STOCK = {"ABC-12345": {"WH-SEL": 500, "WH-PUS": 434, "WH-ICN": 300, "WH-DJN": 0}}

# Share of a part's stock held by each warehouse, before the per-part jitter.
WAREHOUSE_WEIGHTS = {"WH-SEL": 0.35, "WH-PUS": 0.25, "WH-ICN": 0.25, "WH-DJN": 0.15}

# Demand is higher in spring and autumn maintenance seasons.
SEASONALITY = {
    "01": 0.85,
    "02": 0.9,
    "03": 1.15,
    "04": 1.2,
    "05": 1.05,
    "06": 0.95,
    "07": 0.9,
    "08": 0.85,
    "09": 1.1,
    "10": 1.15,
    "11": 1.0,
    "12": 0.8,
}


def _unit_hash(*keys: str) -> float:
    """A stable pseudo-random number in [0, 1) for the given keys."""
    digest = hashlib.sha256("|".join(keys).encode()).hexdigest()
    return int(digest[:12], 16) / float(1 << 48)


def stock_levels(part_number: str, reorder_point: int) -> dict[str, int]:
    """Quantity per warehouse for one part."""
    if part_number in FIXED_STOCK:
        return FIXED_STOCK[part_number]
    factor = LOW_STOCK_FACTORS.get(part_number, 1.3 + 2.2 * _unit_hash(part_number, "factor"))
    total = round(reorder_point * factor)
    weights = {}
    for code, weight in WAREHOUSE_WEIGHTS.items():
        # About one warehouse slot in six is empty, so "out of stock here" cases exist.
        empty = _unit_hash(part_number, code, "empty") < 0.17
        weights[code] = 0.0 if empty else weight * (0.6 + 0.8 * _unit_hash(part_number, code))
    share_total = sum(weights.values()) or 1.0
    levels = {code: int(total * weight / share_total) for code, weight in weights.items()}
    # Rounding leftovers go to the largest holder so the levels add up to the total.
    largest = max(weights, key=lambda code: (weights[code], code))
    if weights[largest]:
        levels[largest] += total - sum(levels.values())
    return levels


def monthly_usage(part_number: str, reorder_point: int) -> list[int]:
    """Units consumed per month in MONTHS for one part."""
    base = reorder_point * (0.35 + 0.3 * _unit_hash(part_number, "usage"))
    trend = (_unit_hash(part_number, "trend") - 0.5) * 0.04
    values = []
    for index, month in enumerate(MONTHS):
        noise = 0.8 + 0.4 * _unit_hash(part_number, month)
        value = base * SEASONALITY[month[5:]] * noise * (1 + trend * (index - 5.5))
        values.append(max(0, round(value)))
    return values


def _sql_value(value: str | int | float) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _insert(table: str, columns: list[str], rows: list[tuple[str | int | float, ...]]) -> str:
    lines = [f"INSERT INTO {table} ({', '.join(columns)}) VALUES"]
    body = ",\n".join("  (" + ", ".join(_sql_value(v) for v in row) + ")" for row in rows)
    return "\n".join(lines) + "\n" + body + ";\n"


def render() -> str:
    """The full text of inventory.sql."""
    stock_rows: list[tuple[str | int | float, ...]] = []
    usage_rows: list[tuple[str | int | float, ...]] = []
    for part in PARTS:
        part_number, reorder_point = part[0], part[7]
        levels = stock_levels(part_number, reorder_point)
        stock_rows.extend((part_number, code, levels[code], AS_OF) for code, *_ in WAREHOUSES)
        usage = monthly_usage(part_number, reorder_point)
        usage_rows.extend(zip([part_number] * len(MONTHS), MONTHS, usage, strict=True))
    sections = [
        "-- Bundled inventory data. Generated by app/knowledge/data/generate.py: edit that and",
        "-- run `python -m app.knowledge.data.generate`, do not edit this file by hand.",
        "",
        _insert("warehouses", ["code", "name_en", "name_ko", "city"], list(WAREHOUSES)),
        _insert("suppliers", ["code", "name_en", "name_ko", "country", "lead_time_days"], list(SUPPLIERS)),
        _insert(
            "parts",
            [
                "part_number",
                "name_en",
                "name_ko",
                "category",
                "unit",
                "unit_price",
                "supplier_code",
                "reorder_point",
            ],
            list(PARTS),
        ),
        _insert("stock_levels", ["part_number", "warehouse_code", "quantity", "as_of"], stock_rows),
        _insert("monthly_usage", ["part_number", "month", "quantity"], usage_rows),
    ]
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        return 0 if OUTPUT.read_text(encoding="utf-8") == text else 1
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
