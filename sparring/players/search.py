"""OpenSpiel-backed bots: ``mcts`` (Monte-Carlo tree search) and ``cfr`` (Nash
approximation for small poker games).

Both act on the OpenSpiel state under a sparring state, so they only play
OpenSpiel games; they answer with the same move names the game shows a model.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

import numpy as np
import pyspiel
from open_spiel.python.algorithms import mcts

from sparring.errors import UserError
from sparring.games.base import State
from sparring.games.openspiel import OpenSpielGame, OpenSpielState


def require_openspiel(game: Any, who: str) -> OpenSpielGame:
    if not isinstance(game, OpenSpielGame):
        raise UserError(f"{who} plays OpenSpiel games only (e.g. tic_tac_toe, kuhn_poker), not {getattr(game, 'name', game)!r}")
    return game


class MCTSPlayer:
    """OpenSpiel's UCT search with random-rollout leaf evaluation."""

    def __init__(self, game: Any, seed: int = 0, sims: int = 200, rollouts: int = 1, uct_c: float = 2.0, name: str = "mcts"):
        game = require_openspiel(game, "mcts")
        if sims < 1 or rollouts < 1:
            raise UserError(f"mcts: sims and rollouts must be at least 1, not {sims} and {rollouts}")
        if uct_c < 0:
            raise UserError(f"mcts: uct_c must be >= 0, not {uct_c}")
        self.name = name
        rng = np.random.RandomState(seed)
        evaluator = mcts.RandomRolloutEvaluator(n_rollouts=rollouts, random_state=rng)
        self.bot = mcts.MCTSBot(game.pyspiel_game, uct_c, sims, evaluator, random_state=rng, solve=True)

    def act(self, state: State, seat: int) -> str:
        assert isinstance(state, OpenSpielState)
        action = self.bot.step(state.pstate)
        return state.game.view.action_name(state.pstate, action)


@lru_cache(maxsize=16)
def solve_cfr(game_key: str, iters: int, variant: str) -> tuple[Any, Any, Any]:
    """(game, solver, average policy) of CFR or CFR+ after ``iters`` iterations.

    Cached per process. The game and solver are returned with the policy
    because the C++ policy points into them: dropping them crashes the process.
    """
    game = pyspiel.load_game(game_key)
    solver = pyspiel.CFRPlusSolver(game) if variant == "cfr+" else pyspiel.CFRSolver(game)
    for _ in range(iters):
        solver.evaluate_and_update_policy()
    return game, solver, solver.average_policy()


class CFRPlayer:
    """Samples moves from the average policy of CFR/CFR+ (OpenSpiel's C++ solver)."""

    def __init__(self, game: Any, seed: int = 0, iters: int = 500, variant: str = "cfr+", name: str = "cfr"):
        game = require_openspiel(game, "cfr")
        if game.pyspiel_game.get_type().dynamics != pyspiel.GameType.Dynamics.SEQUENTIAL or game.num_players != 2:
            raise UserError("cfr needs a two-player sequential game")
        if variant not in ("cfr", "cfr+"):
            raise UserError(f"cfr: variant must be cfr or cfr+, not {variant!r}")
        if iters < 1:
            raise UserError("cfr: iters must be at least 1")
        self.name = name
        self.rng = random.Random(seed)
        self._solved = solve_cfr(str(game.pyspiel_game), iters, variant)
        self.policy = self._solved[2]

    def action_probabilities(self, state: State, seat: int) -> dict[str, float]:
        assert isinstance(state, OpenSpielState)
        probs = dict(self.policy.get_state_policy(state.pstate.information_state_string(seat)))
        ids = state.pstate.legal_actions()
        return {state.game.view.action_name(state.pstate, a): probs.get(a, 0.0) for a in ids}

    def act(self, state: State, seat: int) -> str:
        probs = self.action_probabilities(state, seat)
        return self.rng.choices(list(probs), weights=list(probs.values()))[0]
