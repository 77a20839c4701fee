"""Who the learning policy plays each step: itself, a fixed opponent, or its own past.

``League.tables(step)`` deals the step's games: the configured games mixed by
weight, each table's seeds derived from (run seed, step, index) so a resumed
run deals exactly the same games. In self-play the one policy object takes
every seat (one batched generate call serves them all); against a fixed
player or a past checkpoint the learner's seat alternates between games and
between steps, so both roles are trained equally even with one game a step.

The exploiter (``kind: exploiter``) is an exact best response to the policy
itself, recomputed every ``exploiter_every`` steps from the policy's move
probabilities at every information state (Kuhn, Leduc): training against it is
exploitability descent (``sparring.players.exploiter``). Its table rides in
the league's state, so a resumed run faces the same exploiter. Each policy so
read is also folded into a running reach-weighted average, uniform and
linear in the step (``sparring.evaluate.average_policy``): the average
iterate, which fictitious play and CFR converge with while the current policy
may cycle. Its exploitability is logged beside the policy's, and
``sparring fit-average`` fits a single model to it.

The pool keeps snapshots of the policy (model directories under
``run/pool/step-K``). Opponents are drawn uniformly, or by prioritized
fictitious self-play: weight (1 - p)^2 where p is the learner's recent score
against that snapshot, so hard opponents are played more.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparring.config import OpponentSection
from sparring.games import Game
from sparring.players import Player, make_player
from sparring.rollout import PLACEMENT_SCORES, GameRecord, Table, placement
from sparring.seeding import step_rng


@dataclass
class PoolEntry:
    step: int
    path: str
    score: float = 0.5
    """EMA of the learner's score against this snapshot (win 1, draw 0.5, loss 0)."""
    games: int = 0


@dataclass
class StepPlan:
    tables: list[Table]
    learner_seats: list[list[int]]
    """Per table, the seats the learning policy plays."""
    opponents: list[str | None] = field(default_factory=list)
    """Per table, the pool entry path faced (None for self-play or a fixed player)."""


def split_by_weight(total: int, weights: list[float]) -> list[int]:
    """``total`` games split in proportion to ``weights`` (largest remainders), every game at least one.

    The counts add up to ``total`` exactly; only when ``total`` is smaller than the number of games
    does each game still get its one (a game in the config is never left out of a step).
    """
    raw = [total * w / sum(weights) for w in weights]
    counts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    for i in range(len(counts)):  # a game rounded down to none takes one from the game with the most
        if counts[i] == 0:
            richest = max(range(len(counts)), key=lambda k: counts[k])
            if counts[richest] > 1:
                counts[richest] -= 1
            counts[i] = 1
    return counts


def pfsp_weight(score: float) -> float:
    """Prioritized fictitious self-play: (1 - p)^2 for a snapshot the learner scores p against, so the
    opponents it still loses to are drawn most; the 1e-3 floor keeps beaten ones in play now and then."""
    return (1.0 - score) ** 2 + 1e-3


class League:
    def __init__(
        self,
        config: OpponentSection,
        games: list[tuple[str, Game, float]],
        policy: Player,
        seed: int,
        pool_dir: Path | None = None,
        load_opponent: Any = None,
    ):
        self.config = config
        self.games = games
        self.policy = policy
        self.seed = seed
        self.pool_dir = pool_dir
        self.pool: list[PoolEntry] = []
        self._load_opponent = load_opponent
        self._loaded: dict[str, Player] = {}
        self.exploiters: dict[str, dict[str, Any]] = {}
        """Per game spec: the step it was computed at, the policy's exploitability then, its action table."""
        self.averages: dict[str, dict[str, Any]] = {}
        """Per game spec: the running averages (``uniform``, ``linear``) of the policies the exploiter read."""
        self.measured: dict[str, float] = {}
        """The policy's exact exploitability per game spec, measured by exploiters recomputed since the trainer
        last took them (``take_measured``): the weights measured are the ones that have not been updated yet."""

    def rng(self, step: int, salt: str = "") -> random.Random:
        return step_rng(self.seed, step, salt)

    def plan(self, step: int, games_per_step: int) -> StepPlan:
        rng = self.rng(step)
        counts = split_by_weight(games_per_step, [w for _, _, w in self.games])
        plan = StepPlan([], [], [])
        for (name, game, _), count in zip(self.games, counts, strict=True):
            fixed = None
            if self.config.kind == "fixed":
                fixed = make_player(self.config.fixed, game, seed=rng.randrange(1 << 30))
            elif self.config.kind == "exploiter":
                fixed = self.exploiter(name, game, step)
            n = game.num_players
            seats = list(self.config.learner_seats or range(n))
            for i in range(count):
                table_seed = rng.randrange(1 << 31)
                opponent, entry = self._opponent(rng, fixed)
                if opponent is None:
                    plan.tables.append(Table(game, table_seed, [self.policy] * n))
                    plan.learner_seats.append(list(seats))
                else:
                    seat = seats[(i + step) % len(seats)]  # alternate within a step and across steps: odd counts stay fair
                    players = [opponent] * n
                    players[seat] = self.policy
                    plan.tables.append(Table(game, table_seed, players, [0 if s == seat else 1 for s in range(n)]))
                    plan.learner_seats.append([seat])
                plan.opponents.append(entry.path if entry else None)
        return plan

    def _opponent(self, rng: random.Random, fixed: Player | None) -> tuple[Player | None, PoolEntry | None]:
        if fixed is not None:  # a fixed player or the exploiter; no draw at share 0, so such runs deal what they always dealt
            share = self.config.fixed_self_play_share
            return (None, None) if share and rng.random() < share else (fixed, None)
        if self.config.kind == "self" or not self.pool or rng.random() < self.config.self_play_share:
            return None, None
        if self.config.sampling == "pfsp":
            weights = [pfsp_weight(e.score) for e in self.pool]
            entry = rng.choices(self.pool, weights=weights)[0]
        else:
            entry = rng.choice(self.pool)
        if entry.path not in self._loaded:
            self._loaded[entry.path] = self._load_opponent(entry.path)
        return self._loaded[entry.path], entry

    def exploiter(self, name: str, game: Game, step: int) -> Player:
        """The best response to the policy for ``game``, recomputed once ``exploiter_every`` steps have passed."""
        from sparring.evaluate.exploitability import best_responses, policy_table, require_exact_game
        from sparring.players.exploiter import BestResponsePlayer

        held = self.exploiters.get(name)
        if held is None or step - held["step"] >= self.config.exploiter_every:
            view = self.policy.for_game(game) if hasattr(self.policy, "for_game") else self.policy
            exact = require_exact_game(game)
            table = policy_table(exact, view)
            measured, actions = best_responses(exact, table)
            held = {"step": step, "exploitability": measured.exploitability, "actions": actions}
            held.update(self._fold_average(name, exact, table, step))
            self.exploiters[name] = held
            self.measured[name] = measured.exploitability
        return BestResponsePlayer(held["actions"])

    def _fold_average(self, name: str, game: Any, table: Any, step: int) -> dict[str, float]:
        """Fold ``table`` into the game's running averages; their exploitabilities, to log."""
        from sparring.evaluate.average_policy import RunningAverage
        from sparring.evaluate.exploitability import exploitability_of_table

        averages = self.averages.setdefault(name, {"uniform": RunningAverage(game), "linear": RunningAverage(game)})
        averages["uniform"].add(table)
        averages["linear"].add(table, weight=step + 1.0)
        return {
            f"{kind}_average_exploitability": exploitability_of_table(game, average.table()).exploitability
            for kind, average in averages.items()
        }

    def average_table(self, name: str, kind: str = "linear") -> Any:
        """The running average of the policies read so far for game spec ``name`` (``None`` before any)."""
        averages = self.averages.get(name)
        return averages[kind].table() if averages else None

    def take_measured(self) -> dict[str, float]:
        """The exploitabilities measured since the last call (then forgotten): for ``RUN/best``, which must
        judge the policy before the update that follows."""
        measured, self.measured = self.measured, {}
        return measured

    def metrics(self) -> dict[str, float]:
        """The policy's exact exploitability when each exploiter was last computed: a free learning curve."""
        keys = ("exploitability", "uniform_average_exploitability", "linear_average_exploitability")
        return {f"league/{name}/{key}": held[key] for name, held in self.exploiters.items() for key in keys if key in held}

    def record(self, plan: StepPlan, records: list[GameRecord], rate: float = 0.9) -> None:
        """Update each pool entry's score from this step's games against it."""
        by_path = {e.path: e for e in self.pool}
        for path, seats, record in zip(plan.opponents, plan.learner_seats, records, strict=True):
            if path is None or path not in by_path:
                continue
            score = PLACEMENT_SCORES[placement(record.returns, seats[0])]
            entry = by_path[path]
            entry.score = rate * entry.score + (1 - rate) * score
            entry.games += 1

    def add_snapshot(self, step: int, save: Any) -> PoolEntry:
        """Save the policy as a pool entry (``save(path)`` writes a model directory); drop the oldest past ``pool_size``."""
        assert self.pool_dir is not None
        path = self.pool_dir / f"step-{step}"
        tmp = self.pool_dir / f".tmp-step-{step}"
        shutil.rmtree(tmp, ignore_errors=True)
        save(tmp)
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
        entry = PoolEntry(step, str(path))
        self.pool.append(entry)
        while len(self.pool) > self.config.pool_size:
            old = self.pool.pop(0)
            self._loaded.pop(old.path, None)
            shutil.rmtree(old.path, ignore_errors=True)
        return entry

    def state_dict(self) -> dict[str, Any]:
        exploiters = {name: dict(held) for name, held in self.exploiters.items()}
        averages = {name: {kind: a.state_dict() for kind, a in kinds.items()} for name, kinds in self.averages.items()}
        return {"pool": [vars(e).copy() for e in self.pool], "exploiters": exploiters, "averages": averages}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from sparring.evaluate.average_policy import RunningAverage
        from sparring.evaluate.exploitability import require_exact_game

        self.pool = [PoolEntry(**e) for e in state.get("pool", [])]
        self._loaded.clear()
        self.exploiters = {name: dict(held) for name, held in state.get("exploiters", {}).items()}
        self.averages = {}
        for name, kinds in state.get("averages", {}).items():
            game = require_exact_game(next(game for spec, game, _ in self.games if spec == name))
            self.averages[name] = {kind: RunningAverage.from_state(game, saved) for kind, saved in kinds.items()}
