"""Self-play training, top to bottom: the SPIRAL loop.

One language model plays every seat of zero-sum games against itself (or
against a fixed player, or its own past checkpoints), and the game outcomes
alone make it better. One step:

    1. deal    the league deals ``games_per_step`` games (mixed by weight), seeds from (seed, step)
    2. play    every game runs in lockstep; each tick, one batched generate call for all waiting seats
    3. score   each turn of a learning seat becomes a TurnSample; its reward is the seat's return
               (an invalid move ends the game: offender -1.5, others +0.5; past max turns: a draw)
    4. credit  the advantage estimator (RAE by default: return minus a per (game, role) EMA baseline)
    5. learn   a PPO-clipped token-level policy-gradient step; the engine shares the weights
    6. league  magnet / pool snapshots move; PFSP scores update
    7. watch   metrics every step; evaluation, replays and checkpoints every few steps

Everything that varies is in :class:`sparring.config.TrainConfig`; the
pieces live in their own modules (rollout, samples, advantages, learner,
league, evaluate, checkpoint) and are tested alone.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from sparring.advantages import RoleBaselines, drop_zero_advantage, estimate
from sparring.best import BestKeeper
from sparring.checkpoint import CheckpointDir, RunDir, save_checkpoint
from sparring.config import TrainConfig
from sparring.device import autocast_dtype
from sparring.distributed.ddp import DataParallel, Leader, data_parallel, follow, lead
from sparring.distributed.dispatch import Rollout, generated_tokens, make_rollout
from sparring.engines import Engine, load_tokenizer, loading_model, make_engine, resolve_model_path
from sparring.engines.base import SamplingParams, while_learning
from sparring.engines.hf import HFEngine
from sparring.errors import UserError
from sparring.evaluate.suite import before_after_table, default_opponents, eval_sampling, evaluate_game
from sparring.games import make_game
from sparring.games.verifiers import bind_policy
from sparring.league import League, StepPlan
from sparring.learner import Learner, frozen_copy
from sparring.lora import base_model_pointer, is_lora, load_adapter, save_adapter, save_model_dir, wrap
from sparring.players.lm import LMPlayer
from sparring.replays import replay_record, write_replays
from sparring.report import refresh_report
from sparring.rollout import GameRecord
from sparring.runloop import Steps
from sparring.runloop import run as run_steps
from sparring.samples import TurnSample, penalize_repeats, role_returns, trajectories, turn_samples
from sparring.seeding import load_rng_state, save_rng_state, step_seed
from sparring.value import ValueBaseline


@dataclass
class Trainer:
    """Everything a run holds between steps (built by :func:`build`, saved in checkpoints)."""

    config: TrainConfig
    run: RunDir
    model: Any
    tokenizer: Any
    engine: Engine
    policy: LMPlayer
    learner: Learner | Leader
    """On rank 0 of N learner processes a :class:`Leader`, whose calls the other ranks follow."""
    baselines: RoleBaselines
    league: League
    games: list[tuple[str, Any, float]]
    rollout: Rollout
    """Plays each step's tables: here, or on Ray workers (``distributed.backend``)."""
    step: int = 0
    elapsed: float = 0.0
    """Training seconds before this process (restored on resume)."""
    cpu_elapsed: float = 0.0
    """Training CPU seconds (this process, all threads), restored on resume like ``elapsed``."""
    last_eval: dict[str, float] = field(default_factory=dict)
    ahead: StepPlan | None = None
    """The next step's deal, already sent to play (``distributed.overlap``)."""
    best: BestKeeper | None = None
    """``checkpoint.keep_best``: what ``RUN/best`` holds (made at the first evaluation, from the record on disk)."""


# ----------------------------------------------------------------------------- set-up
def load_model(config: TrainConfig) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    path = resolve_model_path(config.model.path)
    with loading_model(path):
        tokenizer = load_tokenizer(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(config.model.device)
    return model, tokenizer


def build(config: TrainConfig, run: RunDir, schedule_steps: int | None = None) -> Trainer:
    """The run's objects; ``schedule_steps``: the run's own ``max_steps`` (the learning-rate decay's horizon),
    when this process was told to stop earlier."""
    torch.manual_seed(config.seed)
    model, tokenizer = load_model(config)
    if config.model.lora is not None:  # train adapters only; the engine below shares the adapted module
        model = wrap(model, config.model.lora)
    device = config.model.device
    precision = autocast_dtype(device, config.model.precision)
    engine = make_engine(config, tokenizer, model)  # HF shares the learner's module; vLLM holds its own weights copy
    prompt = config.prompt.prompt_config()
    sampling = SamplingParams(
        temperature=config.sampling.temperature, top_p=config.sampling.top_p, max_new_tokens=config.sampling.max_new_tokens
    )
    policy = LMPlayer(engine, None, prompt, sampling, name="policy")
    games = [(g.name, make_game(g.name), g.weight) for g in config.games]
    for _, game, _ in games:
        bind_policy(game, engine, tokenizer)  # judge=policy: the game asks the policy itself
    magnet_is_average = config.reference.magnet == "average"
    copy_reference = config.learner.kl_coef > 0 and not is_lora(model) and not magnet_is_average  # LoRA: base = reference
    reference = frozen_copy(model) if copy_reference else None
    parallel = data_parallel(device)  # None unless launched as N processes (accelerate launch / torchrun)
    learner = Learner(
        model,
        engine.pad_id,
        config.learner,
        config.sampling.max_new_tokens,
        config.sampling.temperature,
        device,
        precision,
        reference,
        parallel=parallel,
        rollout_engine=config.engine.kind,  # vLLM's log-probs are re-scored by the learner (learner.recompute_old_logprobs)
        total_steps=schedule_steps or config.max_steps,
        magnet_is_average=magnet_is_average,
    )
    if config.advantage.baseline == "value":
        learner.value = ValueBaseline(model, engine.pad_id, device)

    def load_opponent(path: str) -> LMPlayer:
        return LMPlayer(
            HFEngine(path, tokenizer=tokenizer, device=device, autocast=config.model.precision),
            None,
            prompt,
            sampling,
            name=f"pool:{Path(path).name}",
        )

    league = League(config.opponent, games, policy, config.seed, run.pool_dir, load_opponent)
    baselines = RoleBaselines(config.advantage.ema_rate)
    rollout = make_rollout(config, engine, model, policy, games)
    return Trainer(config, run, model, tokenizer, engine, policy, lead(learner, parallel), baselines, league, games, rollout)


# ----------------------------------------------------------------------------- one step
def train_step(t: Trainer) -> tuple[dict[str, float], StepPlan, list[GameRecord], list[TurnSample]]:
    cfg = t.config
    started = time.perf_counter()
    # 1. deal (under distributed.overlap, this step was dealt and sent to play during the last one, and the next is now)
    plan = t.ahead if t.ahead is not None else t.league.plan(t.step, cfg.rollout.games_per_step)
    overlap = cfg.distributed.overlap and t.rollout.plays_ahead and t.step + 1 < cfg.max_steps
    t.ahead = t.league.plan(t.step + 1, cfg.rollout.games_per_step) if overlap else None
    offer_measured_exploitability(t)
    # 2. play (all seats of the policy answer in one batched call per tick; here or on Ray workers)
    records = t.rollout.play(t.step, plan, ahead=t.ahead)
    rollout_seconds = time.perf_counter() - started

    # 3. score: every decision of a learning seat, with its return
    def seats(i: int, _: GameRecord) -> list[int]:
        return plan.learner_seats[i]

    # (R-Zero's repetition penalty shapes a proposer's return here; the league and the logs keep the game's own)
    scored, distinct = penalize_repeats(records, cfg.rollout.repetition_penalty)
    samples = turn_samples(scored, seats, cfg.rollout.gamma, cfg.rollout.invalid_credit, cfg.rollout.turn_credit)
    # 4. credit (baselines learn from every learning seat's return, including seats that never moved)
    adv = cfg.advantage
    options = {
        "rae": {"baseline": adv.baseline},
        "grpo": {"normalize_std": adv.grpo_normalize_std},
        "mars": {"format_bonus": adv.mars_format_bonus},
    }
    value_features = None
    if t.learner.value is not None:  # a learned V(s): read before this batch fits it
        value_features = t.learner.value.features(samples)
        for s, v in zip(samples, t.learner.value.predict(value_features), strict=True):
            s.value = v
    returns = role_returns(scored, seats, cfg.rollout.invalid_credit)
    estimate(adv.estimator, samples, t.baselines, returns, **options.get(adv.estimator, {}))
    value_loss = t.learner.value.fit(value_features, [s.reward for s in samples]) if value_features is not None else None
    trained = drop_zero_advantage(samples) if adv.drop_zero else samples
    # 5. learn (an HFEngine shares the module; a vLLM engine sleeps meanwhile, then loads the new weights);
    #    in the trajectory view each seat's game is one sample (MARS), its kept turns segments: the same
    #    gradient as its turns one by one, with the conversation run once rather than once per turn
    learned = trajectories(samples, trained) if cfg.prompt.view == "trajectory" else trained
    learn_started = time.perf_counter()
    with while_learning(t.engine, t.model):
        metrics = t.learner.step(learned)
    learn_seconds = time.perf_counter() - learn_started
    # 6. league
    t.league.record(plan, records)
    t.step += 1
    if cfg.reference.update_every and t.step % cfg.reference.update_every == 0:
        t.learner.move_reference_to_policy()
    if cfg.opponent.kind == "pool" and t.step % cfg.opponent.snapshot_every == 0:
        t.league.add_snapshot(t.step, lambda d: save_model_dir(t.model, t.tokenizer, d))
    seconds = time.perf_counter() - started
    metrics.update(rollout_metrics(records, plan.learner_seats, samples, trained))
    metrics.update(t.league.metrics())
    metrics.update({f"train/{game}/proposals_distinct": share for game, share in distinct.items()})
    if value_loss is not None:
        metrics["value/loss"] = value_loss
    metrics.update(
        {
            "time/step_seconds": seconds,
            "time/rollout_seconds": rollout_seconds,
            "time/learn_seconds": learn_seconds,
            "speed/games_per_s": len(records) / rollout_seconds,
            "speed/tokens_per_s": generated_tokens(records) / rollout_seconds,
        }
    )
    metrics.update({f"baseline/{k}": v for k, v in t.baselines.roles().items()})
    return metrics, plan, records, samples


def rollout_metrics(
    records: list[GameRecord], learner_seats: list[list[int]], samples: list[TurnSample], trained: list[TurnSample]
) -> dict[str, float]:
    """Per game: mean return per learning seat, invalid-move rate, truncation rate, game length."""
    out: dict[str, float] = {}
    by_game: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_game.setdefault(r.game, []).append(i)
    for game, idx in by_game.items():
        for seat in sorted({s for i in idx for s in learner_seats[i]}):
            returns = [records[i].returns[seat] for i in idx if seat in learner_seats[i]]
            out[f"train/{game}/return/seat{seat}"] = float(np.mean(returns))
        turns = [s for s in samples if s.game == game]
        out[f"train/{game}/invalid"] = sum(s.info["invalid"] is not None for s in turns) / max(1, len(turns))
        out[f"train/{game}/truncated"] = sum(records[i].truncated for i in idx) / len(idx)
        out[f"train/{game}/moves"] = float(np.mean([records[i].moves for i in idx]))
        out[f"train/{game}/draws"] = sum(len(set(records[i].returns)) == 1 for i in idx) / len(idx)
        for key in sorted({k for i in idx for k in records[i].stats}):  # the game's own figures (ReportsStats)
            out[f"train/{game}/{key}"] = float(np.mean([records[i].stats[key] for i in idx if key in records[i].stats]))
    out["train/turns"] = float(len(samples))
    out["train/response_tokens"] = float(np.mean([len(s.response_ids) for s in samples])) if samples else 0.0
    out["train/advantage_abs"] = float(np.mean([abs(s.advantage) for s in trained])) if trained else 0.0
    out["train/dropped_zero_advantage"] = float(len(samples) - len(trained))
    return out


# ----------------------------------------------------------------------------- evaluation, replays, checkpoints
def evaluate(t: Trainer, games: int | None = None, progress: bool = False) -> dict[str, float]:
    """Arena vs fixed players (both seats) and exact exploitability, for every game of the run."""
    cfg = t.config
    t.engine.rng.manual_seed(step_seed(cfg.seed, t.step, "eval"))
    sampling = eval_sampling(cfg)  # eval.temperature and eval.top_p (SPIRAL evaluates at 0.6 / 0.95)
    metrics: dict[str, float] = {}
    for section, (spec, game, _) in zip(cfg.games, t.games, strict=True):
        player = LMPlayer(t.engine, game, t.policy.prompt, sampling, name="policy")
        opponents = section.eval_opponents or default_opponents(spec)
        result = evaluate_game(game, spec, player, opponents, games or cfg.eval.games, cfg.eval.exploitability, progress=progress)
        metrics.update(result.metrics())
        if t.learner.average is not None and cfg.eval.exploitability:  # the one model that averaging ships
            engine = HFEngine(t.learner.average, t.tokenizer, cfg.model.device, cfg.model.precision)
            averaged = LMPlayer(engine, game, t.policy.prompt, sampling, name="average")
            exact = evaluate_game(game, spec, averaged, [], 0, with_exploitability=True).exploitability
            if exact is not None:
                metrics[f"eval/{spec}/average_exploitability"] = exact
    t.last_eval = metrics
    if cfg.checkpoint.keep_best is not None:
        keep_best(t, metrics)
    return metrics


def offer_measured_exploitability(t: Trainer) -> None:
    """An exploiter just recomputed measured the policy's exact exploitability, free: offer it to ``RUN/best``.

    Against ``opponent.kind=exploiter`` the league reads the policy at every information state each
    ``exploiter_every`` steps, the same exact number an evaluation computes, so ``keep_best=exploitability``
    judges the policy at that grain rather than only at evaluations (and ``reference.magnet=best`` moves with
    it). It runs before this step's update, while the weights are the ones measured.
    """
    measured = t.league.take_measured()
    if measured and t.config.checkpoint.keep_best == "exploitability":
        keep_best(t, {f"eval/{name}/exploitability": value for name, value in measured.items()})


def keep_best(t: Trainer, metrics: dict[str, float]) -> None:
    """``RUN/best`` <- the policy (or the weight average, for ``average_*``) if this evaluation is the best yet."""
    if t.best is None:
        t.best = BestKeeper(t.run, t.config.checkpoint.keep_best, t.config.checkpoint.best_is)
    keeper = t.best

    def write(directory: Path) -> None:
        ckpt = CheckpointDir(directory)
        if keeper.keeps_average:
            save_model_dir(t.learner.average, t.tokenizer, ckpt.model_dir)
        else:
            write_policy(t, ckpt)

    if keeper.offer(t.step, metrics, write) and t.config.reference.magnet == "best":
        t.learner.move_reference_to_best(keeper.keeps_average)


def write_policy(t: Trainer, ckpt: CheckpointDir) -> None:
    """The policy's weights into a checkpoint (or ``RUN/best``): a model directory, or a LoRA run's adapter."""
    if is_lora(t.model):  # the adapter only; the state names the base model
        save_adapter(t.model, t.tokenizer, ckpt.adapter_dir)
    else:
        save_model_dir(t.model, t.tokenizer, ckpt.model_dir)


def save(t: Trainer) -> Path:
    def write(directory: Path) -> None:
        ckpt = CheckpointDir(directory)
        write_policy(t, ckpt)
        if t.learner.average is not None:
            save_model_dir(t.learner.average, t.tokenizer, ckpt.average_dir)
        save_learning_state(ckpt, t.learner, t.engine)
        state = {
            "step": t.step,
            "elapsed": t.elapsed,
            "cpu_elapsed": t.cpu_elapsed,
            "baselines": t.baselines.state_dict(),
            "league": t.league.state_dict(),
            "last_eval": t.last_eval,
        }
        if is_lora(t.model):
            state["base_model"] = base_model_pointer(t.config.model.path)
        ckpt.state_path.write_text(json.dumps(state, indent=2))

    pool_steps = {e.step for e in t.league.pool}
    return save_checkpoint(t.run, t.step, write, keep_last=t.config.checkpoint.keep_last, protect=pool_steps)


def restore(t: Trainer, path: Path) -> None:
    ckpt = CheckpointDir(path)
    if ckpt.adapter_dir.is_dir():
        load_adapter(t.model, ckpt.adapter_dir)
    else:
        t.model.load_state_dict(read_weights(ckpt.model_dir), strict=False)
    if t.learner.average is not None:
        if not ckpt.average_dir.is_dir():
            raise UserError(f"{path} has no average/ to resume learner.average_weights from (was it switched on later?)")
        t.learner.average.load_state_dict(read_weights(ckpt.average_dir), strict=False)
    t.engine.after_learning(t.model)  # an engine with its own copy of the weights loads the restored ones
    restore_learning_state(ckpt, t.learner, t.engine)
    state = json.loads(ckpt.state_path.read_text())
    t.step, t.elapsed, t.last_eval = state["step"], state["elapsed"], state.get("last_eval", {})
    t.cpu_elapsed = state.get("cpu_elapsed", 0.0)
    t.baselines.load_state_dict(state["baselines"])
    t.league.load_state_dict(state["league"])


def save_learning_state(ckpt: CheckpointDir, learner: Any, engine: Any) -> None:
    """What a checkpoint needs besides the weights to resume exactly: the learner's state (optimizer,
    schedule, ...) and the global and engine RNGs. Game and preference runs alike."""
    torch.save(learner.state_dict(), ckpt.learner_path)
    torch.save({"global": save_rng_state(), "engine": engine.rng.get_state()}, ckpt.rng_path)


def restore_learning_state(ckpt: CheckpointDir, learner: Any, engine: Any) -> None:
    """The inverse of :func:`save_learning_state`."""
    learner.load_state_dict(torch.load(ckpt.learner_path, weights_only=False))
    rng = torch.load(ckpt.rng_path, weights_only=False)
    load_rng_state(rng["global"])
    engine.rng.set_state(rng["engine"])


def read_weights(directory: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a Hugging Face model directory's safetensors files."""
    from safetensors.torch import load_file

    return {k: v for f in sorted(directory.glob("*.safetensors")) for k, v in load_file(f).items()}


def save_replays(t: Trainer, plan: StepPlan, records: list[GameRecord], samples: list[TurnSample]) -> None:
    """The first ``replay_games`` games of every ``replay_every``-th step, with rewards and advantages."""
    n = t.config.logging.replay_games
    if not n or (t.step % t.config.logging.replay_every != 0 and t.step != 1):
        return
    games = []
    for i, record in enumerate(records[:n]):
        table = plan.tables[i]
        names = [
            "policy" if s in plan.learner_seats[i] else getattr(table.players[s], "name", "opponent")
            for s in range(len(table.players))
        ]
        games.append(replay_record(record, names, samples, t.tokenizer, t.step, "train", game_id=i))
    write_replays(t.run.replay_path("train"), games)


# ----------------------------------------------------------------------------- the run
def shutdown(t: Trainer, parallel: DataParallel | None) -> None:
    """Stop the rollout workers, then release the other learner ranks; safe to call twice.

    Called from a ``finally``: while an exception is propagating, the other
    ranks are not waited for (see ``DataParallel.close``).
    """
    t.rollout.close()
    if parallel is not None:
        parallel.close(failed=sys.exc_info()[0] is not None)


def summary_line(step: int, total: int, m: dict[str, float]) -> str:
    """One line per step: speed, returns per role, invalid rate, loss, KL, latest eval."""
    parts = [f"step {step:>4}/{total}"]
    if "speed/games_per_s" in m:
        parts += [f"{m['speed/games_per_s']:5.1f} games/s", f"{m['speed/tokens_per_s']:6.0f} tok/s"]
    for key, value in sorted(m.items()):
        if "/return/" in key:
            game, seat = key.split("/")[1], key.rsplit("seat", 1)[1]
            parts.append(f"{game}[{seat}] {value:+.2f}")
        elif key.startswith("train/") and key.endswith("/invalid"):
            parts.append(f"invalid {value:.0%}")
    if "learner/loss" in m:
        parts.append(f"loss {m['learner/loss']:+.4f}")
    if "learner/kl" in m:
        parts.append(f"kl {m['learner/kl']:.4f}")
    for key, value in m.items():
        if key.startswith("eval/") and (key.endswith("/non_loss") or key.endswith("exploitability")):
            parts.append(f"{key[5:]} {value:.2f}")
    return " | ".join(parts)


def train(
    config: TrainConfig, run_dir: Path, resume: bool = False, console: Console | None = None, max_steps: int | None = None
) -> Trainer:
    """Run (or resume) training in ``run_dir``; returns the trainer after the last step."""
    parallel = data_parallel(config.model.device)
    if parallel is not None and not parallel.is_main:  # a learning-only rank: rank 0 runs the loop and leads
        t = build(parallel.follower_config(config), RunDir(run_dir))
        follow(t.learner)  # on ranks > 0 lead() returned the learner itself
        shutdown(t, parallel)
        return t
    console = console or Console(highlight=False)
    played: list = []  # the last step's plan, records and samples, for its replays

    def step(t: Trainer) -> dict[str, float]:
        nonlocal played
        metrics, *played = train_step(t)
        return metrics

    pieces = Steps(
        build,
        restore,
        step,
        evaluate,
        save,
        summary_line,
        after_evaluation=lambda t: save_replays(t, *played),
        close=lambda t: shutdown(t, parallel),  # Ray workers, other learner ranks
    )
    t, run = run_steps(pieces, config, run_dir, resume, console, max_steps)
    first = next((m for m in run.read_metrics() if m["step"] == 0), None)
    if first is not None and t.last_eval:
        console.print(before_after_table(first, t.last_eval))
    if t.best is not None and t.best.step is not None:
        console.print(f"best by {t.best.metric}: {t.best.value:.4g} at step {t.best.step}, kept in {run.best_dir}")
    refresh_report(run.path, console)  # last, so the report's path is the last line a user sees
    return t
