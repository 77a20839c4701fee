"""Shared fixtures: every available game, small and fast."""

from __future__ import annotations

import pytest

from sparring.games import game_entries

AVAILABLE = [e.name for e in game_entries() if e.unavailable is None]
# Variants with parameters that change the rules are swept too.
VARIANTS = ["kuhn_poker:hands=3", "simple_negotiation:max_turns=4"]


@pytest.fixture(params=AVAILABLE + VARIANTS)
def game_spec(request) -> str:
    return request.param
