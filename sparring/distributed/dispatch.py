"""Where a step's games are played: in this process, or on Ray rollout workers.

The loop builds one rollout object (:func:`make_rollout`) and calls its
``play(step, plan)`` for step 2 ("play"); it returns the records of the plan's
tables in the plan's order either way, so scoring, advantages and the learner
do not know where the games ran. The loop deals every plan itself (the league's
``plan``); a rollout only plays what it is given.

* ``distributed.backend: none`` -- :class:`LocalRollout`:
  :func:`sparring.rollout.play_by_rules` on the loop's own engine, seeded from (seed, step).
* ``ray`` -- :class:`RayRollout`: the tables go to the workers in shards
  (:mod:`.shards`); before that the workers get the learner's current weights
  if they have older ones. The workers start at the first ``play``, so a
  learning-only rank (``distributed/ddp.py``), which never plays, starts none.
* ``ray`` with ``distributed.overlap`` -- the loop also deals step k+1 and
  hands it over as ``ahead``: after sending step k's games the rollout sends
  step k+1's, so they are played while the learner does step k: with the
  weights from before that update, one version behind. The learner's PPO ratio
  is taken against the log-probs recorded at generation, which is exactly the
  importance correction this needs. Step k+1 is dealt before step k's league
  update, so a new pool snapshot or PFSP score reaches the deal one step later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sparring.config import TrainConfig
from sparring.distributed.shards import describe, shards
from sparring.engines.base import Engine
from sparring.league import StepPlan
from sparring.rollout import GameRecord, play_by_rules
from sparring.seeding import step_seed

if TYPE_CHECKING:
    import torch

    from sparring.distributed.ray_workers import RolloutPool
    from sparring.players.lm import LMPlayer


class Rollout(Protocol):
    """Plays a step's tables and returns their records, in table order."""

    plays_ahead: bool
    """Whether :meth:`play` takes the next step's plan as ``ahead`` and plays it while the learner works."""

    def play(self, step: int, plan: StepPlan, ahead: StepPlan | None = None) -> list[GameRecord]: ...

    def close(self) -> None:
        """Stop whatever plays (workers); safe to call twice."""
        ...


class LocalRollout:
    """The games played in this process, by the loop's own engine."""

    plays_ahead = False

    def __init__(self, engine: Engine, config: TrainConfig):
        self.engine = engine
        self.config = config

    def play(self, step: int, plan: StepPlan, ahead: StepPlan | None = None) -> list[GameRecord]:
        cfg = self.config
        self.engine.rng.manual_seed(step_seed(cfg.seed, step, "sample"))
        return play_by_rules(plan.tables, cfg.rollout)

    def close(self) -> None:
        pass


class RayRollout:
    """The games played by Ray workers, in shards; the learner's weights go out before a step that needs them."""

    plays_ahead = True

    def __init__(self, config: TrainConfig, model: torch.nn.Module, policy: LMPlayer, games: list[tuple[str, Any, float]]):
        self.config = config
        self.model = model
        self.policy = policy
        self.game_specs = {id(game): name for name, game, _ in games}
        self.pool: RolloutPool | None = None
        self.pending: tuple[int, StepPlan, list[Any]] | None = None
        """A step sent ahead: (step, plan, record refs)."""

    def workers(self) -> RolloutPool:
        """The rollout workers, started at the first call."""
        if self.pool is None:
            from sparring.distributed.ray_workers import RolloutPool

            self.pool = RolloutPool(self.config, self.policy.prompt, self.policy.sampling)
        return self.pool

    def play(self, step: int, plan: StepPlan, ahead: StepPlan | None = None) -> list[GameRecord]:
        pool = self.workers()
        if pool.version != step:
            pool.push_weights(self.model, step)
        if self.pending is not None and self.pending[0] == step and self.pending[1] is plan:
            refs = self.pending[2]  # sent ahead during the last step
        else:
            refs = pool.submit(self._shards(plan, step))
        self.pending = None
        if ahead is not None:
            self.pending = (step + 1, ahead, pool.submit(self._shards(ahead, step + 1)))
        return pool.collect(refs)

    def _shards(self, plan: StepPlan, step: int) -> list:
        specs = describe(plan, self.policy, self.game_specs, self.config.opponent.fixed)
        return shards(specs, self.config.distributed.rollout_workers, self.config.seed, step)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        self.pending = None


def make_rollout(
    config: TrainConfig, engine: Engine, model: torch.nn.Module, policy: LMPlayer, games: list[tuple[str, Any, float]]
) -> Rollout:
    """The run's rollout, by ``distributed.backend``."""
    if config.distributed.backend == "ray":
        return RayRollout(config, model, policy, games)
    return LocalRollout(engine, config)


def generated_tokens(records: list[GameRecord]) -> int:
    """Tokens the language models generated in these games (read from the records, wherever they were played)."""
    return sum(len(turn.info.get("response_ids", ())) for record in records for turn in record.turns)
