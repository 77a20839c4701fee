"""Tasks, their checks and the preference oracles: programmatic, intransitive, LM judge, API judge, reward model."""

from __future__ import annotations

import json

import pytest

from sparring.errors import UserError
from sparring.preference import make_tasks
from sparring.preference.judges import APIJudge, LMJudge, RewardModelOracle
from sparring.preference.oracles import IntransitiveOracle, ReferenceOracle, TaskOracle, win_matrix
from sparring.preference.registry import make_oracle
from sparring.preference.tasks import Task, check_score, load_tasks, passes, read_answer, write_pairs

ADD = Task("a", "What is 3 + 4?", "7", ({"kind": "exact", "value": "7"},))
EVEN = Task("e", "Write an even digit.", "4", ({"kind": "digits", "n": 1}, {"kind": "even"}))


def test_the_answer_is_the_first_boxed_content_read_strictly():
    assert read_answer("so \\boxed{ 7 } done") == "7"
    assert read_answer("\\boxed{x5boxed{}}}}") == "x5boxed{"
    assert read_answer("7") is None


def test_checks_exact_answers_and_constraints():
    assert passes(ADD, "\\boxed{7}") and not passes(ADD, "\\boxed{8}") and not passes(ADD, "7")
    assert passes(EVEN, "\\boxed{4}") and not passes(EVEN, "\\boxed{3}") and not passes(EVEN, "\\boxed{44}")
    between = Task("b", "", None, ({"kind": "between", "lo": 3, "hi": 5},))
    assert [passes(between, f"\\boxed{{{n}}}") for n in (2, 3, 5, 6)] == [False, True, True, False]
    word = Task("w", "", None, ({"kind": "lowercase"}, {"kind": "length", "n": 3}))
    assert passes(word, "\\boxed{cat}") and not passes(word, "\\boxed{Cat}") and not passes(word, "\\boxed{cats}")


def test_score_gives_a_clean_wrong_answer_a_little_credit_over_junk():
    assert check_score(ADD, "\\boxed{7}") == 1.0
    assert check_score(ADD, "\\boxed{8}") == 0.1
    assert check_score(ADD, "\\boxed{8}}}}") == 0.0


def test_bundled_tasks_are_what_the_seeded_script_makes(tmp_path):
    make_tasks.main(tmp_path, seed=0)
    for name in ("train", "heldout", "intransitive", "intransitive-heldout"):
        assert (tmp_path / f"{name}.jsonl").read_text() == (make_tasks.ASSETS / f"{name}.jsonl").read_text()
    train, held = load_tasks("bundled"), load_tasks("bundled-heldout")
    assert len(train) > 300 and len(held) > 100
    assert all(passes(t, t.reference_response()) for t in train + held)
    combos = lambda ts: {(t.meta["op"], t.meta["a"], t.meta["b"]) for t in ts if t.meta.get("family") == "arithmetic"}  # noqa: E731
    assert not combos(train) & combos(held)  # held-out arithmetic is unseen in any phrasing


def test_broken_task_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok", "answer": "1"}\n{"prompt": \n')
    with pytest.raises(UserError, match="line 2 is not valid JSON"):
        load_tasks(bad)
    bad.write_text('{"answer": "1"}\n')
    with pytest.raises(UserError, match="needs a non-empty 'prompt'"):
        load_tasks(bad)
    bad.write_text('{"prompt": "p", "checks": [{"kind": "evne"}]}\n')
    with pytest.raises(UserError, match="unknown check 'evne'.*did you mean even"):
        load_tasks(bad)
    with pytest.raises(UserError, match="no such file"):
        load_tasks(tmp_path / "missing.jsonl")


def test_a_datasets_directory_without_the_package_says_what_to_install(tmp_path):
    try:
        import datasets  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="pip install datasets"):
            load_tasks(tmp_path)
    else:
        datasets.Dataset.from_list([{"question": "What is 1 + 1?", "answer": "2"}]).save_to_disk(str(tmp_path / "d"))
        assert load_tasks(tmp_path / "d")[0].checks == ({"kind": "exact", "value": "2"},)


def test_pairs_are_written_in_trls_dpo_format(tmp_path):
    path = tmp_path / "pairs" / "round-1.jsonl"
    write_pairs(path, [("What is 3 + 4?", "\\boxed{7}", "\\boxed{8}")])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"prompt": "What is 3 + 4?", "chosen": "\\boxed{7}", "rejected": "\\boxed{8}"}]


def test_programmatic_oracles_prefer_right_over_wrong_and_tie_otherwise():
    oracle = TaskOracle()
    assert oracle.prefer([ADD] * 3, ["\\boxed{7}", "\\boxed{8}", "junk"], ["\\boxed{8}", "\\boxed{7}", "more junk"]) == [
        1,
        0,
        0.5,
    ]
    ref = ReferenceOracle()
    assert ref.prefer([ADD, ADD], ["\\boxed{7}", "\\boxed{8}"], ["\\boxed{ 7}", "x"]) == [1.0, 0.5]


def test_the_intransitive_oracle_cycles_and_only_the_mixture_is_unbeatable():
    o = IntransitiveOracle()
    t = Task("p", "Pick a digit.")
    one, two, three = "\\boxed{1}", "\\boxed{2}", "\\boxed{3}"  # classes 1, 2, 0
    assert o.prefer([t] * 3, [two, three, one], [one, two, three]) == [1.0, 1.0, 1.0]  # 2 > 1, 0 > 2, 1 > 0: a cycle
    assert o.prefer([t] * 2, ["junk", one], [one, "junk"]) == [0.0, 1.0]
    assert o.worst_case_win([one] * 9) == 0.0
    assert o.worst_case_win([one, two, three]) == pytest.approx(0.5)
    assert o.shares([one, two, "junk", "\\boxed{4}"]) == [0.0, 0.5, 0.25, 0.25]
    assert o.worst_case_from_shares([0.5, 0.5, 0.0, 0.0]) == pytest.approx(0.25)  # class 1 is beaten by 2: 0.5 * 0.5
    matrix = win_matrix(o, t, [one, two, three])
    assert [[round(p, 2) for p in row] for row in matrix] == [[0.5, 0.0, 1.0], [1.0, 0.5, 0.0], [0.0, 1.0, 0.5]]


def test_unknown_oracles_are_one_line_errors():
    with pytest.raises(UserError, match="unknown oracle 'tsak'.*did you mean task"):
        make_oracle("tsak")
    with pytest.raises(UserError, match="unknown oracle 'model'"):
        make_oracle("model")
    with pytest.raises(UserError, match="not a model directory"):
        make_oracle("model:/no/such/dir")


def test_the_lm_judge_is_symmetric_after_the_position_swap():
    judge = make_oracle("model:bundled")
    assert isinstance(judge, LMJudge)
    a, b = ["\\boxed{7}", "\\boxed{1}"], ["\\boxed{8}", "hello"]
    ab, ba = judge.prefer([ADD, ADD], a, b), judge.prefer([ADD, ADD], b, a)
    for x, y in zip(ab, ba, strict=True):
        assert 0 < x < 1 and x + y == pytest.approx(1.0, abs=1e-9)


class FixedClient:
    """A chat endpoint that always answers the same letter: pure position bias."""

    def __init__(self, letter: str):
        self.letter = letter
        self.bodies: list[dict] = []

    def complete(self, body):
        from sparring.players.api import Completion

        self.bodies.append(body)
        return Completion(text=self.letter)


def test_the_api_judge_cancels_a_judge_that_always_says_a():
    client = FixedClient("A")
    judge = APIJudge(client, "m", concurrency=1)
    assert judge.prefer([ADD, EVEN], ["\\boxed{7}", "x"], ["\\boxed{8}", "y"]) == [0.5, 0.5]
    assert len(client.bodies) == 4 and client.bodies[0]["temperature"] == 0
    assert "Answer A: \\boxed{7}" in client.bodies[0]["messages"][1]["content"]
    assert "Answer A: \\boxed{8}" in client.bodies[2]["messages"][1]["content"]


def test_a_reward_model_directory_prefers_by_the_bradley_terry_sigmoid(tmp_path, bundled_tokenizer):
    import math

    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(bundled_tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, intermediate_size=32, num_labels=1, pad_token_id=bundled_tokenizer.pad_token_id,
    )  # fmt: skip
    LlamaForSequenceClassification(config).save_pretrained(tmp_path)
    bundled_tokenizer.save_pretrained(tmp_path)
    rm = make_oracle(f"rm:{tmp_path}")
    assert isinstance(rm, RewardModelOracle)
    a, b = ["\\boxed{7}", "x"], ["\\boxed{8}", "yy"]
    ra, rb = rm.score([ADD, ADD], a), rm.score([ADD, ADD], b)
    got = rm.prefer([ADD, ADD], a, b)
    for p, x, y in zip(got, ra, rb, strict=True):
        assert p == pytest.approx(1 / (1 + math.exp(-(x - y))))
