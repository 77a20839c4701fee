"""Learning benchmark: role-game self-play, scored on held-out problems that are not the training game.

Issue 13's measure of whether self-play in asymmetric roles teaches anything:

- ``propose_solve`` (arith): one model proposes integer arithmetic tasks and
  solves them. Scored on ``arith_heldout.jsonl``: 180 fixed problems in three
  levels, asked exactly as the solver is asked in the game, greedy.
- ``sneaky_critic``: one model plants an error in a worked solution and finds
  one. Scored on ``critic_heldout.jsonl``: 200 fixed positions from far
  seeds (a wrong result, a broken chain, or untouched), asked as the critic.

Both files go through the same code as ``sparring eval --benchmark``
(``sparring.evaluate.benchmark``), with 95% Wilson intervals; the table also
splits them by level (arith) and kind of error (critic), and gives the in-game
figures each run logged (refused moves, each role's mean return).

On ``propose_solve`` the three advantage estimators run side by side from
the same start (SPIRAL's RAE, one baseline per role; REINFORCE with no
baseline; GRPO's batch-group mean), the solver learning against the ``prior``
proposer (``VS_PRIOR`` below): the role game is where a per-role baseline
should matter, since the proposer's and the solver's returns live on
different scales (the proposer's -1.5 for a refused task).

The ``*computed*``, ``*own*`` and ``*k16*`` variants try the two knobs for
what those runs lacked: a task's truth from the checker
(``propose_solve:truth=computed``, so the proposer need not add) and each
solver attempt scored by itself (``rollout.turn_credit=own``, with the k
attempts as a GRPO group under ``advantage.baseline=observation``).

The ``solver_only_*`` variants have the model only solve (``opponent.learner_seats=[1]``), the ``prior``
proposing. From a solver that can add a little -- the bundled model told one-digit sums for 8 CPU minutes,
``ceiling.py --task solver --batch 32 --minutes 8 --save DIR`` -- ``solver_only_level1`` also caps the
prior's tasks at one-digit sums (``propose_solve:max_level=1``), the tasks at that solver's frontier.

    .venv/bin/python benchmarks/learn_roles.py --minutes 15 [--variants solver_rae,critic_rae] [--set model.path=DIR]
    .venv/bin/python benchmarks/learn_roles.py --minutes 8 --variants solver_only_level1 --set model.path=DIR
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import (
    budget_overrides,
    chosen_variants,
    cpu_minutes,
    learning_arguments,
    run_record,
    run_variants,
    start_model,
    table,
    write_json,
)

from sparring.checkpoint import RunDir, list_checkpoints
from sparring.config import load_run_config
from sparring.engines import load_hf_engine
from sparring.evaluate.heldout import ARITH, CRITIC, score_heldout

VS_PRIOR = ["opponent.kind=fixed", "opponent.fixed=prior"]
"""The solver_* variants play against the ``prior`` player, which proposes valid example tasks. Until stage 11
the bundled model's own proposals were almost never well-formed (99.9% of 2,192 refused in 137 self-play steps
from stage 10, so the solver never got a turn); from stage 13 they are (83% sampled), and the self_play_*
variants let the model propose. The learner takes each seat in turn."""

SOLVER_ONLY = [*VS_PRIOR, "opponent.learner_seats=[1]", "rollout.turn_credit=own"]
"""The solver_only_* variants: the model only solves (the prior proposes), each attempt scored by itself."""
LEVEL1 = ["games.0.name=propose_solve:max_level=1"]
"""The prior's tasks capped at one-digit sums: the frontier of a solver told sums."""
LEVEL1_GROUP = [*LEVEL1, "advantage.baseline=observation"]
FRONTIER = [*SOLVER_ONLY, *LEVEL1, "learner.lr=1e-4"]
"""The frontier_* ablation: solver_only_level1_slow's setting (one-digit sums, lr 1e-4) under each estimator."""

VARIANTS: dict[str, tuple[str, list[str], str]] = {
    "solver_rae": ("propose-solve", [*VS_PRIOR], "propose-solve vs the prior proposer: SPIRAL's RAE, one EMA baseline per role"),
    "solver_reinforce": ("propose-solve", [*VS_PRIOR, "advantage.estimator=reinforce"], "the same with no baseline (REINFORCE)"),
    "solver_grpo": ("propose-solve", [*VS_PRIOR, "advantage.estimator=grpo"], "the same with GRPO's batch-group mean"),
    "solver_self_play": ("propose-solve", [], "propose-solve in self-play (RAE): the proposer is the model too"),
    "self_play_reinforce": (
        "propose-solve",
        ["advantage.estimator=reinforce"],
        "propose-solve in self-play with no baseline (REINFORCE): the proposer's returns (-1.5 to 1) and the "
        "solver's (0 to 1) share no baseline, so the proposer's negative returns push every one of its tasks down",
    ),
    "self_play_repetition": (
        "propose-solve",
        ["rollout.repetition_penalty=1.0"],
        "propose-solve in self-play (RAE) with R-Zero's repetition penalty (weight 1): the proposer's return drops "
        "by the share of the step's proposals that were the same text",
    ),
    "self_play_grpo": (
        "propose-solve",
        ["advantage.estimator=grpo"],
        "propose-solve in self-play with GRPO's batch-group mean",
    ),
    "self_play_computed": (
        "propose-solve",
        ["games.0.name=propose_solve:truth=computed"],
        "propose-solve in self-play (RAE), the checker computing each task's answer (Absolute Zero's split): "
        "the proposer only has to write a problem, so its tasks are valid without it being able to add",
    ),
    "self_play_computed_repetition": (
        "propose-solve",
        ["games.0.name=propose_solve:truth=computed", "rollout.repetition_penalty=1.0"],
        "the same with R-Zero's repetition penalty (weight 1)",
    ),
    "solver_own": (
        "propose-solve",
        [*VS_PRIOR, "rollout.turn_credit=own"],
        "propose-solve vs the prior proposer, RAE, each solver attempt scored by itself (1 right, 0 wrong) "
        "instead of sharing the success rate p",
    ),
    "solver_own_group": (
        "propose-solve",
        [*VS_PRIOR, "rollout.turn_credit=own", "advantage.baseline=observation"],
        "the same with a per-observation baseline: the k attempts at one task are a GRPO group",
    ),
    "solver_only_group": (
        "propose-solve",
        [*SOLVER_ONLY, "advantage.baseline=observation"],
        "solver_own_group with the model only solving (the prior proposes every task): no proposer returns "
        "reach the shared weights, and every game trains the solver",
    ),
    "solver_only_k16": (
        "propose-solve",
        [*SOLVER_ONLY, "games.0.name=propose_solve:attempts=16", "advantage.baseline=observation"],
        "solver_only_group with 16 attempts a task: more groups hold both a right and a wrong answer",
    ),
    "solver_only_interaction": (
        "propose-solve",
        [*SOLVER_ONLY, "advantage.baseline=interaction"],
        "solver_only_group with each answer's edge in every task taken away (advantage.baseline=interaction): "
        "answering a number that is often right (8 to every sum) earns nothing, answering this task right does",
    ),
    "solver_only_level1": (
        "propose-solve",
        [*SOLVER_ONLY, *LEVEL1_GROUP],
        "solver_only_group on one-digit sums only (the prior proposer's examples capped at level 1): a fixed "
        "curriculum at the frontier of a solver that can add a little, what a learnability-rewarded proposer aims for",
    ),
    "solver_only_level1_slow": (
        "propose-solve",
        [*SOLVER_ONLY, *LEVEL1_GROUP, "learner.lr=1e-4"],
        "solver_only_level1 at lr 1e-4 (the recipe's 3e-4 gained and lost it again on one seed of three)",
    ),
    "frontier_rae": ("propose-solve", FRONTIER, "solver_only_level1_slow with SPIRAL's RAE (one EMA baseline per role)"),
    "frontier_reinforce": (
        "propose-solve",
        [*FRONTIER, "advantage.estimator=reinforce"],
        "solver_only_level1_slow with no baseline (REINFORCE)",
    ),
    "frontier_grpo": (
        "propose-solve",
        [*FRONTIER, "advantage.estimator=grpo"],
        "solver_only_level1_slow with GRPO's batch-group mean",
    ),
    "self_play_computed_own": (
        "propose-solve",
        [
            "games.0.name=propose_solve:truth=computed",
            "rollout.repetition_penalty=1.0",
            "rollout.turn_credit=own",
            "advantage.baseline=observation",
        ],
        "self-play, the checker computing the answers, R-Zero's repetition penalty, each attempt scored by "
        "itself against its group of k",
    ),
    "frontier_self_play": (
        "propose-solve",
        [
            "games.0.name=propose_solve:truth=computed",
            "rollout.repetition_penalty=1.0",
            "rollout.turn_credit=own",
            "advantage.baseline=observation",
            "learner.lr=1e-4",
        ],
        "self_play_computed_own at lr 1e-4: the model proposes as well as solves, so the tasks at the solver's "
        "frontier must be found by the proposer's learnability reward, not capped by hand (solver_only_level1_slow)",
    ),
    "solver_k16_group": (
        "propose-solve",
        [*VS_PRIOR, "games.0.name=propose_solve:attempts=16", "rollout.turn_credit=own", "advantage.baseline=observation"],
        "solver_own_group with 16 attempts a task: a solver right 1-5% of the time then has a right answer "
        "in a group of 16 about a third of the time",
    ),
    "self_play_k16": (
        "propose-solve",
        [
            "games.0.name=propose_solve:truth=computed,attempts=16",
            "rollout.repetition_penalty=1.0",
            "rollout.turn_credit=own",
            "advantage.baseline=observation",
        ],
        "self_play_computed_own with 16 attempts a task",
    ),
    "critic_rae": ("sneaky-critic", [], "sneaky-critic recipe, self-play: SPIRAL's RAE, one EMA baseline per role"),
    "critic_vs_prior": (
        "sneaky-critic",
        [*VS_PRIOR],
        "sneaky-critic vs the prior sneaky player (RAE): the critic faces real planted errors, which the model's own "
        "rewrites (~1% well-formed) never give it",
    ),
}
DEFAULT = "solver_rae,solver_reinforce,solver_grpo,critic_rae"
HELDOUT = {"propose-solve": (ARITH, "level"), "sneaky-critic": (CRITIC, "kind")}
GAME = {"propose-solve": "propose_solve", "sneaky-critic": "sneaky_critic"}


def window(metrics: dict[int, dict], lo: int, hi: int, key: str) -> float | None:
    """Mean of a training metric over steps (lo, hi]: what the run did on its way to a checkpoint."""
    values = [m[key] for s, m in metrics.items() if lo < s <= hi and key in m]
    return sum(values) / len(values) if values else None


def curve(run_dir: Path, recipe: str, score_every: int = 1) -> list[dict]:
    """The start and every ``score_every``-th kept checkpoint (and the last), scored on the held-out set."""
    minutes = cpu_minutes(run_dir)
    metrics = {m["step"]: m for m in RunDir(run_dir).read_metrics()}
    precision = load_run_config(run_dir).model.precision
    game, rows, previous = GAME[recipe], [], 0
    kept = list_checkpoints(RunDir(run_dir))
    scored = [c for k, c in enumerate(kept, 1) if k % score_every == 0 or k == len(kept)]
    heldout_file, split = HELDOUT[recipe]
    for step, path in [(0, None), *scored]:
        row = {"step": step, "minutes": minutes.get(step, 0.0)}
        model_dir = start_model(run_dir) if path is None else path / "model"
        row.update(score_heldout(load_hf_engine(model_dir, device="cpu", autocast=precision), heldout_file, split))
        if step:
            row["invalid"] = window(metrics, previous, step, f"train/{game}/invalid")
            row["return0"] = window(metrics, previous, step, f"train/{game}/return/seat0")
            row["return1"] = window(metrics, previous, step, f"train/{game}/return/seat1")
            row["distinct"] = window(metrics, previous, step, f"train/{game}/proposals_distinct")
            row["one_digit_sums"] = window(metrics, previous, step, f"train/{game}/task_one_digit_sum")
        rows.append(row)
        previous = step
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    learning_arguments(parser, "learn_roles", VARIANTS, DEFAULT, 20)
    parser.add_argument("--score-every", type=int, default=1, help="score every Nth kept checkpoint (and the last)")
    args = parser.parse_args()
    root, out = Path(args.root), Path(args.out)
    names = chosen_variants(args.variants, VARIANTS, root, args.report_only)
    common = budget_overrides(args.minutes, args.every, args.seed)
    if not args.report_only:
        run_variants({n: (VARIANTS[n][0], [*VARIANTS[n][1], *args.set]) for n in names}, common, root, args.parallel)
    results = {n: curve(root / n, VARIANTS[n][0], args.score_every) for n in names if (root / n / "metrics.jsonl").exists()}
    summary = {}
    for name, rows in results.items():
        recipe = VARIANTS[name][0]
        split = HELDOUT[recipe][1]
        groups = [k for k in rows[0] if k.startswith(f"{split} ")]
        print(f"\n{name}: {VARIANTS[name][2]} (held-out {HELDOUT[recipe][0].name}, greedy)")
        columns = [("minutes", "CPU min", ".1f"), ("step", "step", "d"), ("accuracy", "held-out accuracy", ".3f")]
        columns += [(g, g, ".3f") for g in groups] + [("unread", "unread", ".3f")]
        columns += [
            ("invalid", "refused (train)", ".3f"),
            ("return0", "seat 0 return", ".3f"),
            ("return1", "seat 1 return", ".3f"),
            ("distinct", "distinct proposals", ".3f"),
            ("one_digit_sums", "valid tasks 1-digit sums", ".3f"),
        ]
        print(table(rows, columns))
        trained = rows[1:] or rows
        third = trained[-max(1, len(trained) // 3) :]
        summary[name] = {
            "steps": rows[-1]["step"],
            "minutes": rows[-1]["minutes"],
            "start": rows[0]["accuracy"],
            "start_interval": rows[0]["interval"],
            "final": rows[-1]["accuracy"],
            "final_interval": rows[-1]["interval"],
            "best": max(r["accuracy"] for r in trained),
            "last_third_mean": sum(r["accuracy"] for r in third) / len(third),
        }
    print("\nsummary (greedy held-out accuracy, 95% Wilson intervals)")
    rows = [
        {
            "variant": n,
            **s,
            "start_ci": "[{:.3f}, {:.3f}]".format(*s["start_interval"]),
            "final_ci": "[{:.3f}, {:.3f}]".format(*s["final_interval"]),
        }
        for n, s in summary.items()
    ]
    columns = [("variant", "variant", "s"), ("steps", "steps", "d"), ("minutes", "CPU min", ".1f"), ("start", "start", ".3f")]
    columns += [("start_ci", "95% CI", "s"), ("final", "final", ".3f"), ("final_ci", "95% CI", "s")]
    columns += [("last_third_mean", "last third mean", ".3f"), ("best", "best", ".3f")]
    print(table(rows, columns))
    variants = {n: (VARIANTS[n][1], VARIANTS[n][2]) for n in VARIANTS}
    record = run_record(
        "learn_roles", "propose_solve,sneaky_critic", args, "propose-solve,sneaky-critic", common, variants, names
    )
    write_json(out, {**record, "recipes": {n: VARIANTS[n][0] for n in names}, "curves": results, "summary": summary})


if __name__ == "__main__":
    main()
