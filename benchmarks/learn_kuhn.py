"""Learning benchmark: exact exploitability of Kuhn poker self-play, plain SPIRAL vs magnetic mirror descent.

Runs two recipes side by side on the same seed and budget (each in its own
process with one CPU thread, at the same time, so they share this machine
equally): ``spiral-kuhn`` (the plain SPIRAL loop) and ``spiral-kuhn-mmd``
(a KL penalty to a magnet that moves to the current policy every few steps).
Every ``--every`` steps a checkpoint is kept; afterwards each checkpoint's
policy is read exactly (the model's probability of each legal answer at all
12 information states) and scored with OpenSpiel, for

- the latest checkpoint alone (the last iterate), and
- the uniform mixture of all checkpoints so far (the average iterate, as a
  pool of past checkpoints would play).

Uniform play is 0.458; Nash is 0. Goal from the issue: <= 0.05 for a single
checkpoint within 30 minutes. See shared/reference/self-play-algorithms.md
section E for why the plain loop is expected to cycle.

    .venv/bin/python benchmarks/learn_kuhn.py --minutes 30
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import launch, machine, read_metrics, table, wait_all, write_json

from sparring.checkpoint import RunDir, list_checkpoints
from sparring.evaluate.exploitability import average_policy_table, exploitability_of_table, policy_table
from sparring.games import make_game
from sparring.players import make_player

RECIPES = {"plain": "spiral-kuhn", "mmd": "spiral-kuhn-mmd"}


def curve(run_dir: Path) -> list[dict]:
    game = make_game("kuhn_poker")
    elapsed = {m["step"]: m.get("time/elapsed", 0.0) for m in read_metrics(run_dir)}
    tables, rows = [], []
    for step, path in list_checkpoints(RunDir(run_dir)):
        player = make_player(f"model:{path / 'model'}", game)
        tables.append(policy_table(game, player))
        rows.append(
            {
                "step": step,
                "minutes": elapsed.get(step, 0.0) / 60,
                "latest": exploitability_of_table(game, tables[-1]).exploitability,
                "pool_average": exploitability_of_table(game, average_policy_table(game, tables)).exploitability,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--every", type=int, default=10, help="steps between kept checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default="benchmarks/runs/learn_kuhn")
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides for both runs")
    parser.add_argument("--out", default="benchmarks/results/learn_kuhn.json")
    args = parser.parse_args()
    root = Path(args.root)
    common = [
        f"max_minutes={args.minutes}",
        "max_steps=100000",
        f"checkpoint.every={args.every}",
        "checkpoint.keep_last=null",
        "eval.every=50",
        f"seed={args.seed}",
        *args.set,
    ]
    procs = []
    for name, recipe in RECIPES.items():
        if (root / name).exists():
            raise SystemExit(f"{root / name} exists; remove it or pass --root")
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        procs.append(launch(recipe, root / name, common, threads=1, log=root / f"{name}.log"))
    wait_all(procs)
    results = {name: curve(root / name) for name in RECIPES}
    for name, rows in results.items():
        print(f"\n{name} ({RECIPES[name]}): exact exploitability over training")
        print(
            table(
                rows,
                [
                    ("minutes", "min", ".1f"),
                    ("step", "step", "d"),
                    ("latest", "latest checkpoint", ".3f"),
                    ("pool_average", "pool average", ".3f"),
                ],
            )
        )
    summary = {
        name: {
            "final_latest": rows[-1]["latest"],
            "best_latest": min(r["latest"] for r in rows),
            "final_pool_average": rows[-1]["pool_average"],
        }
        for name, rows in results.items()
        if rows
    }
    print("\nsummary:", summary)
    write_json(
        Path(args.out),
        {
            "benchmark": "learn_kuhn",
            "machine": machine(),
            "minutes": args.minutes,
            "overrides": common,
            "threads_per_run": 1,
            "curves": results,
            "summary": summary,
        },
    )


if __name__ == "__main__":
    main()
