"""The weak priors the bundled model is pretrained on: proper distributions, state-dependent, and as weak as stated."""

from __future__ import annotations

import random

import pytest

from sparring.evaluate.exploitability import exploitability_of_table, kuhn_policy, policy_table
from sparring.games import game_entries, make_game
from sparring.games.priors import tactical, uniform
from sparring.players import make_player
from sparring.players.random_player import moves_for
from sparring.pretrain import soft_targets

AVAILABLE = [e.name for e in game_entries() if e.unavailable is None]


@pytest.mark.parametrize("name", AVAILABLE)
def test_every_prior_is_a_distribution_over_the_listed_moves(name):
    game = make_game(name)
    prior = next(e for e in game_entries() if e.name == name).prior or uniform
    rng = random.Random(0)
    for seed in range(20):
        state = game.new_state(seed)
        while not state.is_terminal():
            probs = prior(state)
            assert set(probs) == set(moves_for(state))
            assert sum(probs.values()) == pytest.approx(1.0) and min(probs.values()) > 0
            moves = list(probs)
            state.apply(rng.choices(moves, weights=[probs[m] for m in moves])[0])


def test_kuhn_prior_reads_card_and_place_and_is_as_exploitable_as_stated():
    game = make_game("kuhn_poker")
    table = policy_table(game, make_player("prior", game))
    expected = {
        "bet_first": [0.35, 0.5, 0.65],
        "bet_after_check": [0.5, 0.4, 0.8],
        "call_bet": [0.3, 0.5, 0.7],
        "call_after_check_bet": [0.3, 0.6, 0.7],
    }
    places = kuhn_policy(table)
    assert places.keys() == expected.keys()
    assert all(places[k] == pytest.approx(v) for k, v in expected.items()), places
    # worked out by OpenSpiel's best response for this table; uniform play is 0.4583
    assert exploitability_of_table(game, table).exploitability == pytest.approx(0.2308, abs=5e-4)


def test_tactical_prior_favours_a_win_in_one_then_a_block():
    game = make_game("tic_tac_toe")
    prior = tactical(win=0.5, block=0.25)
    state = game.new_state(0)
    for move in ["0", "3", "1"]:  # X on 0 and 1, O on 3: O to move, X threatens 2
        state.apply(move)
    probs = prior(state)
    assert probs["2"] == pytest.approx(0.25 + 0.75 / 6)  # the block, plus its uniform share
    assert probs["4"] == pytest.approx(0.75 / 6)
    state.apply("4")  # O on 3, 4: X to move with a win at 2, and O threatens 5
    probs = prior(state)
    assert probs["2"] == pytest.approx(0.5 + 0.5 / 5) and probs["5"] == pytest.approx(0.5 / 5)


def test_soft_targets_follow_the_prior_along_the_sampled_answer():
    # answers a=[1,2,9] (0.5), b=[1,3,9] (0.25), c=[4,9] (0.25); sampled a
    options = [([1, 2, 9], 0.5), ([1, 3, 9], 0.25), ([4, 9], 0.25)]
    assert soft_targets([1, 2, 9], options) == [
        (0, [1, 4], [0.75, 0.25]),
        (1, [2, 3], [pytest.approx(2 / 3), pytest.approx(1 / 3)]),
    ]
    assert soft_targets([4, 9], options) == [(0, [1, 4], [0.75, 0.25])]  # one way on after the first token
    assert soft_targets([5, 9], options) == []  # an invalid answer is trained on as it is
