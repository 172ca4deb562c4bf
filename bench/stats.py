"""Summary statistics of repeated measurement windows: pure numbers in, a dataclass out."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence


@dataclass(frozen=True)
class Spread:
    """Median with its spread over the windows of one measurement."""

    median: float
    min: float
    max: float
    q1: float  # 25th percentile
    q3: float  # 75th percentile
    n: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def relative_spread(self) -> float:
        """(max - min) / median: how far apart the windows were, as a fraction."""
        return (self.max - self.min) / self.median if self.median else math.inf

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default, method 7) of already sorted values."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def spread(values: Sequence[float]) -> Spread:
    """Median, min/max and quartiles of ``values``; NaN values are refused, not skipped."""
    if not values:
        raise ValueError("spread of no values")
    if any(math.isnan(v) for v in values):
        raise ValueError("spread of values containing NaN")
    ordered = sorted(values)
    return Spread(
        median=quantile(ordered, 0.5),
        min=ordered[0],
        max=ordered[-1],
        q1=quantile(ordered, 0.25),
        q3=quantile(ordered, 0.75),
        n=len(ordered),
    )
