"""The average of a sequence of policies, as fictitious play and CFR average them: reach-weighted, kept running.

Exploitability descent and self-play move the *current* policy, which may cycle around an equilibrium
while the average of its iterates closes in on it (Heinrich et al., 2015; Zinkevich et al., 2007). The
average that means "play a policy drawn from the sequence for a whole game" is not the state-by-state mean
of move probabilities: at an information state of player p each policy counts by its own reach there (the
product of its probabilities of p's earlier moves on the way). Perfect recall makes that reach a function of
the information state alone, so one walk of the game tree, done once, gives each information state's
predecessor among its player's own decisions, and every later policy's reach is one pass over the table.

``RunningAverage.add(table, weight)`` folds in one policy; ``weight`` grows with the step for the linear
averaging CFR+ uses (Tammelin, 2014), which forgets the poor early iterates faster than a uniform mean.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from open_spiel.python import policy as osp_policy

from sparring.games.openspiel import OpenSpielGame


@cache
def _own_parents(game_string: str) -> tuple[tuple[str, str | None, int], ...]:
    """(information state, the same player's previous information state or None, the move taken there),
    in an order where every predecessor comes first."""
    import pyspiel

    game = pyspiel.load_game(game_string)
    found: dict[str, tuple[str | None, int]] = {}

    def walk(state: Any, last: dict[int, tuple[str, int]]) -> None:
        if state.is_terminal():
            return
        if state.is_chance_node():
            for action, _ in state.chance_outcomes():
                walk(state.child(action), last)
            return
        player = state.current_player()
        key = state.information_state_string(player)
        parent = last.get(player)
        found.setdefault(key, (parent[0], parent[1]) if parent else (None, -1))
        for action in state.legal_actions():
            walk(state.child(action), {**last, player: (key, action)})

    walk(game.new_initial_state(), {})
    return tuple((key, parent, action) for key, (parent, action) in found.items())


def own_reach(game: OpenSpielGame, table: osp_policy.TabularPolicy) -> np.ndarray:
    """Per row of ``table``: the probability that its player's own moves lead to that information state."""
    reach = np.zeros(len(table.states))
    lookup = table.state_lookup
    for key, parent, action in _own_parents(str(game.pyspiel_game)):
        if parent is None:
            reach[lookup[key]] = 1.0
        else:
            row = lookup[parent]
            reach[lookup[key]] = reach[row] * table.action_probability_array[row, action]
    return reach


class RunningAverage:
    """The reach-weighted average of the policies added so far (each with a weight), kept as two sums."""

    def __init__(self, game: OpenSpielGame):
        self.game = game
        shape = osp_policy.TabularPolicy(game.pyspiel_game).action_probability_array.shape
        self.weighted = np.zeros(shape)
        """Sum over policies of weight x own reach x move probabilities, per information state."""
        self.reach = np.zeros(shape[0])
        """Sum over policies of weight x own reach, per information state."""
        self.count = 0

    def add(self, table: osp_policy.TabularPolicy, weight: float = 1.0) -> None:
        reach = weight * own_reach(self.game, table)
        self.weighted += reach[:, None] * table.action_probability_array
        self.reach += reach
        self.count += 1

    def table(self) -> osp_policy.TabularPolicy:
        """The average as a policy; where no policy added reaches a state, uniform over its legal moves."""
        avg = osp_policy.TabularPolicy(self.game.pyspiel_game)
        seen = self.reach > 0
        avg.action_probability_array[seen] = self.weighted[seen] / self.reach[seen, None]
        return avg

    def state_dict(self) -> dict[str, Any]:
        return {"weighted": self.weighted.tolist(), "reach": self.reach.tolist(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weighted = np.asarray(state["weighted"], dtype=float)
        self.reach = np.asarray(state["reach"], dtype=float)
        self.count = int(state["count"])

    @classmethod
    def from_state(cls, game: OpenSpielGame, state: dict[str, Any]) -> RunningAverage:
        """An average saved by ``state_dict`` (a league's state in ``state.json``), for ``game``."""
        average = cls(game)
        average.load_state_dict(state)
        return average


def average_policy_table(game: OpenSpielGame, tables: list[osp_policy.TabularPolicy]) -> osp_policy.TabularPolicy:
    """The behaviour policy equivalent to playing a uniformly drawn member of ``tables`` for a whole game."""
    average = RunningAverage(game)
    for table in tables:
        average.add(table)
    return average.table()
