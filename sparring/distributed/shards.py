"""A step's tables, split into shards that another process can play.

A :class:`~sparring.rollout.Table` holds live objects (the policy with its
engine, a CFR bot, a pool model), which do not travel between processes. A
:class:`TableSpec` says the same thing in plain data: the game spec, the
table seed, and per seat who sits there -- the policy, a pool snapshot (a
model directory) or the fixed opponent spec. A worker rebuilds the table
from it with its own engine.

The league deals the step exactly as in one process (``League.plan``); the
tables are then cut into contiguous shards, one per worker, so the records
that come back concatenate into the plan's order. Contiguous (not
round-robin) keeps one game's tables together, so a worker's batch shares
the longest rules prefix.

Seeds: a shard holding every table samples from ``step_seed(seed, step,
"sample")``, the very seed of the single-process loop, so one worker plays
exactly the games one process plays. A shard of several workers samples
from a seed derived from (seed, step, first table of the shard); the games
then differ from the one-process run -- a batched sampler draws one random
stream for its whole batch, so a subset of the batch gets other draws -- but
they are a fixed function of (seed, step, worker count): the same seed gives
the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sparring.league import StepPlan
from sparring.players.base import Player
from sparring.seeding import step_seed


@dataclass(frozen=True)
class Seat:
    """Who plays one seat: the learning policy, a pool snapshot, or the configured fixed opponent."""

    kind: Literal["policy", "pool", "fixed"]
    source: str = ""
    """The pool snapshot's model directory, or the fixed player spec."""


@dataclass
class TableSpec:
    game: str
    """Game spec as in the config (``kuhn_poker:hands=3``)."""
    seed: int
    seats: list[Seat]
    seating: list[int] | None = None


@dataclass
class Shard:
    """The part of one step's tables that one worker plays."""

    step: int
    first: int
    """Index of the shard's first table in the step's plan."""
    tables: list[TableSpec]
    sample_seed: int
    """Seed of the worker's policy engine for this step."""
    opponent_seeds: dict[str, int] = field(default_factory=dict)
    """Per :func:`opponent_key` (game and source): the seed of that opponent in this shard."""


def opponent_key(game: str, seat: Seat) -> str:
    """One opponent object per (game, source) in a shard, as ``League.plan`` makes one per game per step."""
    return f"{game}|{seat.kind}:{seat.source}"


def describe(plan: StepPlan, policy: Player, game_specs: dict[int, str], fixed: str | None) -> list[TableSpec]:
    """The plan's tables as plain data; ``game_specs`` maps ``id(game)`` to its spec."""
    specs = []
    for i, table in enumerate(plan.tables):
        pool = plan.opponents[i] if i < len(plan.opponents) else None
        seats = []
        for player in table.players:
            if player is policy:
                seats.append(Seat("policy"))
            elif pool is not None:
                seats.append(Seat("pool", pool))
            elif fixed is not None:
                seats.append(Seat("fixed", fixed))
            else:
                raise ValueError(f"table {i}: seat player {getattr(player, 'name', player)!r} is neither policy nor opponent")
        specs.append(TableSpec(game_specs[id(table.game)], table.seed, seats, table.seating))
    return specs


def split(count: int, parts: int) -> list[range]:
    """``range(count)`` cut into ``parts`` contiguous pieces whose sizes differ by at most one (empty ones dropped)."""
    size, extra = divmod(count, parts)
    out, lo = [], 0
    for k in range(parts):
        hi = lo + size + (k < extra)
        if hi > lo:
            out.append(range(lo, hi))
        lo = hi
    return out


def shards(tables: list[TableSpec], workers: int, seed: int, step: int) -> list[Shard]:
    """One shard per worker (fewer when there are fewer tables), seeded from (seed, step, first table)."""
    out = []
    for part in split(len(tables), workers):
        whole = len(part) == len(tables)
        salt = "sample" if whole else f"sample/tables-from-{part.start}"
        mine = [tables[i] for i in part]
        keys = sorted({opponent_key(t.game, s) for t in mine for s in t.seats if s.kind != "policy"})
        # Below 2**30 like League.plan's bot seeds (numpy's RandomState takes 32 bits).
        opponents = {key: step_seed(seed, step, f"opponent/{key}/{part.start}") % (1 << 30) for key in keys}
        out.append(Shard(step, part.start, mine, step_seed(seed, step, salt), opponents))
    return out
