"""The results as Markdown: the table, the targets with their ratios, and the machine.

``docs/benchmarks.md`` keeps its hand-written reading; a run replaces only the block between
``<!-- BEGIN bench:<mode> -->`` and ``<!-- END bench:<mode> -->`` (``full`` or ``quick``).
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench.contenders import CONTENDERS, REPO
from bench.harness import DIRECT
from bench.scenarios import Scenario

PACKAGES = (
    "flask",
    "gunicorn",
    "gevent",
    "langgraph",
    "langchain-core",
    "langchain-openai",
    "openai",
    "httpx",
    "pydantic",
    "fastapi",
    "sse-starlette",
    "starlette",
    "uvicorn",
    "uvloop",
    "langgraph-api",
    "langgraph-cli",
    "langgraph-runtime-inmem",
    "psutil",
    "py-spy",
)

Row = dict[str, Any]  # one Measurement.to_json()
NOISY = 0.1  # cores of foreign CPU during a measurement that earn a row a †


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _pair(a: float | None, b: float | None, digits: int = 0) -> str:
    return f"{_fmt(a, digits)} / {_fmt(b, digits)}"


def _label(key: str) -> str:
    if key == DIRECT:
        return "*harness floor: loadgen ← upstream*"
    return CONTENDERS[key].label if key in CONTENDERS else key


def _errors(row: Row) -> str:
    if row.get("failure"):
        return f"**failed**: {row['failure'][:80]}"
    errors = (row.get("load") or {}).get("errors") or {}
    return ", ".join(f"{name} {count}" for name, count in sorted(errors.items())) or "0"


def _metrics(row: Row) -> Row:
    """The load summary to show: the normal readers' latencies when there were slow ones."""
    load = dict(row.get("load") or {})
    normal = (load.get("groups") or {}).get("normal")
    if normal:
        for key in ("ttfe_ms_p50", "ttfe_ms_p99", "added_ms_p50", "added_ms_p99", "stream_s_p50"):
            load[key] = normal.get(key)
    return load


def _mib(value: float | None) -> float | None:
    return value / 2**20 if value is not None else None


def results_table(rows: list[Row], scenarios: Iterable[Scenario]) -> str:
    header = (
        "| Scenario | Contender | OK / streams | Errors | Lost / dup | TTFE p50 / p99 (ms) "
        "| Added per token p50 / p99 (ms) | Events/s | Server CPU ms per 1k events "
        "| Server KB per open stream | Server peak RSS (MiB) | Answer p50 (s) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for scenario in scenarios:
        for row in (r for r in rows if r["scenario"] == scenario.key):
            load = _metrics(row)
            title = scenario.title
            if row.get("ceiling") is not None:
                title = f"{scenario.title}: **held {row['ceiling']:,}**"
            ok = f"{load.get('ok', 0):,} / {row['streams']:,}" if load else f"0 / {row['streams']:,}"
            lines.append(
                "| "
                + " | ".join(
                    [
                        title,
                        _label(row["contender"]) + (" †" if foreign_share(row) > NOISY else ""),
                        ok,
                        _errors(row),
                        f"{load.get('lost', 0)} / {load.get('duplicated', 0)}" if load else "–",
                        _pair(load.get("ttfe_ms_p50"), load.get("ttfe_ms_p99")),
                        _pair(load.get("added_ms_p50"), load.get("added_ms_p99"), 1),
                        _fmt(load.get("events_per_s")),
                        _fmt(row.get("cpu_ms_per_1k_events")),
                        _fmt(row.get("kb_per_open_stream")),
                        _fmt(_mib(row.get("rss_peak"))),
                        _fmt(load.get("stream_s_p50"), 1),
                    ]
                )
                + " |"
            )
    return header + "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Target:
    name: str
    value: Callable[[Row], float | None]
    limit: float  # the target, in the value's unit
    unit: str
    lower_is_better: bool = True
    relative: bool = False  # the limit is a ratio to the best other contender


def _load(key: str) -> Callable[[Row], float | None]:
    return lambda row: (row.get("load") or {}).get(key)


TARGETS = (
    Target("Streams completed, zero errors and zero lost events", _load("ok"), 1.0, "streams", False),
    Target("p99 time to first event < 50 ms", _load("ttfe_ms_p99"), 50.0, "ms"),
    Target("p99 added latency per token < 10 ms", _load("added_ms_p99"), 10.0, "ms"),
    Target("Server memory per open stream < 50 KB", lambda r: r.get("kb_per_open_stream"), 50.0, "KB"),
    Target(
        "Server CPU per 1,000 events ≤ 0.5 × best other",
        lambda r: r.get("cpu_ms_per_1k_events"),
        0.5,
        "ms",
        relative=True,
    ),
)


def _distributed(key: str) -> bool:
    return key in CONTENDERS and CONTENDERS[key].distributed


def targets_table(rows: list[Row], scenario_key: str) -> str:
    here = [r for r in rows if r["scenario"] == scenario_key and not r.get("failure")]
    ours = next((r for r in here if r["contender"] == "stagecast"), None)
    # Only the peers: Stagecast's other rows (the stock model, TLS, the distributed mode) and
    # the floor have their own comparisons (token_path_table, distributed_block).
    others = [r for r in here if r["contender"] in CONTENDERS and CONTENDERS[r["contender"]].peer]
    held = [r for r in others if r.get("held")]
    others = held or others
    lines = [
        f"Evaluated on scenario `{scenario_key}`. Ratio = Stagecast ÷ best other contender "
        "(for completed streams: Stagecast's count ÷ the best count). "
        + (
            "Only contenders that completed every stream are compared: latency or memory of a "
            "server that served a handful of streams and queued the rest is no benchmark.\n"
            if held
            else "No other contender completed every stream; all are compared.\n"
        ),
        "| Target | Stagecast | Best other contender | Ratio | Met |",
        "|---|---|---|---|---|",
    ]
    for target in TARGETS:
        mine = target.value(ours) if ours else None
        candidates = [(target.value(r), r["contender"]) for r in others if target.value(r) is not None]
        best = (min if target.lower_is_better else max)(candidates, default=(None, ""), key=lambda c: c[0])
        ratio = mine / best[0] if mine is not None and best[0] else None
        if target.name.startswith("Streams"):
            load = (ours or {}).get("load") or {}
            met = bool(ours) and ours.get("held", False)
            shown = f"{_fmt(mine)} / {ours['streams']:,}, lost {load.get('lost', 0)}" if ours else "–"
        elif target.relative:
            met = ratio is not None and ratio <= target.limit
            shown = f"{_fmt(mine, 1)} {target.unit}"
        else:
            met = mine is not None and mine < target.limit
            shown = f"{_fmt(mine, 1)} {target.unit}"
        best_text = f"{_fmt(best[0], 1)} ({_label(best[1])})" if best[0] is not None else "–"
        lines.append(
            f"| {target.name} | {shown} | {best_text} | {_fmt(ratio, 2)} | {'yes' if met else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


def foreign_share(row: Row) -> float:
    """Other work on the machine during the measurement, in CPUs (0.5 = half a core)."""
    wall = (row.get("load") or {}).get("wall_s") or 0.0
    return (row.get("foreign_cpu_s") or 0.0) / wall if wall else 0.0


def upstream_note(rows: list[Row]) -> str:
    lateness = [(r.get("upstream") or {}).get("lateness_ms_p99") for r in rows]
    worst = max((x for x in lateness if x is not None), default=None)
    lags = [(r.get("load") or {}).get("loadgen_lag_ms_p99") for r in rows]
    worst_lag = max((lag for lag in lags if lag is not None), default=None)
    foreign = max((foreign_share(r) for r in rows), default=0.0)
    return (
        f"Harness health: worst p99 upstream lateness against its schedule {_fmt(worst, 1)} ms; "
        f"worst p99 load-generator event-loop lag {_fmt(worst_lag, 1)} ms; most CPU used by other "
        f"processes on the machine during a measurement {foreign:.2f} cores "
        f"(rows marked † had more than {NOISY:.1f}).\n"
    )


def machine() -> dict[str, str]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "cpus": f"{os.cpu_count()} (nproc), CPU model: {cpu_model or platform.processor() or 'unknown'}",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit or "unknown",
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def machine_block(info: dict[str, str]) -> str:
    return (
        f"- CPUs: {info['cpus']}\n- Memory: {info['memory']}\n- OS: {info['os']}\n"
        f"- Python: {info['python']}\n- Repo commit: {info['commit']} (plus uncommitted work at the time)\n"
        f"- Packages: {info['packages']}\n"
    )


TOKEN_PATH = ("stagecast", "stagecast-stock", "stagecast-tls", "floor", "fastapi")


def token_path_table(rows: list[Row], scenarios: Iterable[Scenario]) -> str:
    """Stagecast's default and stock-model rows against FastAPI and the floor, per scenario:
    server CPU per event (ms per 1,000 events = µs per event), and its ratios in the same run."""
    lines = [
        "| Scenario | Default | Stock ChatOpenAI | Over TLS | Floor | FastAPI "
        "| Default ÷ FastAPI | Stock ÷ FastAPI | Default ÷ floor | TLS ÷ default |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        cpu = {
            r["contender"]: r.get("cpu_ms_per_1k_events")
            for r in rows
            if r["scenario"] == scenario.key and not r.get("failure")
        }
        if not {"stagecast", "fastapi"} <= set(cpu) and not {"stagecast", "floor"} <= set(cpu):
            continue
        default, stock, tls, floor, fastapi = (cpu.get(key) for key in TOKEN_PATH)
        lines.append(
            f"| {scenario.key} | {_fmt(default)} | {_fmt(stock)} | {_fmt(tls)} | {_fmt(floor)} "
            f"| {_fmt(fastapi)} | {_fmt(_ratio(default, fastapi), 2)} | {_fmt(_ratio(stock, fastapi), 2)} "
            f"| {_fmt(_ratio(default, floor), 2)} | {_fmt(_ratio(tls, default), 2)} |"
        )
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def results_block(
    mode: str,
    rows: list[Row],
    scenarios: tuple[Scenario, ...],
    info: dict[str, str],
    command: str,
    started: str,
    duration_s: float,
) -> str:
    target_scenario = "c1000" if any(s.key == "c1000" for s in scenarios) else scenarios[-1].key
    notes = "".join(f"- `{s.key}`: {s.notes}\n" for s in scenarios if s.notes)
    ladder = ladder_table(rows, scenarios)
    token_path = token_path_table(rows, scenarios)
    return (
        f"### Results ({mode} run, {started}, {duration_s / 60:.1f} min)\n\n"
        f"Command: `{command}`\n\n"
        + results_table(rows, scenarios)
        + "\n"
        + (notes + "\n" if notes else "")
        + upstream_note(rows)
        + (f"\n#### Load ladder: latency per token and saturation\n\n{ladder}" if ladder else "")
        + (
            "\n#### The token path: server CPU ms per 1,000 events (= µs per event)\n\n" + token_path
            if token_path
            else ""
        )
        + "\n#### Targets\n\n"
        + targets_table(rows, target_scenario)
        + "\n#### Machine\n\n"
        + machine_block(info)
    )


DISTRIBUTED_CPU_LIMIT = 1.15  # issue 24's target: CPU per event at most 1.15 x the memory backend's
DISTRIBUTED_KEYS = ("stagecast-distributed", "stagecast-distributed-2w")  # 1 worker, 2 workers


def _cores(row: Row, cpu_s: float | None) -> float | None:
    wall = (row.get("load") or {}).get("wall_s")
    return cpu_s / wall if cpu_s is not None and wall else None


def _per_1k_events(row: Row, cpu_key: str) -> float | None:
    cpu, events = row.get(cpu_key), (row.get("load") or {}).get("events")
    return cpu / events * 1e6 if cpu is not None and events else None


def _with_stores(row: Row) -> float | None:
    """Server + Redis + PostgreSQL CPU per 1,000 events (the server's alone without stores)."""
    server = row.get("cpu_ms_per_1k_events")
    redis_ms, postgres_ms = _per_1k_events(row, "redis_cpu_s"), _per_1k_events(row, "postgres_cpu_s")
    if server is None or redis_ms is None or postgres_ms is None:
        return server
    return float(server) + redis_ms + postgres_ms


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def distributed_table(rows: list[Row], scenarios: Iterable[Scenario]) -> str:
    """The memory backend's row and the distributed contenders' rows of each scenario."""
    lines = [
        "| Scenario | Contender | OK / streams | Events/s | Server CPU ms per 1k events (cores) "
        "| Redis / PostgreSQL CPU ms per 1k events | CPU per event ÷ memory backend's: server / with stores "
        "| Added per token p99 (ms) | Redis connections (peak) | Harness CPU (cores) "
        "| Other processes (cores) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        here = [r for r in rows if r["scenario"] == scenario.key]
        if not any(_distributed(r["contender"]) for r in here):
            continue
        memory = next((r for r in here if r["contender"] == "stagecast"), {})
        for row in (r for r in here if r["contender"] == "stagecast" or _distributed(r["contender"])):
            load = _metrics(row)
            base = memory.get("cpu_ms_per_1k_events")
            cells = [
                scenario.title,
                _label(row["contender"]) + (" †" if foreign_share(row) > NOISY else ""),
                f"{load.get('ok', 0):,} / {row['streams']:,}" + (" (failed)" if row.get("failure") else ""),
                _fmt(load.get("events_per_s")),
                f"{_fmt(row.get('cpu_ms_per_1k_events'))} ({_fmt(_cores(row, row.get('cpu_s')), 2)})",
                _pair(_per_1k_events(row, "redis_cpu_s"), _per_1k_events(row, "postgres_cpu_s")),
                _pair(_ratio(row.get("cpu_ms_per_1k_events"), base), _ratio(_with_stores(row), base), 2),
                _fmt(load.get("added_ms_p99"), 1),
                _fmt(row.get("redis_connections_peak")),
                _fmt(_cores(row, row.get("harness_cpu_s")), 2),
                _fmt(foreign_share(row), 2),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def distributed_reading(rows: list[Row], scenario_key: str) -> str:
    """The CPU target (``DISTRIBUTED_CPU_LIMIT``) and the 1 -> 2 worker scaling, on one scenario."""
    here = {r["contender"]: r for r in rows if r["scenario"] == scenario_key and not r.get("failure")}
    memory, one, two = (here.get(key, {}) for key in ("stagecast", *DISTRIBUTED_KEYS))
    base = memory.get("cpu_ms_per_1k_events")
    server, total = _ratio(one.get("cpu_ms_per_1k_events"), base), _ratio(_with_stores(one), base)

    def verdict(ratio: float | None) -> str:
        if ratio is None:
            return "not measured"
        return f"{ratio:.2f}x, {'met' if ratio <= DISTRIBUTED_CPU_LIMIT else '**not met**'}"

    def cores(key: str) -> str:
        return f"{_fmt(_cores(one, one.get(key)), 2)} → {_fmt(_cores(two, two.get(key)), 2)}"

    events = [(r.get("load") or {}).get("events_per_s") for r in (one, two)]
    scaling = _ratio(events[1], events[0])
    return (
        f"On `{scenario_key}`: CPU per event of the distributed mode (1 worker) ÷ the memory backend's, "
        f"target ≤ {DISTRIBUTED_CPU_LIMIT}x: server only {verdict(server)}; server + Redis + PostgreSQL "
        f"{verdict(total)}. Events/s from 1 to 2 workers: {_fmt(events[0])} → {_fmt(events[1])} "
        f"({_fmt(scaling, 2)}x); server CPU {cores('cpu_s')} cores, harness {cores('harness_cpu_s')} cores "
        "(the 2-worker server may use both CPUs, so it shares CPU 1 with the upstream and the load "
        "generator).\n"
    )


LADDER = ("c100", "c500", "c1000", "c10k")  # concurrent streams, one step per scenario
KEEPING_UP = 1.5  # answer p50 within this many times the upstream's own answer time


def _answer_slowdown(row: Row, scenario: Scenario) -> float | None:
    """Answer p50 ÷ the upstream's answer time (first token, then every token at its pace):
    ~1 while the server keeps up, growing with the queue once its core is saturated."""
    profile = scenario.profile
    p50 = (row.get("load") or {}).get("stream_s_p50")
    return p50 / (profile.ttft_s + profile.tokens / profile.tps) if p50 else None


def ladder_table(rows: list[Row], scenarios: Iterable[Scenario]) -> str:
    """p99 added latency per token against the load, and where one core stops keeping up."""
    steps = [s for s in scenarios if s.key in LADDER]
    if not steps:
        return ""
    lines = [
        "| Scenario | Contender | Offered tokens/s at peak | Events/s | Answer p50 ÷ upstream's "
        "| Server CPU (cores) | Added per token p99 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in steps:
        for row in (r for r in rows if r["scenario"] == scenario.key and r["contender"] != DIRECT):
            load = row.get("load") or {}
            cells = [
                scenario.title,
                _label(row["contender"]) + (" †" if foreign_share(row) > NOISY else ""),
                _fmt(row["streams"] * scenario.profile.tps),
                _fmt(load.get("events_per_s")),
                _fmt(_answer_slowdown(row, scenario), 1),
                _fmt(_cores(row, row.get("cpu_s")), 2),
                _fmt(load.get("added_ms_p99"), 1),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + _saturation_reading(rows, steps)


def _step(scenario: Scenario, row: Row) -> str:
    slowdown = _fmt(_answer_slowdown(row, scenario), 1)
    return f"{row['streams']:,} streams (answer p50 {slowdown}× the upstream's)"


def _saturation_reading(rows: list[Row], steps: list[Scenario]) -> str:
    """Per contender: the last step it kept up with, the first it did not, and the most events/s."""
    sentences = []
    for key in dict.fromkeys(r["contender"] for r in rows if r["contender"] != DIRECT):
        kept: tuple[Scenario, Row] | None = None
        behind: tuple[Scenario, Row] | None = None
        most = 0.0
        for scenario in steps:
            row = next((r for r in rows if r["scenario"] == scenario.key and r["contender"] == key), None)
            slowdown = _answer_slowdown(row, scenario) if row else None
            if row is None or slowdown is None:
                continue
            most = max(most, (row.get("load") or {}).get("events_per_s") or 0.0)
            if behind is None and slowdown <= KEEPING_UP:
                kept = (scenario, row)
            elif behind is None:
                behind = (scenario, row)
        if kept is None and behind is None:
            continue
        kept_text = f"kept up with {_step(*kept)}" if kept else "kept up with no step"
        behind_text = f", fell behind at {_step(*behind)}" if behind else ", and with every step run"
        sentences.append(f"{_label(key)}: {kept_text}{behind_text}; at most {_fmt(most)} events/s.")
    return (
        f"A server keeps up while its answer p50 is within {KEEPING_UP}× the upstream's own answer "
        "time; past the step where it falls behind, its core is saturated, and the most events/s it "
        "delivered on the ladder is that core's ceiling. Offered tokens/s at peak: streams × the "
        "upstream's tokens/s, when every stream is open. Server CPU is averaged over the whole load, "
        "ramp and tail included, so a saturated core shows below 1.0. " + " ".join(sentences) + "\n"
    )


def has_distributed(rows: list[Row]) -> bool:
    return any(_distributed(r["contender"]) for r in rows)


def distributed_block(
    mode: str,
    rows: list[Row],
    scenarios: tuple[Scenario, ...],
    info: dict[str, str],
    command: str,
    started: str,
) -> str:
    keys = [s.key for s in scenarios if any(r["scenario"] == s.key for r in rows)]
    reading_on = "c1000" if "c1000" in keys else keys[-1]
    return (
        f"### Distributed mode ({mode} scenarios, {started})\n\n"
        f"Command: `{command}`\n\n"
        + distributed_table(rows, scenarios)
        + "\n"
        + distributed_reading(rows, reading_on)
        + "\n"
        + upstream_note(rows)
        + f"\nMachine: {info['cpus']}, {info['memory']}; repo commit {info['commit']}.\n"
    )


DOC_TEMPLATE = """# Benchmarks

Generated by `bench/run.py`; the blocks between the markers are rewritten by each run,
the rest of this page is written by hand.

<!-- BEGIN bench:full -->
<!-- END bench:full -->

<!-- BEGIN bench:quick -->
<!-- END bench:quick -->
"""


def read_doc_block(path: Path, mode: str) -> str:
    """The block a run wrote for ``mode``, or "" if there is none."""
    text = path.read_text() if path.exists() else ""
    begin, end = f"<!-- BEGIN bench:{mode} -->", f"<!-- END bench:{mode} -->"
    if begin not in text or end not in text:
        return ""
    return text.split(begin, 1)[1].split(end, 1)[0]


def write_doc(path: Path, mode: str, block: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text() if path.exists() else DOC_TEMPLATE
    begin, end = f"<!-- BEGIN bench:{mode} -->", f"<!-- END bench:{mode} -->"
    if begin not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{block}{end}{tail}")
