"""Interval arithmetic checked against values computed by hand."""

from __future__ import annotations

import pytest

from sparring.evaluate.stats import rate, wilson_interval


def test_wilson_half_of_ten():
    # p = 0.5, n = 10, z = 1.96: centre 0.5, half-width 1.96*sqrt(0.025 + 0.009604)/1.38416 = 0.26341
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.23659, abs=1e-4)
    assert high == pytest.approx(0.76341, abs=1e-4)


def test_wilson_zero_successes_is_not_a_point():
    # p = 0, n = 10: upper bound z^2/n / (1 + z^2/n) = 0.38416/1.38416 = 0.27754
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.27754, abs=1e-4)


def test_wilson_all_successes_mirrors_zero():
    low, high = wilson_interval(20, 20)
    assert high == 1.0
    assert low == pytest.approx(1 - wilson_interval(0, 20)[1], abs=1e-12)


def test_wilson_no_data_is_the_whole_range():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_rate_bundles_point_and_interval():
    r = rate(3, 4)
    assert r["rate"] == 0.75 and r["low"] < 0.75 < r["high"]
