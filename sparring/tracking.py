"""Where metrics go: ``metrics.jsonl`` always, TensorBoard by default, W&B / MLflow when chosen.

Every tracker receives the same flat dict (``train/tic_tac_toe/return/seat0``,
``learner/loss``, ``eval/kuhn_poker/exploitability`` ...) once per step.
Optional trackers are imported only when chosen, with a one-line install hint
when missing.
"""

from __future__ import annotations

import math
from typing import Any

from sparring.config import LoggingSection
from sparring.errors import UserError


class Trackers:
    def __init__(self, run: Any, config: LoggingSection, run_name: str, full_config: dict[str, Any]):
        self.run = run
        self.writers: list[Any] = []
        if config.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise UserError(
                    "TensorBoard logging needs the tensorboard package: pip install tensorboard "
                    "(or set logging.tensorboard=false)"
                ) from None
            self.writers.append(("tensorboard", SummaryWriter(log_dir=str(run.tensorboard_dir))))
        if config.wandb:
            try:
                import wandb
            except ImportError:
                raise UserError("logging.wandb=true needs wandb: pip install wandb") from None
            self.writers.append(
                (
                    "wandb",
                    wandb.init(project=config.project, name=run_name, config=full_config, dir=str(run.path), resume="allow"),
                )
            )
        if config.mlflow:
            try:
                import mlflow
            except ImportError:
                raise UserError("logging.mlflow=true needs mlflow: pip install mlflow") from None
            mlflow.set_experiment(config.project)
            mlflow.start_run(run_name=run_name)
            self.writers.append(("mlflow", mlflow))

    def log(self, metrics: dict[str, Any]) -> None:
        self.run.append_metrics(metrics)
        step = int(metrics["step"])
        scalars = {k: float(v) for k, v in metrics.items() if isinstance(v, int | float) and k != "step" and math.isfinite(v)}
        for kind, writer in self.writers:
            if kind == "tensorboard":
                for key, value in scalars.items():
                    writer.add_scalar(key, value, step)
                writer.flush()
            elif kind == "wandb":
                writer.log(scalars, step=step)
            else:
                writer.log_metrics({k.replace("/", "."): v for k, v in scalars.items()}, step=step)

    def close(self) -> None:
        for kind, writer in self.writers:
            if kind == "tensorboard":
                writer.close()
            elif kind == "wandb":
                writer.finish()
            else:
                writer.end_run()
