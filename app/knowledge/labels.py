"""Wording shared by the retrieval tables and the offline writer, in Korean and English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from .models import Language

# unit code -> (Korean suffix, English singular, English plural)
_UNITS: dict[str, tuple[str, str, str]] = {
    "EA": ("개", "unit", "units"),
    "SET": ("세트", "set", "sets"),
    "BOX": ("박스", "box", "boxes"),
    "M": ("m", "m", "m"),
    "L": ("L", "L", "L"),
    "KG": ("kg", "kg", "kg"),
}

CATEGORIES: dict[str, tuple[str, str]] = {
    "seals": ("씰·개스킷", "seals & gaskets"),
    "belts": ("벨트·체인", "belts & chains"),
    "fasteners": ("체결류", "fasteners"),
    "electrical": ("전기", "electrical"),
    "hydraulics": ("유압", "hydraulics"),
    "filters": ("필터", "filters"),
    "valves": ("밸브", "valves"),
    "bearings": ("베어링", "bearings"),
    "motors": ("모터·구동", "motors & drives"),
    "sensors": ("센서", "sensors"),
    "pneumatics": ("공압", "pneumatics"),
    "lubricants": ("윤활유", "lubricants"),
    "safety": ("안전용품", "safety equipment"),
}


def number(value: float) -> str:
    """Thousands separators; one decimal only when the value is not whole."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.1f}"


def unit_label(unit: str, language: Language) -> str:
    """The unit as the chart axis or a table column names it ("개", "units")."""
    ko, _, plural = _UNITS.get(unit, (unit, unit, unit))
    return ko if language == "ko" else plural


def quantity(value: float, unit: str, language: Language) -> str:
    """``1,234개`` in Korean, ``1,234 units`` in English."""
    ko, singular, plural = _UNITS.get(unit, (unit, unit, unit))
    if language == "ko":
        return f"{number(value)}{ko}"
    return f"{number(value)} {singular if value == 1 else plural}"


def money(value: float, language: Language) -> str:
    return f"{number(value)}원" if language == "ko" else f"KRW {number(value)}"


def category(code: str, language: Language) -> str:
    ko, en = CATEGORIES.get(code, (code, code))
    return ko if language == "ko" else en


def name(record: Mapping[str, Any], language: Language) -> str:
    """The localised name of a part, warehouse or supplier record (``name_ko``/``name_en``)."""
    return str(record["name_ko"] if language == "ko" else record["name_en"])


T = TypeVar("T")


def pick(language: Language, ko: T, en: T) -> T:
    """The Korean or the English variant of a text or list of texts."""
    return ko if language == "ko" else en
