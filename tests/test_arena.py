"""The arena alternates seats, batches, replays from a seed, and scores forfeits honestly."""

from __future__ import annotations

from sparring.evaluate.arena import play_games, summarize, unique_labels
from sparring.games import make_game
from sparring.players import Move, make_player


class Garbage:
    name = "garbage"

    def act(self, state, seat):
        return Move(action=None, reason="no \\boxed{} answer found", text="lorem ipsum")


class CountingBatch:
    """A batch player (like an LM) that records how many states each call gets."""

    name = "counting"

    def __init__(self):
        self.calls: list[int] = []

    def act(self, state, seat):
        return state.legal_actions()[0]

    def act_batch(self, states, seats):
        self.calls.append(len(states))
        return [s.legal_actions()[0] for s in states]


def test_seats_alternate_and_each_player_plays_both():
    ttt = make_game("tic_tac_toe")
    records = play_games(ttt, [make_player("random", ttt, 1), make_player("random", ttt, 2)], 10, seed=0)
    assert [r.seating for r in records[:2]] == [[0, 1], [1, 0]]
    summary = summarize(records, ["random", "random"])
    assert set(summary) == {"random", "random#2"}
    assert summary["random"]["by_seat"]["0"]["games"] == 5


def test_same_seed_same_match():
    kuhn = make_game("kuhn_poker")

    def run():
        recs = play_games(kuhn, [make_player("random", kuhn, 1), make_player("cfr:iters=50", kuhn, 2)], 30, seed=4)
        return [(r.returns, [t.action for t in r.turns]) for r in recs]

    assert run() == run()


def test_no_move_forfeits_and_counts_as_invalid():
    ttt = make_game("tic_tac_toe")
    records = play_games(ttt, [Garbage(), make_player("random", ttt, 2)], 6, seed=0)
    summary = summarize(records, ["garbage", "random"])
    assert summary["garbage"]["invalid"] == 1.0 and summary["garbage"]["loss"] == 1.0
    assert summary["random"]["win"] == 1.0 and summary["random"]["invalid"] == 0.0
    assert records[0].invalid_reason == "no \\boxed{} answer found"
    assert records[0].turns[-1].text == "lorem ipsum"


def test_illegal_move_reason_is_recorded():
    ttt = make_game("tic_tac_toe")

    class Stubborn:
        name = "stubborn"

        def act(self, state, seat):
            return "4"  # legal once, then illegal

    records = play_games(ttt, [Stubborn(), make_player("random", ttt, 2)], 2, seed=0)
    assert all(r.invalid_seat is not None for r in records)
    assert "not a legal move" in records[0].invalid_reason


def test_batch_player_gets_all_waiting_games_in_one_call():
    ttt = make_game("tic_tac_toe")
    batch = CountingBatch()
    play_games(ttt, [batch, make_player("random", ttt, 2)], 16, seed=0)
    assert max(batch.calls) == 16 or sum(batch.calls) > len(batch.calls)
    assert batch.calls[0] == 8  # game i even: batch player in seat 0, moves first in all 8 at once


def test_games_past_max_turns_are_draws():
    neg = make_game("simple_negotiation")
    records = play_games(neg, [make_player("random", neg, 1), make_player("random", neg, 2)], 4, seed=0, max_turns=3)
    assert all(r.truncated and r.returns == [0.0, 0.0] for r in records)
    assert summarize(records, ["a", "b"])["a"]["draw"] == 1.0


def test_unique_labels():
    assert unique_labels(["a", "b", "a", "a"]) == ["a", "b", "a#2", "a#3"]
