"""The docs hold together: every relative link and #anchor resolves, every trap the code
cites by number is in docs/architecture.md's numbered list, and nothing cites a document
that is not in the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.server import REPO

PAGES = [REPO / "README.md", REPO / "clients" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"```.*?```", re.S)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_SKIP = {".git", ".venv", "node_modules", "var", "artifacts", "__pycache__"}


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for match in re.finditer(r"^#{1,6} (.*)$", _FENCE.sub("", page.read_text()), re.M):
        slug = base = _slug(match.group(1))
        n = 0
        while slug in found:
            n += 1
            slug = f"{base}-{n}"
        found.add(slug)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _LINK.findall(_FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: {broken}"


def _repo_texts() -> dict[Path, str]:
    """Every source, script, config and doc file of the repository, by path."""
    found = {}
    for folder, subfolders, files in os.walk(REPO):
        subfolders[:] = [name for name in subfolders if name not in _SKIP]
        for name in files:
            if Path(name).suffix in {".py", ".js", ".jsx", ".ts", ".md", ".conf", ".sh", ".html", ".example"}:
                found[Path(folder) / name] = (Path(folder) / name).read_text(errors="replace")
    return found


def test_every_cited_trap_is_numbered_in_architecture() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    traps = text[text.index("## Known traps") :]
    numbered = {int(n) for n in re.findall(r"^(\d+)\. ", traps, re.M)}
    assert numbered == set(range(1, max(numbered) + 1))
    cited: set[int] = set()
    for text in _repo_texts().values():
        cited |= {int(n) for n in re.findall(r"docs/architecture\.md,? trap (\d+)", text)}
    assert cited <= numbered, sorted(cited - numbered)


def test_nothing_cites_a_document_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|\.\./shared/")
    citing = [str(path.relative_to(REPO)) for path, text in _repo_texts().items() if outside.search(text)]
    assert citing == []
