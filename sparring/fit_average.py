"""One model that plays a run's average policy: self-play's average iterate as a single checkpoint.

Against the exploiter (``opponent.kind: exploiter``) the current policy descends and then swings back up,
while the reach-weighted average of the policies it passed through (which the league keeps, see
``sparring.evaluate.average_policy``) is the iterate that fictitious play and CFR converge with. This fits
one model to that average by cross-entropy toward its whole move distribution at every information state,
as NFSP fits its average-policy network by supervised learning on its own past play (Heinrich & Silver,
2016), starting from the run's latest checkpoint so little has to move. It is scored by exact
exploitability every ``every`` CPU minutes; the least exploitable fit is written (an exact score, so keeping
the best has no selection bias).

``fit_to_samples`` is the fitting loop alone: ``benchmarks/ceiling.py`` uses it to tell a model known-right
answers.

    sparring fit-average runs/leduc-1 --minutes 10
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sparring.errors import UserError
from sparring.pretrain import Sample, encode_samples, train_step

Score = Callable[[Any, Any], dict[str, float]]
"""(model, tokenizer) -> figures; the model is in eval mode while scored."""


def fit_to_samples(
    model: Any,
    tokenizer: Any,
    samples: list[Sample],
    score: Score,
    minutes: float,
    every: float,
    lr: float = 5e-4,
    batch: int = 64,
    seed: int = 0,
    on_score: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Cross-entropy steps on random batches of ``samples`` for ``minutes`` CPU minutes (this process's time),
    scored at the start and every ``every`` minutes (scoring not counted); one row per scoring.

    ``on_score(row)`` runs after each scoring with the model still as scored (to keep the best one)."""
    from sparring.device import autocast_dtype

    encoded = encode_samples(tokenizer, samples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    dtype = autocast_dtype("cpu")
    rng = random.Random(seed)

    def scored(spent: float, step: int, losses: list[float]) -> dict[str, Any]:
        model.eval()
        recent = losses[-50:]
        row = {"minutes": spent / 60, "step": step, "loss": sum(recent) / len(recent) if recent else float("nan")}
        row.update(score(model, tokenizer))
        if on_score:
            on_score(row)
        model.train()
        return row

    rows = [scored(0.0, 0, [])]
    spent, step, losses, next_score = 0.0, 0, [], every * 60
    model.train()
    while spent < minutes * 60:
        started = time.process_time()
        chosen = rng.sample(encoded, min(batch, len(encoded)))
        losses.append(train_step(model, optimizer, chosen, 0.0, tokenizer.pad_token_id, dtype))
        spent += time.process_time() - started
        step += 1
        if spent >= next_score or spent >= minutes * 60:
            next_score += every * 60
            rows.append(scored(spent, step, losses))
    model.eval()
    return rows


def table_prior(game: Any, table: Any) -> Callable[[Any], dict[str, float]]:
    """A tabular policy as a prior: at a wrapped state, the table's probability of each legal move, by name."""

    def prior(state: Any) -> dict[str, float]:
        pstate = state.pstate
        row = table.action_probability_array[table.state_lookup[pstate.information_state_string(pstate.current_player())]]
        return {game.view.action_name(pstate, a): float(row[a]) for a in pstate.legal_actions()}

    return prior


@dataclass
class FitAverageResult:
    game: str
    kind: str
    step: int
    """The checkpoint the fit started from (and whose league state held the average)."""
    average_exploitability: float
    """The average policy's own exploitability: what a perfect fit would score."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    out: str = ""


def run_average(state_path: Path, game_spec: str, kind: str) -> Any:
    """The ``kind`` running average of ``game_spec`` kept in a checkpoint's league state, as a table."""
    from sparring.evaluate.average_policy import RunningAverage
    from sparring.evaluate.exploitability import require_exact_game
    from sparring.games import make_game

    averages = json.loads(state_path.read_text()).get("league", {}).get("averages", {})
    if game_spec not in averages:
        raise UserError(
            f"{state_path.parent} holds no average policy of {game_spec}: the league averages the policies its "
            "exploiter reads, so the run needs opponent.kind=exploiter (and a checkpoint after the first recompute)"
        )
    if kind not in averages[game_spec]:
        raise UserError(f"--kind must be one of {', '.join(sorted(averages[game_spec]))}, not {kind!r}")
    return RunningAverage.from_state(require_exact_game(make_game(game_spec)), averages[game_spec][kind]).table()


def fit_average(
    run: str,
    game_spec: str | None = None,
    kind: str = "linear",
    minutes: float = 10.0,
    every: float = 1.0,
    lr: float = 5e-4,
    batch: int = 64,
    seed: int = 0,
    out: str | None = None,
    log: Callable[[str], None] = print,
) -> FitAverageResult:
    """Fit the run's latest checkpoint to its league's average policy; write the least exploitable fit to ``out``
    (default ``RUN/average-fit``) with ``fit.json`` beside the model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sparring.checkpoint import CheckpointDir, RunDir
    from sparring.engines.hf import HFEngine
    from sparring.evaluate.checkpoints import resolve_target
    from sparring.evaluate.exploitability import exploitability, exploitability_of_table, require_exact_game
    from sparring.games import make_game
    from sparring.players.lm import LMPlayer
    from sparring.pretrain import information_states

    if not RunDir(run).is_run():
        raise UserError(f"{run} is not a run directory (no config.yaml)")
    target = resolve_target(run)
    assert target.config is not None and target.checkpoint is not None and target.step is not None
    specs = [g.name for g in target.config.games]
    game_spec = game_spec or specs[0]
    if game_spec not in specs:
        raise UserError(f"{run} did not train on {game_spec}; its games: {', '.join(specs)}")
    game = require_exact_game(make_game(game_spec))
    average = run_average(CheckpointDir(target.checkpoint).state_path, game_spec, kind)
    result = FitAverageResult(game_spec, kind, target.step, exploitability_of_table(game, average).exploitability)
    log(f"{run} step {target.step}: the {kind} average policy of {game_spec} is {result.average_exploitability:.3f} exploitable")
    prompt = target.config.prompt.prompt_config()
    samples = information_states(game.name, prompt, prior=table_prior(game, average))
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(target.model_dir)
    model = AutoModelForCausalLM.from_pretrained(target.model_dir, dtype=torch.float32)
    destination = Path(out or Path(run) / "average-fit")

    def score(model: Any, tokenizer: Any) -> dict[str, float]:
        player = LMPlayer(HFEngine(model, tokenizer), game, prompt)
        return {"exploitability": exploitability(game, player).exploitability}

    def keep_best(row: dict[str, Any]) -> None:
        figures = f"loss {row['loss']:.3f}  exploitability {row['exploitability']:.3f}"
        log(f"  {row['minutes']:5.1f} CPU min  step {row['step']:4d}  {figures}")
        if not result.best or row["exploitability"] < result.best["exploitability"]:
            result.best = dict(row)
            tmp = destination.with_name(destination.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            _replace_dir(tmp, destination)

    result.rows = fit_to_samples(model, tokenizer, samples, score, minutes, every, lr, batch, seed, on_score=keep_best)
    result.out = str(destination)
    (destination / "fit.json").write_text(json.dumps(vars(result), indent=1))
    return result


def _replace_dir(tmp: Path, final: Path) -> None:
    """Swap ``tmp`` in for ``final``: a Ctrl-C leaves either the old fit or the new one, never half of one."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
