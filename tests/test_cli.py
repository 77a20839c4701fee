"""The command line: JSON shapes, tables, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sparring.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_games_json_lists_every_game(capsys):
    code, out, _ = run(capsys, "games", "--json")
    games = {g["name"]: g for g in json.loads(out)}
    assert code == 0
    for name in ("tic_tac_toe", "kuhn_poker", "leduc_poker", "connect_four", "liars_dice", "breakthrough", "simple_negotiation"):
        assert games[name]["num_players"] == 2
        assert games[name]["available"]
    assert games["propose_solve"]["roles"] == ["proposer", "solver"] and games["kuhn_poker"]["roles"] == []


def test_arena_json_has_rates_per_player(capsys):
    code, out, _ = run(capsys, "arena", "tic_tac_toe", "minimax", "random", "--games", "10", "--json")
    result = json.loads(out)
    assert code == 0 and result["games"] == 10
    mm, rnd = result["players"]["minimax"], result["players"]["random"]
    for stats in (mm, rnd):
        assert {"win", "draw", "loss", "invalid"} <= set(stats)
        assert stats["win"] + stats["draw"] + stats["loss"] == pytest.approx(1.0)
    assert mm["loss"] == 0.0 and mm["win"] == rnd["loss"]


def test_arena_table_shows_intervals(capsys):
    code, out, _ = run(capsys, "arena", "kuhn_poker", "cfr:iters=50", "random", "-n", "20")
    assert code == 0
    assert "win (95% CI)" in out and "cfr:iters=50" in out and "seat 1" in out


def test_exploitability_json(capsys):
    code, out, _ = run(capsys, "exploitability", "kuhn_poker", "uniform", "--json")
    assert code == 0 and json.loads(out)["exploitability"] == pytest.approx(0.458333, abs=1e-5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["arena", "tic_tac_tow", "random", "random"], "unknown game 'tic_tac_tow'"),
        (["arena", "tic_tac_toe", "randon", "random"], "unknown player 'randon'"),
        (["arena", "tic_tac_toe", "mcts:sim=3", "random"], "bad player spec"),
        (["arena", "tic_tac_toe", "mcts:sims=abc", "random"], "sims must be a whole number, not 'abc'"),
        (["arena", "kuhn_poker:hands=many", "random", "random"], "hands must be a whole number"),
        (["play", "tic_tac_toe", "--seat", "5"], "bad seat 5: tic_tac_toe has seats 0, 1"),
        (["exploitability", "tic_tac_toe", "uniform"], "exact exploitability is not defined for tic_tac_toe"),
        (["exploitability", "kuhn_poker", "minimax"], "no policy view"),
    ],
)
def test_user_errors_are_one_line_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert "Traceback" not in err + out


def test_play_in_a_real_terminal_session():
    """A human types garbage, an occupied cell, then legal moves; the game finishes cleanly."""
    moves = "nonsense\n" + "\n".join(str(c) for c in [4, 4, 0, 1, 2, 3, 5, 6, 7, 8]) + "\n"
    proc = subprocess.run(
        [sys.executable, "-m", "sparring", "play", "tic_tac_toe", "--opponent", "random", "--seat", "0"],
        input=moves,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Not accepted" in proc.stdout
    assert "Game over." in proc.stdout and "Traceback" not in proc.stderr


def test_play_with_closed_input_ends_with_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "sparring", "play", "kuhn_poker"], input="", capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: input closed; game abandoned"


def test_sandbox_runs_one_file_under_the_games_sandbox(capsys, tmp_path):
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text("print(6 * 7)\n")
    bad.write_text("while True:\n    pass\n")
    code, out, _ = run(capsys, "sandbox", str(good), "--json")
    result = json.loads(out)
    assert code == 0 and result["ok"] and result["stdout"] == "42\n"
    assert result["limits"]["cpu_seconds"] == 1 and result["limits"]["max_output_bytes"] == 256  # propose_solve's limits
    code, out, _ = run(capsys, "sandbox", str(bad), "--json", "--isolation", "rlimits")
    result = json.loads(out)
    assert code == 1 and not result["ok"] and result["reason"] == "timeout" and result["isolation"] == "rlimits"
    code, out, _ = run(capsys, "sandbox", str(good))
    assert code == 0 and "'42\\n'" in out and "256 bytes of output" in out
    code, _, err = run(capsys, "sandbox", str(tmp_path / "missing.py"))
    assert code == 2 and err.strip().startswith("error: cannot read") and err.count("\n") == 1
    code, _, err = run(capsys, "sandbox", str(good), "--isolation", "docker")
    assert code == 2 and "--isolation must be one of auto, bwrap, rlimits" in err
