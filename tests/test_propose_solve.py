"""Propose and solve: the rules, the reward formula, and one trip through the loop's pieces with both roles."""

from __future__ import annotations

import pytest

from sparring.advantages import RoleBaselines, estimate
from sparring.games import InvalidAction, make_game
from sparring.games.propose_solve import prior, proposer_reward, read_integer
from sparring.players.base import Move
from sparring.players.prior import PriorPlayer
from sparring.players.random_player import RandomPlayer
from sparring.pretrain import PretrainConfig, corpus
from sparring.rollout import play_games
from sparring.samples import role_returns, turn_samples


def played(spec: str, proposal: str, answers: list[str]):
    state = make_game(spec).new_state(0)
    state.apply(proposal)
    for answer in answers:
        state.apply(answer)
    return state


@pytest.mark.parametrize(("p", "reward"), [(0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (0.75, 0.5), (1.0, 0.0)])
def test_proposer_reward_peaks_at_half_and_vanishes_at_the_ends(p, reward):
    assert proposer_reward(p) == pytest.approx(reward)


@pytest.mark.parametrize(
    ("answers", "returns"),
    [(["14", "14", "14", "14"], [0.0, 1.0]), (["14", "3", "14", "0"], [1.0, 0.5]), (["14", "1", "2", "3"], [0.5, 0.25])],
)
def test_a_valid_task_is_answered_in_k_attempts_and_scored_on_the_success_rate(answers, returns):
    state = played("propose_solve", r"(3 + 4) * 2 = 14", answers[:-1])
    assert state.current_player == 1 and not state.is_terminal()
    assert "(3 + 4) * 2" in state.observation(1) and "14" not in state.observation(1)  # the stated answer stays hidden
    state.apply(answers[-1])
    assert state.is_terminal() and state.returns() == returns


def test_attempts_is_a_game_parameter():
    state = played("propose_solve:attempts=2", "1 + 1 = 2", ["2"])
    assert not state.is_terminal()
    state.apply("5")
    assert state.is_terminal() and state.returns() == [1.0, 0.5]
    with pytest.raises(Exception, match="attempts must be between 1 and 16"):
        make_game("propose_solve:attempts=0")


@pytest.mark.parametrize("max_level", [1, 2])
def test_max_level_caps_the_example_tasks_and_so_the_prior_proposer(max_level):
    import re

    game = make_game(f"propose_solve:max_level={max_level}")
    one_operation = re.compile(r"^\d+ [-+*] \d+ = -?\d+$")
    for seed in range(40):
        examples = game.new_state(seed).examples
        assert len(examples) == 4 and sum(not valid for _, valid in examples) == 1
        for text, _ in examples:
            assert one_operation.match(text), text  # never two operations
            if max_level == 1:
                assert re.match(r"^\d \+ \d = ", text), text  # one-digit sums only
    # Uncapped, the examples are the ones every earlier run was dealt (seed 3, pinned).
    assert [t for t, _ in make_game("propose_solve").new_state(3).examples] == [
        "8 * 9 % 19 = 14",
        "8 * 9 % 19 = 15",
        "8 * 19 = 152",
        "2 + 5 = 7",
    ]
    with pytest.raises(Exception, match="max_level must be 1, 2 or 3"):
        make_game("propose_solve:max_level=4")


@pytest.mark.parametrize(
    ("proposal", "why"),
    [
        ("2 + 2 = 5", "the stated answer 5 is wrong"),
        ("7 // (3 - 3) = 0", "division by zero"),
        ("999999 * 999999 * 999999 = 1", "past"),
        ("5 % 0 = 0", "division by zero"),
    ],
)
def test_an_invalid_task_ends_the_game_with_minus_one_for_the_proposer(proposal, why):
    state = played("propose_solve", proposal, [])
    assert state.is_terminal() and state.returns() == [-1.0, 0.0]
    assert why in state.observation(0) and why in state.render()


@pytest.mark.parametrize(
    "proposal",
    [
        *("2 + 2", "7 = 7", "-3 = -3", "2 ** 10 = 1024", "__import__('os').system('ls') = 0"),
        *("x + 1 = 2", "1 = one", "True + 1 = 2", "1.5 * 2 = 3"),
    ],
)
def test_a_proposal_not_of_the_arith_form_is_refused_and_changes_nothing(proposal):
    state = make_game("propose_solve").new_state(0)
    before = (state.render(), state.observation(0), state.observation(1))
    with pytest.raises(InvalidAction):
        state.apply(proposal)
    assert (state.render(), state.observation(0), state.observation(1)) == before


@pytest.mark.parametrize(("proposal", "problem"), [("2 + 2 = 5", "2 + 2"), ("(3 + 4) * 2", "(3 + 4) * 2")])
def test_computed_truth_takes_the_checkers_value_and_ignores_the_stated_answer(proposal, problem):
    state = played("propose_solve:truth=computed,attempts=2", proposal, ["4", "14"])
    assert state.task.truth == eval(problem) and state.task.problem == problem  # noqa: S307 - a fixed literal
    assert state.is_terminal() and state.returns() == [1.0, 0.5]
    assert "computes the answer" in make_game("propose_solve:truth=computed").describe()


@pytest.mark.parametrize("proposal", ["7 // (3 - 3)", "2 ** 3", "1 + = 2"])
def test_computed_truth_still_refuses_or_invalidates_what_the_checker_cannot_value(proposal):
    state = make_game("propose_solve:truth=computed").new_state(0)
    try:
        state.apply(proposal)
    except InvalidAction:
        assert state.task is None
    else:
        assert state.returns() == [-1.0, 0.0] and "division by zero" in state.render()


def test_computed_truth_is_for_arith_only():
    with pytest.raises(Exception, match="truth must be one of"):
        make_game("propose_solve:truth=guessed")
    with pytest.raises(Exception, match="for family=arith"):
        make_game("propose_solve:family=code,truth=computed")


def test_the_solver_must_answer_one_ascii_integer():
    state = played("propose_solve", "6 * 7 = 42", [])
    for bad in ("forty-two", "\u0664\u0662", "4_2", "42.0", ""):
        with pytest.raises(InvalidAction, match="one integer"):
            state.apply(bad)
    state.apply(" 42 ")
    assert state.answers == [42]
    assert read_integer("-7") == -7 and read_integer("1" * 40) is None


def test_code_tasks_take_their_truth_from_the_sandbox():
    state = played("propose_solve:family=code,attempts=2", "x = 3; print(x * 4 + 1)", ["13", "12"])
    assert state.task.truth == 13 and state.returns() == [1.0, 0.5]
    assert "print(x * 4 + 1)" in state.observation(1)


@pytest.mark.parametrize(
    ("program", "why"),
    [
        ("print(1 // 0)", "failed in the sandbox: crashed"),
        ("while True: pass", "failed in the sandbox: timeout"),
        ("import socket; socket.socket(); print(1)", "failed in the sandbox: forbidden"),
        ("print(open('/etc/passwd').read()[:3])", "failed in the sandbox"),
        ("print('hello')", "not one integer"),
        ("print('\u0661\u0662')", "not one integer"),
        ("import os; print(int.from_bytes(os.urandom(8), 'big'))", "different output on two runs"),
    ],
)
def test_a_program_that_fails_or_misbehaves_is_an_invalid_task(program, why):
    state = played("propose_solve:family=code", program, [])
    assert state.is_terminal() and state.returns() == [-1.0, 0.0]
    assert why in state.task.invalid


def test_a_program_that_does_not_parse_is_refused():
    state = make_game("propose_solve:family=code").new_state(0)
    with pytest.raises(InvalidAction, match="not a Python program"):
        state.apply("print(")
    with pytest.raises(InvalidAction, match="longer than"):
        state.apply("print(1)" + " " * 10 + "#" * 400)


def test_the_prior_prefers_valid_tasks_and_the_right_answer():
    state = make_game("propose_solve").new_state(3)
    probs = prior(state)
    valid = [text for text, ok in state.examples if ok]
    invalid = [text for text, ok in state.examples if not ok]
    assert min(probs[t] for t in valid) > max(probs[t] for t in invalid)
    state.apply(valid[0])
    probs = prior(state)
    truth = str(state.task.truth)
    assert probs[truth] == max(probs.values()) and probs[truth] < 0.7  # favoured, still weak


class Scripted:
    """A bot that carries token ids like a language model, so its turns become samples."""

    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def act(self, state, seat):
        return Move(self.inner.act(state, seat), info={"prompt_ids": [seat], "response_ids": [1], "logprobs": [0.0]})


def test_a_rollout_of_prior_and_random_players_keeps_the_two_roles_apart():
    game = make_game("propose_solve")
    records = play_games(game, [Scripted(PriorPlayer(game, seed=1)), Scripted(RandomPlayer(seed=2))], 24, seed=5)
    for r in records:
        proposer_turns = [t for t in r.turns if t.seat == 0]
        solver_turns = [t for t in r.turns if t.seat == 1]
        assert len(proposer_turns) == 1
        assert len(solver_turns) in (0, game.attempts)  # none after an invalid task, else exactly k
        assert -1.0 <= r.returns[0] <= 1.0 and 0.0 <= r.returns[1] <= 1.0
    assert any(r.returns[0] == -1.0 for r in records) and any(r.returns[1] > 0 for r in records)
    every_seat = lambda i, r: [0, 1]  # noqa: E731  (self-play: one policy in both seats)
    samples = turn_samples(records, every_seat)
    returns = role_returns(records, every_seat)
    assert set(returns) == {("propose_solve", 0), ("propose_solve", 1)}
    baselines = RoleBaselines(rate=0.5)
    estimate("rae", samples, baselines, returns)
    assert baselines.known("propose_solve", 0) and baselines.known("propose_solve", 1)
    assert baselines.get("propose_solve", 0) != baselines.get("propose_solve", 1)
    assert {s.role for s in samples} == {0, 1}


def test_turn_credit_own_scores_each_solver_attempt_by_itself():
    state = played("propose_solve", "6 * 7 = 42", ["42", "41", "42", "0"])
    assert state.turn_rewards(1) == [1.0, 0.0, 1.0, 0.0] and state.turn_rewards(0) is None
    assert sum(state.turn_rewards(1)) / 4 == state.returns()[1]  # the mean is the return a role baseline learns
    assert played("propose_solve", "2 + 2 = 5", []).turn_rewards(1) is None  # an invalid task has no attempts
    game = make_game("propose_solve")
    records = play_games(game, [Scripted(PriorPlayer(game, seed=1)), Scripted(PriorPlayer(game, seed=2))], 24, seed=5)
    mixed = [r for r in records if 0 < r.returns[1] < 1]
    assert mixed, "the prior solver should be right on some attempts and wrong on others"
    every_seat = lambda i, r: [0, 1]  # noqa: E731
    by_return, by_turn = turn_samples(mixed, every_seat), turn_samples(mixed, every_seat, turn_credit="own")
    for shared, own in zip(by_return, by_turn, strict=True):
        if own.seat == 0:
            assert own.reward == shared.reward  # the proposer's single turn keeps its game return
        else:
            right = own.info["action"].strip() == str(mixed[own.game_id].turns[0].action).rpartition("=")[2].strip()
            assert own.reward == float(right) and shared.reward == mixed[own.game_id].returns[1]
    assert {s.reward for s in by_turn if s.seat == 1} == {0.0, 1.0}


def test_the_prior_feeds_the_pretraining_corpus():
    samples = corpus(PretrainConfig(mix={"propose_solve": 40}))
    assert len(samples) == 40
    users = [s.messages[-1]["content"] for s in samples]
    assert any("proposer" in u for u in users) and any("solver" in u for u in users)
    assert all(s.answer.startswith("\\boxed{") for s in samples if not s.answer.startswith("[Offer"))


def test_the_recipe_trains_end_to_end_from_the_command_line_and_writes_its_report(tmp_path, capsys):
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.cli import main

    run_dir = tmp_path / "run"
    code = main(["train", "propose-solve", *TINY_RUN, "max_steps=2", "--run-dir", str(run_dir)])
    assert code in (0, None), capsys.readouterr().err
    run = RunDir(run_dir)
    assert run.report_path.exists()
    last = run.read_metrics()[-1]
    assert last["step"] == 2 and "baseline/propose_solve/0" in last and "baseline/propose_solve/1" in last


def test_a_valid_tasks_level_is_logged_as_the_held_out_sets_level():
    import json

    from sparring.evaluate.heldout import ARITH
    from sparring.games.propose_solve import arith_level

    rows = [json.loads(line) for line in ARITH.read_text().splitlines()]
    problems = [(r["question"].split("Problem: ")[1].split("\n")[0], r["level"]) for r in rows]
    shape = [(arith_level(p), level) for p, level in problems]
    assert all(mine == level or (mine, level) == (1, 2) for mine, level in shape)  # level 2 draws 1-20: a few are one-digit sums
    assert sum(mine != level for mine, level in shape) == 3
    game = make_game("propose_solve:truth=computed")
    for proposal, stats in [
        ("3 + 4", {"task_level": 1.0, "task_one_digit_sum": 1.0}),
        ("13 + 4", {"task_level": 2.0, "task_one_digit_sum": 0.0}),
        ("(3 + 4) * 2", {"task_level": 3.0, "task_one_digit_sum": 0.0}),
        ("3 // 0", {}),  # an invalid task has no level
    ]:
        state = game.new_state(0)
        state.apply(proposal)
        assert state.stats() == stats
    assert make_game("propose_solve").new_state(0).stats() == {}  # no task yet
