"""``sparring fit-average``: one model fitted to the average of the policies an exploiter run passed through."""

from __future__ import annotations

import json

import pytest
from tiny_runs import TINY_RUN

from sparring.checkpoint import CheckpointDir
from sparring.config import load_config
from sparring.errors import UserError
from sparring.evaluate.exploitability import exploitability, exploitability_of_table, policy_table
from sparring.fit_average import fit_average, run_average, table_prior
from sparring.games import make_game
from sparring.players import make_player
from sparring.train import train

KUHN = make_game("kuhn_poker")


def quiet():
    from rich.console import Console

    return Console(quiet=True)


def test_a_table_as_prior_gives_each_legal_move_its_probability():
    table = policy_table(KUHN, make_player("cfr:iters=300", KUHN))
    prior = table_prior(KUHN, table)
    for pstate in table.states:
        row = table.action_probability_array[table.state_lookup[pstate.information_state_string()]]
        probs = prior(KUHN.wrap(pstate))
        assert probs == {KUHN.view.action_name(pstate, a): pytest.approx(row[a]) for a in pstate.legal_actions()}


@pytest.fixture(scope="module")
def exploiter_run(tmp_path_factory):
    """Three steps of kuhn against the exploiter recomputed each step: the league's average holds three policies."""
    path = tmp_path_factory.mktemp("fit") / "run"
    config = load_config("kuhn", [*TINY_RUN, "max_steps=3", "checkpoint.every=3", "opponent.exploiter_every=1"])
    train(config, path, console=quiet())
    return path


def test_the_fit_is_scored_exactly_and_the_least_exploitable_one_is_written(exploiter_run, tmp_path):
    out = tmp_path / "fit"
    result = fit_average(str(exploiter_run), minutes=0.1, every=0.03, lr=1e-3, out=str(out), log=lambda _: None)
    average = run_average(CheckpointDir(exploiter_run / "checkpoints" / "step-3").state_path, "kuhn_poker", "linear")
    assert result.step == 3
    assert result.average_exploitability == pytest.approx(exploitability_of_table(KUHN, average).exploitability)
    steps = [r["step"] for r in result.rows]  # the start, each scoring, and always one at the end of the budget
    assert len(steps) >= 2 and steps[0] == 0 and steps == sorted(set(steps))
    assert result.rows[-1]["minutes"] >= 0.1
    assert result.best["exploitability"] == min(r["exploitability"] for r in result.rows)
    written = exploitability(KUHN, make_player(f"model:{out}", KUHN)).exploitability
    assert written == pytest.approx(result.best["exploitability"], abs=1e-3)  # the model written is the one scored
    assert json.loads((out / "fit.json").read_text())["best"]["step"] == result.best["step"]


def test_a_run_without_an_exploiter_has_no_average_to_fit(tmp_path, capsys):
    config = load_config("spiral-kuhn", [*TINY_RUN, "max_steps=1", "checkpoint.every=1"])
    train(config, tmp_path / "run", console=quiet())
    with pytest.raises(UserError, match="opponent.kind=exploiter"):
        fit_average(str(tmp_path / "run"), minutes=0.01, log=lambda _: None)
    with pytest.raises(UserError, match="not a run directory"):
        fit_average(str(tmp_path), minutes=0.01, log=lambda _: None)
    from sparring.cli import main

    assert main(["fit-average", str(tmp_path / "run"), "--minutes", "0.01"]) == 2  # one line, no traceback
    assert "opponent.kind=exploiter" in capsys.readouterr().err
