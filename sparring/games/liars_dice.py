"""Liar's dice (OpenSpiel ``liars_dice``), two players with one six-sided die each.

- Each player rolls one die in secret (``numdice`` changes the count).
- Player 0 bids first. A bid ``QxF`` claims that at least Q dice on the
  table show face F; sixes are wild and count as any face. Each bid must be
  higher than the last (more dice, or the same count of a higher face).
- Instead of bidding, a player may answer ``liar``: all dice are shown; if the
  last bid holds, the caller loses (-1, the bidder +1), otherwise the bidder
  loses. Zero-sum, no draws.

Prior of the bundled base model (:func:`prior`): each bid weighs 0.1 plus the
chance, given the player's own dice, that it is true; ``liar`` weighs 0.1
plus twice the chance that the last bid is false. It reads its own dice but
never the opponent's bids as information, so it is easy to exploit.
"""

from __future__ import annotations

from math import comb
from typing import Any

from sparring.games.openspiel import openspiel_game
from sparring.games.priors import normalized
from sparring.games.registry import GameEntry, register


def bid_name(osp_name: str) -> str:
    """OpenSpiel writes bids ``2-5`` and the call ``Liar``; we answer ``2x5`` and ``liar``."""
    return "liar" if osp_name == "Liar" else osp_name.replace("-", "x")


def bids_text(pstate: Any) -> str:
    num_dice = 2 * pstate.get_game().get_parameters()["numdice"]
    said = []
    for i, action in enumerate(pstate.history()[num_dice:]):
        name = bid_name(pstate.action_to_string(i % 2, action))
        said.append(f"Player {i % 2} calls liar" if name == "liar" else f"Player {i % 2} bids {name}")
    return ", ".join(said) if said else "no bids yet"


class LiarsDiceView:
    rules = (
        "Liar's dice. Each player secretly rolls one six-sided die. Players take turns; player 0 "
        "bids first. A bid QxF (for example 2x5) claims that at least Q of all the dice on the table "
        "show face F; sixes are wild and count as any face. Each bid must be higher than the last: "
        "more dice, or the same number of dice with a higher face. Instead of bidding you may answer "
        "liar: the dice are shown, and if the last bid was true the caller loses (-1, bidder +1), "
        "otherwise the bidder loses."
    )

    def action_name(self, pstate: Any, action: int) -> str:
        return bid_name(pstate.action_to_string(pstate.current_player(), action))

    def observation(self, pstate: Any, player: int) -> str:
        dice = pstate.information_state_string(player).split(" ")[0]
        return f"You are player {player}. Your dice: {' '.join(dice)}.\nBids so far: {bids_text(pstate)}."

    def render(self, pstate: Any) -> str:
        dice = [pstate.information_state_string(p).split(" ")[0] for p in range(2)]
        text = f"Dice: player 0: {dice[0]}, player 1: {dice[1]}\nBids: {bids_text(pstate)}"
        if pstate.is_terminal():
            text += f"\nReturns: {pstate.returns()}"
        return text


def bid_holds(bid: str, own: str, other_dice: int) -> float:
    """P(bid ``QxF`` is true) given one's own dice faces and the number of unseen dice (sixes wild)."""
    quantity, face = (int(x) for x in bid.split("x"))
    need = quantity - sum(d == str(face) or d == "6" for d in own)
    p = 1 / 6 if face == 6 else 2 / 6
    return sum(comb(other_dice, k) * p**k * (1 - p) ** (other_dice - k) for k in range(max(need, 0), other_dice + 1))


def prior(state: Any) -> dict[str, float]:
    """The weak own-dice-only play stated in the module docstring."""
    pstate = state.pstate
    player = pstate.current_player()
    own = pstate.information_state_string(player).split(" ")[0]
    unseen = 2 * pstate.get_game().get_parameters()["numdice"] - len(own)
    weights = {}
    for move in state.legal_actions():
        if move == "liar":
            last = bid_name(pstate.action_to_string(1 - player, pstate.history()[-1]))
            weights[move] = 0.1 + 2.0 * (1.0 - bid_holds(last, own, unseen))
        else:
            weights[move] = 0.1 + bid_holds(move, own, unseen)
    return normalized(weights)


register(
    GameEntry(
        name="liars_dice",
        num_players=2,
        source="openspiel",
        description="bid on hidden dice or call liar; sixes are wild",
        make=openspiel_game("liars_dice", "liars_dice", LiarsDiceView),
        perfect_information=False,
        exploitability=True,
        prior=prior,
    )
)
