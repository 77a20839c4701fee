"""Learning benchmark: exact exploitability of poker self-play, update rules side by side from one start.

Every variant trains the same base model on the same game with the same seed
and CPU-time budget, ``--parallel`` runs at a time, each in its own process
with one CPU thread (so a budget of N minutes is N minutes of one core,
whatever else shares the machine; the tables' minutes are CPU minutes). Every ``--every``
steps a checkpoint is kept; afterwards each checkpoint's policy is read
exactly (the model's probability of each legal answer at every information
state) and scored with OpenSpiel, for

- the latest checkpoint alone (the last iterate: what the goal is about), and
- the uniform mixture of all checkpoints so far (the average iterate, as a
  pool of past checkpoints would play).

Kuhn: uniform play is 0.458, Nash 0; the goal is <= 0.05 for a single
checkpoint within 30 CPU minutes. Leduc (``--game leduc_poker``): uniform is
2.37; the goal is toward <= 0.5. The variants are config knobs; ``VARIANTS``
below says what each changes and why. The chart (SVG) shows the plain SPIRAL
update, the best variant and the plain run's pool mixture.

    .venv/bin/python benchmarks/learn_kuhn.py --minutes 30 [--variants plain,observation ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import (
    budget_overrides,
    chosen_variants,
    cpu_minutes,
    line_chart,
    read_metrics,
    run_record,
    run_variants,
    start_model,
    table,
    write_json,
)

from sparring.checkpoint import RunDir, list_checkpoints
from sparring.evaluate.average_policy import average_policy_table
from sparring.evaluate.exploitability import exploitability_of_table, kuhn_policy, policy_table
from sparring.games import make_game
from sparring.players import make_player

TRUST_REGION = ["learner.epochs=2", "learner.minibatches=4", "learner.lr=1e-4", "learner.micro_batch_size=64"]
OBSERVATION = ["advantage.baseline=observation"]
MAGNET = ["learner.kl_coef=0.1", "reference.update_every=0"]
KUHN = [*OBSERVATION, "learner.adam_eps=1e-4", "learner.kl_coef=0.5", "reference.update_every=20"]
"""The earlier ``kuhn`` recipe's update (a snapshot magnet); the recipe is now ``kuhn_average_magnet_slow``."""
AVERAGE_MAGNET = [*OBSERVATION, "learner.adam_eps=1e-4", "learner.kl_coef=0.5", "learner.average_weights=0.98"]
AVERAGE_MAGNET += ["reference.update_every=0", "reference.magnet=average"]

VARIANTS: dict[str, tuple[list[str], str]] = {
    "plain": ([], "SPIRAL's update: RAE (per-role EMA baseline), one epoch, lr 3e-4: the PPO ratio is always 1"),
    "low_lr": (["learner.lr=3e-5"], "the same at a tenth of the learning rate"),
    "big_batch": (["rollout.games_per_step=256"], "four times the games per step"),
    "trust_region": (TRUST_REGION, "2 epochs x 4 minibatches at lr 1e-4: the clip acts"),
    "observation": (OBSERVATION, "RAE with a per-observation (state-value) baseline"),
    "observation_tr": (OBSERVATION + TRUST_REGION, "per-observation baseline + trust region"),
    "observation_sgdlike": (
        [*OBSERVATION, "learner.adam_eps=1e-4"],
        "per-observation baseline, AdamW's epsilon at about twice the typical gradient: steps shrink with the "
        "advantage instead of Adam's normalised constant size",
    ),
    "observation_sgdlike_magnet": (
        [*OBSERVATION, "learner.adam_eps=1e-4", *MAGNET],
        "per-observation baseline, AdamW epsilon 1e-4, KL 0.1 to the start, never moved (a fixed magnet)",
    ),
    "observation_sgdlike_mmd": (
        [*OBSERVATION, "learner.adam_eps=1e-4", "learner.kl_coef=0.1", "reference.update_every=20"],
        "per-observation baseline, AdamW epsilon 1e-4, KL 0.1 to a magnet moved every 20 steps",
    ),
    "observation_sgdlike_mmd_strong": (
        [*OBSERVATION, "learner.adam_eps=1e-4", "learner.kl_coef=0.5", "reference.update_every=20"],
        "per-observation baseline, AdamW epsilon 1e-4, KL 0.5 to a magnet moved every 20 steps",
    ),
    "kuhn_average": (
        [*KUHN, "learner.average_weights=0.98"],
        "the earlier kuhn recipe's update (observation baseline, AdamW epsilon 1e-4, KL 0.5 to a magnet moved every "
        "20 steps) with an EMA of the weights (decay 0.98, about the last 50 steps) scored as its own checkpoint",
    ),
    "kuhn_average_cosine": (
        [*KUHN, "learner.average_weights=0.98", "learner.lr_decay=cosine", "max_steps=500"],
        "the same, with the learning rate falling (cosine) to a tenth by step 500",
    ),
    "kuhn_cosine_1000": (
        [*KUHN, "learner.average_weights=0.98", "learner.lr_decay=cosine", "max_steps=1000"],
        "kuhn_average_cosine with the decay stretched to step 1000 (about 30 CPU minutes)",
    ),
    "kuhn_cosine_to_zero": (
        [*KUHN, "learner.average_weights=0.98", "learner.lr_decay=cosine", "learner.min_lr_ratio=0", "max_steps=500"],
        "kuhn_average_cosine with the learning rate falling to 0 at step 500: the last iterate settles by fiat",
    ),
    "kuhn_cosine_to_zero_128": (
        [*KUHN, "learner.average_weights=0.98", "learner.lr_decay=cosine", "learner.min_lr_ratio=0", "max_steps=250"]
        + ["rollout.games_per_step=128"],
        "the same with 128 games a step (half the noise in each advantage) over 250 steps",
    ),
    "kuhn_average_magnet": (
        [*AVERAGE_MAGNET],
        "the kuhn update, but the KL (0.5) pulls toward the weight average (decay 0.98) instead of a magnet "
        "that jumps to the policy every 20 steps; constant learning rate",
    ),
    "kuhn_average_magnet_cosine": (
        [*AVERAGE_MAGNET, "learner.lr_decay=cosine", "max_steps=1000"],
        "the average magnet with the learning rate falling (cosine) to a tenth by step 1000",
    ),
    "kuhn_average_magnet_slow": (
        [*AVERAGE_MAGNET, "learner.average_weights=0.995"],
        "the average magnet with a slower average (decay 0.995, about the last 200 steps): the magnet lags "
        "the policy by longer than the 300-step drift the 0.98 average followed",
    ),
    "kuhn_cosine": (
        [*AVERAGE_MAGNET, "learner.average_weights=0.995", "learner.lr_decay=cosine", "max_steps=800"],
        "kuhn_average_magnet_slow with the learning rate falling along a cosine to a tenth over 800 steps "
        "(about 13 CPU minutes here): does a shrinking step stop the drift the magnet only damps? (measured: "
        "it freezes the policy wherever the drift has taken it)",
    ),
    "kuhn_average_magnet_slow_lr6": (
        [*AVERAGE_MAGNET, "learner.average_weights=0.995", "learner.lr=6e-4"],
        "the slow average magnet at twice the learning rate: more movement, damped by the lagging magnet",
    ),
    "kuhn_pool": (
        [*AVERAGE_MAGNET, "learner.average_weights=0.995", "opponent.kind=pool", "opponent.sampling=pfsp"]
        + ["opponent.snapshot_every=40", "opponent.pool_size=8"],
        "the kuhn update with half the games against a league of its last 8 snapshots (one every 40 steps, "
        "drawn by PFSP): is a policy that drifts into a line an older self punishes pulled back? (measured: no, "
        "the snapshots drift along with it)",
    ),
    "kuhn_best_magnet": (
        [*OBSERVATION, "learner.adam_eps=1e-4", "learner.kl_coef=0.5", "learner.average_weights=0.995"]
        + ["reference.update_every=0", "reference.magnet=best", "checkpoint.keep_best=exploitability"]
        + ["eval.every=10", "eval.games=2"],
        "the kuhn update with the KL (0.5) toward the least exploitable policy evaluated so far (exact, every "
        "10 steps) instead of toward the weight average: the magnet stays where the policy was best (measured: "
        "seed 1 held at 0.02-0.05 after step 900, seed 2 never reached 0.05; not adopted)",
    ),
    "exploiter": (
        [*AVERAGE_MAGNET, "learner.average_weights=0.995", "opponent.kind=exploiter"],
        "the kuhn recipe's update, every game against an exact best response to the policy itself, recomputed "
        "each step (exploitability descent, Lockhart et al. 2019): the opponent punishes exactly the mistakes "
        "the policy makes now",
    ),
    "exploiter_free": (
        [*OBSERVATION, "learner.adam_eps=1e-4", "opponent.kind=exploiter"],
        "exploitability descent alone: against the exact best response each step, no KL, no magnet",
    ),
    "entropy": (
        ["learner.entropy_coef=0.01"],
        "an entropy bonus (0.01) on every generated token: every move stays sampled, so a policy drifting into "
        "folding everything still sees what calling earns (with --recipe leduc: the leduc recipe plus the bonus)",
    ),
    "magnet": (MAGNET, "KL 0.1 to the base model, never moved (with --recipe leduc: the leduc recipe plus it)"),
    "entropy_magnet": (
        ["learner.entropy_coef=0.01", *MAGNET],
        "both: the bonus keeps moves sampled, the fixed magnet keeps the policy from running away (Leduc seed 1: "
        "the bonus alone reached 0.55 and then collapsed, the magnet alone was steady but slower)",
    ),
    "cosine": (
        ["learner.lr_decay=cosine", "max_steps=400"],
        "the learning rate falling along a cosine to a tenth at step 400 (with --recipe leduc, 30 CPU minutes "
        "reached step 309 on a 2-core bf16 CPU): late steps are small, so the policy cannot swing far once near "
        "its best (measured, Leduc seed 0: the descent slows with the steps, 0.84 at 30 minutes against the "
        "recipe's 0.69 on the same machine; not adopted)",
    ),
    "fast_lr": (
        ["learner.lr=6e-4"],
        "twice the learning rate (with --recipe leduc: the recipe at lr 6e-4): a faster descent that may swing "
        "more, for the league's average (and `sparring fit-average`) to settle",
    ),
    "best_magnet": (
        ["learner.kl_coef=0.5", "reference.update_every=0", "reference.magnet=best", "checkpoint.keep_best=exploitability"],
        "KL 0.5 toward the least exploitable policy measured so far (exact, each time the exploiter is recomputed: "
        "with --recipe leduc every 4 steps): held near its own best, not near a base model 1.95 exploitable, "
        "whose pull grows the farther the policy gets (measured, Leduc: seed 0 at 0.70 by step 200 and then "
        "still, seed 1 swung from 0.82 to 1.71; not adopted)",
    ),
    "value": (["advantage.baseline=value"], "RAE with a learned value head (V(s) from the policy's features)"),
    "observation_tr_magnet": (
        OBSERVATION + TRUST_REGION + MAGNET,
        "+ KL 0.1 to the base model, never moved (MMD / R-NaD's fixed magnet)",
    ),
    "observation_tr_mmd": (
        [*OBSERVATION, *TRUST_REGION, "learner.kl_coef=0.1", "reference.update_every=20"],
        "+ KL 0.1 to a magnet moved to the policy every 20 steps",
    ),
}


def curve(run_dir: Path, game_name: str) -> list[dict]:
    game = make_game(game_name)
    minutes = cpu_minutes(run_dir)
    start = start_model(run_dir)
    tables, rows = [], []
    # step 0 is the start (its row only: the mixture averages the checkpoints of training)
    checkpoints: list[tuple[int, Path | None]] = [(0, None), *list_checkpoints(RunDir(run_dir))]
    for step, path in checkpoints:
        model_dir = start if path is None else path / "model"
        tables.append(policy_table(game, make_player(f"model:{model_dir}", game)))
        row = {
            "step": step,
            "minutes": minutes.get(step, 0.0),
            "latest": exploitability_of_table(game, tables[-1]).exploitability,
            "pool_average": exploitability_of_table(game, average_policy_table(game, tables[1:] or tables)).exploitability,
        }
        if path is not None and (path / "average").is_dir():  # learner.average_weights: the weight average, one model of its own
            averaged = policy_table(game, make_player(f"model:{path / 'average'}", game))
            row["weight_average"] = exploitability_of_table(game, averaged).exploitability
        if game_name == "kuhn_poker":
            row["policy"] = kuhn_policy(tables[-1])
        rows.append(row)
    return rows


def league_curve(run_dir: Path, game_name: str) -> list[dict]:
    """The trainer's own exact exploitability of the policy at each recomputation of the exploiter's best
    response (``league/<game>/exploitability``, logged at step s for the policy after s - 1 updates): with
    ``opponent.kind=exploiter`` no checkpoint needs scoring, which in Leduc costs ~6 CPU s each. No mixture.

    Each row also carries ``invalid``: the share of the learner's turns answered invalidly over the steps
    since the row before (the trainer's ``train/<game>/invalid``), since a policy can buy a lower
    exploitability of its valid answers with forfeits."""
    minutes = cpu_minutes(run_dir)
    key, invalid_key = f"league/{game_name}/exploitability", f"train/{game_name}/invalid"
    metrics = read_metrics(run_dir)
    invalid = {m["step"] - 1: m[invalid_key] for m in metrics if invalid_key in m}  # by policy, as the rows
    averages = {f"league/{game_name}/{kind}_average_exploitability": f"{kind}_average" for kind in ("linear", "uniform")}
    rows = [
        {"step": m["step"] - 1, "latest": m[key], **{column: m[k] for k, column in averages.items() if k in m}}
        for m in metrics
        if key in m
    ]
    previous = -1
    for row in rows:
        row["minutes"] = minutes.get(row["step"], 0.0)
        since = [rate for step, rate in invalid.items() if previous < step <= row["step"]]
        if since:
            row["invalid"] = sum(since) / len(since)
        previous = row["step"]
    return rows


def fit_averages(root: Path, names: list[str], minutes: float, parallel: int) -> dict[str, dict]:
    """``sparring fit-average`` on each run (one thread each, ``parallel`` at a time): its ``fit.json`` by name."""
    pending = [n for n in names if (root / n / "metrics.jsonl").exists()]
    running: list[tuple[str, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < parallel:
            name = pending.pop(0)
            cmd = [sys.executable, "-m", "sparring", "fit-average", str(root / name), "--minutes", str(minutes)]
            env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            log = open(root / f"{name}.fit.log", "w")  # noqa: SIM115  (closed by the child's exit)
            running.append((name, subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)))
        time.sleep(5)
        running = [(n, p) for n, p in running if p.poll() is None]
    fits = read_fits(root, names)
    for name in names:
        if name not in fits:
            print(f"{name}: no fit (see {root / name}.fit.log)", flush=True)
    return fits


def read_fits(root: Path, names: list[str]) -> dict[str, dict]:
    """Each run's ``RUN/average-fit/fit.json`` (written by ``sparring fit-average``), by name, where there is one."""
    found = {n: root / n / "average-fit" / "fit.json" for n in names}
    return {n: json.loads(path.read_text()) for n, path in found.items() if path.is_file()}


def summarize(rows: list[dict]) -> dict[str, float]:
    """A run's curve in a few numbers; ``rows[0]`` is the start, the rest its checkpoints."""
    trained = rows[1:]
    third = trained[-max(1, len(trained) // 3) :]
    out = {
        "steps": rows[-1]["step"],
        "minutes": rows[-1]["minutes"],
        "start": rows[0]["latest"],
        "final_checkpoint": trained[-1]["latest"],
        "best_checkpoint": min(r["latest"] for r in trained),
        "final_mixture": trained[-1].get("pool_average"),
        "last_third_mean": sum(r["latest"] for r in third) / len(third),
    }
    if all("invalid" in r for r in third):
        out["last_third_invalid"] = sum(r["invalid"] for r in third) / len(third)
    if all("linear_average" in r for r in third):  # the league's running averages (exploiter runs)
        out["final_average"] = trained[-1]["linear_average"]
        out["final_uniform_average"] = trained[-1].get("uniform_average")
    if all("weight_average" in r for r in trained):
        out["final_weight_average"] = trained[-1]["weight_average"]
        out["best_weight_average"] = min(r["weight_average"] for r in trained)
        out["last_third_weight_average"] = sum(r["weight_average"] for r in third) / len(third)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="kuhn_poker", choices=["kuhn_poker", "leduc_poker"])
    parser.add_argument("--recipe", default=None, help="base recipe (default: spiral-kuhn, or spiral-kuhn with the game swapped)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--minutes", type=float, default=30.0, help="CPU-minute budget per run (one thread each)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time (one CPU thread each)")
    parser.add_argument("--every", type=int, default=10, help="steps between kept checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=None, help="run directories (default benchmarks/runs/learn_<game>)")
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides for every run, applied last")
    parser.add_argument("--report-only", action="store_true", help="score the existing runs under --root again")
    parser.add_argument(
        "--league-curve",
        action="store_true",
        help="exploiter runs: read the trainer's exact exploitability at each best-response recomputation instead "
        "of scoring checkpoints (no mixture column); set --every high to keep few checkpoints",
    )
    parser.add_argument(
        "--fit-average",
        type=float,
        default=0.0,
        help="exploiter runs: then fit each run's latest checkpoint to its league's linear average policy for this "
        "many CPU minutes (`sparring fit-average`, scored exactly every minute; 0: no fit)",
    )
    parser.add_argument("--plain-from", default=None, help="an earlier results JSON whose plain run the chart shows")
    parser.add_argument("--chart", default=None, help="the variant the chart shows beside plain (default: the lowest last third)")
    parser.add_argument("--out", default=None, help="JSON results (default benchmarks/results/learn_<game>.json)")
    args = parser.parse_args()
    short = args.game.split("_")[0]
    args.recipe = args.recipe or "spiral-kuhn"
    root = Path(args.root or f"benchmarks/runs/learn_{short}")
    out = Path(args.out or f"benchmarks/results/learn_{short}.json")
    names = chosen_variants(args.variants, VARIANTS, root, args.report_only)
    common = [f"games.0.name={args.game}", *budget_overrides(args.minutes, args.every, args.seed)]
    if not args.report_only:  # --set last, so that it wins over a variant's own value (e.g. its max_steps)
        run_variants({n: (args.recipe, [*VARIANTS[n][0], *args.set]) for n in names}, common, root, args.parallel)
    score = league_curve if args.league_curve else curve
    if args.report_only:  # the fits made before, if any
        fits = read_fits(root, names)
    else:
        fits = fit_averages(root, names, args.fit_average, args.parallel) if args.fit_average > 0 else {}
    results = {name: score(root / name, args.game) for name in names if (root / name / "metrics.jsonl").exists()}
    columns = [("minutes", "min", ".1f"), ("step", "step", "d"), ("latest", "checkpoint", ".3f")]
    columns.append(("pool_average", "mixture", ".3f"))
    columns += [("linear_average", "average (linear)", ".3f"), ("uniform_average", "average (uniform)", ".3f")]
    for name, rows in results.items():
        print(f"\n{name}: {VARIANTS[name][1]}")
        averaged = any("weight_average" in r for r in rows)
        print(table(rows, columns + ([("weight_average", "weight avg", ".3f")] if averaged else [])))
    summary = {name: summarize(rows) for name, rows in results.items() if len(rows) > 1}
    for name, fit in fits.items():
        print(f"\n{name}: fitted to its {fit['kind']} average ({fit['average_exploitability']:.3f}) from step {fit['step']}")
        print(
            table(
                fit["rows"],
                [("minutes", "CPU min", ".1f"), ("step", "step", "d"), ("loss", "loss", ".3f")]
                + [("exploitability", "exploitability", ".3f")],
            )
        )
        if name in summary:
            summary[name]["fit_best"] = fit["best"]["exploitability"]
            summary[name]["fit_minutes"] = fit["best"]["minutes"]
    print("\nsummary (exact exploitability; checkpoint = the single latest policy; weight average: learner.average_weights)")
    print(
        table(
            [{"variant": n, **s} for n, s in summary.items()],
            [
                ("variant", "variant", "s"),
                ("steps", "steps", "d"),
                ("start", "start", ".3f"),
                ("final_checkpoint", "final", ".3f"),
                ("last_third_mean", "mean of last third", ".3f"),
                ("best_checkpoint", "best", ".3f"),
                ("last_third_invalid", "invalid: last third", ".3f"),
                ("final_mixture", "mixture", ".3f"),
                ("final_average", "average: final", ".3f"),
                ("fit_best", "fitted to it", ".3f"),
                ("final_weight_average", "weight avg: final", ".3f"),
                ("last_third_weight_average", "last third", ".3f"),
                ("best_weight_average", "best", ".3f"),
            ],
        )
    )
    plain = results.get("plain")
    if plain is None and args.plain_from:  # the plain run of an earlier results file, for the chart only
        plain = json.loads(Path(args.plain_from).read_text())["curves"].get("plain")
    if plain and summary:
        lowest = min(summary, key=lambda n: summary[n].get("last_third_weight_average", summary[n]["last_third_mean"]))
        best = args.chart or lowest
        series = {"plain SPIRAL update (checkpoint)": [(r["minutes"], r["latest"]) for r in plain]}
        if all("pool_average" in r for r in plain):  # not in a --league-curve run
            series["plain SPIRAL update (mixture of checkpoints)"] = [(r["minutes"], r["pool_average"]) for r in plain]
        if best != "plain":
            series[f"{best} (checkpoint)"] = [(r["minutes"], r["latest"]) for r in results[best]]
            if "best_weight_average" in summary[best]:
                series[f"{best} (weight average)"] = [(r["minutes"], r["weight_average"]) for r in results[best][1:]]
        chart = out.with_suffix(".svg")
        chart.write_text(line_chart(series, f"{args.game}: exact exploitability", "CPU minutes", "exploitability"))
        print(f"wrote {chart}")
    record = run_record(f"learn_{short}", args.game, args, args.recipe, common, VARIANTS, names)
    write_json(out, {**record, "curves": results, "summary": summary, "fits": fits})


if __name__ == "__main__":
    main()
