"""Connect Four (OpenSpiel ``connect_four``): 6 rows x 7 columns.

Player 0 drops X and moves first, player 1 drops O. A move names a column
(0-6); the disc falls to the lowest empty cell. Four in a row horizontally,
vertically or diagonally wins (+1 / -1); a full board is a draw (0).

Prior of the bundled base model: ``sparring.games.priors.tactical`` (half the
mass on a win in one, else half on moves that leave no win in one, the rest
uniform), as in tic-tac-toe.
"""

from __future__ import annotations

from typing import Any

from sparring.games.openspiel import openspiel_game
from sparring.games.priors import tactical
from sparring.games.registry import GameEntry, register


def board_text(pstate: Any) -> str:
    rows = [r for r in str(pstate).splitlines() if r.strip()]
    drawn = [" ".join({"x": "X", "o": "O"}.get(c, ".") for c in row) for row in rows]
    width = len(rows[0])
    return "\n".join(drawn + [" ".join(str(c) for c in range(width))])


class ConnectFourView:
    rules = (
        "Connect Four on a board of 6 rows and 7 columns. Player 0 drops X and moves first, "
        "player 1 drops O. On your turn, answer with a column number (0-6, shown under the "
        "board); your disc falls to the lowest empty cell of that column. Four of your discs "
        "in a row (horizontal, vertical or diagonal) wins (+1, loser -1); a full board is a draw (0)."
    )

    def action_name(self, pstate: Any, action: int) -> str:
        return str(action)

    def observation(self, pstate: Any, player: int) -> str:
        mark = "X" if player == 0 else "O"
        return f"You are player {player} and drop {mark}.\nBoard (top row first, columns numbered below):\n{board_text(pstate)}"

    def render(self, pstate: Any) -> str:
        return board_text(pstate)


register(
    GameEntry(
        name="connect_four",
        num_players=2,
        source="openspiel",
        description="drop discs into 7 columns, four in a row wins",
        make=openspiel_game("connect_four", "connect_four", ConnectFourView),
        prior=tactical(win=0.5, block=0.5),
    )
)
