"""The reach-weighted running average of policies is the mixture "draw a policy, play it a whole game"."""

from __future__ import annotations

import numpy as np
import pytest
from open_spiel.python import policy as osp_policy
from open_spiel.python.algorithms import expected_game_score

from sparring.evaluate.average_policy import RunningAverage, own_reach
from sparring.games import make_game


def random_table(game, seed: int) -> osp_policy.TabularPolicy:
    """A policy with random move probabilities at every information state (legal moves only)."""
    rng = np.random.default_rng(seed)
    table = osp_policy.TabularPolicy(game.pyspiel_game)
    legal = table.legal_actions_mask.astype(bool)
    probs = np.where(legal, rng.random(legal.shape) + 0.05, 0.0)
    table.action_probability_array[:] = probs / probs.sum(axis=1, keepdims=True)
    return table


def value_as_seat(game, table, opponent, seat: int) -> float:
    tables = [opponent, opponent]
    tables[seat] = table
    return float(expected_game_score.policy_value(game.pyspiel_game.new_initial_state(), tables)[seat])


@pytest.mark.parametrize("name", ["kuhn_poker", "leduc_poker"])
def test_weighted_average_plays_like_the_weighted_mixture(name):
    """Kuhn's theorem: against any opponent, the average behaviour policy earns the mixture's expected value."""
    game = make_game(name)
    members, weights = [random_table(game, s) for s in range(3)], [1.0, 2.0, 5.0]
    average = RunningAverage(game)
    for table, weight in zip(members, weights, strict=True):
        average.add(table, weight)
    opponent = random_table(game, 99)
    for seat in range(2):
        mixed = sum(w * value_as_seat(game, t, opponent, seat) for t, w in zip(members, weights, strict=True)) / sum(weights)
        assert value_as_seat(game, average.table(), opponent, seat) == pytest.approx(mixed, abs=1e-9)


def test_own_reach_multiplies_the_players_own_earlier_moves():
    kuhn = make_game("kuhn_poker")
    table = random_table(kuhn, 0)
    row = lambda key: table.action_probability_array[table.state_lookup[key]]  # noqa: E731
    reach = own_reach(kuhn, table)
    at = lambda key: reach[table.state_lookup[key]]  # noqa: E731
    assert at("2") == 1.0 and at("1p") == 1.0  # first decisions of each seat
    assert at("2pb") == pytest.approx(row("2")[0])  # player 0 checked with K, then faces a bet
    assert at("0pb") == pytest.approx(row("0")[0])


def test_state_dict_round_trips_exactly():
    leduc = make_game("leduc_poker")
    average = RunningAverage(leduc)
    average.add(random_table(leduc, 1), 3.0)
    copy = RunningAverage(leduc)
    copy.load_state_dict(average.state_dict())
    assert copy.count == 1
    np.testing.assert_array_equal(copy.table().action_probability_array, average.table().action_probability_array)
