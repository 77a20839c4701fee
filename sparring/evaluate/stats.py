"""Small statistics that evaluation reports lean on, each tested on hand values."""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% (by default) Wilson score interval for a rate of ``successes`` in ``n``.

    Chosen over the normal approximation because it stays inside [0, 1] and is
    honest at rates near 0 or 1 and for small ``n`` -- exactly where arena
    results live (a strong bot wins 100% of 20 games; the interval is not [1, 1]).
    """
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, center - half), min(1.0, center + half))


def rate(successes: int, n: int) -> dict[str, float]:
    """``{"rate", "low", "high"}`` for a count, with its Wilson interval."""
    low, high = wilson_interval(successes, n)
    return {"rate": successes / n if n else 0.0, "low": low, "high": high}
