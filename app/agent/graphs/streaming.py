"""Streaming a text a bundled graph composed itself (no model), in word-sized pieces."""

from __future__ import annotations

import re
import time
import uuid

from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer

from ..control import RunControl

# Words with their trailing space: the offline writers' unit of streaming.
_PIECE = re.compile(r"\S+\s*|\s+")


def stream_text(text: str, control: RunControl, delay_s: float) -> AIMessage:
    """Send ``text`` as ``token`` payloads with ``delay_s`` between pieces; the whole as a message.

    The message's id is the tokens' ``message_id``, so the node's result is not sent again.
    """
    message_id = f"msg-{uuid.uuid4().hex}"
    writer = get_stream_writer()
    for piece in _PIECE.findall(text):
        control.raise_if_cancelled()
        writer({"type": "token", "content": piece, "message_id": message_id})
        if delay_s:
            time.sleep(delay_s)
    return AIMessage(content=text, id=message_id)
