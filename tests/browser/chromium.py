"""Headless Chromium from Debian for Playwright, and where screenshots go.

Playwright's own browser download is not used (it cannot download here): the tests drive
``/usr/bin/chromium`` from the Debian package. Install it with
``apt-get install -y chromium fonts-noto-cjk`` (the fonts make Hangul render).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.server import REPO

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = "apt-get update && apt-get install -y chromium fonts-noto-cjk"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "artifacts" / "browser"


def missing_chromium() -> str | None:
    """Why the browser tests cannot run, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing; the browser tests need Debian's Chromium: {INSTALL_HINT}"
    return None


def korean_fonts() -> list[str]:
    """Font files fontconfig offers for Korean (empty: Hangul would render as boxes)."""
    if shutil.which("fc-list") is None:
        return []
    listing = subprocess.run(
        ["fc-list", ":lang=ko", "file"], capture_output=True, text=True, check=False
    ).stdout
    return [line.strip().rstrip(":") for line in listing.splitlines() if line.strip()]


def artifact(name: str) -> Path:
    """``artifacts/browser/<name>`` at the repository root (git-ignored), directory made."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
