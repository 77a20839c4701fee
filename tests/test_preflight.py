"""`sparring train` refuses a config it cannot run before it creates anything on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparring.cli import main


def train_cli(capsys, run_dir: Path, *overrides: str) -> tuple[int, str]:
    code = main(["train", "spiral-tictactoe", *overrides, "--run-dir", str(run_dir)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.path=/nonexistent"], "model directory not found: /nonexistent"),
        (["model.device=cuda:7"], "model.device=cuda:7"),
        (["model.device=gpu0"], "model.device 'gpu0' is not a device"),
        (["opponent.kind=fixed"], "opponent.kind=fixed needs a player spec"),
        (["opponent.kind=fixed", "opponent.fixed=mcts:sims=abc"], "sims must be a whole number"),
        (["opponent.kind=fixed", "opponent.fixed=model:/nope"], "opponent.fixed for tic_tac_toe: model directory not found"),
        (["opponent.kind=exploiter"], "opponent.kind=exploiter for tic_tac_toe: exact exploitability is not defined"),
        (["games.0.eval_opponents=[randon]"], "games.0.eval_opponents: unknown player 'randon'"),
        (["games.0.name=simple_negotiation", "games.0.eval_opponents=[mcts]"], "mcts plays OpenSpiel games only"),
    ],
)
def test_a_config_that_cannot_run_is_one_line_and_leaves_no_run_directory(capsys, tmp_path, overrides, message):
    run_dir = tmp_path / "run"
    code, err = train_cli(capsys, run_dir, *overrides)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: cannot start the run") and message in lines[0]
    assert not run_dir.exists()


def test_every_problem_is_reported_at_once(capsys, tmp_path):
    code, err = train_cli(
        capsys, tmp_path / "run", "model.path=/nonexistent", "opponent.kind=fixed", "games.0.eval_opponents=[mcts:sims=x]"
    )
    assert code == 2 and "(3 problems)" in err
    assert "/nonexistent" in err and "opponent.fixed" in err and "sims must be a whole number" in err
    assert not (tmp_path / "run").exists()


def test_a_model_directory_that_does_not_load_leaves_no_run_directory(capsys, tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    code, err = train_cli(capsys, tmp_path / "run", f"model.path={broken}")
    assert code == 2 and "Traceback" not in err and err.startswith("error:")
    assert not (tmp_path / "run").exists()
