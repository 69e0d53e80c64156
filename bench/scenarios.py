"""The scenarios: how many streams, how they arrive, how clients read, how the upstream paces.

Pacing defaults to what DESIGN.md's measurements used: 20 tokens/s per stream, after a
0.3 s time to first token; a short answer is 60 tokens (about 3.3 s).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.upstream import Profile

SHORT = Profile(ttft_s=0.3, tps=20.0, tokens=60)
LONG = Profile(ttft_s=0.3, tps=200.0, tokens=4000)
IDLE = Profile(ttft_s=0.5, tps=2.0, tokens=20)  # for the ceiling: connections, not tokens


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    streams: int
    profile: Profile = SHORT
    concurrency: int | None = None  # None: all of them at once
    ramp_s: float = 0.0  # starts spread evenly over this long
    deadline_s: float = 60.0
    slow_count: int = 0
    slow_bytes_per_s: float = 2000.0
    ceiling_steps: tuple[int, ...] = ()  # a step search for the most streams held
    contenders: tuple[str, ...] = ()  # empty: every contender
    notes: str = ""

    @property
    def max_streams(self) -> int:
        return max((self.streams, *self.ceiling_steps))


FULL: tuple[Scenario, ...] = (
    Scenario("c1", "1 stream (5 in a row)", streams=5, concurrency=1, deadline_s=60),
    Scenario("c100", "100 concurrent streams", streams=100, ramp_s=1.0, deadline_s=30),
    Scenario("c1000", "1,000 concurrent streams", streams=1000, ramp_s=2.0, deadline_s=60),
    Scenario(
        "ceiling",
        "Most concurrent streams held (2 tok/s, 20 tokens)",
        streams=1000,
        profile=IDLE,
        ceiling_steps=(1000, 2000, 4000, 6000),
        deadline_s=60,
        contenders=("stagecast", "fastapi"),
        notes="step search over 1,000 / 2,000 / 4,000 / 6,000 streams, arriving over streams/200 s: "
        "the largest step with every stream complete, no error and no lost event within 60 s",
    ),
    Scenario("burst", "Burst: 500 new streams at once", streams=500, ramp_s=0.0, deadline_s=45),
    Scenario(
        "slow",
        "Slow readers: 100 at 2 KB/s + 100 normal",
        streams=200,
        ramp_s=1.0,
        deadline_s=60,
        slow_count=100,
        notes="latencies are the normal readers'; errors and losses count everyone",
    ),
    Scenario("long", "Long answers: 8 x 4,000 tokens at 200 tok/s", streams=8, profile=LONG, deadline_s=60),
)

QUICK_SHORT = Profile(ttft_s=0.3, tps=20.0, tokens=40)

QUICK: tuple[Scenario, ...] = (
    Scenario("c1", "1 stream (2 in a row, 40 tokens)", streams=2, profile=QUICK_SHORT, concurrency=1),
    Scenario(
        "c100",
        "100 concurrent streams (40 tokens)",
        streams=100,
        profile=QUICK_SHORT,
        ramp_s=1.0,
        deadline_s=15,
    ),
    Scenario(
        "c500",
        "500 concurrent streams (40 tokens)",
        streams=500,
        profile=QUICK_SHORT,
        ramp_s=1.0,
        deadline_s=20,
    ),
)
