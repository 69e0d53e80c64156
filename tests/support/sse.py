"""A spec-correct, incremental SSE parser (WHATWG HTML, "Parsing an event stream").

Independent of the server's encoder on purpose: tests read the stream as a browser would.
Handles LF, CR and CRLF line ends (also split across chunks), a leading BOM, comments,
multi-line data, ``id`` (kept across events, ignored if it contains NUL), ``retry`` (digits
only), and discards an incomplete event at the end of the stream.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SSEMessage:
    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class SSEParser:
    messages: list[SSEMessage] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    retry: int | None = None
    last_event_id: str = ""
    _buffer: str = ""
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _seen_bom: bool = False
    _pending_cr: bool = False
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")()
    )

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """Feed raw bytes; returns the messages completed by this chunk."""
        text = self._decoder.decode(chunk)
        if not self._seen_bom and text:
            self._seen_bom = True
            text = text.removeprefix("\ufeff")
        before = len(self.messages)
        for line in self._lines(text):
            self._line(line)
        return self.messages[before:]

    def _lines(self, text: str) -> Iterator[str]:
        for char in text:
            if self._pending_cr:
                self._pending_cr = False
                if char == "\n":
                    continue  # the LF of a CRLF
            if char in "\r\n":
                self._pending_cr = char == "\r"
                line, self._buffer = self._buffer, ""
                yield line
            else:
                self._buffer += char

    def _line(self, line: str) -> None:
        if line == "":
            self._dispatch()
            return
        if line.startswith(":"):
            self.comments.append(line[1:].removeprefix(" "))
            return
        name, sep, value = line.partition(":")
        if sep:
            value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)

    def _dispatch(self) -> None:
        if not self._data:
            self._event = ""
            return
        self.messages.append(
            SSEMessage(
                data="\n".join(self._data),
                event=self._event or "message",
                id=self.last_event_id,
                retry=self.retry,
            )
        )
        self._data = []
        self._event = ""


def parse(chunks: Iterable[bytes]) -> SSEParser:
    parser = SSEParser()
    for chunk in chunks:
        parser.feed(chunk)
    return parser
