"""How ``stagecast ask`` shows a run: raw JSON lines, plain text, or a live rich display.

Presenters only draw: they get each event with the :class:`RunView` it produced and never
touch the network. The stream reading lives in :mod:`app.cli.stream`.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Protocol, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .stream import Reconnect, WireEvent
from .view import RunView, Stage

_STATUS_STYLE = {
    "success": "bold green",
    "error": "bold red",
    "cancelled": "bold yellow",
    "timeout": "bold red",
    "paused": "bold yellow",
}
_BAR = "█"
_BAR_WIDTH = 32
_SERIES_STYLES = ("cyan", "magenta", "green", "yellow", "blue")


class Presenter(Protocol):
    def event(self, event: WireEvent, view: RunView) -> None: ...

    def reconnecting(self, info: Reconnect, view: RunView) -> None: ...

    def close(self, view: RunView) -> None: ...


class JsonPresenter:
    """``--json``: every event's ``data`` line as sent, one JSON document per line."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def event(self, event: WireEvent, view: RunView) -> None:
        self.out.write(event.raw + "\n")
        self.out.flush()

    def reconnecting(self, info: Reconnect, view: RunView) -> None:
        self.err.write(f"stagecast: {_reconnect_text(info)}\n")

    def close(self, view: RunView) -> None:
        self.out.flush()


class PlainPresenter:
    """Not a terminal (a pipe, a log): one line per stage change, the answer as it streams."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._in_answer = False

    def event(self, event: WireEvent, view: RunView) -> None:
        kind, data = event.type, event.data
        if kind == "start":
            self._line(f"run {view.run_id} (agent {view.agent}, thread {view.thread_id})")
        elif kind == "progress" and isinstance(data, dict):
            stage = _find_stage(view, data)
            if stage is not None and data.get("status") == "completed":
                self._line(f"✓ {stage.name} {_ms(stage.elapsed_ms())} {stage.message}".rstrip())
            elif stage is not None and data.get("message"):
                self._line(f"▸ {stage.name}: {data['message']}")
        elif kind == "tool_call" and isinstance(data, dict):
            self._line(f"⚙ {data.get('name')} {data.get('status')}")
        elif kind == "token" and isinstance(data, dict):
            self._in_answer = True
            self.console.file.write(str(data.get("content", "")))
            self.console.file.flush()
        elif kind == "error" and isinstance(data, dict):
            self._line(f"✗ {data.get('error')}: {data.get('message')}")
        elif kind == "interrupt":
            for item in view.interrupts:
                self._line(f"? {question_text(item)}")
        elif kind == "restart":
            # Printed text cannot be taken back: say so, then write again what still counts,
            # so that what follows this line is the answer (the cut-off node writes the rest).
            self._line(f"↻ {_restart_text(view)}; the answer starts again")
            if view.answer:
                self._in_answer = True
                self.console.file.write(view.answer)
                self.console.file.flush()

    def reconnecting(self, info: Reconnect, view: RunView) -> None:
        self._line(f"… {_reconnect_text(info)}")

    def close(self, view: RunView) -> None:
        self._end_answer()
        if view.events:
            for renderable in summary(view):
                self.console.print(renderable)

    def _line(self, text: str) -> None:
        self._end_answer()
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def _end_answer(self) -> None:
        if self._in_answer:
            self.console.file.write("\n")
            self._in_answer = False


class LivePresenter:
    """A terminal: the stages with spinners and timings, and the answer typing in below them."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._notice: str | None = None
        self._clock_offset_ms: int | None = None
        self._view = RunView()
        self._live = Live(_Frame(self), console=console, refresh_per_second=12, vertical_overflow="visible")
        self._live.start()

    def event(self, event: WireEvent, view: RunView) -> None:
        self._view = view
        self._notice = None
        ts = event.event.get("ts")
        if isinstance(ts, int):
            # The server's clock, as seen from here: running stages tick between events.
            self._clock_offset_ms = _now_ms() - ts

    def reconnecting(self, info: Reconnect, view: RunView) -> None:
        self._view = view
        self._notice = _reconnect_text(info)

    def close(self, view: RunView) -> None:
        self._view = view
        self._notice = None
        if not view.events:
            self._live.transient = True  # nothing came: leave no empty frame behind
        self._live.stop()
        if view.events:
            for renderable in summary(view):
                self.console.print(renderable)

    def render(self) -> RenderableType:
        view = self._view
        now_ts = None if self._clock_offset_ms is None else _now_ms() - self._clock_offset_ms
        parts: list[RenderableType] = [stages_table(view, now_ts, live=True)]
        if self._notice:
            parts.append(Text(f"⚠ {self._notice}", style="yellow"))
        if view.restarted:
            parts.append(Text(f"↻ {_restart_text(view)}", style="cyan"))
        answer = Text(view.answer)
        if not view.finished and view.status != "connecting":
            answer.append("▌", style="blink bold")
        parts.append(answer)
        return Group(*parts)


class _Frame:
    """Re-rendered by Live on each refresh."""

    def __init__(self, presenter: LivePresenter) -> None:
        self.presenter = presenter

    def __rich__(self) -> RenderableType:
        return self.presenter.render()


# --- renderables shared by the presenters ---


def stages_table(view: RunView, now_ts: int | None = None, live: bool = False) -> Table:
    title = f"run {view.run_id or '…'}" + (f" · {view.agent}" if view.agent else "")
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 1))
    table.add_column(width=2)
    table.add_column(style="bold")
    table.add_column(justify="right", style="dim")
    table.add_column()
    for stage in view.stages:
        icon: RenderableType
        if stage.done:
            icon = Text("✓", style="green")
        elif view.finished:
            icon = Text("✗", style="red")
        elif live:
            icon = Spinner("dots", style="cyan")
        else:
            icon = Text("▸", style="cyan")
        progress = f" ({stage.step}/{stage.total})" if stage.step and stage.total else ""
        table.add_row(icon, stage.name, _ms(stage.elapsed_ms(now_ts)), Text(stage.message + progress))
    if not view.stages:
        table.add_row(Spinner("dots") if live else Text("…"), "connecting", "", "")
    return table


def summary(view: RunView) -> list[RenderableType]:
    """What follows the answer once the run is over: sources, table, chart, the outcome."""
    out: list[RenderableType] = []
    if view.sources:
        out.append(sources_table(view.sources))
    final = view.final or {}
    table_data, chart_data = final.get("table_data"), final.get("chart_data")
    if isinstance(table_data, dict):
        out += [heading(str(table_data.get("title", ""))), data_table(table_data)]
    if isinstance(chart_data, dict):
        unit = f" ({chart_data['unit']})" if chart_data.get("unit") else ""
        out += [heading(f"{chart_data.get('title', '')}{unit}"), bar_chart(chart_data)]
    if view.interrupts:
        out.append(heading("The agent asks"))
        out += [Text(f"? {question_text(item)}", style="bold yellow") for item in view.interrupts]
    out.append(outcome(view))
    return out


def heading(title: str) -> Text:
    """A title above a table: on its own line, so a long one is not wrapped to the table's width."""
    return Text(title, style="bold")


def sources_table(sources: list[dict[str, Any]]) -> Table:
    table = Table(title="Sources", title_justify="left", show_edge=False, header_style="bold")
    table.add_column("#", justify="right", style="dim")
    table.add_column("title")
    table.add_column("score", justify="right")
    for index, source in enumerate(sources, 1):
        score = source.get("score")
        table.add_row(
            str(index),
            Text(str(source.get("title", source.get("id", "")))),
            "" if score is None else f"{float(score):.2f}",
        )
    return table


def data_table(table_data: dict[str, Any]) -> Table:
    table = Table(header_style="bold")
    rows = [row for row in table_data.get("rows", []) if isinstance(row, list)]
    for index, column in enumerate(table_data.get("columns", [])):
        numeric = all(isinstance(row[index], int | float) for row in rows if len(row) > index)
        table.add_column(Text(str(column)), justify="right" if numeric and rows else "left")
    for row in rows:
        table.add_row(*(Text(_cell(value)) for value in row))
    return table


def bar_chart(chart: dict[str, Any]) -> Table:
    """``chart_data`` as horizontal bars, one row per label and series."""
    table = Table(show_header=False, box=None, padding=(0, 1))
    table.add_column(style="dim")
    table.add_column()
    table.add_column(justify="right")
    labels = [str(label) for label in chart.get("labels", [])]
    series = [s for s in chart.get("series", []) if isinstance(s, dict)]
    values = [float(v) for s in series for v in s.get("values", []) if isinstance(v, int | float)]
    peak = max(values, default=0.0) or 1.0
    for index, label in enumerate(labels):
        for number, line in enumerate(series):
            points = line.get("values", [])
            if index >= len(points) or not isinstance(points[index], int | float):
                continue
            value = float(points[index])
            style = _SERIES_STYLES[number % len(_SERIES_STYLES)]
            bar = Text(_BAR * max(1 if value > 0 else 0, round(value / peak * _BAR_WIDTH)), style=style)
            name = f"{label} · {line.get('name')}" if len(series) > 1 else label
            table.add_row(Text(name), bar, _cell(value))
    return table


def outcome(view: RunView) -> Text:
    status = view.status
    text = Text(status, style=_STATUS_STYLE.get(status, "bold"))
    if view.duration_ms is not None:
        text.append(f" in {_ms(view.duration_ms)}")
    final = view.final or {}
    if final.get("confidence_score") is not None:
        text.append(f" · confidence {float(final['confidence_score']):.2f}")
    if view.error:
        text.append(f" · {view.error.get('error')}: {view.error.get('message')}", style="red")
    if view.run_id:
        text.append(f" · run {view.run_id}", style="dim")
    if view.thread_id:
        text.append(f" · conversation {view.thread_id}", style="dim")
    return text


def question_text(interrupt: dict[str, Any]) -> str:
    """A paused run's question as one line: its ``question`` text (or the value), and its options."""
    value = interrupt.get("value")
    if isinstance(value, dict):
        text = str(value.get("question") or json.dumps(value, ensure_ascii=False))
        options = value.get("options")
        if isinstance(options, list) and options:
            text += f" [{' / '.join(map(str, options))}]"
        return text
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def error_text(message: str) -> str:
    """A line for stderr (markup-safe)."""
    return f"[bold red]stagecast:[/] {escape(message)}"


# --- helpers ---


def _find_stage(view: RunView, data: dict[str, Any]) -> Stage | None:
    name = data.get("stage") or data.get("node")
    return next((s for s in reversed(view.stages) if s.name == name), None)


def _ms(value: int | None) -> str:
    if value is None:
        return ""
    return f"{value} ms" if value < 1000 else f"{value / 1000:.1f} s"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _reconnect_text(info: Reconnect) -> str:
    return f"connection lost ({info.reason}); rejoining in {info.delay_s:.1f} s (attempt {info.attempt})"


def _restart_text(view: RunView) -> str:
    return f"resumed on another worker (attempt {view.attempt})"


def _now_ms() -> int:
    return int(time.time() * 1000)
