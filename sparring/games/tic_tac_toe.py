"""Tic-tac-toe (OpenSpiel ``tic_tac_toe``), one of SPIRAL's three training games.

Rules, exactly as played here:

- A 3x3 board, cells numbered 0-8 left to right, top to bottom.
- Player 0 plays X and moves first; player 1 plays O. Players alternate,
  each placing one mark on an empty cell; the answer is the cell number.
- Three of one mark in a row, column or diagonal wins: winner +1, loser -1.
  A full board with no line is a draw, 0 each. At most 9 moves.

Where SPIRAL (TextArena ``TicTacToe-v0``) differs: there player 0 plays 'O';
moves are written ``[4]``. The rules and rewards are the same; sparring's
prompt layer chooses the answer format (``\\boxed{4}`` by default).

Prior of the bundled base model (``sparring.games.priors.tactical``): with a
win in one on the board, half the mass goes to winning moves; else, when some
moves leave the opponent a win in one, a quarter goes to the moves that do
not; the rest is uniform. It never makes or stops a fork: against ``minimax``
it avoids defeat in about 30% of games as X and 5% as O (300 games a seat).
"""

from __future__ import annotations

from typing import Any

from sparring.games.openspiel import openspiel_game
from sparring.games.priors import tactical
from sparring.games.registry import GameEntry, register

MARKS = {"x": "X", "o": "O", ".": None}


def board_text(pstate: Any) -> str:
    """The board with each empty cell showing its number, the move to answer with."""
    cells = str(pstate).replace("\n", "")
    shown = [MARKS[c] or str(i) for i, c in enumerate(cells)]
    rows = [" " + " | ".join(shown[r * 3 : r * 3 + 3]) for r in range(3)]
    return "\n---+---+---\n".join(rows)


class TicTacToeView:
    rules = (
        "Tic-tac-toe. Two players take turns placing their mark on a 3x3 board; "
        "player 0 is X and moves first, player 1 is O. Cells are numbered 0-8, "
        "left to right, top to bottom; an empty cell shows its number. "
        "Three of your marks in a row, column or diagonal wins (+1, the loser gets -1); "
        "a full board with no line is a draw (0). Answer with the number of an empty cell."
    )

    def action_name(self, pstate: Any, action: int) -> str:
        return str(action)

    def observation(self, pstate: Any, player: int) -> str:
        mark = "X" if player == 0 else "O"
        return f"You are player {player} and play {mark}.\nBoard:\n{board_text(pstate)}"

    def render(self, pstate: Any) -> str:
        return board_text(pstate)


register(
    GameEntry(
        name="tic_tac_toe",
        num_players=2,
        source="openspiel",
        description="3x3 noughts and crosses; SPIRAL training game; minimax solves it exactly",
        make=openspiel_game("tic_tac_toe", "tic_tac_toe", TicTacToeView),
        prior=tactical(win=0.5, block=0.25),
        enumerable=True,  # 4,520 positions with a move to make
    )
)
