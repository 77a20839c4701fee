"""The two views of a game for learning: what the learner processes and how long its step takes.

For each game and each ``prompt.view`` (``turn``, SPIRAL; ``trajectory``,
MARS, each seat's game packed into one sample) this builds a run of the game's recipe with the same seed and takes
``--steps`` training steps in this process, through the loop's own
``train_step``. Per step it reads from the learner's metrics: samples,
generated (learned) tokens, the summed length of the sequences it read
(prompts included: ``learner/sequence_tokens``), and the learner step's wall
time; and it counts the positions the forward pass really runs: per
micro-batch of distinct sequences, the shared prefix once plus every row
padded to the longest (``sparring.prefix.suffix_logits``), and what the same
turns would run unpacked, one sample per turn (in the turn view, the same);
and after each step it times the loss and backward pass alone over the
step's samples, packed and unpacked (no optimizer step, the weights stay).
The views play different games after the first step (the model reads other
prompts, so it samples other answers), so compare totals, not single steps.
Prints a table and writes JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/views.py [--steps 3] [--games-per-step 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import machine, table, write_json

from sparring.advantages import drop_zero_advantage
from sparring.checkpoint import RunDir
from sparring.config import load_config
from sparring.learner import Learner, response_counts
from sparring.prefix import common_prefix_len
from sparring.samples import TurnSample, trajectories
from sparring.train import build, train_step

GAMES = {"tic_tac_toe": "spiral-tictactoe", "kuhn_poker": "spiral-kuhn"}
VIEWS = ("turn", "trajectory")
KEYS = ("learner/samples", "learner/tokens", "learner/sequence_tokens", "time/learn_seconds", "time/rollout_seconds")


def forward_positions(learner: Learner, samples: list[TurnSample]) -> int:
    """Positions one forward pass over ``samples`` runs: per micro-batch, the shared prefix once, then each
    distinct sequence padded to the longest (as ``sparring.prefix`` runs them)."""
    total = 0
    for batch in learner.micro_batches(samples):
        seqs = list({tuple(s.prompt_ids + s.response_ids): None for s in batch})
        shared = min(common_prefix_len([list(q) for q in seqs]), min(len(s.prompt_ids) for s in batch) - 1)
        shared = shared if shared >= 8 else 0
        total += shared + len(seqs) * (max(len(q) for q in seqs) - shared)
    return total


def loss_and_backward_seconds(learner: Learner, samples: list[TurnSample]) -> float:
    """Wall time of the learner's loss and backward pass over ``samples`` (no optimizer step: weights stay)."""
    started = time.perf_counter()
    responses, tokens = response_counts(samples)
    for batch in learner.micro_batches(samples):
        loss, _ = learner.micro_batch_loss(batch, responses, tokens)
        loss.backward()
    learner.model.zero_grad(set_to_none=True)
    return time.perf_counter() - started


def measure(recipe: str, view: str, steps: int, games_per_step: int, seed: int) -> dict[str, float]:
    """Sums of the learner's per-step numbers over ``steps`` steps of ``recipe`` in ``view``."""
    overrides = [
        f"prompt.view={view}",
        f"rollout.games_per_step={games_per_step}",
        f"seed={seed}",
        "eval.every=0",
        "logging.tensorboard=false",
        "model.precision=float32",
    ]
    config = load_config(recipe, overrides)
    totals = dict.fromkeys(
        (*KEYS, "forward_positions", "unpacked_positions", "backward_seconds", "unpacked_backward_seconds"), 0.0
    )
    with tempfile.TemporaryDirectory() as tmp:
        t = build(config, RunDir(Path(tmp) / "run"))
        for _ in range(steps):
            metrics, _, _, samples = train_step(t)
            kept = drop_zero_advantage(samples)  # what the step learned from (the recipes drop zero advantages)
            learned = trajectories(samples, kept) if view == "trajectory" else kept
            totals["forward_positions"] += forward_positions(t.learner, learned)
            totals["unpacked_positions"] += forward_positions(t.learner, kept)
            totals["backward_seconds"] += loss_and_backward_seconds(t.learner, learned)
            totals["unpacked_backward_seconds"] += loss_and_backward_seconds(t.learner, kept)
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
                    "sequence_tokens_per_step": totals["learner/sequence_tokens"] / args.steps,
                    "forward_positions_per_step": totals["forward_positions"] / args.steps,
                    "unpacked_positions_per_step": totals["unpacked_positions"] / args.steps,
                    "backward_seconds_per_step": totals["backward_seconds"] / args.steps,
                    "unpacked_backward_seconds_per_step": totals["unpacked_backward_seconds"] / args.steps,
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
        ("sequence_tokens_per_step", "sequence tok/step", ".0f"),
        ("forward_positions_per_step", "forward pos/step", ".0f"),
        ("unpacked_positions_per_step", "unpacked pos/step", ".0f"),
        ("backward_seconds_per_step", "loss+bwd s", ".2f"),
        ("unpacked_backward_seconds_per_step", "unpacked loss+bwd s", ".2f"),
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
