"""``random`` / ``uniform``: a uniformly random legal move.

Also the uniform policy view (exploitability of uniform Kuhn play is 0.4583).
On free-text turns it picks among the state's ``example_actions``.
"""

from __future__ import annotations

import random

from sparring.errors import UserError
from sparring.games.base import State


def moves_for(state: State) -> list[str]:
    """Legal moves, or well-formed examples on a free-text turn."""
    legal = state.legal_actions()
    if legal is not None:
        return legal
    examples = getattr(state, "example_actions", None)
    if examples is None:
        raise UserError("this game has free-text turns and no example_actions; a random player cannot act in it")
    return examples()


class RandomPlayer:
    def __init__(self, seed: int = 0, name: str = "random"):
        self.name = name
        self.rng = random.Random(seed)

    def act(self, state: State, seat: int) -> str:
        return self.rng.choice(moves_for(state))

    def action_probabilities(self, state: State, seat: int) -> dict[str, float]:
        moves = moves_for(state)
        return dict.fromkeys(moves, 1.0 / len(moves))
