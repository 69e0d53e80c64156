"""What the OpenAI and AI SDK streams share on the wire: a message of compact JSON, and the
``[DONE]`` sentinel that ends them."""

from __future__ import annotations

import json
from typing import Any


def sse_data(payload: Any) -> bytes:
    """One ``data:`` message of compact JSON, UTF-8 as is (one line: JSON escapes newlines)."""
    return b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
"""The sentinel that ends an OpenAI and an AI SDK stream."""
