"""``random`` / ``uniform``: a uniformly random legal move.

Also the uniform policy view (exploitability of uniform Kuhn play is 0.4583).
On free-text turns it picks among the state's ``example_actions``.
"""

from __future__ import annotations

import random

from sparring.games.base import State
from sparring.games.priors import moves_for, uniform

__all__ = ["RandomPlayer", "moves_for"]


class RandomPlayer:
    def __init__(self, seed: int = 0, name: str = "random"):
        self.name = name
        self.rng = random.Random(seed)

    def act(self, state: State, seat: int) -> str:
        return self.rng.choice(moves_for(state))

    def action_probabilities(self, state: State, seat: int) -> dict[str, float]:
        return uniform(state)
