"""Breakthrough on a small board (OpenSpiel ``breakthrough``, 5x5 by default here).

Each player starts with two full rows of pawns. Player 0 (b, black) starts at
the top and moves down; player 1 (w, white) starts at the bottom and moves
up. A pawn steps one square straight or diagonally forward onto an empty
square, or captures diagonally forward (moves ending in ``*``). The first to
reach the far row, or to capture all enemy pawns, wins (+1 / -1). No draws.
Moves are written from-square then to-square, e.g. ``a5a4`` or ``b4c3*``.
Parameters: ``rows``, ``columns`` (OpenSpiel's defaults are 8x8).

Prior of the bundled base model: ``sparring.games.priors.tactical`` (half the
mass on a winning move, else half on moves that leave no win in one, the rest
uniform), as in tic-tac-toe.
"""

from __future__ import annotations

from typing import Any

from sparring.games.openspiel import openspiel_game
from sparring.games.priors import tactical
from sparring.games.registry import GameEntry, register


class BreakthroughView:
    rules = (
        "Breakthrough. Each player starts with two full rows of pawns. Player 0 is 'b' and "
        "moves down the board (toward row 1); player 1 is 'w' and moves up. A pawn moves one "
        "square straight or diagonally forward onto an empty square, or captures an enemy pawn "
        "diagonally forward (such moves end in '*'). Reaching the far row, or capturing every "
        "enemy pawn, wins (+1, loser -1). Moves are written from-square then to-square, "
        "like a5a4; answer with one of the legal moves exactly."
    )

    def action_name(self, pstate: Any, action: int) -> str:
        return pstate.action_to_string(action)

    def observation(self, pstate: Any, player: int) -> str:
        side = "b (moving down)" if player == 0 else "w (moving up)"
        return f"You are player {player} and play {side}.\nBoard (rows numbered at the left, columns lettered below):\n{pstate}"

    def render(self, pstate: Any) -> str:
        return str(pstate).rstrip()


register(
    GameEntry(
        name="breakthrough",
        num_players=2,
        source="openspiel",
        description="pawn race on a 5x5 board; first to the far row wins",
        make=openspiel_game("breakthrough", "breakthrough", BreakthroughView, rows=5, columns=5),
        prior=tactical(win=0.5, block=0.5),
    )
)
