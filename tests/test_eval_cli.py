"""``sparring eval`` and ``sparring league`` on a real (tiny) run, and the math-benchmark scorer."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import StubEngine
from tiny_runs import TINY_RUN

from sparring.cli import main
from sparring.engines.base import SamplingParams
from sparring.evaluate.benchmark import SAMPLE, check_answer, load_problems, score_benchmark
from sparring.evaluate.stats import wilson_interval

FAST = [
    *TINY_RUN,
    "checkpoint.every=1",
    "checkpoint.keep_last=5",
    "logging.replay_games=0",
    "max_steps=2",
    "eval.exploitability=false",
]


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """Two steps of Kuhn poker self-play on the bundled model: checkpoints step-1 and step-2."""
    from rich.console import Console

    from sparring.config import load_config
    from sparring.train import train

    path = tmp_path_factory.mktemp("eval") / "run"
    train(load_config("spiral-kuhn", FAST), path, console=Console(quiet=True))
    return path


def assert_rates(stats: dict, games: int) -> None:
    assert stats["games"] == games
    assert stats["win"] + stats["draw"] + stats["loss"] == pytest.approx(1.0)
    for key in ("win", "draw", "loss", "invalid"):
        low, high = stats["intervals"][key]
        assert 0.0 <= low <= stats[key] <= high <= 1.0
        assert (low, high) == pytest.approx(wilson_interval(round(stats[key] * games), games))


# ----------------------------------------------------------------------------- eval
def test_eval_of_a_run_dir_rates_its_latest_checkpoint_and_saves_step_json(run_dir, capsys):
    code, out, err = run(capsys, "eval", run_dir, "--games", "4", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["step"] == 2 and result["checkpoint"] == str(run_dir / "checkpoints" / "step-2")
    assert list(result["games"]) == ["kuhn_poker"]
    kuhn = result["games"]["kuhn_poker"]
    assert set(kuhn["vs"]) == {"random", "cfr:iters=200"}  # the recipe's eval_opponents
    for stats in kuhn["vs"].values():
        assert_rates(stats, 4)
        assert set(stats["by_seat"]) == {"0", "1"}
        for seat in stats["by_seat"].values():
            assert_rates(seat, 2)
    assert kuhn["exploitability"] > 0.01  # two steps of training are far from a Nash equilibrium
    assert kuhn["nash_conv"] == pytest.approx(2 * kuhn["exploitability"])
    assert 0 < kuhn["mean_response_tokens"] <= 8  # sampling.max_new_tokens=8 in the run's config
    saved = json.loads((run_dir / "eval" / "step-2.json").read_text())
    assert saved == result


def test_eval_of_a_checkpoint_dir_on_another_game_prints_a_table(run_dir, capsys):
    code, out, err = run(capsys, "eval", run_dir / "checkpoints" / "step-1", "--game", "tic_tac_toe", "--games", "2")
    assert code == 0, err
    assert "minimax" in out and "as seat 1" in out and "win (95% CI)" in out and "mean answer" in out
    saved = json.loads((run_dir / "eval" / "step-1.json").read_text())
    assert saved["step"] == 1 and set(saved["games"]) == {"tic_tac_toe"}
    assert set(saved["games"]["tic_tac_toe"]["vs"]) == {"random", "minimax"}  # the per-game defaults
    assert saved["games"]["tic_tac_toe"]["exploitability"] is None and saved["games"]["tic_tac_toe"]["nash_conv"] is None
    assert saved["games"]["tic_tac_toe"]["vs"]["minimax"]["win"] == 0.0  # nobody beats perfect play


def test_eval_of_a_plain_model_dir_needs_games_and_saves_nothing(run_dir, capsys):
    model = run_dir / "checkpoints" / "step-2" / "model"
    code, _, err = run(capsys, "eval", model)
    assert code == 2 and err.startswith("error:") and "--game" in err and len(err.strip().splitlines()) == 1
    before = sorted(p.name for p in (run_dir / "eval").iterdir()) if (run_dir / "eval").exists() else []
    code, out, err = run(capsys, "eval", model, "--game", "kuhn_poker", "--games", "2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["step"] is None and result["checkpoint"] is None and result["model"] == str(model)
    assert_rates(result["games"]["kuhn_poker"]["vs"]["random"], 2)
    after = sorted(p.name for p in (run_dir / "eval").iterdir()) if (run_dir / "eval").exists() else []
    assert after == before


@pytest.mark.parametrize(
    ("make", "argv", "message"),
    [
        ("empty", ["eval", "{dir}"], "is not a run directory"),
        ("missing", ["eval", "{dir}/nope"], "is not a run directory"),
        ("no_checkpoints", ["eval", "{dir}"], "no intact checkpoint"),
        ("run", ["eval", "{run}", "--game", "tic_tac_tow"], "unknown game 'tic_tac_tow'"),
        ("run", ["eval", "{run}", "--games", "1"], "--games must be at least 2"),
        ("empty", ["league", "{dir}"], "not a sparring run directory"),
        ("no_checkpoints", ["league", "{dir}"], "no intact checkpoint"),
        ("run", ["league", "{run}", "--game", "kuhn_pokr"], "unknown game 'kuhn_pokr'"),
        ("run", ["league", "{run}", "--players", "randon"], "unknown player 'randon'"),
    ],
)
def test_mistakes_are_one_error_line_with_status_2(run_dir, tmp_path, capsys, make, argv, message):
    if make == "no_checkpoints":
        shutil.copy(run_dir / "config.yaml", tmp_path / "config.yaml")
    argv = [a.format(dir=tmp_path, run=run_dir) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "league.json").exists()


def test_a_damaged_latest_checkpoint_is_skipped_with_a_warning(run_dir, tmp_path):
    from sparring.evaluate.checkpoints import resolve_target

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("eval", "league.json"))
    (copy / "checkpoints" / "step-2" / "state.json").write_text("{}")
    warnings: list[str] = []
    target = resolve_target(str(copy), warnings.append)
    assert target.step == 1 and target.model_dir == copy / "checkpoints" / "step-1" / "model"
    assert len(warnings) == 1 and "skipping checkpoint step-2" in warnings[0]
    assert (copy / "checkpoints" / "step-2").exists()  # only read: resume decides what to do with it


# ----------------------------------------------------------------------------- league
def test_league_rates_every_checkpoint_and_bot_with_a_complementary_score_matrix(run_dir, capsys):
    code, out, err = run(capsys, "league", run_dir, "--games", "4", "--json")
    assert code == 0, err
    league = json.loads(out)
    assert league == json.loads((run_dir / "league.json").read_text())
    assert league["game"] == "kuhn_poker"
    players = {p["name"]: p for p in league["players"]}
    assert set(players) == {"random", "cfr:iters=200", "step-1", "step-2"}
    assert [p["elo"] for p in league["players"]] == sorted((p["elo"] for p in league["players"]), reverse=True)
    anchor = players["random"]
    assert (anchor["elo"], anchor["elo_low"], anchor["elo_high"]) == (1000.0, 1000.0, 1000.0)
    matrix = league["matrix"]
    for name, p in players.items():
        assert p["games"] == 3 * 4  # three opponents, four games each
        assert p["elo_low"] <= p["elo"] <= p["elo_high"]
        assert p["score"] == pytest.approx(sum(matrix[name].values()) / 3)  # equal games per pair
        assert name not in matrix[name]
        for other in players:
            if other != name:
                assert matrix[name][other] + matrix[other][name] == pytest.approx(1.0)
                assert matrix[name][other] in (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
    # In a balanced round robin the maximum-likelihood ratings order the players exactly as their scores do.
    for a in players.values():
        for b in players.values():
            if a["score"] > b["score"] + 1e-9:
                assert a["elo"] > b["elo"]


def test_league_table_and_chosen_players(run_dir, capsys):
    code, out, err = run(capsys, "league", run_dir, "--games", "2", "--last", "1", "--players", "random", "--players", "uniform")
    assert code == 0, err
    assert "Elo" in out and "score matrix" in out and "step-2" in out and "step-1" not in out
    names = {p["name"] for p in json.loads((run_dir / "league.json").read_text())["players"]}
    assert names == {"random", "uniform", "step-2"}


# ----------------------------------------------------------------------------- math benchmark
def test_benchmark_accuracy_is_exact_on_known_answers():
    pytest.importorskip("math_verify", reason="the `math` extra (make install has it)")
    problems = load_problems(SAMPLE)
    assert len(problems) == 10
    answers = {p.question: p.answer if k % 2 == 0 else "99999" for k, p in enumerate(problems)}
    answers[problems[4].question] = "0.75"  # the reference is \frac{3}{4}: an equivalent form counts
    engine = StubEngine(answers)
    result = score_benchmark(engine, problems, SamplingParams(temperature=0), batch_size=4)
    assert engine.batches == [4, 4, 2]
    summary = result.summary()
    assert summary["accuracy"] == 0.5 and summary["correct"] == 5 and summary["problems"] == 10
    assert summary["interval"] == pytest.approx(list(wilson_interval(5, 10)))
    assert [r.correct for r in result.results] == [k % 2 == 0 for k in range(10)]
    assert [r.question for r in result.results] == [p.question for p in problems]  # batching keeps the order
    assert result.results[4].predicted == "0.75" and result.results[1].predicted == "99999"


def test_math_verify_accepts_equivalent_forms_and_rejects_others():
    pytest.importorskip("math_verify", reason="the `math` extra (make install has it)")
    assert check_answer("\\frac{1}{2}", "so \\boxed{0.5}")[0]
    assert check_answer("0.5", "\\boxed{\\frac{1}{2}}")[0]
    assert check_answer("1,000", "\\boxed{1000}")[0]
    assert check_answer("3\\sqrt{2}", "\\boxed{\\sqrt{18}}")[0]
    assert check_answer("12", "\\boxed{13}") == (False, "13")
    assert check_answer("12", "") == (False, None)


def test_benchmark_files_gsm8k_answers_and_bad_lines(tmp_path):
    problems = load_problems(SAMPLE, limit=8)
    assert len(problems) == 8 and problems[7].answer == "42"  # "... #### 42" keeps only 42
    assert problems[7].question.startswith("A box holds")  # the 'question' field works like 'problem'
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "1+1?", "answer": "2"}\n{"prompt": "x"}\nnot json\n')
    from sparring.errors import UserError

    with pytest.raises(UserError, match=r"line 2: needs 'problem' .*line 3: not JSON"):
        load_problems(bad)


def test_benchmark_cli_scores_a_run_and_writes_per_problem_results(run_dir, capsys):
    pytest.importorskip("math_verify", reason="the `math` extra (make install has it)")
    code, out, err = run(capsys, "eval", run_dir, "--benchmark", SAMPLE, "--limit", "3", "--max-new-tokens", "8", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["problems"] == 3 and summary["step"] == 2
    assert 0.0 <= summary["interval"][0] <= summary["accuracy"] <= summary["interval"][1]
    lines = (run_dir / "eval" / "benchmark-sample_math-step-2.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["index"] for r in rows] == [1, 2, 3] and all(0 < r["response_tokens"] <= 8 for r in rows)
    assert sum(r["correct"] for r in rows) == summary["correct"]
    assert json.loads((run_dir / "eval" / "benchmark-sample_math-step-2.json").read_text()) == summary


def test_benchmark_without_math_verify_is_one_line_with_the_install_hint(run_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)  # makes `import math_verify` raise ImportError
    code, out, err = run(capsys, "eval", run_dir, "--benchmark", SAMPLE)
    assert code == 2 and err.startswith("error:") and "math-verify, which is not installed: pip install math-verify" in err
    assert len(err.strip().splitlines()) == 1
