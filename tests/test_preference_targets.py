"""How each algorithm turns a round's samples and the oracle's verdicts into training targets."""

from __future__ import annotations

import pytest

from sparring.preference.creator import evolve, neighbours, regret
from sparring.preference.oracles import IntransitiveOracle, TaskOracle
from sparring.preference.targets import (
    Sampled,
    best_worst_pairs,
    edit_refine,
    spar_pairs,
    spin_pairs,
    spo_samples,
    sppo_items,
    win_rates,
)
from sparring.preference.tasks import Task, load_tasks

ADD = Task("a", "What is 3 + 4?", "7", ({"kind": "exact", "value": "7"},))
RIGHT, WRONG, JUNK = "\\boxed{7}", "\\boxed{8}", "\\boxed{x}}}"


def sampled(task: Task, texts: list[str]) -> Sampled:
    return Sampled(task, [1, 2, 3], [[10 + i, 2] for i in range(len(texts))], [[-0.5, -0.1]] * len(texts), texts)


def test_win_rates_against_the_other_samples_and_against_fixed_opponents():
    rows = [sampled(ADD, [RIGHT, WRONG, JUNK])]
    # right beats both (1), wrong beats junk and loses to right (1/2), junk loses to both (0)
    assert win_rates(TaskOracle(), rows) == [[1.0, 0.5, 0.0]]
    assert win_rates(TaskOracle(), rows, opponents=[[WRONG, WRONG]]) == [[1.0, 0.5, 0.0]]
    # against the other samples the mean win rate is exactly 1/2 (P(a > b) + P(b > a) = 1)
    pick = Task("p", "Pick a digit.")
    rates = win_rates(IntransitiveOracle(), [sampled(pick, ["\\boxed{1}", "\\boxed{2}", "\\boxed{2}", "no"])])[0]
    assert sum(rates) / len(rates) == pytest.approx(0.5)


def test_spin_prefers_the_reference_to_each_sample_but_never_to_itself():
    rows = [sampled(ADD, [WRONG, RIGHT])]
    items, pairs = spin_pairs(rows, lambda text: [99, 2])
    assert len(items) == 1 and items[0].responses == [[99, 2], [10, 2]] and items[0].targets == [1.0]
    assert pairs == [("What is 3 + 4?", RIGHT, WRONG)]


def test_sppo_keeps_every_sample_with_its_win_rate():
    rows = [sampled(ADD, [RIGHT, WRONG, JUNK])]
    items, pairs = sppo_items(rows, [[1.0, 0.5, 0.0]])
    assert items[0].responses == rows[0].ids and items[0].targets == [1.0, 0.5, 0.0]
    assert pairs == [("What is 3 + 4?", RIGHT, JUNK)]


def test_dno_pairs_the_best_with_the_worst_above_the_margin():
    rows = [sampled(ADD, [WRONG, RIGHT, JUNK]), sampled(ADD, [WRONG, WRONG])]
    rates = win_rates(TaskOracle(), rows)
    items, pairs = best_worst_pairs(TaskOracle(), rows, rates)
    assert len(items) == 1 and items[0].responses == [[11, 2], [12, 2]] and items[0].targets == [1.0]
    assert pairs == [("What is 3 + 4?", RIGHT, JUNK)]
    assert best_worst_pairs(TaskOracle(), rows, rates, margin=1.0)[0] == []


def test_spo_turns_win_rates_into_rewards_centred_per_prompt():
    samples = spo_samples([sampled(ADD, [RIGHT, WRONG, JUNK])], [[1.0, 0.5, 0.0]])
    assert [s.reward for s in samples] == [1.0, 0.5, 0.0]
    assert [s.advantage for s in samples] == [0.5, 0.0, -0.5]
    assert {s.game_id for s in samples} == {0} and samples[0].response_logprobs == [-0.5, -0.1]


def test_the_edit_refiner_changes_only_the_answer():
    assert edit_refine(ADD, "I think \\boxed{8} is it") == "I think \\boxed{7} is it"
    assert edit_refine(ADD, "\\boxed{ 8 \\boxed{9} x") == "\\boxed{7} x"
    assert edit_refine(ADD, "no answer") == "\\boxed{7}"
    assert edit_refine(Task("p", "Pick a digit."), "\\boxed{3}") is None


def test_spar_learns_refined_over_failed_and_leaves_passing_answers_alone():
    rows = [sampled(ADD, [RIGHT, "so \\boxed{8}"])]
    items, pairs = spar_pairs(TaskOracle(), rows, lambda text: [len(text), 2])
    assert pairs == [("What is 3 + 4?", "so \\boxed{7}", "so \\boxed{8}")]
    assert items[0].responses[1] == [11, 2] and items[0].targets == [1.0]


def test_the_creator_moves_to_neighbours_of_high_regret_prompts():
    tasks = load_tasks("bundled")
    played = [t for t in tasks if t.meta.get("family") == "arithmetic"][:3]
    assert regret([1.0, 0.0]) == 1.0 and regret([0.5, 0.5]) == 0.0
    chosen = evolve(tasks, played, [[1.0, 0.0], [0.5, 0.5], [0.75, 0.25]], seed=0)
    assert len(chosen) == 2  # the zero-regret prompt has no successor
    first = tasks[chosen[0]].meta
    near = played[0].meta
    assert first["op"] == near["op"] and abs(first["a"] - near["a"]) + abs(first["b"] - near["b"]) <= 1
    assert chosen[0] in neighbours(tasks, played[0])
    held = {(t.meta["op"], t.meta["a"], t.meta["b"]) for t in load_tasks("bundled-heldout") if "op" in t.meta}
    assert not any((tasks[i].meta.get("op"), tasks[i].meta.get("a"), tasks[i].meta.get("b")) in held for i in chosen)
