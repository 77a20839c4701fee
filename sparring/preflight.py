"""Everything a training run needs, checked before its run directory is created.

A typo in ``model.path`` or an opponent spec used to surface only after
``sparring train`` had created the run directory (and sometimes after the
first evaluation), leaving a half-made run that blocks the next attempt with
"run directory is not empty". :func:`check_startable` looks at what the config
promises and the machine must provide -- the model directory, the device, the
optional packages a section switches on, every player spec -- and reports
every problem in one line, before anything is written. It builds nothing
heavy: models are loaded once, by the run itself.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec

import torch

from sparring.config import TrainConfig
from sparring.engines import resolve_model_path
from sparring.errors import UserError
from sparring.evaluate.suite import default_opponents
from sparring.games import make_game
from sparring.players.registry import check_player


def check_device(device: str) -> None:
    """``device`` names a torch device this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise UserError(f"model.device {device!r} is not a device; use cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError(f"model.device={device} but this machine has no CUDA GPU that torch can use")
        if parsed.index is not None and parsed.index >= count:
            raise UserError(f"model.device={device} but this machine has {count} CUDA GPU(s)")
    elif parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"model.device={device} but MPS is not available here")


def missing_packages(config: TrainConfig) -> list[str]:
    """One line per optional package the config switches on that is not installed."""
    wanted = [
        (config.engine.kind == "vllm", "vllm", "engine.kind=vllm needs vLLM: pip install 'sparring[gpu]'"),
        (config.distributed.backend == "ray", "ray", "distributed.backend=ray needs Ray: pip install 'sparring[ray]'"),
        (config.model.lora is not None, "peft", "model.lora needs peft: pip install peft"),
        (config.logging.tensorboard, "tensorboard", "logging.tensorboard=true needs tensorboard: pip install tensorboard"),
        (config.logging.wandb, "wandb", "logging.wandb=true needs wandb: pip install wandb"),
        (config.logging.mlflow, "mlflow", "logging.mlflow=true needs mlflow: pip install mlflow"),
    ]
    return [message for on, module, message in wanted if on and find_spec(module) is None]


def check_startable(config: TrainConfig) -> None:
    """Raise one UserError listing every reason ``config`` cannot start a run here; return if it can."""
    problems: list[str] = []

    def attempt(where: str, check: Callable[..., object], *args: object) -> None:
        try:
            check(*args)
        except UserError as err:
            problems.append(f"{where}: {err}" if where else str(err))

    attempt("", resolve_model_path, config.model.path)
    attempt("", check_device, config.model.device)
    if config.engine.kind == "vllm" and not config.model.device.startswith("cuda"):
        problems.append(f"engine.kind=vllm runs on GPUs; set model.device=cuda (it is {config.model.device!r})")
    problems += missing_packages(config)
    if config.opponent.kind == "fixed" and not config.opponent.fixed:
        problems.append("opponent.kind=fixed needs a player spec in opponent.fixed (e.g. opponent.fixed=minimax)")
    seats = config.opponent.learner_seats
    for k, section in enumerate(config.games):
        game = make_game(section.name)  # the config has already checked the game spec
        if seats is not None and max(seats) >= game.num_players:
            problems.append(f"opponent.learner_seats {seats}: {section.name} has seats 0-{game.num_players - 1}")
        if config.opponent.kind == "fixed" and config.opponent.fixed:
            attempt(f"opponent.fixed for {section.name}", check_player, config.opponent.fixed, game)
        if config.opponent.kind == "exploiter":
            from sparring.evaluate.exploitability import require_exact_game  # OpenSpiel, only when asked for

            attempt(f"opponent.kind=exploiter for {section.name}", require_exact_game, game)
        for spec in section.eval_opponents or default_opponents(section.name):
            attempt(f"games.{k}.eval_opponents", check_player, spec, game)
    if problems:
        unique = list(dict.fromkeys(problems))
        raise UserError(f"cannot start the run ({len(unique)} problem{'s' if len(unique) > 1 else ''}): " + "; ".join(unique))
