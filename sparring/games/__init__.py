"""Games: the protocol, the registry, and every bundled game (one file each).

Importing this package registers every game. TextArena games register even
when TextArena is not installed; they then report themselves unavailable with
the install hint instead of failing.
"""

from sparring.games import (  # noqa: F401  (each import registers its games)
    breakthrough,
    connect_four,
    kuhn_poker,
    leduc_poker,
    liars_dice,
    propose_solve,
    qrv,
    red_team,
    rendezvous,
    simple_negotiation,
    sneaky_critic,
    spy,
    textarena,
    tic_tac_toe,
    tiny_hanabi,
)
from sparring.games.base import TERMINAL, FreeTextState, Game, InvalidAction, ScoredTurns, State
from sparring.games.registry import GameEntry, game_entries, game_entry, make_game, register

__all__ = [
    "TERMINAL",
    "FreeTextState",
    "Game",
    "GameEntry",
    "InvalidAction",
    "ScoredTurns",
    "State",
    "game_entries",
    "game_entry",
    "make_game",
    "register",
]
