"""Rendezvous: the cooperative game where two partners each hold half a secret and must tell each other."""

from __future__ import annotations

import pytest

from sparring.errors import UserError
from sparring.evaluate.arena import summarize
from sparring.games import InvalidAction, make_game
from sparring.games.rendezvous import ANSWERS, DAYS, PLACES
from sparring.players import make_player
from sparring.rollout import play_games


class Partner:
    """A scripted partner: ``honest`` says its half and reads the other's from the message; else it says nothing
    useful and answers its own half with a fixed guess for the other."""

    def __init__(self, honest: bool):
        self.honest, self.name = honest, "honest" if honest else "mute"

    def act(self, state, seat: int) -> str:
        if state.legal_actions() is None:
            return f"the {'day' if seat == 0 else 'place'} is {state.secret(seat)}" if self.honest else "hello"
        heard = state.messages[1 - seat].split()[-1] if self.honest else None
        day = state.day if seat == 0 else heard if heard in DAYS else DAYS[0]
        place = state.place if seat == 1 else heard if heard in PLACES else PLACES[0]
        return f"{day} {place}"


def test_messages_then_answers_and_the_team_scores_half_a_point_per_right_answer():
    state = make_game("rendezvous").new_state(4)
    assert state.current_player == 0 and state.legal_actions() is None
    state.apply("  my   day is " + state.day)
    assert state.messages == ["my day is " + state.day] and state.current_player == 1 and state.legal_actions() is None
    state.apply("ok")
    assert state.current_player == 0 and state.legal_actions() == ANSWERS
    meeting = f"{state.day} {state.place}"
    wrong = next(a for a in ANSWERS if a != meeting)
    both, one, none = state.clone(), state.clone(), state.clone()
    for s, answers, score in ((both, [meeting, meeting], 1.0), (one, [wrong, meeting], 0.5), (none, [wrong, wrong], 0.0)):
        s.apply(answers[0])
        assert s.current_player == 1 and not s.is_terminal()
        s.apply(answers[1].upper())  # answers match without case
        assert s.is_terminal() and s.current_player == -1 and s.returns() == [score, score]
    assert "Team reward: 0.5" in one.render() and state.answers == []


def test_bad_messages_and_answers_are_refused_with_a_reason_and_change_nothing():
    state = make_game("rendezvous:max_words=3").new_state(0)
    with pytest.raises(InvalidAction, match="empty message"):
        state.apply("   ")
    with pytest.raises(InvalidAction, match="at most 3 words; yours has 4"):
        state.apply("it is on monday")
    assert state.messages == []
    state.apply("monday")
    state.apply("park")
    with pytest.raises(InvalidAction, match="not a legal move"):
        state.apply("monday")
    assert state.answers == [] and state.current_player == 0
    with pytest.raises(UserError, match="max_words must be at least 1"):
        make_game("rendezvous:max_words=0")


def test_each_player_sees_only_its_own_half_and_never_the_partners_answer():
    state = make_game("rendezvous").new_state(7)
    first = state.observation(0)
    assert f"day (only you know it): {state.day}" in first and state.place not in first
    assert state.day not in state.observation(1).split("\n")[0] and state.place in state.observation(1)
    state.apply("hello")
    state.apply("hi")
    state.apply(f"{state.day} {state.place}")
    seen = state.observation(1)
    assert "You answered" not in seen and f"{state.day} {state.place}" in seen.split("Legal moves: ")[1]
    assert "answered" not in seen.split("Legal moves")[0]
    assert f"You answered: {state.day} {state.place}." in state.observation(0)


def test_only_talking_wins_honest_partners_score_one_mute_ones_a_third_random_ones_a_ninth():
    game = make_game("rendezvous")
    honest = play_games(game, [Partner(True), Partner(True)], 90)
    assert all(r.returns == [1.0, 1.0] for r in honest)
    mute = play_games(game, [Partner(False), Partner(False)], 90)
    assert sum(r.returns[0] for r in mute) / 90 == pytest.approx(1 / 3, abs=0.1)
    randoms = [make_player("random", game, seed=k) for k in range(2)]
    random_play = play_games(game, randoms, 900, seed=1)
    assert sum(r.returns[0] for r in random_play) / 900 == pytest.approx(1 / 9, abs=0.03)
    stats = summarize(honest, ["honest", "honest"])
    assert stats["honest"]["draw"] == 1.0 and stats["honest"]["mean_return"] == 1.0  # a shared reward: never a win


def test_a_rendezvous_step_trains_on_free_text_and_listed_turns_and_evaluation_logs_the_mean_return(tmp_path):
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.config import load_config
    from sparring.evaluate.suite import evaluate_game
    from sparring.train import build, train_step

    t = build(
        load_config("spiral-kuhn", [*TINY_RUN, "games.0.name=rendezvous", "sampling.max_new_tokens=12"]), RunDir(tmp_path / "r")
    )
    metrics, _, records, samples = train_step(t)
    for r in records:  # a forfeit costs the offender alone: the partner gets 0, not a zero-sum game's +0.5
        assert (
            r.returns[0] == r.returns[1]
            if r.invalid_seat is None
            else r.returns == [-1.5 if s == r.invalid_seat else 0.0 for s in range(2)]
        )
    assert any(r.invalid_seat is not None for r in records) and "train/rendezvous/return/seat1" in metrics
    assert samples and all(s.game == "rendezvous" for s in samples)
    game = make_game("rendezvous")
    result = evaluate_game(game, "rendezvous", Partner(True), ["random"], num_games=6)
    logged = result.metrics()
    assert logged["eval/rendezvous/random/mean_return"] == pytest.approx(result.vs["random"]["mean_return"])
    # with a random partner no pair scores more than 1, and the random answers are right a ninth of the time
    assert 0.0 <= logged["eval/rendezvous/random/mean_return"] <= 1.0
    assert result.vs["random"]["invalid"] == 0.0
