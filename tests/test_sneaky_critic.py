"""Sneaky and critic: the seeded solutions, the exact checker of a rewrite, the zero-sum scoring, the prior."""

from __future__ import annotations

import pytest

from sparring.games import InvalidAction, make_game
from sparring.games.sneaky_critic import OPS, first_break, prior
from sparring.players.prior import PriorPlayer
from sparring.players.random_player import RandomPlayer
from sparring.rollout import play_games


def altered_state(seed: int = 0, spec: str = "sneaky_critic:clean=0"):
    state = make_game(spec).new_state(seed)
    assert state.current_player == 0
    return state


def test_the_seeded_solution_is_correct_and_chained():
    for seed in range(50):
        state = make_game("sneaky_critic").new_state(seed)
        assert 3 <= len(state.solution) <= 5
        assert first_break(state.start, state.solution) is None
        assert state.solution[0].left == state.start
        for step in state.solution:
            assert OPS[step.op](step.left, step.right) == step.result
    assert len({make_game("sneaky_critic").new_state(s).render() for s in range(20)}) == 20


@pytest.mark.parametrize(("verdict", "returns"), [("2", [-1.0, 1.0]), ("none", [1.0, -1.0]), ("1", [1.0, -1.0])])
def test_the_critic_wins_by_naming_the_rewritten_step(verdict, returns):
    state = altered_state()
    step = state.solution[1]
    state.apply(f"step 2: {step.left} {step.op} {step.right} = {step.result + 1}")
    assert state.current_player == 1 and not state.is_terminal()
    shown = state.observation(1)
    assert f"step 2: {step.left} {step.op} {step.right} = {step.result + 1}" in shown
    assert step.text(2) not in shown  # the correct step is gone
    state.apply(verdict)
    assert state.is_terminal() and state.returns() == returns


def test_a_broken_chain_with_right_arithmetic_is_a_wrong_step():
    state = altered_state()
    step = state.solution[2]
    left = step.left + 1
    state.apply(f"step 3: {left} {step.op} {step.right} = {OPS[step.op](left, step.right)}")
    assert not state.not_wrong and state.current_player == 1
    assert first_break(state.start, state.shown()) == 3
    state.apply("3")
    assert state.returns() == [-1.0, 1.0]


def test_restating_the_correct_step_loses_at_once():
    state = altered_state()
    state.apply(state.solution[0].text(1))
    assert state.is_terminal() and state.returns() == [-1.0, 1.0]
    assert "not wrong" in state.observation(0) and "not wrong" in state.render()


@pytest.mark.parametrize(
    ("rewrite", "why"),
    [
        ("hello", "rewrite one step as"),
        ("step 2: 1 + 1", "rewrite one step as"),
        ("step 9: 1 + 1 = 3", "not step 9"),
        ("step 0: 1 + 1 = 3", "not step 0"),
        ("step 1: 1 + 1 = 1234567890", "rewrite one step as"),
        ("step 1: 1.5 + 1 = 3", "rewrite one step as"),
    ],
)
def test_a_rewrite_not_of_the_form_is_refused_and_changes_nothing(rewrite, why):
    state = altered_state()
    before = (state.render(), state.observation(0), state.observation(1))
    with pytest.raises(InvalidAction, match=why):
        state.apply(rewrite)
    assert (state.render(), state.observation(0), state.observation(1)) == before


def test_the_short_form_changes_only_the_steps_result():
    state = altered_state()
    step = state.solution[1]
    state.apply(f"  Step 2 =  {step.result + 3} ")
    assert state.shown()[1] == type(step)(step.left, step.op, step.right, step.result + 3)
    assert state.shown()[0] == state.solution[0] and state.shown()[2:] == state.solution[2:]
    assert not state.is_terminal() and state.legal_actions()[0] == "none"
    restated = altered_state()
    restated.apply(f"step 1 = {restated.solution[0].result}")  # the correct result: not wrong, lost at once
    assert restated.is_terminal() and restated.returns() == [-1.0, 1.0]
    with pytest.raises(InvalidAction, match="not step 9"):
        altered_state().apply("step 9 = 4")


def test_a_rewrite_must_keep_the_steps_operation():
    state = altered_state()
    step = state.solution[0]
    other = "+" if step.op != "+" else "*"
    with pytest.raises(InvalidAction, match="keep step 1's operation"):
        state.apply(f"step 1: {step.left} {other} {step.right} = {step.result}")
    with pytest.raises(InvalidAction, match="keep step 1's operation"):
        state.apply(f"step 1: {step.left} {step.op} {step.right + 1} = {step.result}")
    state.apply(f"  STEP 1 :{step.left}{step.op}{step.right}= {step.result - 1} ")  # spacing and case are free
    assert state.altered == 1 and state.current_player == 1


def test_the_clean_knob_decides_how_often_the_critic_sees_an_untouched_solution():
    for seed in range(10):
        clean = make_game("sneaky_critic:clean=1").new_state(seed)
        assert clean.current_player == 1 and clean.legal_actions(0) == []
        assert "you do not move" in clean.observation(0)
        assert clean.lines(clean.solution) in clean.observation(1)
        clean.apply("none")
        assert clean.returns() == [-1.0, 1.0]
    rate = sum(make_game("sneaky_critic").new_state(s).clean for s in range(400)) / 400
    assert 0.24 < rate < 0.36  # default 0.3
    with pytest.raises(Exception, match="clean must be a probability"):
        make_game("sneaky_critic:clean=1.5")
    with pytest.raises(Exception, match="min_steps"):
        make_game("sneaky_critic:min_steps=4,max_steps=3")
    assert {len(make_game("sneaky_critic:min_steps=2,max_steps=2").new_state(s).solution) for s in range(10)} == {2}


def test_the_critics_moves_are_listed():
    state = altered_state()
    assert state.legal_actions() is None  # the rewrite is free text
    state.apply(next(text for text, wrong in state.examples if wrong))
    assert state.legal_actions() == ["none"] + [str(k) for k in range(1, len(state.solution) + 1)]
    with pytest.raises(InvalidAction, match="not a legal move"):
        state.apply("7")


def test_the_prior_prefers_wrong_rewrites_and_the_first_broken_step():
    state = altered_state(3)
    probs = prior(state)
    wrong = [t for t, ok in state.examples if ok]
    restated = [t for t, ok in state.examples if not ok]
    assert min(probs[t] for t in wrong) > max(probs[t] for t in restated)
    state.apply(wrong[0])
    probs = prior(state)
    assert max(probs, key=probs.get) == str(state.altered) and probs[str(state.altered)] < 0.6  # favoured, still weak
    clean = make_game("sneaky_critic:clean=1").new_state(0)
    assert max(prior(clean), key=prior(clean).get) == "none"


def test_seats_alternate_across_games_and_every_game_is_zero_sum():
    game = make_game("sneaky_critic")
    records = play_games(game, [PriorPlayer(game, seed=1), RandomPlayer(seed=2)], 40, seed=7)
    assert [r.seating for r in records[:2]] == [[0, 1], [1, 0]]
    for r in records:
        assert sorted(r.returns) == [-1.0, 1.0]
        assert [t.seat for t in r.turns] in ([0, 1], [1], [0])  # no rewrite when clean; a restated step ends it
    prior_player_sneaky = [r for r in records if r.seating[0] == 0]
    assert prior_player_sneaky and len(prior_player_sneaky) < len(records)


def test_the_recipe_trains_end_to_end_from_the_command_line(tmp_path, capsys):
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.cli import main

    run_dir = tmp_path / "run"
    code = main(["train", "sneaky-critic", *TINY_RUN, "max_steps=2", "--run-dir", str(run_dir)])
    assert code in (0, None), capsys.readouterr().err
    last = RunDir(run_dir).read_metrics()[-1]
    assert last["step"] == 2 and "baseline/sneaky_critic/1" in last
