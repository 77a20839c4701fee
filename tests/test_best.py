"""``checkpoint.keep_best``: RUN/best holds the best evaluated model, survives resume and damage, and evaluates to its record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from tiny_runs import TINY_RUN

from sparring.best import BestKeeper, lower_is_better, metric_value
from sparring.checkpoint import RunDir, clean_interrupted_saves, read_best, verify_checkpoint
from sparring.cli import main
from sparring.config import load_config
from sparring.errors import UserError


def run_dir(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path / "run").create()
    run.config_path.write_text("name: test\n")
    return run


def writer(step: int):
    """A stand-in for the model: one file that says which step wrote it."""

    def write(directory: Path) -> None:
        (directory / "model").mkdir()
        (directory / "model" / "weights.txt").write_text(f"step {step}")

    return write


def offer(keeper: BestKeeper, step: int, value: float, game: str = "kuhn_poker") -> bool:
    return keeper.offer(step, {f"eval/{game}/{keeper.metric}": value, "train/other": 0.0}, writer(step))


def kept(run: RunDir) -> str:
    return (run.best_dir / "model" / "weights.txt").read_text()


def test_lower_is_better_for_exploitability_and_higher_for_win_rates():
    assert lower_is_better("exploitability") and lower_is_better("average_exploitability")
    assert lower_is_better("minimax/loss") and lower_is_better("random/invalid")
    assert not lower_is_better("minimax/non_loss") and not lower_is_better("team_return")
    assert not lower_is_better("exploitability", best_is="highest") and lower_is_better("win", best_is="lowest")


def test_the_metric_is_the_mean_over_games_and_matches_the_whole_name_after_the_game():
    metrics = {"eval/kuhn_poker/exploitability": 0.2, "eval/leduc_poker/exploitability": 0.4}
    metrics["eval/kuhn_poker/average_exploitability"] = 0.9  # a different metric, though it ends the same way
    assert metric_value(metrics, "exploitability") == pytest.approx(0.3)
    non_loss = {"eval/tic_tac_toe/minimax/non_loss": 0.5, "eval/tic_tac_toe/minimax/seat0/non_loss": 0.0}
    assert metric_value(non_loss, "minimax/non_loss") == 0.5 and metric_value(non_loss, "non_loss") is None


def test_only_a_strictly_better_evaluation_replaces_best(tmp_path):
    run = run_dir(tmp_path)
    keeper = BestKeeper(run, "exploitability")
    assert offer(keeper, 0, 0.30) and offer(keeper, 10, 0.20)
    assert not offer(keeper, 20, 0.25) and not offer(keeper, 30, 0.20)  # worse, and a tie: the older stays
    assert kept(run) == "step 10" and (keeper.step, keeper.value) == (10, 0.20)
    assert json.loads(run.best_info_path.read_text()) == {"step": 10, "metric": "exploitability", "value": 0.2, "model": "policy"}
    verify_checkpoint(run.best_dir)
    highest = BestKeeper(run_dir(tmp_path / "other"), "minimax/non_loss")
    assert offer(highest, 0, 0.1, "tic_tac_toe") and not offer(highest, 1, 0.0, "tic_tac_toe")
    assert offer(highest, 2, 0.4, "tic_tac_toe") and highest.step == 2


def test_a_resumed_run_continues_from_the_best_on_disk_unless_the_metric_changed(tmp_path):
    run = run_dir(tmp_path)
    offer(BestKeeper(run, "exploitability"), 10, 0.2)
    again = BestKeeper(run, "exploitability")
    assert (again.step, again.value) == (10, 0.2)
    assert not offer(again, 20, 0.3) and kept(run) == "step 10"
    other = BestKeeper(run, "random/win")  # a record of another metric is no best of this one
    assert other.value is None and offer(other, 20, 0.1) and kept(run) == "step 20"


def test_a_damaged_best_is_treated_as_absent_and_replaced(tmp_path):
    run = run_dir(tmp_path)
    offer(BestKeeper(run, "exploitability"), 10, 0.2)
    (run.best_dir / "model" / "weights.txt").write_text("step 99")  # same size, other bytes
    assert read_best(run) is None
    keeper = BestKeeper(run, "exploitability")
    assert keeper.value is None and offer(keeper, 20, 0.5) and kept(run) == "step 20"


def test_a_kill_between_the_two_renames_of_a_replace_is_undone_on_resume(tmp_path):
    run = run_dir(tmp_path)
    offer(BestKeeper(run, "exploitability"), 10, 0.2)
    os.rename(run.best_dir, run.path / ".old-best-0123abcd")  # the old best moved aside, the new one not yet in
    (run.path / ".tmp-best-xyz").mkdir()
    warnings: list[str] = []
    clean_interrupted_saves(run, warnings.append)
    assert kept(run) == "step 10" and not (run.path / ".tmp-best-xyz").exists()
    assert any("restoring best" in w for w in warnings)


def test_an_unknown_metric_is_one_error_naming_the_ones_logged(tmp_path):
    keeper = BestKeeper(run_dir(tmp_path), "exploitabilty")
    with pytest.raises(UserError, match=r"exploitabilty.*it logs: exploitability, random/win"):
        keeper.offer(0, {"eval/kuhn_poker/exploitability": 0.3, "eval/kuhn_poker/random/win": 0.5}, writer(0))
    assert not keeper.run.best_dir.exists()


def test_config_refuses_an_average_metric_without_an_average_and_preference_runs():
    with pytest.raises(UserError, match="keeps the weight average"):
        load_config("spiral-kuhn", ["checkpoint.keep_best=average_exploitability"])
    with pytest.raises(UserError, match="preference rounds"):
        load_config("spin", ["checkpoint.keep_best=exploitability"])
    averaged = ["learner.average_weights=0.995", "checkpoint.keep_best=average_exploitability"]
    assert load_config("spiral-kuhn", averaged).checkpoint.keep_best == "average_exploitability"


def test_training_keeps_the_least_exploitable_evaluation_and_eval_of_best_reproduces_it(tmp_path, capsys):
    from rich.console import Console

    from sparring.train import train

    path = tmp_path / "run"
    overrides = [*TINY_RUN, "max_steps=3", "eval.every=1", "checkpoint.keep_best=exploitability"]
    t = train(load_config("spiral-kuhn", overrides), path, console=Console(quiet=True))
    curve = [(m["step"], m["eval/kuhn_poker/exploitability"]) for m in RunDir(path).read_metrics()]
    assert [s for s, _ in curve] == [0, 1, 2, 3]
    best_step, best_value = min(curve, key=lambda sv: (sv[1], sv[0]))  # the first of equal values
    record = json.loads(RunDir(path).best_info_path.read_text())
    assert (record["step"], record["value"]) == (best_step, pytest.approx(best_value)) == (t.best.step, t.best.value)
    capsys.readouterr()
    assert main(["eval", str(path / "best"), "--games", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["step"] is None and result["games"]["kuhn_poker"]["exploitability"] == pytest.approx(best_value, abs=1e-4)
    assert not (path / "eval").exists() or not list((path / "eval").iterdir())  # a best is no step's evaluation


def test_a_best_magnet_holds_the_model_run_best_keeps_and_nothing_else(tmp_path):
    """``reference.magnet: best``: the KL reference starts at the initial weights and becomes the best model
    each time an evaluation is the best yet, so after the run it is exactly ``RUN/best``'s weights."""
    from rich.console import Console
    from safetensors.torch import load_file

    from sparring.train import train

    with pytest.raises(UserError, match="magnet=best moves to the best evaluated model"):
        load_config("spiral-kuhn", ["reference.magnet=best", "learner.kl_coef=0.5"])  # no keep_best
    path = tmp_path / "run"
    overrides = [*TINY_RUN, "max_steps=4", "eval.every=1", "checkpoint.keep_best=exploitability"]
    overrides += ["reference.magnet=best", "learner.kl_coef=0.5", "learner.lr=3e-3"]
    overrides += ["checkpoint.best_is=highest"]  # the mechanism, not a goal: the tiny model's start is its least exploitable
    t = train(load_config("spiral-kuhn", overrides), path, console=Console(quiet=True))
    assert t.best.step is not None and t.best.step > 0  # else the magnet never had to move
    best = load_file(next((path / "best" / "model").glob("*.safetensors")))
    reference = t.learner.reference.state_dict()
    policy = t.learner.model.state_dict()
    shared = [n for n in best if n in reference]
    assert shared and all(torch.equal(best[n], reference[n].to(best[n].dtype)) for n in shared)
    if t.best.step != 4:  # the last step was not the best: the policy has moved on, the magnet has not
        assert any(not torch.equal(policy[n], reference[n]) for n in shared)


def test_an_exploiter_offers_each_exact_measurement_to_run_best_before_the_update(tmp_path, monkeypatch):
    """Against ``opponent.kind=exploiter`` the league measures the policy's exploitability exactly each time
    it recomputes the best response; ``keep_best=exploitability`` judges those too, at the step they measured
    (the policy after that many updates), not only the evaluations at the start and the end."""
    from rich.console import Console

    from sparring.train import train

    offers: list[tuple[int, float]] = []
    real_offer = BestKeeper.offer

    def spy(self, step, metrics, write):
        offers.append((step, metric_value(metrics, self.metric)))
        return real_offer(self, step, metrics, write)

    monkeypatch.setattr(BestKeeper, "offer", spy)
    magnet = ["reference.magnet=best", "learner.kl_coef=0.1", "checkpoint.keep_best=exploitability", "eval.every=0"]
    assert load_config("kuhn", magnet).reference.magnet == "best"  # judged by the exploiter, no evaluation needed
    with pytest.raises(UserError, match="magnet=best moves to the best evaluated model"):
        load_config("kuhn", [*magnet, "opponent.kind=self"])
    path = tmp_path / "run"
    overrides = [*TINY_RUN, "max_steps=4", "opponent.kind=exploiter", "opponent.exploiter_every=2"]
    overrides += ["checkpoint.keep_best=exploitability", "checkpoint.best_is=highest", "learner.lr=3e-3"]
    t = train(load_config("kuhn", overrides), path, console=Console(quiet=True))
    metrics = RunDir(path).read_metrics()
    logged = [(m["step"] - 1, m["league/kuhn_poker/exploitability"]) for m in metrics if "league/kuhn_poker/exploitability" in m]
    league = [(step, value) for step, value in logged if step % 2 == 0]  # logged every step, recomputed every 2
    evaluated = [(m["step"], m["eval/kuhn_poker/exploitability"]) for m in metrics if "eval/kuhn_poker/exploitability" in m]
    assert [s for s, _ in league] == [0, 2] and [s for s, _ in evaluated] == [0, 4]
    assert sorted(offers) == sorted([*league, *evaluated])
    best_step, best_value = max(offers, key=lambda sv: (sv[1], -sv[0]))
    record = json.loads(RunDir(path).best_info_path.read_text())
    assert (record["step"], record["value"]) == (best_step, pytest.approx(best_value)) == (t.best.step, t.best.value)
