"""Tiny Hanabi (OpenSpiel ``tiny_hanabi``): a two-player cooperative game of signalling, one move each.

- Each player is dealt a private card, 0 or 1 (each equally likely), and sees
  only its own.
- Player 0 acts first: ``a0``, ``a1`` or ``a2``. Player 1 then sees its own
  card and player 0's action (never player 0's card) and acts: ``a0``, ``a1``
  or ``a2``. The game ends.
- Both players get the same team reward, read from a table by both cards and
  both actions (OpenSpiel's default payoff, the "game A" of Foerster et al.,
  2019, "Bayesian Action Decoder"). The rules text shows the whole table.

Player 0's action is its only way to tell player 1 about its card, and the
table rewards the pair that agrees on what each action means: the best joint
policy scores 10 on average (:func:`sparring.evaluate.cooperative.optimal_team_return`
finds it exactly by trying every deterministic joint policy), while
uniformly random play scores far less. Evaluation reports the policy's exact
expected team return (playing both seats) next to that optimum, where a
zero-sum game reports exploitability.

Prior (what the bundled base model's corpus plays, ``sparring.games.priors``):
myopic. A player puts 40% of its mass on the action with the best mean
reward given what it sees -- its own card and, for player 1, player 0's
action -- averaging over the unseen card and taking the partner's action as
uniform; the other 60% is uniform. It reads its card and the table but
assumes no convention, so it stays far from the optimum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sparring.games.openspiel import OpenSpielGame, openspiel_game
from sparring.games.priors import mix
from sparring.games.registry import GameEntry, register


def _shape(pstate: Any) -> tuple[int, int, int]:
    """(players, cards per deal, actions) of the state's game."""
    params = pstate.get_game().get_parameters()
    return params["num_players"], params["num_chance"], params["num_actions"]


def team_reward(params: dict[str, Any]) -> Callable[[int, int, int, int], float]:
    """The payoff parameter as ``reward(card0, card1, action0, action1)`` (OpenSpiel's flat order, two players)."""
    values = [float(x) for x in params["payoff"].split(";")]
    cards, actions = params["num_chance"], params["num_actions"]
    return lambda c0, c1, a0, a1: values[((c0 * cards + c1) * actions + a0) * actions + a1]


def payoff_table(params: dict[str, Any]) -> str:
    """The team reward as text: one line per deal, player 0's action by player 1's (two players)."""
    reward = team_reward(params)
    cards, actions = params["num_chance"], params["num_actions"]
    lines = []
    for c0 in range(cards):
        for c1 in range(cards):
            rows = []
            for a0 in range(actions):
                cells = ", ".join(f"a{a1} {reward(c0, c1, a0, a1):g}" for a1 in range(actions))
                rows.append(f"a{a0} then ({cells})")
            lines.append(f"- cards {c0} (player 0) and {c1} (player 1): player 0 " + "; ".join(rows))
    return "\n".join(lines)


class TinyHanabiView:
    def __init__(self) -> None:
        import pyspiel

        params = pyspiel.load_game("tiny_hanabi").get_parameters()
        self.rules = (
            "Tiny Hanabi, a cooperative game for two players, who share one team reward: you win or lose together. "
            "Each player is dealt a private card, 0 or 1 (each equally likely), and sees only its own. Player 0 acts "
            "first, answering a0, a1 or a2; player 1 then sees its own card and player 0's action (but not player 0's "
            "card) and answers a0, a1 or a2, and the game ends. Player 0's action is the only way to tell player 1 "
            "anything. The team reward for each deal, by player 0's action and then player 1's:\n" + payoff_table(params)
        )

    def action_name(self, pstate: Any, action: int) -> str:
        return f"a{action}"

    def observation(self, pstate: Any, player: int) -> str:
        players, _, _ = _shape(pstate)
        history = pstate.history()
        acted = [f"player {p} played a{a}" for p, a in enumerate(history[players:])]
        said = "Actions so far: " + ", ".join(acted) + "." if acted else "No actions yet."
        return f"You are player {player}. Your card: {history[player]}.\n{said}"

    def render(self, pstate: Any) -> str:
        players, _, _ = _shape(pstate)
        history = pstate.history()
        cards = ", ".join(f"player {p}: {c}" for p, c in enumerate(history[:players]))
        acted = ", ".join(f"player {p} played a{a}" for p, a in enumerate(history[players:])) or "none"
        text = f"Cards: {cards}\nActions: {acted}"
        return text + f"\nTeam reward: {pstate.returns()[0]:g}" if pstate.is_terminal() else text


PRIOR_SHARE = 0.4


def prior(state: Any) -> dict[str, float]:
    """The myopic prior of the module docstring: best mean reward for what this player sees, else uniform."""
    pstate = state.pstate
    params = pstate.get_game().get_parameters()
    reward = team_reward(params)
    cards, actions = params["num_chance"], params["num_actions"]
    player, history = pstate.current_player(), pstate.history()
    own = history[player]

    def mean_reward(action: int) -> float:
        if player == 0:  # player 1's card and answer unknown: both uniform
            cells = [reward(own, other, action, a1) for other in range(cards) for a1 in range(actions)]
        else:  # player 0's card unknown, its action seen
            cells = [reward(other, own, history[2], action) for other in range(cards)]
        return sum(cells) / len(cells)

    scores = [mean_reward(a) for a in range(actions)]
    best = [f"a{a}" for a in range(actions) if scores[a] == max(scores)]
    return mix(best, [f"a{a}" for a in range(actions)], PRIOR_SHARE)


def make_tiny_hanabi() -> OpenSpielGame:
    """OpenSpiel's default game only: the rules text shows its payoff table (no parameters to change it)."""
    return _make()


_make = openspiel_game("tiny_hanabi", "tiny_hanabi", TinyHanabiView)


register(
    GameEntry(
        name="tiny_hanabi",
        num_players=2,
        source="openspiel",
        description="cooperative: signal a private card with one action; both players share the reward",
        make=make_tiny_hanabi,
        zero_sum=False,
        cooperative=True,
        perfect_information=False,
        team_optimum=True,
        prior=prior,
    )
)
