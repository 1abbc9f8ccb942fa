"""The edge's per-address throttle, sized from the spec before anything is built.

Cloud Armor counts a rate-based rule's requests over `interval_sec`, one of a fixed set, and caps the count:
1 to 1,000,000 for `throttle`, 1 to 10,000 for `rate_based_ban` (cloud.google.com/armor/docs/
rate-limiting-overview, "rate_limit_threshold_count"; the intervals are the API's allowed `intervalSec`
values). Every request through the gateway arrives from Google's addresses, so the limit for one address is
the whole API's budget from the spec: a gateway holding its consumers to the spec's rate and burst sends at
most `burst + rate x interval` in any interval (a token bucket's bound), however few addresses it uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from refarch.errors import Problem, SpecError
from refarch.spec import EnvironmentSpec

ALLOWED_INTERVALS_SECONDS = (10, 30, 60, 120, 180, 240, 300, 600, 900, 1200, 1800, 2700, 3600)
THROTTLE_MAX_COUNT = 1_000_000
# A rate_based_ban rule's cap: below production's budget even over the shortest interval, one reason the
# edge throttles instead.
RATE_BASED_BAN_MAX_COUNT = 10_000
# What the throttle answers above the limit (Too Many Requests, the status Cloud Armor recommends).
THROTTLED_STATUS = 429


@dataclass(frozen=True)
class EdgeRate:
    count: int
    interval_sec: int


def api_budget(spec: EnvironmentSpec, interval_sec: int) -> int:
    """The most requests the whole API may send in any `interval_sec`: its burst plus its steady rate."""
    return spec.api.throttle_burst + math.ceil(spec.api.throttle_rate_per_second * interval_sec)


def edge_rate(spec: EnvironmentSpec) -> EdgeRate | None:
    """Counted over the shortest allowed interval: a flood is turned away soonest, and the budget is the
    smallest it can be (it grows with the interval), so if it does not fit the cap, no interval does."""
    interval = ALLOWED_INTERVALS_SECONDS[0]
    count = api_budget(spec, interval)
    return EdgeRate(count, interval) if 1 <= count <= THROTTLE_MAX_COUNT else None


def checked_edge_rate(spec: EnvironmentSpec) -> EdgeRate:
    """The edge rate of a spec the stack's checks passed (they refuse one whose budget does not fit)."""
    rate = edge_rate(spec)
    if rate is None:  # the stack's checks refuse such a spec first; this keeps the module safe on its own
        raise SpecError(spec.name, edge_rate_problems(spec))
    return rate


def edge_rate_problems(spec: EnvironmentSpec) -> list[Problem]:
    if edge_rate(spec) is not None:
        return []
    shortest = ALLOWED_INTERVALS_SECONDS[0]
    return [
        Problem(
            "api.throttle_rate_per_second",
            spec.api.throttle_rate_per_second,
            f"must fit Cloud Armor's per-address throttle: throttle_burst ({spec.api.throttle_burst}) "
            f"plus the rate over {shortest} s (its shortest interval) must be at most "
            f"{THROTTLE_MAX_COUNT:,} requests",
        )
    ]
