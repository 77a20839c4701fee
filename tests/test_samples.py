"""From game records to turn samples: who gets which reward."""

from __future__ import annotations

import pytest

from sparring.advantages import RoleBaselines, estimate
from sparring.rollout import GameRecord, Turn
from sparring.samples import role_returns, turn_samples


def model_turn(seat: int, invalid: str | None = None) -> Turn:
    return Turn(seat, "4", "\\boxed{4}", invalid, info={"prompt_ids": [1, 2], "response_ids": [3], "logprobs": [-0.5]})


def record(returns, seats, invalid_seat=None, bot_seat=None) -> GameRecord:
    turns = [Turn(s, "0", "0") if s == bot_seat else model_turn(s) for s in seats]
    return GameRecord("tic_tac_toe", 0, [0, 1], returns, turns, len(turns), invalid_seat)


def rewards(samples, seat):
    return [s.reward for s in samples if s.seat == seat]


def test_every_turn_of_a_seat_gets_its_return_discounted_by_turns_to_come():
    rec = record([1.0, -1.0], [0, 1, 0, 1, 0])
    samples = turn_samples([rec], lambda i, r: [0, 1], gamma=0.5)
    assert rewards(samples, 0) == [0.25, 0.5, 1.0]
    assert rewards(samples, 1) == [-0.5, -1.0]
    assert [s.last_turn for s in samples if s.seat == 0] == [False, False, True]
    assert [s.turn for s in samples if s.seat == 0] == [0, 1, 2]


def test_bot_turns_and_other_seats_are_not_samples():
    rec = record([-1.0, 1.0], [0, 1, 0, 1], bot_seat=1)
    samples = turn_samples([rec], lambda i, r: [0, 1])
    assert {s.seat for s in samples} == {0} and len(samples) == 2


def test_invalid_move_charges_the_whole_game_by_default_and_the_turn_when_asked():
    rec = record([-1.5, 0.5], [0, 1, 0], invalid_seat=0)
    game = turn_samples([rec], lambda i, r: [0, 1])
    assert rewards(game, 0) == [-1.5, -1.5] and rewards(game, 1) == [0.5]
    turn = turn_samples([rec], lambda i, r: [0, 1], invalid_credit="turn")
    assert rewards(turn, 0) == [0.0, -1.5] and rewards(turn, 1) == [0.0]


def test_turn_credit_leaves_games_without_invalid_moves_alone():
    rec = record([1.0, -1.0], [0, 1, 0])
    assert [s.reward for s in turn_samples([rec], lambda i, r: [0, 1], invalid_credit="turn")] == pytest.approx([1.0, 1.0, -1.0])


def test_a_seat_that_never_moved_has_no_samples_but_its_return_reaches_the_baseline():
    # Seat 0 forfeits its first move: seat 1 scores +0.5 without a decision. A second game is a plain seat-0 win.
    forfeit = record([-1.5, 0.5], [0], invalid_seat=0)
    win = record([1.0, -1.0], [0, 1, 0])
    seats = lambda i, r: [0, 1]  # noqa: E731
    samples = turn_samples([forfeit, win], seats)
    assert [(s.game_id, s.seat) for s in samples] == [(0, 0), (1, 0), (1, 0), (1, 1)]  # no sample is invented
    returns = role_returns([forfeit, win], seats)
    assert returns == {("tic_tac_toe", 0): [-1.5, 1.0], ("tic_tac_toe", 1): [0.5, -1.0]}
    baselines = RoleBaselines(rate=0.5)
    estimate("rae", samples, baselines, returns)
    # Every seat of both games counts: b1 = 0.5*0 + 0.5*mean(0.5, -1) = -0.125 (seat 1's samples alone: 0.5*-1 = -0.5).
    assert baselines.get("tic_tac_toe", 1) == pytest.approx(-0.125)
    assert baselines.get("tic_tac_toe", 0) == pytest.approx(0.5 * (-1.5 + 1.0) / 2)


def test_role_returns_follow_the_invalid_credit_rule_and_only_learning_seats():
    forfeit = record([-1.5, 0.5], [0], invalid_seat=0)
    assert role_returns([forfeit], lambda i, r: [0, 1], "turn") == {("tic_tac_toe", 0): [-1.5], ("tic_tac_toe", 1): [0.0]}
    # Against a fixed player only the learner's seat is a role the learner has a baseline for.
    assert role_returns([forfeit], lambda i, r: [1]) == {("tic_tac_toe", 1): [0.5]}


def proposal_record(proposal: str | None, returns: list[float]) -> GameRecord:
    """A propose_solve game: seat 0 proposes (None: refused), seat 1 answers once."""
    first = Turn(0, proposal, "", None if proposal else "not of the form")
    return GameRecord("propose_solve", 0, [0, 1], returns, [first, Turn(1, "7", "")], 2)


def test_the_repetition_penalty_lowers_the_proposers_return_by_the_share_of_same_proposals():
    from sparring.samples import penalize_repeats

    records = [
        proposal_record("2 + 5 = 7", [0.5, 0.5]),
        proposal_record("2  +  5 = 7", [0.0, 1.0]),  # the same text once whitespace is collapsed
        proposal_record("3 + 4 = 7", [1.0, 0.5]),
        proposal_record(None, [-1.5, 0.0]),  # refused: not a proposal, never counted or penalized
        GameRecord("kuhn_poker", 0, [0, 1], [1.0, -1.0], [Turn(0, "bet", "")], 1),  # no proposer seat
    ]
    scored, distinct = penalize_repeats(records, 0.6)
    expected = [[0.5 - 0.4, 0.5], [0.0 - 0.4, 1.0], [1.0 - 0.2, 0.5], [-1.5, 0.0], [1.0, -1.0]]
    assert [r.returns for r in scored] == [pytest.approx(e) for e in expected]
    assert distinct == {"propose_solve": 2 / 3}
    assert [r.returns for r in records][:3] == [[0.5, 0.5], [0.0, 1.0], [1.0, 0.5]]  # the originals are untouched
    same, measured = penalize_repeats(records, 0.0)
    assert same is records and measured == distinct  # measured with no penalty too
