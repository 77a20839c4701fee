"""Adapter: an OpenSpiel game as a sparring game with text a model can read.

OpenSpiel supplies exact rules, chance nodes and the solvers that make
evaluation honest (CFR, exploitability, MCTS). What it does not supply is text
a language model can play from, so each game file gives a small ``TextView``:
the rules, what one player sees, the name of each move (the exact string to
answer with) and a full render. Chance nodes are resolved here with the
state's own seeded RNG, so a seed replays a game exactly.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import pyspiel

from sparring.games.base import TERMINAL, InvalidAction, refuse_unlisted


class TextView(Protocol):
    """The game-specific part of an OpenSpiel game: how it reads as text."""

    rules: str

    def action_name(self, pstate: Any, action: int) -> str:
        """The exact string a player answers with to play ``action`` in ``pstate``."""
        ...

    def observation(self, pstate: Any, player: int) -> str:
        """What ``player`` sees (no legal-move list: the adapter appends it)."""
        ...

    def render(self, pstate: Any) -> str:
        """Everything, private information included, for humans and logs."""
        ...


def legal_moves_line(legal: list[str], quoted: bool = False) -> str:
    """``Legal moves: a, b``; ``quoted`` writes ``"a", "b"``, so that a word's first token is the one it takes
    after ``\\boxed{`` (see ``base.example_block``)."""
    return "Legal moves: " + ", ".join(f'"{m}"' if quoted else m for m in legal)


@dataclass
class OpenSpielGame:
    """A sparring game backed by ``pyspiel.load_game(openspiel_name, params)``."""

    name: str
    openspiel_name: str
    view: TextView
    params: dict[str, Any] | None = None

    @cached_property
    def pyspiel_game(self) -> Any:
        return pyspiel.load_game(self.openspiel_name, dict(self.params or {}))

    @property
    def num_players(self) -> int:
        return self.pyspiel_game.num_players()

    def describe(self) -> str:
        return self.view.rules

    def new_state(self, seed: int) -> OpenSpielState:
        state = OpenSpielState(self, self.pyspiel_game.new_initial_state(), random.Random(seed))
        state.resolve_chance()
        return state

    @property
    def stakes(self) -> float:
        """The largest win or loss a seat can have (Leduc 13, Kuhn 2): the unit ``rollout.invalid_in_stakes``
        counts a forfeit in."""
        game = self.pyspiel_game
        return float(max(abs(game.min_utility()), abs(game.max_utility())))

    def wrap(self, pstate: Any) -> OpenSpielState:
        """A sparring state around an existing OpenSpiel state (used by exact
        evaluation, which walks every information state itself)."""
        return OpenSpielState(self, pstate, random.Random(0))


class OpenSpielState:
    """One OpenSpiel state plus the RNG that resolves its chance nodes."""

    def __init__(self, game: OpenSpielGame, pstate: Any, rng: random.Random):
        self.game = game
        self.pstate = pstate
        self.rng = rng

    # -- protocol -----------------------------------------------------------
    @property
    def current_player(self) -> int:
        return TERMINAL if self.pstate.is_terminal() else int(self.pstate.current_player())

    def legal_actions(self, player: int | None = None) -> list[str]:
        if self.pstate.is_terminal() or (player is not None and player != self.current_player):
            return []
        return [self.game.view.action_name(self.pstate, a) for a in self.pstate.legal_actions()]

    def observation(self, player: int) -> str:
        text = self.game.view.observation(self.pstate, player)
        if player == self.current_player:
            text += "\n" + legal_moves_line(self.legal_actions())
        return text

    def apply(self, action: str) -> None:
        if self.pstate.is_terminal():
            raise InvalidAction("the game is over")
        self.pstate.apply_action(self.action_id(action))
        self.resolve_chance()

    def is_terminal(self) -> bool:
        return self.pstate.is_terminal()

    def returns(self) -> list[float]:
        return [float(r) for r in self.pstate.returns()]

    def clone(self) -> OpenSpielState:
        rng = random.Random()
        rng.setstate(self.rng.getstate())
        return OpenSpielState(self.game, self.pstate.clone(), rng)

    def render(self) -> str:
        return self.game.view.render(self.pstate)

    # -- OpenSpiel side -----------------------------------------------------
    def action_id(self, action: str) -> int:
        """The OpenSpiel action id that ``action`` names; InvalidAction if none."""
        ids = self.pstate.legal_actions()
        names = [self.game.view.action_name(self.pstate, a) for a in ids]
        return ids[names.index(refuse_unlisted(action, names))]

    def resolve_chance(self) -> None:
        while self.pstate.is_chance_node():
            outcomes, probs = zip(*self.pstate.chance_outcomes(), strict=True)
            self.pstate.apply_action(self.rng.choices(outcomes, weights=probs)[0])


def openspiel_game(name: str, openspiel_name: str, view: Callable[[], TextView], **defaults: Any):
    """A ``make`` function for the registry; keyword parameters go to OpenSpiel.

    Unknown or malformed parameters raise ValueError naming the valid ones, so
    ``make_game`` can turn them into one clear line.
    """

    def make(**params: Any) -> OpenSpielGame:
        valid = pyspiel.load_game(openspiel_name).get_parameters()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
        game = OpenSpielGame(name, openspiel_name, view(), {**defaults, **params} or None)
        try:
            game.pyspiel_game  # noqa: B018  (load now so bad values fail here, with a clear message)
        except pyspiel.SpielError as err:
            raise ValueError(str(err)) from None
        return game

    return make
