"""``prior``: the game's weak, state-dependent prior (``sparring.games.priors``).

The play the bundled base model was pretrained to imitate. As a player it
shows what that imitation is worth (its exploitability, its record against
``minimax``), so the base model and what self-play adds can be judged against it.
"""

from __future__ import annotations

import random

from sparring.games.base import Game, State
from sparring.games.priors import Prior, uniform
from sparring.games.registry import game_entry


class PriorPlayer:
    def __init__(self, game: Game, seed: int = 0, name: str = "prior"):
        self.name = name
        self.rng = random.Random(seed)
        self.prior: Prior = game_entry(game.name).prior or uniform

    def action_probabilities(self, state: State, seat: int) -> dict[str, float]:
        return self.prior(state)

    def act(self, state: State, seat: int) -> str:
        probs = self.prior(state)
        moves = list(probs)
        return self.rng.choices(moves, weights=[probs[m] for m in moves])[0]
