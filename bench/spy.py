"""Summaries of py-spy profiles (``py-spy record --format raw``: collapsed stacks).

``python -m bench.spy PROFILE.txt`` prints where the samples went: by package (the leaf
frame's), and the functions with the most inclusive and self time. That is how the
"Where the CPU goes" numbers in docs/benchmarks.md were read.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]+?)(?::\d+)?\)$")

# Leaf files are grouped by the first matching fragment of their full path.
PACKAGES = (
    ("/work/main/app/", "stagecast (app/)"),
    ("/app/", "stagecast (app/)"),
    ("/bench/", "bench contenders"),
    ("/site-packages/langgraph", "langgraph"),
    ("/site-packages/langchain_openai/", "langchain-openai"),
    ("/site-packages/langchain_core/", "langchain-core"),
    ("/site-packages/langsmith/", "langsmith"),
    ("/site-packages/openai/", "openai SDK"),
    ("/site-packages/httpx/", "httpx"),
    ("/site-packages/httpcore/", "httpcore"),
    ("/site-packages/h11/", "h11"),
    ("/site-packages/pydantic", "pydantic"),
    ("/site-packages/typing_extensions", "typing / inspect"),
    ("/site-packages/gevent/", "gevent"),
    ("/site-packages/gunicorn/", "gunicorn"),
    ("/site-packages/werkzeug/", "werkzeug"),
    ("/site-packages/flask/", "flask"),
    ("/site-packages/redis/", "redis-py"),
    ("/site-packages/psycopg", "psycopg"),
    ("/site-packages/", "other packages"),
    ("/typing.py", "typing / inspect"),
    ("/inspect.py", "typing / inspect"),
    ("/concurrent/", "concurrent.futures"),
    ("/threading.py", "threading"),
    ("/json/", "json"),
    ("/logging/", "logging"),
    ("/sqlite3/", "sqlite"),
    ("/uuid.py", "uuid"),
    ("/copy.py", "copy"),
    ("/python3.11/", "stdlib (other)"),
)


@dataclass
class Summary:
    samples: int
    by_package: Counter[str]
    inclusive: Counter[str]
    self_time: Counter[str]


def _frame_name(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip(), ""
    return f"{match['func']} ({Path(match['file']).name})", match["file"]


def _package(path: str) -> str:
    for fragment, name in PACKAGES:
        if fragment in path:
            return name
    return "other"


def summarise(path: Path) -> Summary:
    samples = 0
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or not stack:
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f]
        frames = [f for f in frames if not f[0].startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        leaf_name, leaf_file = frames[-1]
        self_time[leaf_name] += count
        by_package[_package(leaf_file)] += count
        for name in {name for name, _ in frames}:
            inclusive[name] += count
    return Summary(samples, by_package, inclusive, self_time)


def render(summary: Summary, top: int = 30) -> str:
    total = summary.samples or 1
    lines = [f"{summary.samples} samples", "", "Self time by package (leaf frame):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in summary.by_package.most_common()]
    lines += ["", f"Top {top} functions by inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in summary.inclusive.most_common(top)]
    lines += ["", f"Top {top} functions by self time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in summary.self_time.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    sys.stdout.write(render(summarise(args.profile), args.top) + "\n")


if __name__ == "__main__":
    main()
