"""The scenarios: how many streams, how they arrive, how clients read, how the upstream paces.

Pacing defaults to what docs/benchmarks.md's measurements use: 20 tokens/s per stream, after a
0.3 s time to first token; a short answer is 60 tokens (about 3.3 s).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.upstream import Profile

SHORT = Profile(ttft_s=0.3, tps=20.0, tokens=60)
LONG = Profile(ttft_s=0.3, tps=200.0, tokens=4000)
IDLE = Profile(ttft_s=0.5, tps=2.0, tokens=20)  # for the ceiling: connections, not tokens
# c10k: a slow model's long answer, 60 tokens at 2 tokens/s (30 s). Streams arrive over 10 s,
# so each must last well beyond that for all 10,000 to be open at once; 60 tokens are what
# a short answer is elsewhere in the set, so the per-run fixed cost weighs the same.
SLOW_LONG = Profile(ttft_s=0.5, tps=2.0, tokens=60)


# 10,000 runs at ~15-20 ms of CPU each (fixed cost + 60 tokens, docs/benchmarks.md) are
# 150-200 s of one core: the deadline leaves room for that, not for a stalled server.
C10K_DEADLINE_S = 420


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
    Scenario("c500", "500 concurrent streams", streams=500, ramp_s=1.5, deadline_s=45),
    Scenario("c1000", "1,000 concurrent streams", streams=1000, ramp_s=2.0, deadline_s=60),
    Scenario(
        "c10k",
        "10,000 concurrent slow streams (2 tok/s, 60 tokens)",
        streams=10_000,
        profile=SLOW_LONG,
        ramp_s=10.0,
        deadline_s=C10K_DEADLINE_S,
        contenders=("stagecast", "fastapi", "stagecast-distributed", "stagecast-distributed-2w"),
        notes="10,000 streams arriving over 10 s, each a 30 s answer: 20,000 tokens/s offered, several "
        "times what one core relays, so the streams are all open at once and finish as the core "
        f"allows; the deadline is {C10K_DEADLINE_S // 60} minutes",
    ),
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
