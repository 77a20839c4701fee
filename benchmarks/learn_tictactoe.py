"""Learning benchmark: tic-tac-toe self-play from the bundled base model.

Trains ``spiral-tictactoe`` for a wall-clock budget and reports, over training
time, the non-loss rate against perfect ``minimax`` in each seat, the win rate
against ``random`` and the invalid-move rate (evaluation at the run's
temperature, 1.0 by default: the policy as trained). At the end the last
checkpoint is also evaluated greedily. Goal from the issue: from near-random
to >= 95% non-loss vs minimax within 30 minutes of this CPU.

    .venv/bin/python benchmarks/learn_tictactoe.py --minutes 30 [--set learner.lr=1e-3 ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import launch, machine, read_metrics, table, wait_all, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--eval-games", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default="benchmarks/runs/learn_tictactoe")
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides")
    parser.add_argument("--out", default="benchmarks/results/learn_tictactoe.json")
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if run_dir.exists():
        raise SystemExit(f"{run_dir} exists; remove it or pass --run-dir")
    overrides = [
        f"max_minutes={args.minutes}",
        "max_steps=100000",
        f"eval.every={args.eval_every}",
        f"eval.games={args.eval_games}",
        f"seed={args.seed}",
        "checkpoint.every=50",
        *args.set,
    ]
    wait_all([launch("spiral-tictactoe", run_dir, overrides, log=run_dir.with_suffix(".log"))])
    rows = []
    for m in read_metrics(run_dir):
        if "eval/tic_tac_toe/minimax/non_loss" not in m:
            continue
        rows.append(
            {
                "minutes": m.get("time/elapsed", 0.0) / 60,
                "step": m["step"],
                "non_loss_vs_minimax": m["eval/tic_tac_toe/minimax/non_loss"],
                "non_loss_vs_minimax_seat0": m.get("eval/tic_tac_toe/minimax/seat0/non_loss"),
                "non_loss_vs_minimax_seat1": m.get("eval/tic_tac_toe/minimax/seat1/non_loss"),
                "win_vs_random": m["eval/tic_tac_toe/random/win"],
                "invalid_vs_random": m["eval/tic_tac_toe/random/invalid"],
            }
        )
    greedy = subprocess.run(
        [sys.executable, "-m", "sparring", "eval", str(run_dir), "--temperature", "0", "--games", "100", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    final_greedy = json.loads(greedy.stdout)
    print(
        table(
            rows,
            [
                ("minutes", "min", ".1f"),
                ("step", "step", "d"),
                ("non_loss_vs_minimax", "non-loss vs minimax", ".2f"),
                ("non_loss_vs_minimax_seat0", "as X", ".2f"),
                ("non_loss_vs_minimax_seat1", "as O", ".2f"),
                ("win_vs_random", "win vs random", ".2f"),
                ("invalid_vs_random", "invalid", ".2f"),
            ],
        )
    )
    print("final checkpoint, greedy (temperature 0), 100 games per opponent:")
    print(json.dumps(final_greedy.get("games", final_greedy), indent=1)[:2000])
    write_json(
        Path(args.out),
        {
            "benchmark": "learn_tictactoe",
            "machine": machine(),
            "minutes": args.minutes,
            "overrides": overrides,
            "curve": rows,
            "final_greedy": final_greedy,
        },
    )


if __name__ == "__main__":
    main()
