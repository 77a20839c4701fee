"""Preference self-play rounds, top to bottom: the model against its own earlier iterate.

One round (one "step" of the run: metrics, checkpoints and resume count rounds):

    1. deal     ``prompts_per_round`` tasks, cycling through a seeded shuffle of the set (eva: half evolved)
    2. sample   K responses per prompt from the current iterate, one batched engine call
    3. judge    the oracle's win rates (against the other samples, or the initial model's)
    4. targets  pairs or per-response targets, by algorithm (targets.py); written as a TRL-readable pairs file
    5. learn    reference log-probs scored once (the iterate as it was: pi_t), then epochs of the loss
                (spo: the game learner's PPO on win-rate rewards)
    6. watch    held-out quality with 95% Wilson intervals, win rate against round 0 under the judge,
                checkpoint, metrics line, report

The run directory, checkpoint format, resume and report are the game loop's
(``sparring.checkpoint``, ``sparring.report``); a resumed run gives the same
metrics as an uninterrupted one (tested).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from sparring.checkpoint import CheckpointDir, RunDir, save_checkpoint
from sparring.config import TrainConfig
from sparring.device import autocast_dtype
from sparring.engines.base import SamplingParams
from sparring.engines.hf import HFEngine
from sparring.errors import UserError
from sparring.evaluate.stats import rate
from sparring.learner import Learner, frozen_copy
from sparring.lora import save_model_dir
from sparring.preference import targets as tg
from sparring.preference.creator import evolve
from sparring.preference.learner import PreferenceLearner
from sparring.preference.oracles import IntransitiveOracle, Oracle
from sparring.preference.registry import make_oracle
from sparring.preference.tasks import Task, load_tasks, passes, write_pairs
from sparring.prompts import encode_chat
from sparring.report import refresh_report
from sparring.runloop import Steps
from sparring.runloop import run as run_steps
from sparring.seeding import step_seed
from sparring.train import load_model, read_weights, restore_learning_state, save_learning_state


@dataclass
class Rounds:
    """Everything a preference run holds between rounds."""

    config: TrainConfig
    run: RunDir
    model: Any
    tokenizer: Any
    engine: HFEngine
    learner: PreferenceLearner | Learner
    tasks: list[Task]
    eval_tasks: list[Task]
    oracle: Oracle
    judge: Oracle
    initial: Any | None = None
    """A frozen copy of the initial model, when the reference or the opponent is fixed there."""
    initial_engine: HFEngine | None = None
    """Samples the initial model's answers, when win rates are against it (``preference.opponent: initial``)."""
    step: int = 0
    elapsed: float = 0.0
    cpu_elapsed: float = 0.0
    last_eval: dict[str, float] = field(default_factory=dict)
    evolved: list[int] = field(default_factory=list)
    """eva: indices of the tasks the creator chose for the next round."""


# ----------------------------------------------------------------------------- set-up
def build(config: TrainConfig, run: RunDir, schedule_steps: int | None = None) -> Rounds:
    """The run's objects (``schedule_steps`` is unused: the preference learner has no decay horizon)."""
    pref = config.preference
    assert pref is not None
    device = config.model.device
    tasks = load_tasks(pref.prompts)  # data and oracles first: a bad file fails before the model loads
    eval_tasks = load_tasks(pref.eval_prompts, pref.eval_limit)
    oracle = make_oracle(pref.oracle, device)
    judge = oracle if pref.judge == pref.oracle else make_oracle(pref.judge, device)
    torch.manual_seed(config.seed)
    model, tokenizer = load_model(config)
    precision = autocast_dtype(device, config.model.precision)
    engine = HFEngine(model, tokenizer=tokenizer, device=device, autocast=config.model.precision)
    loss = pref.loss_name()
    if loss == "pg":
        learner: PreferenceLearner | Learner = Learner(
            model, engine.pad_id, config.learner, config.sampling.max_new_tokens, config.sampling.temperature, device, precision
        )
    else:
        learner = PreferenceLearner(
            model, engine.pad_id, config.learner, loss, pref.beta, pref.eta, pref.batch_size, pref.epochs, device, precision
        )
    fixed = pref.reference == "initial" or pref.opponent == "initial"
    initial = frozen_copy(model) if fixed else None
    opponent = None
    if pref.opponent == "initial":
        opponent = HFEngine(initial, tokenizer=tokenizer, device=device, autocast=config.model.precision)
    return Rounds(config, run, model, tokenizer, engine, learner, tasks, eval_tasks, oracle, judge, initial, opponent)


def prompt_ids(r: Rounds, task: Task) -> list[int]:
    system = r.config.preference.system
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": task.prompt}]
    return encode_chat(r.tokenizer, messages)


def encode_response(r: Rounds, text: str) -> list[int]:
    """A written response (a reference, a refinement) as the ids the model would have generated, end-of-turn included."""
    return r.tokenizer.encode(text, add_special_tokens=False) + [r.tokenizer.eos_token_id]


def sample(
    r: Rounds, tasks: list[Task], k: int, temperature: float, seed: int, engine: HFEngine | None = None
) -> list[tg.Sampled]:
    """K responses per task in one batched call (prompts repeated), seeded."""
    engine = engine or r.engine
    prompts = [prompt_ids(r, t) for t in tasks]
    params = SamplingParams(
        temperature=temperature, top_p=r.config.sampling.top_p, max_new_tokens=r.config.sampling.max_new_tokens, seed=seed
    )
    gens = engine.generate([p for p in prompts for _ in range(k)], params)
    rows = []
    for i, (task, ids) in enumerate(zip(tasks, prompts, strict=True)):
        mine = gens[i * k : (i + 1) * k]
        rows.append(tg.Sampled(task, ids, [g.token_ids for g in mine], [g.logprobs for g in mine], [g.text for g in mine]))
    return rows


def deal(r: Rounds) -> list[int]:
    """This round's task indices: the next slice of a seeded shuffle of the set, fresh each pass.

    eva: the creator's choices first (up to ``creator_share`` of the round), then a slice of
    the pass of fixed size, so the pass moves on by the same amount every round.
    """
    pref = r.config.preference
    n = len(r.tasks)
    share = int(pref.prompts_per_round * pref.creator_share) if pref.algorithm == "eva" else 0
    want = pref.prompts_per_round - share
    orders: dict[int, list[int]] = {}
    out = []
    for pos in range(r.step * want, (r.step + 1) * want):
        if pos // n not in orders:
            orders[pos // n] = list(range(n))
            random.Random(step_seed(r.config.seed, pos // n, "prompts")).shuffle(orders[pos // n])
        out.append(orders[pos // n][pos % n])
    return r.evolved[:share] + out


# ----------------------------------------------------------------------------- one round
def round_step(r: Rounds) -> dict[str, float]:
    cfg, pref = r.config, r.config.preference
    started = time.perf_counter()
    # 1. deal, 2. sample (SPIN: one sample per prompt)
    tasks = [r.tasks[i] for i in deal(r)]
    k = 1 if pref.algorithm == "spin" else pref.samples_per_prompt
    rows = sample(r, tasks, k, cfg.sampling.temperature, step_seed(cfg.seed, r.step, "sample"))
    sample_seconds = time.perf_counter() - started
    # 3. judge
    opponents = None
    if r.initial_engine is not None:
        seed = step_seed(cfg.seed, r.step, "opponent")
        opponents = [row.texts for row in sample(r, tasks, k, cfg.sampling.temperature, seed, r.initial_engine)]
    needs_rates = pref.algorithm not in ("spin", "spar")
    rates = tg.win_rates(r.oracle, rows, opponents) if needs_rates else [[0.5] * k for _ in rows]
    # 4. targets
    if pref.algorithm == "spin":
        items, pairs = tg.spin_pairs(rows, lambda text: encode_response(r, text))
    elif pref.algorithm == "spar":
        items, pairs = tg.spar_pairs(r.oracle, rows, lambda text: encode_response(r, text))
    elif pref.algorithm == "spo":  # trained below as policy-gradient turns; the pairs file still records (best, worst)
        items, pairs = [], tg.sppo_items(rows, rates)[1]
    elif pref.loss_name() == "sppo":
        items, pairs = tg.sppo_items(rows, rates)
    else:  # dno, eva, and sppo with a pair loss: (best, worst) by win rate
        items, pairs = tg.best_worst_pairs(r.oracle, rows, rates, pref.margin)
    if pref.algorithm == "eva":  # the creator picks next round's prompts from this round's regrets
        r.evolved = evolve(r.tasks, [row.task for row in rows], rates, step_seed(cfg.seed, r.step, "creator"))
    write_pairs(r.run.pairs_path(r.step + 1), pairs)
    # 5. learn: pi_ref scored before any update (the previous iterate), or the initial model
    learn_started = time.perf_counter()
    if isinstance(r.learner, PreferenceLearner):
        r.learner.score_reference(items, r.initial if pref.reference == "initial" else None)
        metrics = r.learner.step(items)
    else:
        samples = [s for s in tg.spo_samples(rows, rates) if s.advantage != 0]
        metrics = r.learner.step(samples)
    learn_seconds = time.perf_counter() - learn_started
    r.step += 1
    checked = [(row.task, t) for row in rows for t in row.texts if row.task.checks]
    tokens = sum(len(ids) for row in rows for ids in row.ids)
    metrics.update(
        {
            "train/pairs": float(len(pairs)),
            "train/response_tokens": tokens / max(1, sum(len(row.ids) for row in rows)),
            "time/step_seconds": time.perf_counter() - started,
            "time/rollout_seconds": sample_seconds,
            "time/learn_seconds": learn_seconds,
            "speed/tokens_per_s": tokens / max(sample_seconds, 1e-9),
        }
    )
    if checked:
        metrics["train/quality"] = sum(passes(t, x) for t, x in checked) / len(checked)
    if needs_rates:
        spread = [max(x) - min(x) for x in rates]
        metrics["train/win_rate_spread"] = sum(spread) / len(spread)
    return metrics


# ----------------------------------------------------------------------------- evaluation
def evaluate(r: Rounds) -> dict[str, float]:
    """Held-out quality (Wilson 95%), win rate against round 0's answers under the judge, and, for the
    intransitive oracle, the worst-case win rate of sampled answers (1/2 at the equilibrium)."""
    cfg, pref = r.config, r.config.preference
    seed = step_seed(cfg.seed, r.step, "eval")
    answers = [row.texts[0] for row in sample(r, r.eval_tasks, 1, pref.eval_temperature, seed)]
    out: dict[str, float] = {}
    checked = [(t, a) for t, a in zip(r.eval_tasks, answers, strict=True) if t.checks]
    if checked:
        q = rate(sum(passes(t, a) for t, a in checked), len(checked))
        out.update({"eval/quality": q["rate"], "eval/quality_low": q["low"], "eval/quality_high": q["high"]})
    r.run.eval_dir.mkdir(parents=True, exist_ok=True)
    r.run.answers_path(r.step).write_text(
        "".join(json.dumps({"id": t.id, "answer": a}) + "\n" for t, a in zip(r.eval_tasks, answers, strict=True))
    )
    if r.step > 0:
        first = [json.loads(line)["answer"] for line in r.run.answers_path(0).read_text().splitlines()]
        wins = r.judge.prefer(r.eval_tasks, answers, first)
        w = rate(round(sum(wins)), len(wins))
        out.update(
            {
                "eval/win_vs_round0": sum(wins) / len(wins),
                "eval/win_vs_round0_low": w["low"],
                "eval/win_vs_round0_high": w["high"],
            }
        )
    for oracle in {id(r.oracle): r.oracle, id(r.judge): r.judge}.values():
        if isinstance(oracle, IntransitiveOracle):
            rows = sample(r, r.eval_tasks, pref.eval_samples, 1.0, step_seed(cfg.seed, r.step, "eval-mix"))
            out["eval/worst_case_win"] = sum(oracle.worst_case_win(row.texts) for row in rows) / len(rows)
            pooled = oracle.shares([t for row in rows for t in row.texts])  # what the benchmark mixes over rounds
            out.update({f"eval/share_class{k}": v for k, v in enumerate(pooled[:3])} | {"eval/share_no_digit": pooled[3]})
            break
    r.last_eval = out
    return out


# ----------------------------------------------------------------------------- checkpoints
def save(r: Rounds) -> Path:
    def write(directory: Path) -> None:
        ckpt = CheckpointDir(directory)
        save_model_dir(r.model, r.tokenizer, ckpt.model_dir)
        save_learning_state(ckpt, r.learner, r.engine)
        state = {
            "step": r.step,
            "elapsed": r.elapsed,
            "cpu_elapsed": r.cpu_elapsed,
            "last_eval": r.last_eval,
            "evolved": r.evolved,
        }
        ckpt.state_path.write_text(json.dumps(state, indent=2))

    return save_checkpoint(r.run, r.step, write, keep_last=r.config.checkpoint.keep_last)


def restore(r: Rounds, path: Path) -> None:
    ckpt = CheckpointDir(path)
    r.model.load_state_dict(read_weights(ckpt.model_dir), strict=False)
    restore_learning_state(ckpt, r.learner, r.engine)
    state = json.loads(ckpt.state_path.read_text())
    r.step, r.elapsed, r.last_eval, r.evolved = state["step"], state["elapsed"], state["last_eval"], state["evolved"]
    r.cpu_elapsed = state["cpu_elapsed"]


# ----------------------------------------------------------------------------- the run
def summary_line(step: int, total: int, m: dict[str, float]) -> str:
    parts = [f"round {step:>3}/{total}"]
    for key, label in (
        ("train/quality", "train quality"),
        ("train/pairs", "pairs"),
        ("pref/loss", "loss"),
        ("learner/loss", "loss"),
        ("pref/accuracy", "margin>0"),
        ("eval/quality", "held-out quality"),
        ("eval/win_vs_round0", "win vs round 0"),
        ("eval/worst_case_win", "worst-case win"),
    ):
        if key in m:
            parts.append(f"{label} {m[key]:.0f}" if key == "train/pairs" else f"{label} {m[key]:.3f}")
    return " | ".join(parts)


def train_rounds(
    config: TrainConfig, run_dir: Path, resume: bool = False, console: Console | None = None, max_steps: int | None = None
) -> Rounds:
    """Run (or resume) preference self-play in ``run_dir``; returns the state after the last round."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError("preference rounds run in one process; launch sparring train without torchrun / accelerate launch")
    console = console or Console(highlight=False)
    pieces = Steps(build, restore, round_step, evaluate, save, summary_line, unit="round")
    r, run = run_steps(pieces, config, run_dir, resume, console, max_steps)
    refresh_report(run.path, console)
    return r
