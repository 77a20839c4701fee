"""Elo math against hand-computed values: the logistic curve, the maximum-likelihood fit, anchoring, bootstrap."""

from __future__ import annotations

import math

import pytest

from sparring.evaluate.elo import Outcome, bootstrap_elo, expected_score, fit_elo, player_totals, score_matrix


def games(a: str, b: str, wins: int, losses: int, draws: int = 0) -> list[Outcome]:
    return [Outcome(a, b, 1.0)] * wins + [Outcome(a, b, 0.0)] * losses + [Outcome(a, b, 0.5)] * draws


def test_expected_score_follows_the_elo_curve():
    assert expected_score(1400, 1000) == pytest.approx(10 / 11)  # 400 points: 10:1 odds
    assert expected_score(1000, 1400) == pytest.approx(1 / 11)
    assert expected_score(1234, 1234) == 0.5
    assert expected_score(1800, 1000) == pytest.approx(100 / 101)
    assert expected_score(1100, 1000) + expected_score(1000, 1100) == pytest.approx(1.0)


def test_three_to_one_score_fits_a_gap_of_400_log10_3():
    ratings = fit_elo(games("a", "b", wins=30, losses=10))
    assert ratings["a"] - ratings["b"] == pytest.approx(400 * math.log10(3), abs=1e-6)  # 190.849
    assert ratings["a"] - ratings["b"] == pytest.approx(190.85, abs=0.01)
    assert expected_score(ratings["a"], ratings["b"]) == pytest.approx(0.75)


def test_draws_count_as_half_a_win():
    # 10 wins + 20 draws + 10 losses of 40 games is a 50% score: equal ratings.
    even = fit_elo(games("a", "b", wins=10, losses=10, draws=20))
    assert even["a"] == pytest.approx(even["b"], abs=1e-6)
    # 20 wins + 20 draws of 40: score 30/40 = 3:1, the same gap as 30 wins and 10 losses.
    drawn = fit_elo(games("a", "b", wins=20, losses=0, draws=20))
    assert drawn["a"] - drawn["b"] == pytest.approx(400 * math.log10(3), abs=1e-6)


def test_anchor_pins_one_player_or_the_mean():
    outcomes = games("random", "model", wins=10, losses=30)
    pinned = fit_elo(outcomes, anchor="random")
    assert pinned["random"] == 1000.0
    assert pinned["model"] == pytest.approx(1000 + 400 * math.log10(3), abs=1e-6)
    mean = fit_elo(outcomes)
    assert mean["random"] + mean["model"] == pytest.approx(2000.0)
    assert mean["model"] == pytest.approx(1000 + 200 * math.log10(3), abs=1e-6)
    with pytest.raises(ValueError, match="anchor"):
        fit_elo(outcomes, anchor="minimax")


def test_a_chain_of_pairs_fits_each_gap_separately():
    # No cycles in who-played-whom: the maximum-likelihood gaps are the pairwise ones.
    outcomes = games("a", "b", wins=5, losses=5) + games("b", "c", wins=9, losses=1)
    ratings = fit_elo(outcomes, anchor="a")
    assert ratings["b"] == pytest.approx(1000.0, abs=1e-6)
    assert ratings["c"] == pytest.approx(1000 - 400 * math.log10(9), abs=1e-6)


def test_a_rock_paper_scissors_cycle_rates_everyone_equal():
    outcomes = games("rock", "scissors", 3, 1) + games("scissors", "paper", 3, 1) + games("paper", "rock", 3, 1)
    ratings = fit_elo(outcomes)
    for name in ("rock", "paper", "scissors"):
        assert ratings[name] == pytest.approx(1000.0, abs=1e-6)


def test_the_fit_maximises_the_likelihood_of_a_full_round_robin():
    # At the maximum, each player's expected total score equals its actual total (the likelihood equations).
    outcomes = games("a", "b", 7, 3, 2) + games("a", "c", 9, 1) + games("b", "c", 4, 4, 4) + games("c", "a", 2, 6)
    ratings = fit_elo(outcomes)
    for player in ratings:
        actual = sum(o.score if o.a == player else 1 - o.score for o in outcomes if player in (o.a, o.b))
        expected = sum(
            expected_score(ratings[o.a], ratings[o.b]) if o.a == player else expected_score(ratings[o.b], ratings[o.a])
            for o in outcomes
            if player in (o.a, o.b)
        )
        assert expected == pytest.approx(actual, abs=1e-6)


def test_a_perfect_record_has_no_finite_ml_rating_without_a_prior():
    with pytest.raises(ValueError, match="won or lost every game"):
        fit_elo(games("minimax", "random", wins=8, losses=0))
    # One virtual draw: 8.5 to 0.5 is 17:1 odds.
    ratings = fit_elo(games("minimax", "random", wins=8, losses=0), anchor="random", prior_draws=1.0)
    assert ratings["minimax"] == pytest.approx(1000 + 400 * math.log10(17), abs=1e-6)


def test_players_not_connected_by_games_are_refused():
    with pytest.raises(ValueError, match="not connected"):
        fit_elo(games("a", "b", 2, 1) + games("c", "d", 1, 2), prior_draws=1.0)


def test_bootstrap_interval_contains_the_estimate_and_narrows_with_more_games():
    many = games("random", "model", wins=30, losses=90)
    few = games("random", "model", wins=3, losses=9)
    point = fit_elo(many, anchor="random", prior_draws=1.0)["model"]
    wide = bootstrap_elo(few, anchor="random", prior_draws=1.0, samples=200, seed=1)
    narrow = bootstrap_elo(many, anchor="random", prior_draws=1.0, samples=200, seed=1)
    low, high = narrow["model"]
    assert low < point < high
    assert (wide["model"][1] - wide["model"][0]) > 1.5 * (high - low)
    assert narrow["random"] == (1000.0, 1000.0)  # the anchor is pinned in every resample
    assert bootstrap_elo(many, anchor="random", prior_draws=1.0, samples=50, seed=7) == bootstrap_elo(
        many, anchor="random", prior_draws=1.0, samples=50, seed=7
    )


def test_score_matrix_is_complementary_and_totals_count_both_sides():
    outcomes = games("a", "b", 3, 1) + [Outcome("b", "a", 0.5)] + games("a", "c", 0, 2)
    matrix = score_matrix(outcomes)
    assert matrix["a"]["b"] == pytest.approx(3.5 / 5)
    assert matrix["b"]["a"] == pytest.approx(1.5 / 5)
    assert matrix["c"]["a"] == 1.0 and "c" not in matrix["b"]
    totals = player_totals(outcomes)
    assert totals["a"] == (7, pytest.approx(3.5 / 7))
    assert totals["c"] == (2, 1.0)
