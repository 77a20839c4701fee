"""Kuhn poker, one of SPIRAL's three training games, as a single hand or a series.

``kuhn_poker`` (default, ``hands=1``) is the standard single hand from
OpenSpiel, the game whose exact exploitability sparring computes:

- Deck of three cards J < Q < K; each player is dealt one card, the third is
  unseen. Each player antes 1 chip, so the pot starts at 2.
- Player 0 acts first: ``check`` or ``bet`` (1 more chip).
  - After a check, player 1 may ``check`` (showdown for the pot of 2: the
    higher card wins +1, the other -1) or ``bet``; facing that bet player 0
    may ``fold`` (loses the ante: -1 / +1) or ``call`` (showdown for 4: +2 / -2).
  - After a bet, player 1 may ``fold`` (player 0 wins +1) or ``call``
    (showdown: +2 / -2).
- Returns are the net chips won; the game is zero-sum. The game value for
  player 0 under Nash play is -1/18.

``kuhn_poker:hands=N`` (N > 1) is a short series of N such hands, the shape
SPIRAL trains on (TextArena KuhnPoker, 5 rounds). Here each hand is dealt from
a freshly shuffled deck, the opener alternates (seat 0 opens hand 1, seat 1
opens hand 2, ...), and the **returns are each seat's total net chips over all
hands** (zero-sum). SPIRAL's own variant differs deliberately: its pot stays 2
whatever is bet, and only the winner of the last round scores (+1 / -1),
regardless of chips. Exact exploitability is defined for the single hand only.

Prior of the bundled base model (:func:`prior`): bet and call more with
better cards, and read a check as weakness. P(bet or call | J, Q, K) in
Kuhn's four places:

- first to act: bet 0.35 / 0.5 / 0.65;
- after the opponent checks: bet 0.5 / 0.4 / 0.8 (bluff more, bet K for value);
- facing a bet: call 0.3 / 0.5 / 0.7;
- facing a bet after one's own check: call 0.3 / 0.6 / 0.7 (the bet may be a bluff).

Its exact exploitability is 0.231 (uniform: 0.458, Nash: 0). The places
differ on purpose: an earlier prior that played them alike left a model
that could not tell them apart, and Nash play needs it to (Kuhn's first
mover bets K with 3 alpha, the second bets K always after a check).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pyspiel

from sparring.games.base import TERMINAL, InvalidAction, refuse_unlisted
from sparring.games.openspiel import OpenSpielGame, legal_moves_line, openspiel_game
from sparring.games.registry import GameEntry, register

CARDS = "JQK"
PRIOR_BET = {"J": 0.35, "Q": 0.5, "K": 0.65}
PRIOR_BET_AFTER_CHECK = {"J": 0.5, "Q": 0.4, "K": 0.8}
PRIOR_CALL = {"J": 0.3, "Q": 0.5, "K": 0.7}
PRIOR_CALL_AFTER_CHECK = {"J": 0.3, "Q": 0.6, "K": 0.7}


def chips_text(n: float) -> str:
    return f"{n:g} chip" + ("" if n == 1 else "s")


def betting_words(actions: list[int]) -> list[str]:
    """Kuhn's two action ids (0 pass, 1 bet) named as a player says them."""
    words, bet_seen = [], False
    for a in actions:
        if a == 1:
            words.append("call" if bet_seen else "bet")
            bet_seen = True
        else:
            words.append("fold" if bet_seen else "check")
    return words


def hand_summary(pstate: Any, seat_of: tuple[int, int] = (0, 1)) -> str:
    """``Player 0 checks, Player 1 bets`` with seat numbers (``seat_of`` maps
    OpenSpiel players to seats, for series where the opener alternates)."""
    words = betting_words(pstate.history()[2:])
    said = [f"Player {seat_of[i % 2]} {w}s" for i, w in enumerate(words)]
    return ", ".join(said) if said else "no bets yet"


class KuhnView:
    rules = (
        "Kuhn poker. The deck has three cards, J < Q < K; each player gets one card and antes "
        "1 chip (pot 2). The first player may check or bet 1 chip. After a check, the other "
        "player may check (showdown: higher card wins the pot) or bet; facing a bet, a player may "
        "fold (lose what they put in) or call (match the bet, then showdown). Your score is the "
        "net number of chips you win: +1 or +2 when you win, -1 or -2 when you lose."
    )

    def action_name(self, pstate: Any, action: int) -> str:
        bet_seen = 1 in pstate.history()[2:]
        if action == 1:
            return "call" if bet_seen else "bet"
        return "fold" if bet_seen else "check"

    def observation(self, pstate: Any, player: int, seat: int | None = None, seat_of: tuple[int, int] = (0, 1)) -> str:
        seat = player if seat is None else seat
        history = pstate.history()
        card = CARDS[history[player]] if len(history) > player else "?"
        pot = 2 + sum(history[2:])
        return f"You are player {seat}. Your card: {card}.\nBetting so far: {hand_summary(pstate, seat_of)}.\nPot: {pot} chips."

    def render(self, pstate: Any) -> str:
        history = pstate.history()
        cards = " ".join(f"player {p}: {CARDS[history[p]]}" for p in range(min(2, len(history))))
        text = f"Cards: {cards}\nBetting: {hand_summary(pstate)}"
        if pstate.is_terminal():
            text += f"\nReturns: {pstate.returns()}"
        return text


@dataclass
class HandResult:
    cards: tuple[str, str]  # by seat
    betting: str
    net: tuple[float, float]  # by seat
    showdown: bool


class KuhnSeries:
    """``hands`` Kuhn hands in a row; returns are total chips (see module doc)."""

    def __init__(self, hands: int):
        if hands < 1:
            raise ValueError("hands must be at least 1")
        self.hands = hands
        self.name = "kuhn_poker"
        self.num_players = 2
        self.pyspiel_game = pyspiel.load_game("kuhn_poker")

    def describe(self) -> str:
        return (
            f"{KuhnView.rules} You play {self.hands} hands in a row with a fresh deck each hand; "
            "the opener alternates, player 0 opening the first hand. Your final score is your total "
            "net chips over all hands."
        )

    def new_state(self, seed: int) -> KuhnSeriesState:
        return KuhnSeriesState(self, random.Random(seed))


class KuhnSeriesState:
    def __init__(self, game: KuhnSeries, rng: random.Random):
        self.game = game
        self.rng = rng
        self.results: list[HandResult] = []
        self._deal()

    def _deal(self) -> None:
        self.pstate = self.game.pyspiel_game.new_initial_state()
        opener = len(self.results) % 2
        self.seat_of = (opener, 1 - opener)  # OpenSpiel player -> seat
        while self.pstate.is_chance_node():
            outcomes = [a for a, _ in self.pstate.chance_outcomes()]
            self.pstate.apply_action(self.rng.choice(outcomes))

    def _osp(self, seat: int) -> int:
        return self.seat_of.index(seat)

    @property
    def current_player(self) -> int:
        return TERMINAL if self.is_terminal() else self.seat_of[self.pstate.current_player()]

    def is_terminal(self) -> bool:
        return len(self.results) == self.game.hands

    def legal_actions(self, player: int | None = None) -> list[str]:
        if self.is_terminal() or (player is not None and player != self.current_player):
            return []
        return [KuhnView().action_name(self.pstate, a) for a in self.pstate.legal_actions()]

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        legal = self.legal_actions()
        self.pstate.apply_action(self.pstate.legal_actions()[legal.index(refuse_unlisted(action, legal))])
        if self.pstate.is_terminal():
            history, ret = self.pstate.history(), self.pstate.returns()
            by_seat = lambda xs: (xs[self._osp(0)], xs[self._osp(1)])  # noqa: E731
            words = betting_words(history[2:])
            self.results.append(
                HandResult(
                    cards=by_seat([CARDS[history[0]], CARDS[history[1]]]),
                    betting=hand_summary(self.pstate, self.seat_of),
                    net=by_seat([float(r) for r in ret]),
                    showdown=words[-1] != "fold",
                )
            )
            if not self.is_terminal():
                self._deal()

    def returns(self) -> list[float]:
        return [sum(r.net[s] for r in self.results) for s in (0, 1)]

    def _past_hands(self, seat: int) -> str:
        lines = []
        for i, r in enumerate(self.results):
            theirs = r.cards[1 - seat] if r.showdown else "unseen (fold)"
            lines.append(
                f"Hand {i + 1}: your card {r.cards[seat]}, opponent's {theirs}; "
                f"{r.betting}; you {'won' if r.net[seat] > 0 else 'lost'} {chips_text(abs(r.net[seat]))}."
            )
        return "\n".join(lines)

    def observation(self, player: int) -> str:
        parts = [self._past_hands(player)] if self.results else []
        chips = self.returns()[player]
        if self.is_terminal():
            parts.append(f"The series is over. Your total: {chips:+g} chips.")
            return "\n".join(parts)
        parts.append(f"Hand {len(self.results) + 1} of {self.game.hands}. Your chips so far: {chips:+g}.")
        parts.append(KuhnView().observation(self.pstate, self._osp(player), seat=player, seat_of=self.seat_of))
        if player == self.current_player:
            parts.append(legal_moves_line(self.legal_actions()))
        return "\n".join(parts)

    def clone(self) -> KuhnSeriesState:
        new = object.__new__(KuhnSeriesState)
        new.game, new.results, new.seat_of = self.game, list(self.results), self.seat_of
        new.rng = random.Random()
        new.rng.setstate(self.rng.getstate())
        new.pstate = self.pstate.clone()
        return new

    def render(self) -> str:
        lines = [
            f"Hand {i + 1}: cards (seat 0, seat 1) = {r.cards}; {r.betting}; net {r.net}" for i, r in enumerate(self.results)
        ]
        if not self.is_terminal():
            h = self.pstate.history()
            cards = (CARDS[h[self._osp(0)]], CARDS[h[self._osp(1)]])
            lines.append(
                f"Hand {len(self.results) + 1}: cards (seat 0, seat 1) = {cards}; {hand_summary(self.pstate, self.seat_of)}"
            )
        lines.append(f"Chips: {self.returns()}")
        return "\n".join(lines)


_single_hand = openspiel_game("kuhn_poker", "kuhn_poker", KuhnView)


def prior(state: Any) -> dict[str, float]:
    """The weak card- and place-dependent play stated in the module docstring, for a single hand or a series."""
    pstate = state.pstate
    card = CARDS[pstate.history()[pstate.current_player()]]
    after_check = pstate.history()[2:3] == [0]  # the hand opened with a check
    if "call" in state.legal_actions():
        p = (PRIOR_CALL_AFTER_CHECK if after_check else PRIOR_CALL)[card]
        return {"call": p, "fold": 1.0 - p}
    p = (PRIOR_BET_AFTER_CHECK if after_check else PRIOR_BET)[card]
    return {"bet": p, "check": 1.0 - p}


def make_kuhn(hands: int = 1) -> OpenSpielGame | KuhnSeries:
    """``hands=1``: the standard OpenSpiel hand; more: a series scored by total chips."""
    if not isinstance(hands, int):
        raise ValueError(f"hands must be a whole number, got {hands!r}")
    return _single_hand() if hands == 1 else KuhnSeries(hands)


register(
    GameEntry(
        name="kuhn_poker",
        num_players=2,
        source="openspiel",
        description="3-card poker, one hand (hands=N: a series scored by total chips); SPIRAL training game",
        make=make_kuhn,
        perfect_information=False,
        exploitability=True,
        prior=prior,
    )
)
