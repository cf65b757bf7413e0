"""Percentiles and the few numbers the report prints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """p50, p99, mean and count of one series of milliseconds."""

    p50: float
    p99: float
    mean: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        mean = sum(values) / len(values) if values else math.nan
        return cls(percentile(values, 50), percentile(values, 99), mean, len(values))

    def text(self) -> str:
        return f"p50 {ms(self.p50)}, p99 {ms(self.p99)} (n={self.n})"


def ms(value: float) -> str:
    """Milliseconds with a precision that suits the size."""
    if math.isnan(value):
        return "n/a"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan
