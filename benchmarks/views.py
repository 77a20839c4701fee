"""The two views of a game for learning: what the learner processes and how long its step takes.

For each game and each ``rollout.view`` (``turn``, SPIRAL; ``trajectory``,
MARS) this builds a run of the game's recipe with the same seed and takes
``--steps`` training steps in this process, through the loop's own
``train_step``. Per step it reads from the learner's metrics: samples,
generated (learned) tokens, every token it ran through the model (prompts
included: ``learner/sequence_tokens``), and the learner step's wall time.
The views play different games after the first step (the model reads other
prompts, so it samples other answers), so compare totals, not single steps.
Prints a table and writes JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/views.py [--steps 3] [--games-per-step 32]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import machine, table, write_json

from sparring.checkpoint import RunDir
from sparring.config import load_config
from sparring.train import build, train_step

GAMES = {"tic_tac_toe": "spiral-tictactoe", "kuhn_poker": "spiral-kuhn"}
VIEWS = ("turn", "trajectory")
KEYS = ("learner/samples", "learner/tokens", "learner/sequence_tokens", "time/learn_seconds", "time/rollout_seconds")


def measure(recipe: str, view: str, steps: int, games_per_step: int, seed: int) -> dict[str, float]:
    """Sums of the learner's per-step numbers over ``steps`` steps of ``recipe`` in ``view``."""
    overrides = [
        f"rollout.view={view}",
        f"rollout.games_per_step={games_per_step}",
        f"seed={seed}",
        "eval.every=0",
        "logging.tensorboard=false",
        "model.precision=float32",
    ]
    config = load_config(recipe, overrides)
    totals = dict.fromkeys(KEYS, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        t = build(config, RunDir(Path(tmp) / "run"))
        for _ in range(steps):
            metrics, *_ = train_step(t)
            for key in KEYS:
                totals[key] += metrics.get(key, 0.0)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--games-per-step", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "views.json")
    args = parser.parse_args()
    rows = []
    for game, recipe in GAMES.items():
        for view in VIEWS:
            totals = measure(recipe, view, args.steps, args.games_per_step, args.seed)
            rows.append(
                {
                    "game": game,
                    "view": view,
                    "samples_per_step": totals["learner/samples"] / args.steps,
                    "learned_tokens_per_step": totals["learner/tokens"] / args.steps,
                    "processed_tokens_per_step": totals["learner/sequence_tokens"] / args.steps,
                    "learn_seconds_per_step": totals["time/learn_seconds"] / args.steps,
                    "rollout_seconds_per_step": totals["time/rollout_seconds"] / args.steps,
                }
            )
            print(f"{game} {view}: done", flush=True)
    columns = [
        ("game", "game", ""),
        ("view", "view", ""),
        ("samples_per_step", "samples/step", ".1f"),
        ("learned_tokens_per_step", "learned tok/step", ".0f"),
        ("processed_tokens_per_step", "processed tok/step", ".0f"),
        ("learn_seconds_per_step", "learner s/step", ".2f"),
        ("rollout_seconds_per_step", "rollout s/step", ".2f"),
    ]
    print(table(rows, columns))
    settings = {
        "steps": args.steps,
        "games_per_step": args.games_per_step,
        "seed": args.seed,
        "threads": torch.get_num_threads(),
        "precision": "float32",
    }
    write_json(args.out, {"machine": machine(), "settings": settings, "rows": rows})


if __name__ == "__main__":
    main()
