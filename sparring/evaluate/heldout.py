"""Held-out sets for the role games: the skill a game trains, measured on problems the game never showed.

Self-play on ``propose_solve`` trains a solver on tasks its own proposer wrote,
and ``sneaky_critic`` trains a critic on errors its own sneaky player planted.
Whether either got better at the *skill* is measured outside the game:

- ``arith_heldout.jsonl``: integer arithmetic asked exactly as the solver is
  asked in ``propose_solve:family=arith`` (its rules as the system message,
  its observation as the question), in three levels: one-digit sums, one
  operation on numbers up to 20, and two operations of the forms the prior's
  example tasks take.
- ``critic_heldout.jsonl``: worked solutions from ``sneaky_critic`` seeds far
  from the ones training draws, with one error planted by the game's own
  example rewrites (a wrong result, or a left number that breaks the chain), or
  untouched (the game's 30%), asked as the critic is asked.

Both are plain ``sparring eval --benchmark`` files (each line's ``system`` is
``game:<spec>``), so any model or checkpoint is scored the same way. The files
are bundled; ``python -m sparring.evaluate.heldout`` rewrites them, and a test
checks that this reproduces them byte for byte and that every answer is right.
"""

from __future__ import annotations

import ast
import json
import random
from pathlib import Path
from typing import Any

from sparring.engines.base import Engine, SamplingParams
from sparring.evaluate.benchmark import load_problems, score_benchmark
from sparring.games.propose_solve import ProposeSolve, arith_problem, evaluate
from sparring.games.sneaky_critic import SneakyCritic, SneakyCriticState

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "benchmarks"
ARITH = ASSETS / "arith_heldout.jsonl"
CRITIC = ASSETS / "critic_heldout.jsonl"
SEED_BASE = 10**9
"""Held-out game seeds start here; the training loop draws its seeds below 2**30 (about 1.07e9) only from
``random.Random``, so a clash is possible in principle and vanishingly rare (and harmless: one shared problem)."""


def arith_rows(per_level: int = 60, seed: int = 0) -> list[dict[str, Any]]:
    """``per_level`` problems at each of the three levels, asked as ``propose_solve``'s solver."""
    rng = random.Random(seed)
    solver = ProposeSolve("arith")
    rows = []
    for level in (1, 2, 3):
        for _ in range(per_level):
            problem = arith_problem(rng, level)
            truth = evaluate(ast.parse(problem, mode="eval"))
            state = solver.new_state(0)
            state.apply(f"{problem} = {truth}")
            rows.append({"question": state.observation(1), "answer": str(truth), "system": "game:propose_solve", "level": level})
    return rows


def critic_position(game: SneakyCritic, seed: int, k: int) -> tuple[SneakyCriticState, str]:
    """The critic's turn of game ``seed`` after the ``k``-th (cyclically) of its wrong example rewrites, and the
    kind of error: ``chain`` (a left number changed), ``result`` (a result changed) or ``clean`` (untouched)."""
    state = game.new_state(seed)
    if state.clean:
        return state, "clean"
    wrong = [text for text, is_wrong in state.examples if is_wrong]
    state.apply(wrong[k % len(wrong)])
    k_step = state.altered - 1
    return state, "chain" if state.shown()[k_step].left != state.solution[k_step].left else "result"


def critic_rows(count: int = 200) -> list[dict[str, Any]]:
    """``count`` critic positions from held-out seeds, each with its truth (a step number or ``none``)."""
    game = SneakyCritic()
    rows = []
    for k in range(count):
        state, kind = critic_position(game, SEED_BASE + k, k)
        rows.append({"question": state.observation(1), "answer": state.truth(), "system": "game:sneaky_critic", "kind": kind})
    return rows


def score_heldout(engine: Engine, path: Path, split: str) -> dict[str, Any]:
    """Greedy accuracy of ``engine`` on a held-out file, with its 95% Wilson interval, per ``split`` group (each
    line's ``level`` or ``kind``), and the share of answers not read at all: what the learning benchmarks table."""
    problems = load_problems(path)
    groups = [json.loads(line)[split] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = score_benchmark(engine, problems, SamplingParams(temperature=0.0, max_new_tokens=32, seed=0))
    summary = result.summary()
    out = {"accuracy": summary["accuracy"], "interval": summary["interval"]}
    for group in sorted(set(groups), key=str):
        hits = [r.correct for r, g in zip(result.results, groups, strict=True) if g == group]
        out[f"{split} {group}"] = sum(hits) / len(hits)
    out["unread"] = sum(r.predicted is None for r in result.results) / len(result.results)
    return out


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    write(ARITH, arith_rows())
    write(CRITIC, critic_rows())
    print(f"wrote {ARITH} and {CRITIC}")
