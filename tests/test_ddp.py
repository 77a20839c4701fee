"""Data-parallel learning (sparring.distributed.ddp): N processes take exactly the one-process step.

The two-process checks run real processes over gloo on this CPU, launched the
way users launch them (``torchrun``, which ``accelerate launch`` also runs).
This file is also the worker script those processes run.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from precision import FP32, FP32_RUN
from tiny_runs import TINY_RUN

from sparring.config import LearnerSection, load_config
from sparring.distributed.ddp import DataParallel, buckets
from sparring.learner import Learner
from sparring.samples import TurnSample

HERE = Path(__file__).resolve()
# Every feature whose arithmetic depends on global counts or on state the ranks must share:
# accumulation over uneven shards (7 samples, micro-batches of 2), the token-mean loss, a KL
# reference, entropy, two epochs, PPO clipping; and the default constant normalizer.
# adam_eps 1e-4: with AdamW's default 1e-8, a gradient coordinate that sums to ~0 gets an update of about
# lr * sign(g), so ~1e-7 float reordering between 1 and 2 processes can flip it; a larger eps keeps the
# update proportional to g there, and the comparison then checks the all-reduce, not float luck.
SCENARIOS = [
    {
        "lr": 1e-3,
        "micro_batch_size": 2,
        "loss_normalizer": "tokens",
        "kl_coef": 0.1,
        "entropy_coef": 0.01,
        "epochs": 2,
        "adam_eps": 1e-4,
    },
    {"lr": 1e-3, "micro_batch_size": 3, "adam_eps": 1e-4},
]


def torchrun(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def make_samples(model, tokenizer, n: int = 7) -> list[TurnSample]:
    """Two games' samples, interleaved, of varied lengths; some log-probs shifted so the PPO clip bites."""
    from sparring.engines.hf import HFEngine

    engine = HFEngine(model, tokenizer, autocast=FP32)
    gen = torch.Generator().manual_seed(0)
    rules = {g: f"<|im_start|>system\nRules of game {g}.<|im_end|>\n" for g in "ab"}
    prefixes = {g: tokenizer.encode(text, add_special_tokens=False) for g, text in rules.items()}
    samples = []
    for i in range(n):
        game = "ab"[i % 2]
        prompt = prefixes[game] + torch.randint(5, 900, (2 + i % 3,), generator=gen).tolist()
        response = torch.randint(5, 900, (1 + i % 4,), generator=gen).tolist()
        old = [x + (0.3 if k % 2 else 0.0) for k, x in enumerate(engine.score([prompt], [response])[0])]
        adv = [1.0, -0.5, 0.7, -1.2, 0.2, 1.5, -0.8][i]
        samples.append(TurnSample(game, i % 2, i % 2, 0, prompt, response, old, reward=adv, advantage=adv, game_id=i))
    return samples


def learner_for(path: Path, scenario: dict, parallel: DataParallel | None = None) -> Learner:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return Learner(model, 0, LearnerSection(**scenario), max_new_tokens=8, precision=None, parallel=parallel)  # fp32


# ----------------------------------------------------------------------------- unit checks, one process
def test_shards_cover_every_sample_once_grouped_by_game():
    samples = [TurnSample("ab"[i % 3 == 0], 0, 0, 0, [1], [2], [0.0], game_id=i) for i in range(10)]
    shards = [DataParallel(r, 3, torch.device("cpu")).shard(samples) for r in range(3)]
    assert sorted(s.game_id for part in shards for s in part) == list(range(10))
    assert [len(p) for p in shards] == [4, 3, 3]
    order = [s.game for r in range(3) for s in shards[r]]
    assert all(order[: len(shards[0])].count(g) for g in "ab")  # rank 0 gets both games when both exist
    for part in shards:
        games = [s.game for s in part]
        assert games == sorted(games, key=lambda g: g != samples[0].game)  # grouped: first-seen game first


def test_gradient_buckets_split_by_size_and_dtype():
    ts = [torch.zeros(10), torch.zeros(10), torch.zeros(10, dtype=torch.float64), torch.zeros(30)]
    groups = buckets(ts, limit=80)
    assert [len(b) for b in groups] == [2, 1, 1]


def test_one_process_needs_no_group_and_sharded_configs_are_refused(monkeypatch):
    from sparring.distributed.ddp import data_parallel
    from sparring.errors import UserError

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert data_parallel("cpu") is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(UserError, match="FSDP"):
        data_parallel("cpu")


# ----------------------------------------------------------------------------- two processes over gloo
def test_two_processes_take_the_one_process_step(tmp_path, tiny_model, bundled_tokenizer):
    tiny_model.save_pretrained(tmp_path / "model")
    samples = make_samples(tiny_model, bundled_tokenizer)
    (tmp_path / "samples.pkl").write_bytes(pickle.dumps(samples))
    torchrun(str(HERE), str(tmp_path))
    for k, scenario in enumerate(SCENARIOS):
        single = learner_for(tmp_path / "model", scenario)
        expected = single.step(samples)
        reference = {n: p.detach() for n, p in single.model.named_parameters()}
        got = [torch.load(tmp_path / f"s{k}-rank{r}.pt") for r in (0, 1)]
        metrics = json.loads((tmp_path / f"s{k}-metrics.json").read_text())
        initial = learner_for(tmp_path / "model", {}).model.named_parameters()
        changed = max(float((reference[n] - p.detach()).abs().max()) for n, p in initial)
        assert changed > 1e-4  # the step moved the weights, so equality below means something
        # Summing shards reorders float additions (~1e-7 relative); AdamW's g / (|g| + eps) amplifies that
        # where a gradient is near eps, up to ~1e-3 of a step's size: 1e-6 at lr 1e-3, per epoch.
        atol = 1e-3 * single.config.lr * single.config.epochs
        for name, value in reference.items():
            assert torch.equal(got[0][name], got[1][name]), f"ranks disagree on {name}"
            assert torch.allclose(got[0][name], value, atol=atol, rtol=0), f"{name} differs from one process"
        assert ("learner/kl" in metrics) == ("learner/kl" in expected) == (single.config.kl_coef > 0)
        for key in ("learner/loss", "learner/grad_norm", "learner/kl", "learner/entropy", "learner/clip_frac", "learner/tokens"):
            if key in expected:
                assert metrics[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7), key


def worker(out: Path) -> None:
    """Each rank: every scenario's learner step; rank 0 leads, rank 1 follows (as in ``sparring train``)."""
    from sparring.distributed.ddp import data_parallel, follow, lead

    parallel = data_parallel("cpu")
    assert parallel is not None and parallel.world == 2
    samples = pickle.loads((out / "samples.pkl").read_bytes())
    for k, scenario in enumerate(SCENARIOS):
        learner = learner_for(out / "model", scenario, parallel)
        if parallel.is_main:
            metrics = lead(learner, parallel).step(samples)
            parallel.release()
            (out / f"s{k}-metrics.json").write_text(json.dumps(metrics))
        else:
            follow(learner)
        torch.save({n: p.detach() for n, p in learner.model.named_parameters()}, out / f"s{k}-rank{parallel.rank}.pt")
    parallel.close()


# fp32: the tolerances below are fp32 reordering; under bf16 one process and two drift apart by bf16 rounding.
FAST = [*TINY_RUN, FP32_RUN]


def test_two_process_training_run_equals_one_process_run(tmp_path):
    """``torchrun --nproc_per_node 2 -m sparring train``: rank 0 plays the one-process games, both ranks learn."""
    from rich.console import Console
    from safetensors.torch import load_file

    from sparring.checkpoint import RunDir
    from sparring.train import train

    overrides = [*FAST, "max_steps=2", "learner.micro_batch_size=4", "learner.adam_eps=1e-4"]  # see SCENARIOS
    torchrun("-m", "sparring", "train", "spiral-tictactoe", *overrides, "--run-dir", str(tmp_path / "two"))
    train(load_config("spiral-tictactoe", overrides), tmp_path / "one", console=Console(quiet=True))
    runs = [RunDir(tmp_path / name) for name in ("one", "two")]
    one, two = [[m for m in r.read_metrics() if m["step"] > 0] for r in runs]
    assert [m["step"] for m in two] == [1, 2]
    for a, b in zip(one, two, strict=True):
        assert a["train/turns"] == b["train/turns"] and a["learner/samples"] == b["learner/samples"] > 0
        assert a["train/tic_tac_toe/return/seat0"] == b["train/tic_tac_toe/return/seat0"]
        assert a["learner/loss"] == pytest.approx(b["learner/loss"], rel=1e-4, abs=1e-6)
    final = [load_file(r.checkpoints_dir / "step-2" / "model" / "model.safetensors") for r in runs]
    assert final[0].keys() == final[1].keys()
    for name in final[0]:
        assert torch.allclose(final[0][name], final[1][name], atol=1e-5, rtol=0), name


if __name__ == "__main__":
    worker(Path(sys.argv[1]))
