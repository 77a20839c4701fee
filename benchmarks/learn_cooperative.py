"""Learning benchmark: cooperative self-play on tiny_hanabi, scored exactly against the best joint policy.

tiny_hanabi (OpenSpiel) is a two-seat signalling game: each seat holds a
private card, the first seat acts, the second acts knowing only that action,
and the team's payoff depends on both cards and both actions. The best joint
policy earns 10; uniform play earns 3.72. A policy's expected team return can
be computed exactly (``sparring.evaluate.cooperative``), so every kept
checkpoint is scored without sampling noise, as Kuhn's exploitability is.

The variants are MARS's settings (the ``mars`` recipe, restricted to this
game) against the same with SPIRAL's RAE advantages: issue 15's "MARS vs
RAE" comparison. Its "turn view vs trajectory view" comparison is empty
here: each seat of tiny_hanabi moves once, so a seat's conversation is its
one turn prompt, token for token, and the two views train identically
(measured: ``mars_turn`` matched ``mars_trajectory`` in every logged metric
for all 69 steps it ran). The turn variants are kept to show that; the
views differ in speed on games with several moves a seat
(``benchmarks/views.py``). Each run trains from the same start model (below)
for the same CPU-time budget on one thread, ``--parallel`` runs at a time; the
checkpoints are scored afterwards, each with the prompt of its own run.

``mars_three_games`` is the ``mars`` recipe as shipped: tic-tac-toe and Kuhn
with tiny_hanabi in one batch (issue 15's "a competitive and a cooperative
game together"); its table adds Kuhn's exact exploitability per checkpoint,
so both sides of the batch are seen moving. Run it from a model that knows
tiny_hanabi (``--start DIR``).

Before stage 10 the bundled model had never seen tiny_hanabi (its answers
were 100% invalid there), so by default every run starts from a model made
first, in about a minute of CPU: the bundled model taught the
game's answer format and its weak prior (``benchmarks/starts/tiny_hanabi.yaml``,
team return 5.33).

    .venv/bin/python benchmarks/learn_cooperative.py --minutes 15 [--variants mars_trajectory,rae_turn]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import (
    budget_overrides,
    chosen_variants,
    cpu_minutes,
    learning_arguments,
    line_chart,
    run_record,
    run_variants,
    start_model,
    table,
    write_json,
)

from sparring.checkpoint import RunDir, list_checkpoints
from sparring.config import TrainConfig, load_run_config
from sparring.engines import load_hf_engine
from sparring.engines.base import SamplingParams
from sparring.evaluate.cooperative import TeamReturn, team_return
from sparring.evaluate.exploitability import exploitability_of_table, policy_table
from sparring.games import make_game
from sparring.games.base import Game
from sparring.players.lm import LMPlayer

ONLY_HANABI = ["games=[{name: tiny_hanabi}]"]
"""The ``mars`` recipe trains three games at once; here it trains tiny_hanabi alone."""

VARIANTS: dict[str, tuple[list[str], str]] = {
    "mars_trajectory": ([*ONLY_HANABI], "the mars recipe: trajectory view, MARS advantages, dual clip 1.4, KL 0.2 to the start"),
    "mars_turn": ([*ONLY_HANABI, "prompt.view=turn"], "the same in the turn view (a fresh prompt per turn)"),
    "rae_trajectory": (
        [*ONLY_HANABI, "advantage.estimator=rae"],
        "the mars recipe with SPIRAL's RAE (per-role EMA baseline) advantages",
    ),
    "rae_turn": ([*ONLY_HANABI, "advantage.estimator=rae", "prompt.view=turn"], "RAE advantages in the turn view"),
    "mars_three_games": (
        [],
        "the mars recipe as shipped: tic-tac-toe and Kuhn (competitive) with tiny_hanabi (cooperative) in one batch",
    ),
}


START_CONFIG = Path(__file__).parent / "starts" / "tiny_hanabi.yaml"


def start_model_dir(path: Path) -> Path:
    """The runs' start model: made with ``sparring pretrain`` from the bundled model if ``path`` has none yet."""
    if (path / "config.json").is_file():
        return path
    from sparring.engines.paths import BUNDLED

    cmd = [sys.executable, "-m", "sparring", "pretrain", "--config", str(START_CONFIG), "--init", str(BUNDLED)]
    print(f"making the start model in {path}", flush=True)
    subprocess.run([*cmd, "--out", str(path)], check=True)
    return path


def run_player(engine: Any, config: TrainConfig, game: Game) -> LMPlayer:
    """A model as its run plays it: the run's own prompt and answer length."""
    return LMPlayer(engine, game, config.prompt.prompt_config(), SamplingParams(max_new_tokens=config.sampling.max_new_tokens))


def curve(run_dir: Path, game_name: str) -> list[dict]:
    """Per kept checkpoint (and the start): exact team return playing both seats, and, for a run that also
    trains Kuhn (the three-game recipe), Kuhn's exact exploitability from the same loaded model."""
    minutes = cpu_minutes(run_dir)
    metrics = {m["step"]: m for m in (RunDir(run_dir).read_metrics())}
    config, game = load_run_config(run_dir), make_game(game_name)
    kuhn = make_game("kuhn_poker") if any(g.name == "kuhn_poker" for g in config.games) else None
    rows = []
    for step, path in [(0, None), *list_checkpoints(RunDir(run_dir))]:
        model_dir = start_model(run_dir) if path is None else path / "model"
        engine = load_hf_engine(model_dir, device="cpu", autocast=config.model.precision)
        result: TeamReturn = team_return(game, run_player(engine, config, game))
        invalid = metrics.get(step, {}).get(f"train/{game_name}/invalid")
        gap = result.optimum - result.expected
        row = {"step": step, "minutes": minutes.get(step, 0.0), "team_return": result.expected, "gap": gap, "invalid": invalid}
        if kuhn is not None:
            row["kuhn_exploitability"] = exploitability_of_table(
                kuhn, policy_table(kuhn, run_player(engine, config, kuhn))
            ).exploitability
        rows.append(row)
    return rows


def summarize(rows: list[dict]) -> dict[str, float]:
    trained = rows[1:]
    third = trained[-max(1, len(trained) // 3) :]
    return {
        "steps": rows[-1]["step"],
        "minutes": rows[-1]["minutes"],
        "start": rows[0]["team_return"],
        "final": trained[-1]["team_return"],
        "best": max(r["team_return"] for r in trained),
        "last_third_mean": sum(r["team_return"] for r in third) / len(third),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    learning_arguments(parser, "learn_cooperative", VARIANTS, "mars_trajectory,rae_trajectory", 10)
    parser.add_argument("--start", default=None, help="start model directory (default ROOT/start, made if missing)")
    args = parser.parse_args()
    game_name, root, out = "tiny_hanabi", Path(args.root), Path(args.out)
    names = chosen_variants(args.variants, VARIANTS, root, args.report_only)
    start = start_model_dir(Path(args.start) if args.start else root / "start")
    common = [f"model.path={start}", *budget_overrides(args.minutes, args.every, args.seed)]
    if not args.report_only:
        run_variants({n: ("mars", [*VARIANTS[n][0], *args.set]) for n in names}, common, root, args.parallel)
    results = {name: curve(root / name, game_name) for name in names if (root / name / "metrics.jsonl").exists()}
    columns = [("minutes", "min", ".1f"), ("step", "step", "d"), ("team_return", "team return", ".3f")]
    columns += [("gap", "gap to optimum", ".3f"), ("invalid", "invalid (train)", ".3f")]
    columns += [("kuhn_exploitability", "Kuhn exploitability", ".3f")]
    for name, rows in results.items():
        print(f"\n{name}: {VARIANTS[name][1]}")
        print(table(rows, columns))
    summary = {name: summarize(rows) for name, rows in results.items() if len(rows) > 1}
    print("\nsummary (exact expected team return of the latest checkpoint playing both seats; optimum 10)")
    summary_columns = [("variant", "variant", "s"), ("steps", "steps", "d"), ("minutes", "CPU min", ".1f")]
    summary_columns += [(k, k.replace("_", " "), ".3f") for k in ("start", "final", "last_third_mean", "best")]
    print(table([{"variant": n, **s} for n, s in summary.items()], summary_columns))
    if results:
        series = {name: [(r["minutes"], r["team_return"]) for r in rows] for name, rows in results.items()}
        chart = out.with_suffix(".svg")
        chart.parent.mkdir(parents=True, exist_ok=True)
        chart.write_text(line_chart(series, f"{game_name}: exact team return (optimum 10)", "CPU minutes", "team return"))
        print(f"wrote {chart}")
    record = run_record("learn_cooperative", game_name, args, "mars", common, VARIANTS, names, start_config=str(START_CONFIG))
    write_json(out, {**record, "curves": results, "summary": summary})


if __name__ == "__main__":
    main()
