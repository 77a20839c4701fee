"""``minimax``: exact game-tree search for small perfect-information games.

Full minimax with a transposition table (keyed by the rendered position and
the player to move), so tic-tac-toe is solved in well under a second and then
played perfectly. Among equally good moves it prefers the quickest win (or
slowest loss), breaking remaining ties at random with its seed, so games vs a
perfect player still vary. ``depth`` bounds the search for bigger games
(unfinished positions count as 0, so it is no longer perfect there).
``epsilon`` makes a noisy expert: with that probability a move is uniformly
random instead. A learner that loses every game to perfect play gets no signal
from it (every return the same); one that can beat the noisy expert sometimes
does, and the mistakes it is punished for are still the real ones.
"""

from __future__ import annotations

import random

from sparring.errors import UserError
from sparring.games.base import State

DECAY = 0.99  # a win now beats a win later


class MinimaxPlayer:
    def __init__(self, seed: int = 0, depth: int = 12, epsilon: float = 0.0, name: str = "minimax"):
        if depth < 1:
            raise UserError(f"minimax: depth must be at least 1, not {depth}")
        if not 0.0 <= epsilon <= 1.0:
            raise UserError(f"minimax: epsilon is a probability (0 to 1), not {epsilon}")
        self.name = name
        self.depth = depth
        self.epsilon = epsilon
        self.rng = random.Random(seed)
        self.table: dict[tuple[str, int, int], float] = {}

    def value(self, state: State, depth: int) -> float:
        """Value of ``state`` for the player to move (two-player zero-sum)."""
        if state.is_terminal():
            return 0.0  # handled by the caller, who knows who moved last
        key = (state.render(), state.current_player, depth)
        if key not in self.table:
            self.table[key] = max(self.child_value(state, move, depth) for move in self.legal(state))
        return self.table[key]

    def child_value(self, state: State, move: str, depth: int) -> float:
        mover = state.current_player
        child = state.clone()
        child.apply(move)
        if child.is_terminal():
            return child.returns()[mover]
        if depth <= 1:
            return 0.0
        sign = 1.0 if child.current_player == mover else -1.0
        return sign * DECAY * self.value(child, depth - 1)

    @staticmethod
    def legal(state: State) -> list[str]:
        legal = state.legal_actions()
        if legal is None:
            raise UserError("minimax needs a game with listed legal moves, not free text")
        return legal

    def scores(self, state: State) -> dict[str, float]:
        """Minimax value of each legal move for the player to move."""
        return {m: self.child_value(state, m, self.depth) for m in self.legal(state)}

    def best_moves(self, state: State) -> list[str]:
        """Every move of the best minimax value for the player to move (the ties ``act`` draws from)."""
        scores = self.scores(state)
        best = max(scores.values())
        return [m for m, v in scores.items() if v >= best - 1e-9]

    def act(self, state: State, seat: int) -> str:
        if self.epsilon and self.rng.random() < self.epsilon:  # no draw at 0: seeded perfect games are unchanged
            return self.rng.choice(self.legal(state))
        return self.rng.choice(self.best_moves(state))
