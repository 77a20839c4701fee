"""Liar's dice (OpenSpiel ``liars_dice``), two players with one six-sided die each.

- Each player rolls one die in secret (``numdice`` changes the count).
- Player 0 bids first. A bid ``QxF`` claims that at least Q dice on the
  table show face F; sixes are wild and count as any face. Each bid must be
  higher than the last (more dice, or the same count of a higher face).
- Instead of bidding, a player may answer ``liar``: all dice are shown; if the
  last bid holds, the caller loses (-1, the bidder +1), otherwise the bidder
  loses. Zero-sum, no draws.
"""

from __future__ import annotations

from typing import Any

from sparring.games.openspiel import openspiel_game
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


register(
    GameEntry(
        name="liars_dice",
        num_players=2,
        source="openspiel",
        description="bid on hidden dice or call liar; sixes are wild",
        make=openspiel_game("liars_dice", "liars_dice", LiarsDiceView),
        perfect_information=False,
        exploitability=True,
    )
)
