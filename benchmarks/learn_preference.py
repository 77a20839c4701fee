"""Learning benchmark: preference self-play (SPIN, SPPO) from the bundled model, and DPO vs SPPO on an intransitive preference.

Part 1, the bundled tasks (arithmetic and format constraints; held-out
arithmetic uses operand pairs never trained on): ``spin`` and ``sppo`` train
the same start with the same seed for ``--minutes`` CPU minutes each (one
thread a run, so the budget means the same on a busy machine). Every round:
held-out quality (exact answer / constraints passed, greedy, 95% Wilson
interval) and the win rate of round k's answers against round 0's under the
tasks' programmatic oracle (a tie counts one half).

Part 2, the synthetic intransitive preference (rock-paper-scissors over the
digit answered, mod 3): a short SPIN warm-up first teaches the model to answer
digits that are mostly of one class (its reference answers are 1, 4 and 7),
so the start has a habit to exploit. From that start, for ``--minutes`` each:

- ``dpo_fixed``: DPO against a fixed reference: (best, worst) pairs by win
  rate against the *start's* samples, the start as pi_ref, every round;
- ``sppo_self``: SPPO: win rates against the iterate's own samples, the
  previous iterate as pi_ref.

- ``sppo_self_eta1``: the same with eta 1 (steps of at most 1/2 nat a round).

Measured: the worst-case win rate of the policy's sampled answers (the least
it wins against any pure answer; 1/2 for the unbeatable uniform mix, 0 for a
policy one answer beats every time), per prompt for the last iterate, and
pooled over prompts for the last iterate and for the average iterate (the
uniform mix of the rounds so far: SPPO's guarantee is about that average).

    .venv/bin/python benchmarks/learn_preference.py [--minutes 2] [--parallel 2] [--runs dpo_fixed,sppo_self]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from common import launch, machine, read_metrics, table, write_json

from sparring.checkpoint import RunDir, list_checkpoints

HERE = Path(__file__).resolve().parent
COMMON = ["logging.tensorboard=false", "eval.every=1", "checkpoint.every=1", "checkpoint.keep_last=2", "max_steps=1000"]
INTRANSITIVE = [
    "preference.prompts=bundled-intransitive",
    "preference.eval_prompts=bundled-intransitive-heldout",
    "preference.oracle=intransitive",
    "preference.judge=intransitive",
    "preference.eval_samples=16",
]
RUNS: dict[str, tuple[str, list[str], str]] = {
    "spin": ("spin", [], "SPIN: reference answers over the previous iterate's samples, logistic loss"),
    "sppo": ("sppo", [], "SPPO: K=4 samples, win rates vs each other (programmatic oracle), square loss"),
    "dpo_fixed": (
        "dno",
        [*INTRANSITIVE, "preference.loss=dpo", "preference.opponent=initial", "preference.reference=initial"],
        "DPO vs a fixed reference: best/worst by win rate against the start's samples, pi_ref = start",
    ),
    "sppo_self": ("sppo", INTRANSITIVE, "SPPO (eta 10): win rates against its own samples, pi_ref = previous iterate"),
    "sppo_self_eta1": ("sppo", [*INTRANSITIVE, "preference.eta=1"], "the same with eta 1: smaller steps per round"),
}
FROM_WARM = ("dpo_fixed", "sppo_self", "sppo_self_eta1")


def warm_start(root: Path, seed: int) -> Path:
    """A start that answers intransitive prompts with digits of one class: SPIN on answers 1, 4, 7 (class 1)."""
    from sparring.preference.tasks import BUNDLED

    data = root / "warm.jsonl"
    rows = [json.loads(line) for line in BUNDLED["bundled-intransitive"].read_text().splitlines()]
    data.write_text("".join(json.dumps({**row, "answer": "147"[i % 3]}) + "\n" for i, row in enumerate(rows)))
    run = root / "warm"
    overrides = [
        *COMMON,
        "max_steps=4",
        f"seed={seed}",
        f"preference.prompts={data}",
        f"preference.eval_prompts={data}",
        "preference.eval_limit=16",
        "preference.prompts_per_round=64",
    ]
    launch("spin", run, overrides, threads=1, log=root / "warm.log").wait()
    return list_checkpoints(RunDir(run))[-1][1] / "model"


def summarise(run_dir: Path) -> list[dict]:
    """One row per evaluated round; intransitive runs also get the pooled worst-case win of the last iterate
    and of the average iterate (the uniform mix of rounds 1..k, what SPPO's theory is about)."""
    from sparring.preference.oracles import IntransitiveOracle

    oracle = IntransitiveOracle()
    rows, history = [], []
    for m in read_metrics(run_dir):
        if "eval/quality" not in m and "eval/worst_case_win" not in m:
            continue
        row = {
            "round": m["step"],
            "minutes": m.get("time/cpu_seconds", 0.0) / 60,
            "wall_minutes": m.get("time/elapsed", 0.0) / 60,
            "quality": m.get("eval/quality"),
            "quality_low": m.get("eval/quality_low"),
            "quality_high": m.get("eval/quality_high"),
            "win_vs_round0": m.get("eval/win_vs_round0"),
            "win_vs_round0_low": m.get("eval/win_vs_round0_low"),
            "win_vs_round0_high": m.get("eval/win_vs_round0_high"),
            "worst_case_win": m.get("eval/worst_case_win"),
            "train_quality": m.get("train/quality"),
        }
        if "eval/share_class0" in m:
            shares = [m[f"eval/share_class{k}"] for k in range(3)] + [m["eval/share_no_digit"]]
            row["shares"] = shares
            row["shares_text"] = "/".join(f"{x:.2f}" for x in shares)
            row["worst_case_pooled"] = oracle.worst_case_from_shares(shares)
            if m["step"] > 0:
                history.append(shares)
                mix = [sum(h[k] for h in history) / len(history) for k in range(4)]
                row["worst_case_average_iterate"] = oracle.worst_case_from_shares(mix)
        rows.append(row)
    return rows


def train_all(args: argparse.Namespace, names: list[str]) -> None:
    """A fresh ``--root``, the warm start when a run needs it, then every run, ``--parallel`` at a time."""
    if args.root.exists():
        shutil.rmtree(args.root)
    args.root.mkdir(parents=True)
    start = warm_start(args.root, args.seed) if any(n in FROM_WARM for n in names) else None
    pending = list(names)
    running: list = []
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            recipe, overrides, _ = RUNS[name]
            extra = [f"model.path={start}"] if name in FROM_WARM else []
            cmd = [*COMMON, f"max_cpu_minutes={args.minutes}", f"seed={args.seed}", *overrides, *extra]
            running.append(launch(recipe, args.root / name, cmd, threads=1, log=args.root / f"{name}.log"))
        time.sleep(2)
        running = [p for p in running if p.poll() is None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0, help="CPU-minute budget of each run (one thread each)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time, one CPU thread each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true", help="re-read the runs under --root; train nothing")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {', '.join(RUNS)}")
    parser.add_argument("--root", type=Path, default=HERE / "runs" / "learn_preference")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "learn_preference.json")
    args = parser.parse_args()
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    if unknown := [n for n in names if n not in RUNS]:
        raise SystemExit(f"unknown run(s) {', '.join(unknown)}; runs: {', '.join(RUNS)}")
    started = time.time()
    if not args.report_only:
        train_all(args, names)
    results = {name: {"recipe": RUNS[name][0], "what": RUNS[name][2], "rounds": summarise(args.root / name)} for name in names}
    columns = [
        ("round", "round", "d"),
        ("minutes", "CPU min", ".1f"),
        ("quality", "held-out quality", ".3f"),
        ("quality_low", "low", ".3f"),
        ("quality_high", "high", ".3f"),
        ("win_vs_round0", "win vs round 0", ".3f"),
        ("worst_case_win", "worst-case win", ".3f"),
    ]
    intransitive = [
        ("round", "round", "d"),
        ("minutes", "CPU min", ".1f"),
        ("shares_text", "share of class 0/1/2/none", "s"),
        ("worst_case_win", "worst-case win (per prompt)", ".3f"),
        ("worst_case_pooled", "pooled", ".3f"),
        ("worst_case_average_iterate", "average iterate, pooled", ".3f"),
    ]
    for name, result in results.items():
        print(f"\n{name}: {result['what']}")
        print(table(result["rounds"], intransitive if name in FROM_WARM else columns))
    write_json(
        args.out,
        {
            "machine": machine(),
            "minutes_per_run": args.minutes,
            "seed": args.seed,
            "wall_minutes": None if args.report_only else (time.time() - started) / 60,
            "runs": results,
        },
    )


if __name__ == "__main__":
    main()
