"""Team return against the optimum: what cooperative games report where zero-sum games report exploitability.

In a cooperative game every seat gets the same return, so there is no
opponent to exploit; the question is how much of the reachable team reward
the policy collects. Two exact numbers answer it:

- the policy's expected team return when it plays every seat, read like
  exploitability from its move probabilities at every information state
  (``exploitability.policy_table``) and summed over the whole game tree;
- the optimum: the best expected team return of any joint policy. Some
  deterministic joint policy is optimal (the expected return is linear in
  each information state's move probabilities), so trying every one of them
  finds it exactly -- affordable for tiny games only (tiny_hanabi has 8
  information states of 3 moves: 6,561 joint policies).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyspiel
from open_spiel.python.algorithms import expected_game_score

from sparring.errors import UserError
from sparring.evaluate.exploitability import policy_table
from sparring.games.base import Game
from sparring.games.openspiel import OpenSpielGame
from sparring.players.base import Player

MAX_JOINT_POLICIES = 1_000_000
"""More deterministic joint policies than this: the optimum is refused rather than left running for hours."""


@dataclass
class TeamReturn:
    expected: float
    """The policy's exact expected team return, playing every seat."""
    optimum: float
    """The best expected team return of any joint policy."""

    def as_dict(self) -> dict[str, float]:
        return {"team_return": self.expected, "team_optimum": self.optimum}


def require_team_game(game: Game) -> OpenSpielGame:
    """The OpenSpiel game under ``game`` if it is a registered common-payoff game with a computable optimum."""
    from sparring.games import game_entries

    offered = [e.name for e in game_entries() if e.team_optimum]
    if not isinstance(game, OpenSpielGame) or game.name not in offered:
        raise UserError(f"team return against the optimum is not defined for {game.name}; it is for: {', '.join(offered)}")
    if game.pyspiel_game.get_type().utility != pyspiel.GameType.Utility.IDENTICAL:
        raise UserError(f"{game.name} is not a common-payoff game: its seats' returns differ")
    return game


def _tree(game: Any) -> tuple[list[tuple[float, tuple[tuple[str, int], ...], float]], dict[str, list[int]]]:
    """Every terminal history as (chance probability, the (information state, move) choices on it, team return),
    and each information state's legal moves."""
    leaves: list[tuple[float, tuple[tuple[str, int], ...], float]] = []
    moves: dict[str, list[int]] = {}

    def walk(state: Any, prob: float, choices: tuple[tuple[str, int], ...]) -> None:
        if state.is_terminal():
            leaves.append((prob, choices, state.returns()[0]))
        elif state.is_chance_node():
            for action, p in state.chance_outcomes():
                walk(state.child(action), prob * p, choices)
        else:
            key = state.information_state_string(state.current_player())
            moves[key] = state.legal_actions()
            for action in state.legal_actions():
                walk(state.child(action), prob, (*choices, (key, action)))

    walk(game.new_initial_state(), 1.0, ())
    return leaves, moves


@cache
def _optimum(openspiel_name: str, params: tuple[tuple[str, Any], ...]) -> float:
    leaves, moves = _tree(pyspiel.load_game(openspiel_name, dict(params)))
    keys = sorted(moves)
    count = math.prod(len(moves[k]) for k in keys)
    if count > MAX_JOINT_POLICIES:
        raise UserError(f"{openspiel_name} has {count:,} deterministic joint policies; the exact optimum is for tiny games")
    best = -math.inf
    for assignment in itertools.product(*(moves[k] for k in keys)):
        chosen = dict(zip(keys, assignment, strict=True))
        value = sum(p * r for p, path, r in leaves if all(chosen[k] == a for k, a in path))
        best = max(best, value)
    return best


def optimal_team_return(game: Game) -> float:
    """The best expected team return of any joint policy, by trying every deterministic one (cached per game)."""
    exact = require_team_game(game)
    return _optimum(exact.openspiel_name, tuple(sorted((exact.params or {}).items())))


def team_return(game: Game, player: Player) -> TeamReturn:
    """``player``'s exact expected team return when it plays every seat, and the optimum beside it."""
    exact = require_team_game(game)
    table = policy_table(exact, player)
    values = expected_game_score.policy_value(exact.pyspiel_game.new_initial_state(), [table] * exact.num_players)
    return TeamReturn(float(values[0]), optimal_team_return(exact))
