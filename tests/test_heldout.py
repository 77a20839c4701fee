"""The role games' held-out sets: reproducible, right, and asked as the game asks."""

import ast
import json

import pytest
from conftest import StubEngine

from sparring.errors import UserError
from sparring.evaluate.benchmark import load_problems
from sparring.evaluate.heldout import ARITH, CRITIC, arith_rows, critic_rows, score_heldout, write
from sparring.games import make_game
from sparring.games.propose_solve import evaluate
from sparring.games.sneaky_critic import OPS, Step, first_break
from sparring.prompts import render_messages


def test_bundled_sets_are_what_the_generator_writes(tmp_path):
    for path, rows in ((ARITH, arith_rows()), (CRITIC, critic_rows())):
        write(tmp_path / path.name, rows)
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_every_arithmetic_answer_is_the_expressions_value():
    rows = [json.loads(line) for line in ARITH.read_text().splitlines()]
    assert [sum(r["level"] == k for r in rows) for k in (1, 2, 3)] == [60, 60, 60]
    for row in rows:
        problem = row["question"].split("Problem: ")[1].split("\n")[0]
        assert int(row["answer"]) == evaluate(ast.parse(problem, mode="eval"))
        assert row["question"].startswith("You are the solver (player 1).")


def test_every_critic_answer_is_the_planted_step():
    rows = [json.loads(line) for line in CRITIC.read_text().splitlines()]
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("clean", "chain", "result")}
    assert all(n >= 30 for n in kinds.values()) and sum(kinds.values()) == len(rows) == 200
    for row in rows:
        text = row["question"]
        start = int(text.split("Start with ")[1].split(".")[0])
        lines = [line for line in text.splitlines() if line.startswith("step ")]
        steps = [_step(line) for line in lines]
        found = first_break(start, steps)
        assert row["answer"] == ("none" if found is None else str(found))
        if row["kind"] == "clean":
            assert found is None
        elif row["kind"] == "result":
            s = steps[found - 1]
            assert OPS[s.op](s.left, s.right) != s.result


def test_the_copy_and_compare_reader_scores_its_known_share_by_kind():
    """A critic that only compares each step's left number with the result before it (no arithmetic) finds every
    broken chain and every untouched solution and no wrong result: 139 of the 200 positions, 0.695. Scored
    through ``score_heldout``, the learning benchmarks' table, with a stub engine that answers as that rule."""
    pytest.importorskip("math_verify", reason="the `math` extra (make install has it)")
    rows = [json.loads(line) for line in CRITIC.read_text().splitlines()]
    answers = {}
    for row in rows:
        text = row["question"]
        start = int(text.split("Start with ")[1].split(".")[0])
        found = first_break(start, [_step(line) for line in text.splitlines() if line.startswith("step ")], arithmetic=False)
        answers[text] = "none" if found is None else str(found)
    scores = score_heldout(StubEngine(answers), CRITIC, "kind")
    assert scores["accuracy"] == pytest.approx(139 / 200)
    assert (scores["kind chain"], scores["kind clean"], scores["kind result"]) == (1.0, 1.0, 0.0)
    assert scores["unread"] == 0.0 and scores["interval"][0] < 0.695 < scores["interval"][1]


def _step(line: str) -> Step:
    """``step 2: 12 * 3 = 36`` as a Step, read independently of the game's parser."""
    rest = line.split(": ")[1]
    left, op, right, _, result = rest.split()
    return Step(int(left), op, int(right), int(result))


def test_a_lines_system_field_is_its_games_rules_prompt(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(
        json.dumps({"question": "q1", "answer": "1", "system": "game:sneaky_critic"})
        + "\n"
        + json.dumps({"question": "q2", "answer": "2", "system": "Just answer."})
        + "\n"
        + json.dumps({"question": "q3", "answer": "3"})
        + "\n"
    )
    problems = load_problems(path)
    game = make_game("sneaky_critic")
    state = game.new_state(5)
    assert problems[0].system == render_messages(game, state, state.current_player)[0]["content"]
    assert problems[1].system == "Just answer." and problems[2].system is None
    path.write_text(json.dumps({"question": "q", "answer": "1", "system": "game:no_such_game"}) + "\n")
    with pytest.raises(UserError, match="line 1: unknown game 'no_such_game'"):
        load_problems(path)
