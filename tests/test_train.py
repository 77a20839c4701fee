"""The training loop end to end on the bundled model: it learns, logs, checkpoints and resumes exactly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from precision import FP32_RUN
from safetensors.torch import load_file
from tiny_runs import TINY_RUN

from sparring.checkpoint import RunDir, list_checkpoints, verify_checkpoint
from sparring.config import load_config
from sparring.errors import UserError
from sparring.evaluate.checkpoints import prompt_and_sampling
from sparring.report.curves import chart_specs
from sparring.train import build, evaluate, train, train_step

FAST = [*TINY_RUN, "checkpoint.every=1", "logging.replay_every=1"]


def quiet():
    from rich.console import Console

    return Console(quiet=True)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for f in sorted(path.glob("*.safetensors")) for k, v in load_file(f).items()}


def comparable(metrics: list[dict]) -> list[dict]:
    """Metrics minus wall-clock ones, which legitimately differ between runs."""
    return [{k: v for k, v in m.items() if not k.startswith(("time/", "speed/"))} for m in metrics]


def test_a_few_steps_change_the_weights_and_write_the_run_dir(tmp_path):
    config = load_config("spiral-tictactoe", [*FAST, "max_steps=2"])
    t = train(config, tmp_path / "run", console=quiet())
    run = RunDir(tmp_path / "run")
    metrics = run.read_metrics()
    assert [m["step"] for m in metrics] == [0, 1, 2]
    assert "eval/tic_tac_toe/minimax/non_loss" in metrics[0] and "eval/tic_tac_toe/random/win" in metrics[-1]
    assert metrics[1]["learner/samples"] > 0 and "train/tic_tac_toe/return/seat0" in metrics[1]
    # Entropy is always measured; with no KL term there is no KL, and the report draws only what was measured.
    assert metrics[1]["learner/entropy"] > 0 and "learner/kl" not in metrics[1]
    charts = {c["id"] for c in chart_specs(metrics)}
    assert "entropy" in charts and "kl" not in charts
    verify_checkpoint(run.checkpoints_dir / "step-2")
    from sparring.engines import BUNDLED

    before, after = weights(BUNDLED), weights(run.checkpoints_dir / "step-2" / "model")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    replay = json.loads((run.replays_dir / "train.jsonl").read_text().splitlines()[0])
    assert replay["turns"][0]["token_ids"] and "advantage" in replay["turns"][0] or replay["turns"][0]["invalid"]
    assert (run.config_path).read_text().startswith("name: spiral-tictactoe")
    assert t.step == 2


def test_a_cpu_budget_stops_the_run_at_the_first_step_past_it_and_says_so(tmp_path):
    from rich.console import Console

    console = Console(record=True, width=200)
    config = load_config("spiral-kuhn", [*FAST, "max_steps=50", "max_cpu_minutes=0.0001"])
    t = train(config, tmp_path / "run", console=console)
    assert t.step == 1 and "CPU budget of 0.0001 min reached at step 1" in console.export_text()
    metrics = RunDir(tmp_path / "run").read_metrics()
    state = json.loads((tmp_path / "run" / "checkpoints" / "step-1" / "state.json").read_text())
    assert metrics[-1]["time/cpu_seconds"] > 0 and state["cpu_elapsed"] == metrics[-1]["time/cpu_seconds"]  # resumes from it


def test_multi_game_fixed_opponent_and_pool(tmp_path):
    multi = load_config("spiral-multi", [*FAST, "max_steps=1", "rollout.games_per_step=6"])
    metrics = RunDir(train(multi, tmp_path / "multi", console=quiet()).run.path).read_metrics()[-1]
    for game in ("tic_tac_toe", "kuhn_poker", "simple_negotiation"):
        assert f"train/{game}/invalid" in metrics
    assert {"baseline/tic_tac_toe/0", "baseline/kuhn_poker/1"} <= set(metrics)

    fixed = load_config("spiral-tictactoe", [*FAST, "max_steps=1", "opponent.kind=fixed", "opponent.fixed=minimax"])
    t = train(fixed, tmp_path / "fixed", console=quiet())
    last = t.run.read_metrics()[-1]
    assert "train/tic_tac_toe/return/seat0" in last and "train/tic_tac_toe/return/seat1" in last

    pool = load_config(
        "spiral-kuhn",
        [
            *FAST,
            "max_steps=3",
            "opponent.kind=pool",
            "opponent.snapshot_every=1",
            "opponent.pool_size=2",
            "opponent.sampling=pfsp",
            "opponent.self_play_share=0",
        ],
    )
    t = train(pool, tmp_path / "pool", console=quiet())
    assert [e.step for e in t.league.pool] == [2, 3]
    assert sum(e.games for e in t.league.pool) > 0  # the learner played snapshots
    assert not (tmp_path / "pool" / "pool" / "step-1").exists()


def test_a_seat_that_never_moved_still_updates_its_role_baseline(tmp_path):
    # One new token cannot hold a boxed move: seat 0 forfeits every game on its first move and seat 1 never plays.
    config = load_config("spiral-tictactoe", [*TINY_RUN, "sampling.max_new_tokens=1"])
    t = build(config, RunDir(tmp_path / "run"))
    metrics, _, records, samples = train_step(t)
    assert all(r.invalid_seat == 0 and len(r.turns) == 1 for r in records) and {s.seat for s in samples} == {0}
    # SPIRAL updates every role from every finished game: b1 = 0.95*0 + 0.05*(+0.5), with no sample invented.
    assert t.baselines.get("tic_tac_toe", 1) == pytest.approx(0.05 * 0.5)
    assert metrics["baseline/tic_tac_toe/1"] == pytest.approx(0.025) and metrics["learner/samples"] == len(samples)


def test_eval_top_p_reaches_the_evaluation_games(tmp_path):
    # A nucleus of ~0 keeps only the likeliest token: evaluation then plays exactly the greedy games.
    # fp32: bf16 logits tie often (steps of 0.0625 near 10), and argmax and the nucleus may break a tie differently.
    def evaluation(*overrides: str) -> dict[str, float]:
        config = load_config("spiral-tictactoe", [*TINY_RUN, FP32_RUN, "eval.games=6", "sampling.max_new_tokens=16", *overrides])
        return evaluate(build(config, RunDir(tmp_path / "run")))

    nucleus, greedy, sampled = evaluation("eval.top_p=1e-6"), evaluation("eval.temperature=0"), evaluation()
    assert nucleus == greedy != sampled
    config = load_config("spiral-qwen3-4b", [])
    assert (config.eval.temperature, config.eval.top_p, config.sampling.top_p) == (0.6, 0.95, 1.0)  # SPIRAL's evaluation
    assert prompt_and_sampling(config, None)[1].top_p == 0.95  # `sparring eval RUN` samples as training evaluated


def test_bad_run_dir_and_resume_without_checkpoint_are_user_errors(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "something").write_text("x")
    with pytest.raises(UserError, match="not empty"):
        train(load_config("spiral-tictactoe", FAST), tmp_path / "busy", console=quiet())
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    with pytest.raises(UserError, match="no intact checkpoint"):
        train(load_config("spiral-tictactoe", FAST), tmp_path / "empty", resume=True, console=quiet())


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sparring", "train", *args]


def test_sigterm_saves_the_last_finished_step_like_ctrl_c(tmp_path):
    """A scheduler's preemption (SIGTERM) must not lose the steps since the last checkpoint."""
    run_dir = tmp_path / "run"
    args = ["spiral-kuhn", *TINY_RUN, "max_steps=200", "checkpoint.every=100"]  # no checkpoint before the signal
    proc = subprocess.Popen(cli(*args, "--run-dir", str(run_dir)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not any('"step": 2' in line for line in _lines(run_dir / "metrics.jsonl")):
        assert time.time() < deadline and proc.poll() is None, "the run never reached step 2"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert "interrupted at step" in err and "--resume" in err
    saved = list_checkpoints(RunDir(run_dir))
    assert saved and saved[-1][0] >= 2  # the step it was at (or a later one it finished), not nothing


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["advantage.baseline=value", "learner.minibatches=2"],
        ["learner.average_weights=0.9", "learner.lr_decay=cosine", "learner.kl_coef=0.5", "reference.magnet=average"],
        ["prompt.view=trajectory"],
        ["opponent.kind=exploiter", "opponent.exploiter_every=3"],
    ],
    ids=["spiral", "value-baseline-and-minibatches", "weight-average-magnet-and-lr-decay", "trajectory-view", "exploiter"],
)
def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path, extra):
    """Also with the state a learned value head and seeded minibatch splits add to a checkpoint, and with an
    exploiter computed before the checkpoint and recomputed after it (step 3): the resumed run must face the
    one computed from the step-0 policy at step 2, not one computed afresh from the policy it resumed with."""
    args = ["spiral-kuhn", *FAST, FP32_RUN, "max_steps=4", *extra]  # bit-exact: pinned, so it means the same on every CPU
    whole = tmp_path / "whole"
    subprocess.run(cli(*args, "--run-dir", str(whole)), check=True, capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(cli(*args, "--run-dir", str(killed)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed / "checkpoints" / "step-2" / "manifest.json").exists():
        assert time.time() < deadline and proc.poll() is None, "the run never reached step 2"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run(cli("--resume", str(killed)), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stdout

    final_whole = weights(whole / "checkpoints" / "step-4" / "model")
    final_resumed = weights(killed / "checkpoints" / "step-4" / "model")
    assert all(torch.equal(final_whole[k], final_resumed[k]) for k in final_whole)
    assert comparable(RunDir(whole).read_metrics()) == comparable(RunDir(killed).read_metrics())
    if (whole / "checkpoints" / "step-4" / "average").is_dir():  # the weight average resumes exactly too
        average_whole = weights(whole / "checkpoints" / "step-4" / "average")
        average_resumed = weights(killed / "checkpoints" / "step-4" / "average")
        assert all(torch.equal(average_whole[k], average_resumed[k]) for k in average_whole)
        assert any(not torch.equal(average_whole[k], final_whole[k]) for k in average_whole)


def test_corrupted_latest_checkpoint_falls_back_with_a_warning(tmp_path):
    config = load_config("spiral-kuhn", [*FAST, "max_steps=2"])
    train(config, tmp_path / "run", console=quiet())
    model_file = next((tmp_path / "run" / "checkpoints" / "step-2" / "model").glob("*.safetensors"))
    data = bytearray(model_file.read_bytes())
    data[-10] ^= 0xFF
    model_file.write_bytes(bytes(data))
    proc = subprocess.run(cli("--resume", str(tmp_path / "run"), "--max-steps", "3"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "step-2 is corrupted" in out and "model.safetensors" in out and "resumed" in out and "from step 1" in out
