"""Liar's dice: two players (OpenSpiel ``liars_dice``) or more (``players=3``, native), one die each.

- Each player rolls one six-sided die in secret (``numdice`` changes the count).
- Player 0 bids first, then the seats take turns in order 0, 1, 2, ... A bid
  ``QxF`` claims that at least Q dice on the table show face F; sixes are wild
  and count as any face. Each bid must be higher than the last (more dice, or
  the same count of a higher face).
- Instead of bidding, a player may answer ``liar`` (never before the first
  bid): all dice are shown; if the last bid holds, the caller loses,
  otherwise the last bidder loses. The loser gets -1 and every other seat
  +1/(N-1) (two players: -1/+1). Zero-sum, no draws.

Two players are played by OpenSpiel, whose exact exploitability sparring
computes. OpenSpiel's liar's dice stops at two players, so ``players`` of 3 or
more is :class:`LiarsDice`, a native copy of the same rules; a test plays it
with two players against OpenSpiel move for move. With 3+ players the loser's
-1 is split among the others, since OpenSpiel defines no N-player payoff.

Prior of the bundled base model (:func:`prior`): each bid weighs 0.1 plus the
chance, given the player's own dice, that it is true; ``liar`` weighs 0.1
plus twice the chance that the last bid is false. It reads its own dice but
never the opponents' bids as information, so it is easy to exploit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from math import comb
from typing import Any

from sparring.games.base import TERMINAL, InvalidAction, refuse_unlisted
from sparring.games.openspiel import OpenSpielGame, legal_moves_line, openspiel_game
from sparring.games.priors import normalized
from sparring.games.registry import GameEntry, register

SIDES = 6
"""Faces of a die; the highest face is wild."""

RULES = (
    "Liar's dice. Each player secretly rolls one six-sided die. Players take turns; player 0 "
    "bids first. A bid QxF (for example 2x5) claims that at least Q of all the dice on the table "
    "show face F; sixes are wild and count as any face. Each bid must be higher than the last: "
    "more dice, or the same number of dice with a higher face. Instead of bidding you may answer "
    "liar: the dice are shown, and if the last bid was true the caller loses (-1, bidder +1), "
    "otherwise the bidder loses."
)
"""The two-player rules, word for word what the bundled model was pre-trained on."""


def rules(players: int) -> str:
    """The rules for ``players`` seats: :data:`RULES` itself for two, else the same words with the payoffs
    changed and the seat order added at the end (a model trained on the two-player text reads it alike)."""
    if players == 2:
        return RULES
    order = ", ".join(map(str, range(players)))
    return (
        RULES.replace("(-1, bidder +1)", f"(-1, every other player +1/{players - 1})").replace(
            "otherwise the bidder loses.", f"otherwise the bidder loses (-1, every other player +1/{players - 1})."
        )
        + f" There are {players} players; they take turns in seat order ({order}, then 0 again)."
    )


def bid_name(osp_name: str) -> str:
    """OpenSpiel writes bids ``2-5`` and the call ``Liar``; we answer ``2x5`` and ``liar``."""
    return "liar" if osp_name == "Liar" else osp_name.replace("-", "x")


def bids_text(said: list[str], players: int) -> str:
    """The moves so far (``QxF`` or ``liar``), seat by seat from player 0."""
    words = [f"Player {i % players} calls liar" if m == "liar" else f"Player {i % players} bids {m}" for i, m in enumerate(said)]
    return ", ".join(words) if words else "no bids yet"


def observation_text(player: int, own_dice: str, said: list[str], players: int) -> str:
    """What a seat sees (before the legal-move line): its own dice and every bid."""
    return f"You are player {player}. Your dice: {' '.join(own_dice)}.\nBids so far: {bids_text(said, players)}."


def render_text(dice: list[str], said: list[str], returns: list[float] | None) -> str:
    shown = ", ".join(f"player {p}: {d}" for p, d in enumerate(dice))
    text = f"Dice: {shown}\nBids: {bids_text(said, len(dice))}"
    return text if returns is None else text + f"\nReturns: {returns}"


# ---------------------------------------------------------------------------------------------------------------------------
# Two players: OpenSpiel.


def _osp_said(pstate: Any) -> list[str]:
    players = pstate.get_game().num_players()
    num_dice = players * pstate.get_game().get_parameters()["numdice"]
    return [bid_name(pstate.action_to_string(i % players, a)) for i, a in enumerate(pstate.history()[num_dice:])]


def _osp_dice(pstate: Any, player: int) -> str:
    return pstate.information_state_string(player).split(" ")[0]


class LiarsDiceView:
    rules = RULES

    def action_name(self, pstate: Any, action: int) -> str:
        return bid_name(pstate.action_to_string(pstate.current_player(), action))

    def observation(self, pstate: Any, player: int) -> str:
        return observation_text(player, _osp_dice(pstate, player), _osp_said(pstate), pstate.get_game().num_players())

    def render(self, pstate: Any) -> str:
        dice = [_osp_dice(pstate, p) for p in range(pstate.get_game().num_players())]
        return render_text(dice, _osp_said(pstate), pstate.returns() if pstate.is_terminal() else None)


# ---------------------------------------------------------------------------------------------------------------------------
# Three or more players: the same rules, native.


@dataclass
class LiarsDice:
    """Liar's dice for ``num_players`` seats, with OpenSpiel's bid order (quantity first, then face)."""

    num_players: int
    numdice: int = 1
    name: str = "liars_dice"

    def describe(self) -> str:
        return rules(self.num_players)

    def bids(self) -> list[str]:
        """Every bid, lowest first: OpenSpiel's order (``reset-face``: 1x1 .. 1x6, 2x1, ...)."""
        return [f"{q}x{f}" for q in range(1, self.num_players * self.numdice + 1) for f in range(1, SIDES + 1)]

    def new_state(self, seed: int) -> LiarsDiceState:
        rng = random.Random(seed)
        dice = ["".join(str(rng.randint(1, SIDES)) for _ in range(self.numdice)) for _ in range(self.num_players)]
        return LiarsDiceState(self, dice)


@dataclass
class LiarsDiceState:
    game: LiarsDice
    dice: list[str]
    """Per seat, its faces as digits (``"35"``: a 3 and a 5)."""
    said: list[str] = field(default_factory=list)
    """The moves so far: bids ``QxF``, and ``liar`` as the last one once called."""

    @property
    def current_player(self) -> int:
        return TERMINAL if self.is_terminal() else len(self.said) % self.game.num_players

    def legal_actions(self, player: int | None = None) -> list[str]:
        if self.is_terminal() or (player is not None and player != self.current_player):
            return []
        bids = self.game.bids()
        higher = bids[bids.index(self.said[-1]) + 1 :] if self.said else bids
        return higher + (["liar"] if self.said else [])

    def observation(self, player: int) -> str:
        text = observation_text(player, self.dice[player], self.said, self.game.num_players)
        return text + "\n" + legal_moves_line(self.legal_actions()) if player == self.current_player else text

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        self.said.append(refuse_unlisted(action, self.legal_actions()))

    def is_terminal(self) -> bool:
        return bool(self.said) and self.said[-1] == "liar"

    def bid_holds(self, bid: str) -> bool:
        quantity, face = (int(x) for x in bid.split("x"))
        return sum(d == str(face) or d == str(SIDES) for d in "".join(self.dice)) >= quantity

    def returns(self) -> list[float]:
        n = self.game.num_players
        if not self.is_terminal():
            return [0.0] * n
        caller, bidder = (len(self.said) - 1) % n, (len(self.said) - 2) % n
        loser = caller if self.bid_holds(self.said[-2]) else bidder
        return [-1.0 if p == loser else 1.0 / (n - 1) for p in range(n)]

    def clone(self) -> LiarsDiceState:
        return LiarsDiceState(self.game, list(self.dice), list(self.said))

    def render(self) -> str:
        return render_text(self.dice, self.said, self.returns() if self.is_terminal() else None)


_two_players = openspiel_game("liars_dice", "liars_dice", LiarsDiceView)


def make_liars_dice(players: int = 2, numdice: int = 1) -> OpenSpielGame | LiarsDice:
    """``players=2``: OpenSpiel's game (exact exploitability); 3 or more: :class:`LiarsDice`."""
    if players < 2:
        raise ValueError(f"players must be at least 2, got {players}")
    if numdice < 1:
        raise ValueError(f"numdice must be at least 1, got {numdice}")
    if players > 2:
        return LiarsDice(players, numdice)
    return _two_players() if numdice == 1 else _two_players(numdice=numdice)


# ---------------------------------------------------------------------------------------------------------------------------
# The bundled model's prior.


def bid_holds(bid: str, own: str, other_dice: int) -> float:
    """P(bid ``QxF`` is true) given one's own dice faces and the number of unseen dice (sixes wild)."""
    quantity, face = (int(x) for x in bid.split("x"))
    need = quantity - sum(d == str(face) or d == "6" for d in own)
    p = 1 / 6 if face == 6 else 2 / 6
    return sum(comb(other_dice, k) * p**k * (1 - p) ** (other_dice - k) for k in range(max(need, 0), other_dice + 1))


def _seen(state: Any) -> tuple[str, int, list[str]]:
    """(own dice, number of unseen dice, moves so far) of the player to move, on either implementation."""
    if isinstance(state, LiarsDiceState):
        player = state.current_player
        return state.dice[player], sum(map(len, state.dice)) - len(state.dice[player]), state.said
    pstate = state.pstate
    own = _osp_dice(pstate, pstate.current_player())
    total = pstate.get_game().num_players() * pstate.get_game().get_parameters()["numdice"]
    return own, total - len(own), _osp_said(pstate)


def prior(state: Any) -> dict[str, float]:
    """The weak own-dice-only play stated in the module docstring."""
    own, unseen, said = _seen(state)
    weights = {}
    for move in state.legal_actions():
        if move == "liar":
            weights[move] = 0.1 + 2.0 * (1.0 - bid_holds(said[-1], own, unseen))
        else:
            weights[move] = 0.1 + bid_holds(move, own, unseen)
    return normalized(weights)


register(
    GameEntry(
        name="liars_dice",
        num_players=2,
        source="openspiel",
        description="bid on hidden dice or call liar; sixes are wild (players=3: three seats, native)",
        make=make_liars_dice,
        perfect_information=False,
        exploitability=True,
        prior=prior,
    )
)
