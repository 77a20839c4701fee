"""Rollout workers as Ray actors (``distributed.backend: ray``).

Each :class:`RolloutWorker` is one process with its own engine (HF, or vLLM
with ``engine.kind: vllm``) and its own policy player, built from the model
path; it plays the shards of each step it is sent
(:mod:`sparring.distributed.shards`) and returns the game records. The
learner stays in the driver (with accelerate, on rank 0 of the learner
group). :class:`RolloutPool` is the driver's handle on the workers:

* **weights**: after a learner step the driver puts the policy's weights in
  Ray's object store once (``ray.put``; a LoRA policy's adapters merged in)
  and every worker loads them into its engine (``engine.load_weights``).
  Actor calls run in the order they were sent, so a worker never plays a
  shard sent after a weight push with the older weights.
* **cluster**: ``distributed.address`` joins a running cluster (``auto``
  after ``ray start --head``); without it a local one is started with just
  the CPUs and GPUs the workers ask for.

Ray is imported only here, and only when the backend is ``ray`` (extra ``ray``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sparring.config import TrainConfig
from sparring.distributed.shards import Shard
from sparring.engines import load_tokenizer, make_engine
from sparring.engines.base import SamplingParams
from sparring.errors import UserError
from sparring.prompts import PromptConfig
from sparring.rollout import GameRecord


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError("distributed.backend=ray needs Ray: pip install 'sparring[ray]' (or pip install 'ray>=2.9')") from None
    return ray


class RolloutWorker:
    """One rollout process: an engine, the policy over it, the games and opponents it has met."""

    def __init__(self, config: dict[str, Any], prompt: PromptConfig, sampling: SamplingParams, threads: int, gpu: bool):
        torch.set_num_threads(threads)
        from sparring.players.lm import LMPlayer

        self.config = TrainConfig.model_validate(config)
        self.device = self.config.model.device if gpu else "cpu"
        self.prompt, self.sampling = prompt, sampling
        self.engine = make_engine(self.config, load_tokenizer(self.config.model.path), device=self.device)
        self.policy = LMPlayer(self.engine, None, prompt, sampling, name="policy")
        self.games: dict[str, Any] = {}
        self.pool: dict[str, Any] = {}
        """Pool snapshots by path: loaded once, reseeded every shard."""

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.engine.load_weights(weights)

    def weights(self) -> dict[str, torch.Tensor]:
        """The engine's current weights (tests check they are the learner's)."""
        return {k: v.detach().cpu() for k, v in self.engine.model.state_dict().items()}

    def play(self, shard: Shard) -> list[GameRecord]:
        from sparring.rollout import Table, play_by_rules

        self.engine.rng.manual_seed(shard.sample_seed)
        opponents: dict[str, Any] = {}
        tables = []
        for spec in shard.tables:
            game = self._game(spec.game)
            players = [self._player(game, spec.game, seat, shard, opponents) for seat in spec.seats]
            tables.append(Table(game, spec.seed, players, spec.seating))
        return play_by_rules(tables, self.config.rollout)

    def _game(self, spec: str) -> Any:
        from sparring.games import make_game
        from sparring.games.verifiers import bind_policy

        if spec not in self.games:
            self.games[spec] = make_game(spec)
            bind_policy(self.games[spec], self.engine, self.engine.tokenizer)  # judge=policy: this worker's copy
        return self.games[spec]

    def _player(self, game: Any, game_spec: str, seat: Any, shard: Shard, made: dict[str, Any]) -> Any:
        """The policy, or this shard's one opponent object for (game, source) -- shared by its tables, as in one process."""
        from sparring.distributed.shards import opponent_key

        if seat.kind == "policy":
            return self.policy
        key = opponent_key(game_spec, seat)
        if key not in made:
            seed = shard.opponent_seeds[key]
            if seat.kind == "pool":
                made[key] = self._pool_player(seat.source, seed)
            else:
                from sparring.players import make_player

                made[key] = make_player(seat.source, game, seed=seed)
        return made[key]

    def _pool_player(self, path: str, seed: int) -> Any:
        from pathlib import Path

        from sparring.engines.hf import HFEngine
        from sparring.players.lm import LMPlayer

        if path not in self.pool:
            engine = HFEngine(path, tokenizer=self.engine.tokenizer, device=self.device, autocast=self.config.model.precision)
            self.pool[path] = LMPlayer(engine, None, self.prompt, self.sampling, name=f"pool:{Path(path).name}")
        self.pool[path].engine.rng.manual_seed(seed)
        return self.pool[path]


class RolloutPool:
    """The driver's handle on the rollout workers: weights out, shards out, records back."""

    def __init__(self, config: TrainConfig, prompt: PromptConfig, sampling: SamplingParams):
        ray = import_ray()
        section = config.distributed
        self.owns_cluster = False
        if not ray.is_initialized():
            if section.address:
                ray.init(address=section.address)
            else:
                ray.init(
                    num_cpus=math.ceil(section.rollout_workers * section.worker_cpus),
                    num_gpus=math.ceil(section.rollout_workers * section.worker_gpus),
                    include_dashboard=False,
                )
                self.owns_cluster = True
        actor = ray.remote(RolloutWorker).options(num_cpus=section.worker_cpus, num_gpus=section.worker_gpus)
        threads = max(1, int(section.worker_cpus))
        payload = config.model_dump(mode="json")
        gpu = section.worker_gpus > 0
        self.workers = [actor.remote(payload, prompt, sampling, threads, gpu) for _ in range(section.rollout_workers)]
        self.version: int | None = None
        """The learner step whose weights the workers were last sent."""

    def push_weights(self, model: torch.nn.Module, version: int) -> None:
        """Send the policy's current weights to every worker (one copy in the object store)."""
        from sparring.lora import engine_weights

        ray = import_ray()
        ref = ray.put({k: v.detach().cpu() for k, v in engine_weights(model).items()})
        for worker in self.workers:
            worker.load_weights.remote(ref)
        self.version = version

    def submit(self, shards: list[Shard]) -> list[Any]:
        """Start playing (worker k plays shard k); returns one reference per shard."""
        return [worker.play.remote(shard) for worker, shard in zip(self.workers, shards, strict=False)]

    def collect(self, refs: list[Any]) -> list[GameRecord]:
        """The shards' records, concatenated: the plan's table order."""
        ray = import_ray()
        return [record for part in ray.get(refs) for record in part]

    def worker_weights(self, index: int = 0) -> dict[str, torch.Tensor]:
        return import_ray().get(self.workers[index].weights.remote())

    def close(self) -> None:
        ray = import_ray()
        for worker in self.workers:
            ray.kill(worker)
        self.workers = []
        if self.owns_cluster:
            ray.shutdown()
