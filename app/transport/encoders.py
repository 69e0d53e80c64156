"""How a run's log entries become the bytes of one protocol's stream.

The read loop (``loop.py``) hands an encoder the entries that arrived since its last write,
each a native event's JSON in UTF-8, and writes what it answers. Two kinds plug in:

- Entry encoders turn entries into bytes directly. The native stream's writes each entry as
  it is, without parsing it (``encode_line_message``: a tenth of the CPU of parsing and
  encoding it again, per token and per subscriber); the LangGraph Platform API's is one too.
  Their clients reconnect by themselves (``EventSource``, the LangGraph SDKs), so
  :class:`Resumable` frames them with a ``retry:`` line first, which sends the headers at
  once (docs/architecture.md, trap 2), and a ``retry:`` hint last when the response is cut
  while the run goes on, so they resume on another worker (trap 8).
- Event encoders (:class:`LogEncoder`: the AI SDK's, AG-UI's, OpenAI's) take one parsed
  event at a time and say how their protocol ends; :class:`Parsed` adapts them. A comment
  leaves first: every protocol here parses SSE with comments allowed (the AI SDK's and
  AG-UI's eventsource-parser, the openai SDK's decoder).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..sse import encode_comment, encode_line_message, encode_retry

EncodeEntries = Callable[[list[bytes], int], bytes]
"""Turns log entries (UTF-8 JSON) into response bytes; the int is the sequence number of the first."""


class StreamEncoder(Protocol):
    """What the read loop writes: a head, the entries' bytes, and an end."""

    def head(self) -> bytes:
        """What leaves first, before any event, so the headers go out at once."""
        ...

    def encode(self, entries: list[bytes], first: int) -> bytes:
        """The bytes of ``entries``; ``first`` is the sequence number of the first of them."""
        ...

    def end(self, *, cut: bool) -> bytes:
        """After the last event; ``cut``: the run goes on but this response ends (a drain,
        or the run's feed was lost)."""
        ...


class Resumable:
    """An entry encoder for a client that reconnects by itself: ``retry:`` first, and last
    when the response is cut."""

    def __init__(self, encode: EncodeEntries, retry_ms: int) -> None:
        self.encode = encode
        self.retry = encode_retry(retry_ms)

    def head(self) -> bytes:
        return self.retry

    def end(self, *, cut: bool) -> bytes:
        return self.retry if cut else b""


def native_encoder(run_id: str, retry_ms: int) -> Resumable:
    """The native protocol: each entry as it is, under the id ``<run_id>:<seq>``."""
    prefix = run_id + ":"

    def encode(entries: list[bytes], first: int) -> bytes:
        return b"".join(
            encode_line_message(entry, prefix + str(seq)) for seq, entry in enumerate(entries, first)
        )

    return Resumable(encode, retry_ms)


class LogEncoder(Protocol):
    """Turns native events (parsed log entries) into one protocol's bytes."""

    def encode(self, event: Mapping[str, Any]) -> bytes: ...

    def end(self, *, cut: bool) -> bytes:
        """After the last event; ``cut``: the run goes on but this response ends (drain)."""
        ...


class Parsed:
    """A :class:`LogEncoder` as a stream encoder: each entry parsed, then encoded."""

    def __init__(self, encoder: LogEncoder) -> None:
        self.encoder = encoder

    def head(self) -> bytes:
        return encode_comment("stagecast")

    def encode(self, entries: list[bytes], first: int) -> bytes:
        return b"".join(self.encoder.encode(json.loads(entry)) for entry in entries)

    def end(self, *, cut: bool) -> bytes:
        return self.encoder.end(cut=cut)
