"""Ray rollout workers (distributed.backend=ray) on a local CPU cluster: they play, learn, stay in sync.

The cluster tests are skipped only when Ray is not installed (``make install`` installs it);
the shard tests need no Ray.
"""

from __future__ import annotations

import pytest
import torch
from precision import FP32_RUN
from rich.console import Console
from safetensors.torch import load_file
from tiny_runs import TINY_RUN

from sparring.checkpoint import RunDir
from sparring.config import OpponentSection, load_config
from sparring.distributed.dispatch import LocalRollout
from sparring.distributed.shards import Seat, describe, shards
from sparring.engines import BUNDLED
from sparring.games import make_game
from sparring.league import League
from sparring.players import make_player
from sparring.seeding import step_seed
from sparring.train import build, train, train_step

# fp32: these tests hold a synchronous PPO ratio to 1 within 1e-4 and one worker to the local games to 1e-5;
# bf16 rounding alone moves the ratio by more (1.00014 on a CPU with native bf16).
FAST = [*TINY_RUN, FP32_RUN]
RAY = ["distributed.backend=ray", "distributed.rollout_workers=2"]


@pytest.fixture(scope="module")
def cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


# ----------------------------------------------------------------------------- shards, no Ray needed
def test_shards_are_contiguous_balanced_and_one_shard_keeps_the_loop_seed():
    games = [("tic_tac_toe", make_game("tic_tac_toe"), 1.0), ("kuhn_poker", make_game("kuhn_poker"), 1.0)]
    policy = make_player("random", games[0][1])
    league = League(OpponentSection(kind="fixed", fixed="minimax"), games, policy, seed=3)
    plan = league.plan(5, 7)
    specs = describe(plan, policy, {id(g): name for name, g, _ in games}, "minimax")
    assert [t.seed for t in specs] == [t.seed for t in plan.tables]
    assert [sorted(s.kind for s in t.seats) for t in specs] == [["fixed", "policy"]] * 7
    assert specs[0].seats[plan.learner_seats[0][0]] == Seat("policy")

    parts = shards(specs, 3, seed=3, step=5)
    assert [len(p.tables) for p in parts] == [3, 2, 2] and [p.first for p in parts] == [0, 3, 5]
    assert [t for p in parts for t in p.tables] == specs
    assert len({p.sample_seed for p in parts}) == 3 and step_seed(3, 5, "sample") not in {p.sample_seed for p in parts}
    assert all(0 <= s < 1 << 30 for p in parts for s in p.opponent_seeds.values())
    assert [p.sample_seed for p in shards(specs, 3, seed=3, step=5)] == [p.sample_seed for p in parts]
    (whole,) = shards(specs, 1, seed=3, step=5)
    assert whole.sample_seed == step_seed(3, 5, "sample")  # one worker samples exactly as the loop does
    assert len(shards(specs[:2], 4, seed=3, step=5)) == 2  # never an empty shard


# ----------------------------------------------------------------------------- on a local Ray cluster


def final_weights(run_dir) -> dict[str, torch.Tensor]:
    run = RunDir(run_dir)
    last = max(run.checkpoints_dir.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
    return load_file(last / "model" / "model.safetensors")


def test_two_workers_train_and_the_same_seed_gives_the_same_weights(tmp_path, cluster):
    config = load_config("spiral-tictactoe", [*FAST, *RAY, "max_steps=2"])
    for name in ("a", "b"):
        train(config, tmp_path / name, console=Console(quiet=True))
    metrics = RunDir(tmp_path / "a").read_metrics()
    assert [m["step"] for m in metrics] == [0, 1, 2]
    assert metrics[1]["learner/samples"] > 0 and metrics[2]["speed/tokens_per_s"] > 0
    assert "eval/tic_tac_toe/random/win" in metrics[-1]
    a, b, before = final_weights(tmp_path / "a"), final_weights(tmp_path / "b"), load_file(BUNDLED / "model.safetensors")
    assert any(not torch.equal(a[k], before[k]) for k in before)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # Synchronous: every step's games were played with the learner's current weights, so the PPO ratio is ~1.
    assert all(abs(m["learner/ratio"] - 1) < 1e-4 for m in metrics[1:])


def test_one_worker_plays_the_local_games_gets_each_new_version_and_can_overlap(tmp_path, cluster):
    config = load_config("spiral-tictactoe", [*FAST, "distributed.backend=ray", "distributed.rollout_workers=1"])
    t = build(config, RunDir(tmp_path / "run"))
    local = LocalRollout(t.engine, load_config("spiral-tictactoe", FAST))
    try:
        # One worker holds every table and the loop's own seed: it plays exactly the games of one process.
        plan = t.league.plan(0, config.rollout.games_per_step)
        here, there = local.play(0, plan), t.rollout.play(0, plan)
        assert [r.returns for r in here] == [r.returns for r in there]
        for a, b in zip(here, there, strict=True):
            assert [u.info["response_ids"] for u in a.turns] == [u.info["response_ids"] for u in b.turns]
            for u, v in zip(a.turns, b.turns, strict=True):
                assert u.info["logprobs"] == pytest.approx(v.info["logprobs"], abs=1e-5)

        train_step(t)  # learns: version 1
        after_first = {k: v.detach().clone() for k, v in t.model.state_dict().items()}
        metrics, *_ = train_step(t)  # sends version 1 before playing, then learns version 2
        worker = t.rollout.workers().worker_weights()
        assert all(torch.equal(worker[k], after_first[k]) for k in worker)
        assert any(not torch.equal(worker[k], t.model.state_dict()[k]) for k in worker)
        assert abs(metrics["learner/ratio"] - 1) < 1e-4  # played with the current weights

        # Overlap: the next step's games are played while this step learns, one version behind,
        # so from the second overlapped step on the PPO ratio is no longer 1.
        t.config.distributed.overlap = True
        ratios = [train_step(t)[0]["learner/ratio"] for _ in range(3)]
        assert abs(ratios[0] - 1) < 1e-4
        assert all(abs(r - 1) > 1e-4 for r in ratios[1:])
    finally:
        t.rollout.close()
