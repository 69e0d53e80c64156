"""The bundled documents: Markdown files with a small front matter block.

Each ``data/documents/<id>.md`` starts with::

    ---
    title: 재주문 정책
    language: ko
    parts: ABC-12345, HYD-20310
    ---

followed by the body. ``parts`` is optional. The file name (without ``.md``) is the id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from .models import Language
from .store import DATA_DIR

DOCUMENTS_DIR = DATA_DIR / "documents"

# Full stops after these abbreviations do not end a sentence ("GlobalSeal Inc. needs ...").
_SENTENCE_END = re.compile(r"(?<!\bInc\.)(?<!\bCo\.)(?<!e\.g\.)(?<=[.!?。])\s+")


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    title: str
    language: Language
    body: str
    part_numbers: tuple[str, ...] = ()

    @property
    def sentences(self) -> list[str]:
        return split_sentences(self.body)


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences on ``.``, ``!``, ``?`` followed by white space."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


def parse_document(doc_id: str, text: str) -> Document:
    """Parse one document file; raise ValueError when its front matter is malformed."""
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    if match is None:
        raise ValueError(f"document {doc_id}: missing front matter")
    header: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"document {doc_id}: bad front matter line {line!r}")
        header[key.strip()] = value.strip()
    language = header.get("language")
    if language not in ("ko", "en"):
        raise ValueError(f"document {doc_id}: language must be ko or en, not {language!r}")
    if not header.get("title"):
        raise ValueError(f"document {doc_id}: missing title")
    parts = tuple(p.strip().upper() for p in header.get("parts", "").split(",") if p.strip())
    body = " ".join(match.group(2).split())
    return Document(doc_id, header["title"], cast(Language, language), body, parts)


def load_documents(directory: Path = DOCUMENTS_DIR) -> list[Document]:
    """Every document in ``directory``, sorted by id."""
    return [
        parse_document(path.stem, path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.md"))
    ]
