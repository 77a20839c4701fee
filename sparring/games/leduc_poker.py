"""Leduc hold'em (OpenSpiel ``leduc_poker``): the standard small poker benchmark.

- Six cards: two each of J < Q < K. Each player antes 1 chip and gets one
  private card.
- Round 1: player 0 acts first. With nothing to call a player may ``check``
  or ``bet``; facing a bet, ``fold``, ``call`` or ``raise``. Bets and raises
  are 2 chips in round 1 and 4 chips in round 2, at most two per round.
- Then one public card is revealed and round 2 is played the same way,
  player 0 first.
- Showdown: a private card that pairs the public card wins; otherwise the
  higher card wins; equal ranks split the pot. Returns are net chips, zero-sum.

Prior of the bundled base model (:func:`prior`): a hand strength s in [0, 1]
(before the public card J 0, Q 0.5, K 1; after it a pair 1, else J 0, Q 0.3,
K 0.6) sets the weights bet/raise 0.25 + 0.5 s, check/call 0.5, fold
0.05 + 0.5 (1 - s), normalised over the legal moves. It ignores the betting and the
opponent entirely, which leaves it far from equilibrium.
"""

from __future__ import annotations

from typing import Any

from sparring.games.openspiel import openspiel_game
from sparring.games.priors import normalized
from sparring.games.registry import GameEntry, register

RANKS = "JJQQKK"  # OpenSpiel card id -> rank (two suits per rank)
FOLD, CALL, RAISE = 0, 1, 2


def round_words(actions: list[int]) -> list[str]:
    """Name each action of one betting round as a player says it."""
    words: list[str] = []
    facing = False
    for a in actions:
        if a == FOLD:
            words.append("fold")
        elif a == CALL:
            words.append("call" if facing else "check")
            facing = False
        else:
            words.append("raise" if facing else "bet")
            facing = True
    return words


def betting_text(pstate: Any) -> str:
    rounds = [pstate.round1(), pstate.round2()]
    lines = []
    for r, actions in enumerate(rounds):
        if not actions and r + 1 > pstate.round():
            continue
        said = [f"Player {i % 2} {w}s" for i, w in enumerate(round_words(actions))]
        lines.append(f"Round {r + 1}: {', '.join(said) if said else 'no bets yet'}.")
    return "\n".join(lines)


class LeducView:
    rules = (
        "Leduc hold'em. The deck has six cards, two each of J < Q < K. Each player antes 1 chip and "
        "gets one private card. Round 1: with nothing to call you may check or bet; facing a bet you "
        "may fold, call or raise (bets are 2 chips in round 1 and 4 in round 2, at most two per round). "
        "Then a public card is shown and round 2 is played the same way. At showdown a card that pairs "
        "the public card wins, otherwise the higher card wins; equal ranks split the pot. Your score is "
        "the net number of chips you win."
    )

    def action_name(self, pstate: Any, action: int) -> str:
        current = pstate.round1() if pstate.round() == 1 else pstate.round2()
        facing = bool(current) and current[-1] == RAISE
        return {FOLD: "fold", CALL: "call" if facing else "check", RAISE: "raise" if facing else "bet"}[action]

    def observation(self, pstate: Any, player: int) -> str:
        public = pstate.public_card()
        board = RANKS[public] if public >= 0 else "not yet shown"
        return (
            f"You are player {player}. Your card: {RANKS[pstate.get_private_cards()[player]]}. "
            f"Public card: {board}.\n{betting_text(pstate)}\n"
            f"Pot: {pstate.pot():g} chips; you have put in {100 - pstate.money()[player]:g}."
        )

    def render(self, pstate: Any) -> str:
        cards = pstate.get_private_cards()
        public = pstate.public_card()
        text = (
            f"Cards: player 0: {RANKS[cards[0]]}, player 1: {RANKS[cards[1]]}; "
            f"public: {RANKS[public] if public >= 0 else '-'}\n{betting_text(pstate)}"
        )
        if pstate.is_terminal():
            text += f"\nReturns: {pstate.returns()}"
        return text


def prior(state: Any) -> dict[str, float]:
    """The weak strength-dependent play stated in the module docstring."""
    pstate = state.pstate
    rank = RANKS[pstate.get_private_cards()[pstate.current_player()]]
    public = pstate.public_card()
    if public < 0:
        strength = {"J": 0.0, "Q": 0.5, "K": 1.0}[rank]
    else:
        strength = 1.0 if RANKS[public] == rank else {"J": 0.0, "Q": 0.3, "K": 0.6}[rank]
    weight = {"bet": 0.25 + 0.5 * strength, "raise": 0.25 + 0.5 * strength, "check": 0.5, "call": 0.5}
    weight["fold"] = 0.05 + 0.5 * (1.0 - strength)
    return normalized({m: weight[m] for m in state.legal_actions()})


register(
    GameEntry(
        name="leduc_poker",
        num_players=2,
        source="openspiel",
        description="6-card two-round poker with a public card; exact exploitability",
        make=openspiel_game("leduc_poker", "leduc_poker", LeducView),
        perfect_information=False,
        exploitability=True,
        prior=prior,
    )
)
