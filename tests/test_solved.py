"""Exact scores against perfect play (sparring.evaluate.solved), checked against known and sampled values."""

from __future__ import annotations

import random

import pytest

from sparring.errors import UserError
from sparring.evaluate.solved import non_loss, positions, read_policy, solved_scores, tactics
from sparring.games import make_game
from sparring.games.priors import wins_now
from sparring.players import make_player
from sparring.players.minimax import MinimaxPlayer


@pytest.fixture(scope="module")
def ttt():
    return make_game("tic_tac_toe")


@pytest.fixture(scope="module")
def ttt_positions(ttt):
    return positions(ttt)


def test_tic_tac_toe_has_4520_positions_with_a_move(ttt_positions):
    # The count OpenSpiel-free enumerations of tic-tac-toe give for non-terminal positions (5,478 legal
    # positions in all, 958 of them terminal); the pretrain distill phase walks the same set.
    assert len(ttt_positions) == 4520


def test_perfect_play_never_loses_and_scores_one_on_every_tactic(ttt, ttt_positions):
    perfect = MinimaxPlayer()

    def policy(state):
        moves = perfect.best_moves(state)
        return dict.fromkeys(moves, 1.0 / len(moves))

    assert non_loss(ttt, policy, 0, perfect) == pytest.approx(1.0)
    assert non_loss(ttt, policy, 1, perfect) == pytest.approx(1.0)
    table = {
        f"{s.render()}|{s.current_player}": policy(s) | {m: 0.0 for m in s.legal_actions() if m not in policy(s)}
        for s in ttt_positions
    }
    scores = tactics(ttt_positions, table, perfect)
    assert scores == {"take_win": pytest.approx(1.0), "block": pytest.approx(1.0), "optimal": pytest.approx(1.0)}


def test_uniform_policy_matches_counting_and_sampling(ttt, ttt_positions):
    uniform = make_player("uniform", ttt)
    scores = solved_scores(ttt, uniform)
    # take_win of the uniform policy is the mean share of winning moves, counted directly.
    shares = []
    for state in ttt_positions:
        moves = state.legal_actions()
        winning = [m for m in moves if wins_now(state, m)]
        if winning:
            shares.append(len(winning) / len(moves))
    assert scores["take_win"] == pytest.approx(sum(shares) / len(shares))
    assert 0.0 < scores["non_loss_seat1"] < scores["non_loss_seat0"] < 0.5  # O is the harder seat against perfect X
    # The exact non-loss as X agrees with random play against minimax (4 standard errors).
    rng, perfect, games, kept = random.Random(0), MinimaxPlayer(seed=1), 1500, 0
    for _ in range(games):
        state = ttt.new_state(0)
        while not state.is_terminal():
            state.apply(rng.choice(state.legal_actions()) if state.current_player == 0 else perfect.act(state, 1))
        kept += state.returns()[0] >= 0
    p = scores["non_loss_seat0"]
    assert abs(kept / games - p) < 4 * (p * (1 - p) / games) ** 0.5


def test_read_policy_renormalises_over_legal_moves(ttt):
    class Leaky:
        name = "leaky"

        def action_probabilities(self, state, seat):
            moves = state.legal_actions()
            return {m: (0.5 if i == 0 else 0.0) for i, m in enumerate(moves)} | {"junk": 0.5}

    state = ttt.new_state(0)
    table = read_policy(ttt, Leaky(), [state])
    assert table[f"{state.render()}|0"]["0"] == pytest.approx(1.0)
    assert sum(table[f"{state.render()}|0"].values()) == pytest.approx(1.0)


def test_refuses_games_it_cannot_score(ttt):
    with pytest.raises(UserError, match="perfect-information"):
        solved_scores(make_game("kuhn_poker"), make_player("uniform", make_game("kuhn_poker")))
    with pytest.raises(UserError, match="too big"):
        solved_scores(make_game("connect_four"), make_player("uniform", make_game("connect_four")))
    with pytest.raises(UserError, match="no policy view"):
        read_policy(ttt, make_player("minimax", ttt), [ttt.new_state(0)])
