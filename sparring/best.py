"""Keep the best model of a run by one evaluation metric (``checkpoint.keep_best``), in ``RUN/best``.

Self-play does not improve monotonically: a policy near an equilibrium keeps
moving, and the last checkpoint of a Kuhn run can be twice as exploitable as
one from a hundred steps earlier (README, "Learning benchmarks"). Where the
evaluation is exact (exploitability, a cooperative game's team return) the
best evaluated model is a model selection that cannot flatter: its number is
what that model is. Arena win rates are samples, and the best of many noisy
evaluations overstates the model kept, so the docs say to evaluate it again.

The record lives with the model (``best.json`` inside ``RUN/best``, under the
same manifest), so a resumed run continues from the best it had, and a best
that does not verify is treated as absent and replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sparring.checkpoint import RunDir, read_best, save_best
from sparring.errors import UserError

LOWER_IS_BETTER = ("exploitability", "nash_conv", "loss", "invalid", "response_tokens")
"""Metric names (their last part) where smaller is better; everything else is better higher."""


def lower_is_better(metric: str, best_is: str | None = None) -> bool:
    if best_is is not None:
        return best_is == "lowest"
    return metric.rsplit("/", 1)[-1].removeprefix("average_") in LOWER_IS_BETTER


def metric_value(metrics: dict[str, float], metric: str) -> float | None:
    """The mean of ``eval/<game>/<metric>`` over the games that log it; None if none does."""
    values = [v for k, v in metrics.items() if k.startswith("eval/") and k.split("/", 2)[2:] == [metric]]
    return sum(values) / len(values) if values else None


def available(metrics: dict[str, float]) -> list[str]:
    """The metric names ``keep_best`` could name, for the error that says which exist."""
    return sorted({k.split("/", 2)[2] for k in metrics if k.startswith("eval/") and k.count("/") >= 2})


class BestKeeper:
    """Offer it every evaluation; it rewrites ``RUN/best`` when one beats the best so far (ties keep the older)."""

    def __init__(self, run: RunDir, metric: str, best_is: str | None = None) -> None:
        self.run, self.metric = run, metric
        self.lower = lower_is_better(metric, best_is)
        record = read_best(run)
        same = record is not None and record.get("metric") == metric
        self.step: int | None = record["step"] if same else None
        self.value: float | None = record["value"] if same else None

    @property
    def keeps_average(self) -> bool:
        """``average_*`` metrics score the weight average, so that is the model kept."""
        return self.metric.startswith("average_")

    def offer(self, step: int, metrics: dict[str, float], write: Callable[[Path], None]) -> bool:
        """Write ``RUN/best`` with ``write(dir)`` if this evaluation is the best yet; True if it was."""
        value = metric_value(metrics, self.metric)
        if value is None:
            names = ", ".join(available(metrics)) or "none"
            raise UserError(f"checkpoint.keep_best={self.metric}: this run's evaluation logs no such metric (it logs: {names})")
        if self.value is not None and not (value < self.value if self.lower else value > self.value):
            return False
        info = {"step": step, "metric": self.metric, "value": value, "model": "average" if self.keeps_average else "policy"}
        save_best(self.run, step, write, info)
        self.step, self.value = step, value
        return True
