"""eva's creator: next round's prompts are the neighbours of this round's most informative ones.

eva (arXiv 2411.01180) lets a creator evolve the prompt set toward prompts
where the solver's responses differ most in reward (a proxy of its regret:
the gap between its best and worst response). Its creator is an LLM that
rewrites prompts; the bundled model cannot, so here the creator moves within
the training set: from each high-gap arithmetic prompt to the problems one
step away (an operand changed by one, or the same problem phrased otherwise),
and from a high-gap constraint prompt to others of the same constraint. The
held-out set is never touched, because only training tasks are chosen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sparring.preference.tasks import Task


def regret(rates: Sequence[float]) -> float:
    """The gap between a prompt's best and worst sample: 0 when the solver is uniformly right or wrong."""
    return max(rates) - min(rates) if rates else 0.0


def neighbours(tasks: Sequence[Task], task: Task) -> list[int]:
    """Training tasks one step from ``task`` (see the module docstring); the task itself is excluded."""
    meta = task.meta
    out = []
    for i, other in enumerate(tasks):
        m = other.meta
        if other.id == task.id or m.get("family") != meta.get("family"):
            continue
        if meta.get("family") == "arithmetic":
            if m.get("op") == meta.get("op") and abs(m["a"] - meta["a"]) + abs(m["b"] - meta["b"]) <= 1:
                out.append(i)
        elif [c["kind"] for c in other.checks] == [c["kind"] for c in task.checks]:
            out.append(i)
    return out


def evolve(
    tasks: Sequence[Task], played: Sequence[Task], rates: Sequence[Sequence[float]], seed: int, keep: int = 64
) -> list[int]:
    """Indices of up to ``keep`` training tasks near the played prompts with the largest regret (ties: seeded order)."""
    rng = random.Random(seed)
    order = sorted(range(len(played)), key=lambda i: (-regret(rates[i]), rng.random()))
    chosen: list[int] = []
    for i in order:
        if regret(rates[i]) <= 0:
            break
        near = neighbours(tasks, played[i])
        if near:
            chosen.append(rng.choice(near))
        if len(chosen) >= keep:
            break
    return chosen
