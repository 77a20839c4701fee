"""Where a step's games are played: in this process, or on Ray rollout workers.

:func:`rollout` is the loop's one call for step 2 ("play"); it returns the
records of the plan's tables in the plan's order either way, so scoring,
advantages and the learner do not know where the games ran.

* ``distributed.backend: none`` -- :func:`sparring.rollout.play_tables` on the
  loop's own engine, seeded from (seed, step).
* ``ray`` -- the tables go to the workers in shards (:mod:`.shards`); before
  that the workers get the learner's current weights if they have older ones.
* ``ray`` with ``distributed.overlap`` -- after collecting step k's games the
  loop already sends step k+1's, so they are played while the learner does
  step k: with the weights from before that update, one version behind. The
  learner's PPO ratio is taken against the log-probs recorded at generation,
  which is exactly the importance correction this needs. Step k+1's tables
  are dealt early, before step k's league update, so a new pool snapshot or
  PFSP score reaches the deal one step later; the loop's ``plan`` object is
  updated in place to the tables actually played, so league scores and
  replays stay consistent.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from sparring.league import StepPlan
from sparring.rollout import GameRecord, play_tables
from sparring.seeding import step_seed

if TYPE_CHECKING:
    from sparring.distributed.ray_workers import RolloutPool
    from sparring.train import Trainer


def rollout(t: Trainer, plan: StepPlan) -> list[GameRecord]:
    """Play the step's tables, here or on the workers; records in table order."""
    cfg = t.config
    if cfg.distributed.backend != "ray":
        t.engine.rng.manual_seed(step_seed(cfg.seed, t.step, "sample"))
        forfeit = (cfg.rollout.invalid_penalty, cfg.rollout.invalid_opponent_reward)
        return play_tables(plan.tables, max_turns=cfg.rollout.max_turns, forfeit=forfeit)
    pool = workers(t)
    if pool.version != t.step:
        pool.push_weights(t.model, t.step)
    if pool.pending is not None and pool.pending[0] == t.step:
        _, dealt, refs = pool.pending
        plan.tables, plan.learner_seats, plan.opponents = dealt.tables, dealt.learner_seats, dealt.opponents
    else:
        refs = pool.submit(_shards(t, plan, t.step))
    pool.pending = None
    if cfg.distributed.overlap and t.step + 1 < cfg.max_steps:
        ahead = t.league.plan(t.step + 1, cfg.rollout.games_per_step)
        pool.pending = (t.step + 1, ahead, pool.submit(_shards(t, ahead, t.step + 1)))
    return pool.collect(refs)


def workers(t: Trainer) -> RolloutPool:
    """The run's rollout workers, started at the first rollout (and only on the process that runs the loop)."""
    if t.workers is None:
        from sparring.distributed.ray_workers import RolloutPool

        t.workers = RolloutPool(t.config, t.policy.prompt, t.policy.sampling)
    return t.workers


def _shards(t: Trainer, plan: StepPlan, step: int) -> list:
    from sparring.distributed.shards import describe, shards

    specs = describe(plan, t.policy, {id(game): name for name, game, _ in t.games}, t.config.opponent.fixed)
    return shards(specs, t.config.distributed.rollout_workers, t.config.seed, step)


def generated_tokens(records: list[GameRecord]) -> int:
    """Tokens the language models generated in these games (read from the records, wherever they were played)."""
    return sum(len(turn.info.get("response_ids", ())) for record in records for turn in record.turns)


def shutdown(t: Trainer) -> None:
    """Stop the rollout workers and release the other learner ranks; safe to call twice.

    Called from a ``finally``: while an exception is propagating, the other
    ranks are not waited for (see ``DataParallel.close``).
    """
    if t.workers is not None:
        t.workers.close()
        t.workers = None
    parallel = getattr(t.learner, "parallel", None)
    if parallel is not None:
        parallel.close(failed=sys.exc_info()[0] is not None)
