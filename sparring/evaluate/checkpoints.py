"""``sparring eval``: evaluate a run's checkpoint (or any model directory) on its games.

What the user points at decides everything else:

* a run directory (has ``config.yaml``): its newest intact checkpoint, on every game of its config;
* a checkpoint directory (``RUN/checkpoints/step-K``): that checkpoint, config from ``RUN``;
* ``RUN/best`` (``checkpoint.keep_best``): the best model by the run's chosen metric, config from ``RUN``
  (its results are printed, not saved as a step's: the model may be the weight average);
* a model directory (has ``config.json``) or ``bundled``: that model, on the games named with ``--game``.

Each game is played against the run's fixed evaluation opponents (or the
per-game defaults) in both seats, with exact exploitability wherever it is
defined (even when the run turned it off to train faster) -- the same :func:`sparring.evaluate.suite.evaluate_game` training
uses, so ``sparring eval`` numbers and the training curves agree. A run's
results are saved as ``RUN/eval/step-K.json``, the file the HTML report reads.

Checkpoints are only read here: a training process may be writing the same run,
so unfinished saves are skipped, never cleaned up (that is ``--resume``'s job).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sparring.checkpoint import CheckpointDir, CorruptCheckpoint, RunDir, list_checkpoints, verify_checkpoint
from sparring.config import TrainConfig, load_run_config
from sparring.engines import load_hf_engine, resolve_model_path
from sparring.engines.base import Engine, SamplingParams
from sparring.errors import UserError
from sparring.evaluate.suite import default_opponents, eval_sampling, evaluate_game
from sparring.games import make_game
from sparring.players.lm import LMPlayer
from sparring.prompts import PromptConfig

Warn = Callable[[str], None]
DEFAULT_GAMES = 40
"""Games per opponent when there is no run config to take ``eval.games`` from."""


@dataclass
class Target:
    """A model to evaluate, and the run it came from (if any)."""

    model_dir: Path
    run_dir: Path | None = None
    step: int | None = None
    checkpoint: Path | None = None
    config: TrainConfig | None = None

    @property
    def label(self) -> str:
        if self.checkpoint is not None and self.checkpoint.name == "best" and self.step is None:
            return "best"
        return f"step-{self.step}" if self.step is not None else self.model_dir.name


def no_warnings(_: str) -> None:
    """The default warning sink: callers that print pass their own."""


def intact_checkpoints(run: RunDir, warn: Warn = no_warnings) -> list[tuple[int, Path]]:
    """Every checkpoint of the run that passes its integrity check, oldest first; damaged ones are reported."""
    found = []
    for step, path in list_checkpoints(run):
        try:
            verify_checkpoint(path)
        except CorruptCheckpoint as err:
            warn(f"skipping checkpoint {path.name}: {err.reason}")
            continue
        found.append((step, path))
    return found


def latest_intact(run: RunDir, warn: Warn = no_warnings) -> tuple[int, Path]:
    """The newest checkpoint that verifies (hashing only as many as needed)."""
    for step, path in reversed(list_checkpoints(run)):
        try:
            verify_checkpoint(path)
        except CorruptCheckpoint as err:
            warn(f"skipping checkpoint {path.name}: {err.reason}")
            continue
        return step, path
    raise UserError(f"no intact checkpoint in {run.checkpoints_dir}; train the run first (checkpoint.every sets how often)")


def load_run(run_dir: Path) -> TrainConfig:
    """The run's saved config, or a one-line error when ``run_dir`` is not a run."""
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} does not exist")
    return load_run_config(run_dir)


def checkpoint_model_dir(ckpt: Path) -> Path:
    """The HF model directory of a checkpoint: its model, or for a LoRA run the base merged with
    its adapter (merged once into the run's cache, so the checkpoint itself is never touched)."""
    layout = CheckpointDir(ckpt)
    if (layout.model_dir / "config.json").is_file() or not layout.adapter_dir.is_dir():
        return layout.model_dir
    from sparring.lora import merge_checkpoint

    cache = layout.merged_model_dir
    if not (cache / "config.json").is_file():
        import shutil

        shutil.rmtree(cache, ignore_errors=True)
        tmp = cache.with_name(cache.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        merge_checkpoint(ckpt, tmp)
        tmp.rename(cache)
    return cache


def resolve_target(target: str, warn: Warn = no_warnings) -> Target:
    """Decide whether ``target`` is a run, a checkpoint or a model directory (see the module notes)."""
    path = Path(target).expanduser()
    if RunDir(path).is_run():
        config = load_run(path)
        step, ckpt = latest_intact(RunDir(path), warn)
        return Target(checkpoint_model_dir(ckpt), path, step, ckpt, config)
    layout = CheckpointDir(path)
    if path.name == "best" and RunDir(path.parent).is_run():  # RUN/best (checkpoint.keep_best): the run's config
        verify_checkpoint(path)
        return Target(checkpoint_model_dir(path), path.parent, None, path, load_run(path.parent))
    run = layout.run
    if run is not None and layout.step is not None:
        verify_checkpoint(path)
        return Target(checkpoint_model_dir(path), run.path, layout.step, path, load_run(run.path))
    if target == "bundled" or (path / "config.json").is_file():
        return Target(resolve_model_path(target))
    if (layout.model_dir / "config.json").is_file():  # a checkpoint copied out of its run: a model, no config
        return Target(layout.model_dir)
    raise UserError(
        f"{target} is not a run directory (no config.yaml), a checkpoint (RUN/checkpoints/step-K) "
        "or a model directory (no config.json)"
    )


def game_plan(target: Target, games: list[str] | None) -> list[tuple[str, list[str]]]:
    """(game spec, opponents) to evaluate: ``games`` if given, else the run's games; opponents from the config."""
    configured = {g.name: g.eval_opponents for g in target.config.games} if target.config else {}
    if not games:
        if not configured:
            raise UserError(f"{target.model_dir} is a model directory, not a run: name the games with --game G")
        games = list(configured)
    plan = []
    for spec in games:
        make_game(spec)  # an unknown game or bad parameters fail here, before any model is loaded
        plan.append((spec, configured.get(spec) or default_opponents(spec)))
    return plan


def prompt_and_sampling(config: TrainConfig | None, temperature: float | None) -> tuple[PromptConfig, SamplingParams]:
    """The run's prompt and answer length (so the model is asked exactly as in training), at eval temperature."""
    if config is None:
        return PromptConfig(), SamplingParams(temperature=1.0 if temperature is None else temperature)
    return config.prompt.prompt_config(), eval_sampling(config, temperature)


def load_engine(target: Target, device: str | None) -> Engine:
    config = target.config
    precision = config.model.precision if config else "auto"
    return load_hf_engine(target.model_dir, device=device or (config.model.device if config else "cpu"), autocast=precision)


def evaluate_target(
    target: Target,
    games: list[str] | None = None,
    num_games: int | None = None,
    temperature: float | None = None,
    seed: int = 0,
    device: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Play every game of the plan and return the ``eval/step-K.json`` object."""
    plan = game_plan(target, games)
    n = num_games or (target.config.eval.games if target.config else DEFAULT_GAMES)
    if n < 2:
        raise UserError("--games must be at least 2 (one per seat)")
    prompt, sampling = prompt_and_sampling(target.config, temperature)
    engine = load_engine(target, device)
    out: dict[str, Any] = {
        "step": target.step,
        "checkpoint": str(target.checkpoint) if target.checkpoint else None,
        "model": str(target.model_dir),
        "settings": {"games": n, "temperature": sampling.temperature, "seed": seed, "max_new_tokens": sampling.max_new_tokens},
        "games": {},
    }
    for spec, opponents in plan:
        game = make_game(spec)
        engine.rng.manual_seed(seed)
        player = LMPlayer(engine, game, prompt, sampling, name=target.label)
        result = evaluate_game(game, spec, player, opponents, n, with_exploitability=True, progress=progress)
        out["games"][spec] = {
            "vs": result.vs,
            "exploitability": result.exploitability,
            "nash_conv": result.nash_conv,
            "team_return": result.team_return,
            "team_optimum": result.team_optimum,
            "mean_response_tokens": result.mean_response_tokens,
        }
    return out


def save_eval(target: Target, result: dict[str, Any]) -> Path | None:
    """Write ``RUN/eval/step-K.json`` atomically (the report may read it any time); None without a run."""
    if target.run_dir is None or target.step is None:
        return None
    path = RunDir(target.run_dir).eval_path(target.step)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, result)
    return path


def write_json_atomically(path: Path, data: Any) -> None:
    """Readers see the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
