"""Incremental HTTP/1.1 response reading and Server-Sent Events parsing, for the load generator.

Written for speed (thousands of streams in one process) but to the letter of the specs:

- HTTP/1.1 responses framed by ``Transfer-Encoding: chunked``, ``Content-Length`` or the
  connection closing (RFC 9112); chunk extensions and trailers are accepted and ignored.
- SSE (WHATWG HTML, "Parsing an event stream"): UTF-8, a leading BOM stripped, lines ended
  by CRLF, LF or CR (also when a CRLF is split across reads), comments, ``data`` lines
  joined with LF, ``id`` kept across events and ignored when it contains NUL, ``retry``
  only when all digits, and an unfinished event at the end of the stream discarded.

Nothing here knows the load generator; it turns bytes into messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE_END = re.compile(rb"\r\n|\r|\n")


class ProtocolError(ValueError):
    """The server sent bytes that are not a valid HTTP/1.1 response."""


@dataclass(slots=True)
class SSEMessage:
    data: str
    event: str
    id: str


@dataclass(slots=True)
class SSEParser:
    """Feed bytes, get the messages they complete (the spec's dispatch on a blank line)."""

    comments: int = 0
    retry: int | None = None
    last_event_id: str = ""
    _buffer: bytes = b""
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _started: bool = False

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        if not self._started:
            if not chunk:
                return []
            self._started = True
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
        buffer = self._buffer + chunk if self._buffer else chunk
        out: list[SSEMessage] = []
        start = 0
        end_of_buffer = len(buffer)
        for match in _LINE_END.finditer(buffer):
            if match.end() == end_of_buffer and match.group() == b"\r":
                break  # may be the first half of a CRLF: wait for the next read
            self._line(buffer[start : match.start()], out)
            start = match.end()
        self._buffer = buffer[start:]
        return out

    def _line(self, raw: bytes, out: list[SSEMessage]) -> None:
        if not raw:
            if self._data:
                out.append(SSEMessage("\n".join(self._data), self._event or "message", self.last_event_id))
                self._data = []
            self._event = ""
            return
        if raw[0] == 0x3A:  # ":" comment
            self.comments += 1
            return
        line = raw.decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "event":
            self._event = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)


@dataclass(slots=True)
class ResponseHead:
    status: int
    headers: dict[str, str]


class HTTPResponseReader:
    """Feed the bytes of one response; get its head once complete, and its body bytes."""

    __slots__ = ("_buffer", "_chunk_left", "_length_left", "_mode", "complete", "head")

    def __init__(self) -> None:
        self._buffer = b""
        self.head: ResponseHead | None = None
        self._mode = ""  # "chunked", "length" or "close"
        self._chunk_left = -1  # -1: reading a chunk-size line
        self._length_left = 0
        self.complete = False

    def feed(self, data: bytes) -> bytes:
        """Body bytes contained in ``data`` (after the head); sets ``complete`` at the end."""
        if self.head is None:
            self._buffer += data
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > 65536:
                    raise ProtocolError("response head too large")
                return b""
            self._parse_head(self._buffer[:end].decode("latin-1"))
            data, self._buffer = self._buffer[end + 4 :], b""
        if self._mode == "chunked":
            return self._dechunk(data)
        if self._mode == "length":
            data = data[: self._length_left]
            self._length_left -= len(data)
            self.complete = self._length_left <= 0
            return data
        return data

    def _parse_head(self, text: str) -> None:
        status_line, *lines = text.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {status_line!r}")
        headers: dict[str, str] = {}
        for line in lines:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"bad header line {line!r}")
            headers[name.strip().lower()] = value.strip()
        self.head = ResponseHead(int(parts[1]), headers)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._mode = "chunked"
        elif "content-length" in headers:
            self._mode = "length"
            self._length_left = int(headers["content-length"])
            self.complete = self._length_left == 0
        elif self.head.status in (204, 304) or 100 <= self.head.status < 200:
            self._mode = "length"
            self.complete = True
        else:
            self._mode = "close"

    def _dechunk(self, data: bytes) -> bytes:
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        pos = 0
        while pos < len(buffer) and not self.complete:
            if self._chunk_left < 0:
                eol = buffer.find(b"\r\n", pos)
                if eol < 0:
                    break
                size_text = buffer[pos:eol].split(b";", 1)[0].strip()
                try:
                    self._chunk_left = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text!r}") from None
                pos = eol + 2
                if self._chunk_left == 0:
                    self.complete = True  # trailers and the final CRLF are not needed
                    break
            take = min(self._chunk_left, len(buffer) - pos)
            if take:
                out.append(buffer[pos : pos + take])
                pos += take
                self._chunk_left -= take
            if self._chunk_left == 0:
                if len(buffer) - pos < 2:
                    break  # the CRLF after the chunk has not arrived
                if buffer[pos : pos + 2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                pos += 2
                self._chunk_left = -1
        self._buffer = buffer[pos:]
        return b"".join(out)

    def connection_closed(self) -> None:
        """The peer closed: that ends a close-delimited body."""
        if self._mode == "close":
            self.complete = True
