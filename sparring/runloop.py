"""The run around the steps, shared by game self-play (``train.py``) and preference rounds (``preference/rounds.py``).

What a step is differs; what surrounds it does not: check the config before
anything is written, start a new run directory or resume the newest intact
checkpoint, step until ``max_steps``, ``max_minutes`` or ``max_cpu_minutes``, evaluate every
``eval.every`` steps and at the end, log a metrics line, checkpoint every
``checkpoint.every`` steps and at the end, and on Ctrl-C save the last
finished step and say how to resume. The caller passes its own pieces
(:class:`Steps`) and writes the report afterwards.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from rich.console import Console

from sparring.checkpoint import RunDir, prepare_resume
from sparring.config import TrainConfig, dump_config
from sparring.errors import UserError
from sparring.preflight import check_startable
from sparring.report import refresh_report
from sparring.tracking import Trackers


class Progress(Protocol):
    """What the loop reads and keeps in a trainer: the step count, training seconds, the latest evaluation."""

    step: int
    elapsed: float
    cpu_elapsed: float
    """Training CPU seconds (this process, all threads), restored on resume like ``elapsed``."""
    last_eval: dict[str, float]


T = TypeVar("T", bound=Progress)


@dataclass
class Steps(Generic[T]):
    """A trainer's pieces: how to build and restore it, take one step, evaluate, save, and say a step in one line."""

    build: Callable[[TrainConfig, RunDir, int], T]
    """``build(config, run, schedule_steps)``: ``schedule_steps`` is the run's own ``max_steps`` (a learning-rate
    decay's horizon) when this process was told to stop earlier."""
    restore: Callable[[T, Path], None]
    step: Callable[[T], dict[str, float]]
    """One step; it advances ``trainer.step`` and returns the step's metrics."""
    evaluate: Callable[[T], dict[str, float]]
    save: Callable[[T], Any]
    summary: Callable[[int, int, dict[str, float]], str]
    after_evaluation: Callable[[T], None] = lambda _: None
    """Run after a step's evaluation, before its metrics line (the game loop saves its replays here)."""
    close: Callable[[T], None] = lambda _: None
    """Always run when the loop ends, by error too (stop workers, release other processes)."""
    unit: str = "step"
    """What a step is called in messages (``round`` for preference rounds)."""


def run(
    pieces: Steps[T],
    config: TrainConfig,
    run_dir: Path,
    resume: bool = False,
    console: Console | None = None,
    max_steps: int | None = None,
) -> tuple[T, RunDir]:
    """Start (or resume) ``run_dir`` and step to the end; returns the trainer and its run directory.

    The report is left to the caller, so that what it prints last is the report's path.
    """
    console = console or Console(highlight=False)
    run_ = RunDir(run_dir)
    check_startable(config)  # model, device, packages, player specs: every problem before anything is written
    if resume:
        ckpt_step, ckpt = prepare_resume(run_, warn=lambda msg: console.print(f"[yellow]warning:[/yellow] {msg}"))
    elif run_.path.exists() and any(run_.path.iterdir()):
        raise UserError(f"run directory {run_.path} is not empty; resume it with --resume or choose another --run-dir")
    saved = config  # the run's config.yaml keeps its own max_steps; --max-steps only sets how far this process goes
    if max_steps is not None:
        config = config.model_copy(update={"max_steps": max_steps})
    t = pieces.build(
        config, run_, saved.max_steps
    )  # before the run directory exists: a model that fails to load leaves nothing behind
    unit = pieces.unit
    try:
        if not resume:
            run_.create(exist_ok=True)
            run_.config_path.write_text(dump_config(saved))
        else:
            pieces.restore(t, ckpt)
            console.print(f"resumed {run_.path} from {unit} {ckpt_step}")
        trackers = Trackers(run_, config.logging, config.name, config.model_dump(mode="json"))
        with terminate_as_interrupt():
            _steps(pieces, t, config, run_, trackers, console, last_saved=t.step if resume else -1)
    finally:
        pieces.close(t)
    trackers.close()
    return t, run_


def _steps(
    pieces: Steps[T], t: T, config: TrainConfig, run_: RunDir, trackers: Trackers, console: Console, last_saved: int
) -> None:
    unit = pieces.unit
    started = time.perf_counter() - t.elapsed
    cpu_started = time.process_time() - t.cpu_elapsed
    try:
        if t.step == 0:
            trackers.log({"step": 0, **pieces.evaluate(t)})
            console.print(pieces.summary(0, config.max_steps, t.last_eval), soft_wrap=True)
        while t.step < config.max_steps:
            metrics = pieces.step(t)
            t.elapsed = time.perf_counter() - started
            t.cpu_elapsed = time.process_time() - cpu_started
            out_of_time = out_of_budget(config, t)
            last = t.step >= config.max_steps or bool(out_of_time)
            if (config.eval.every and t.step % config.eval.every == 0) or last:
                metrics.update(pieces.evaluate(t))
            pieces.after_evaluation(t)
            trackers.log({"step": t.step, "time/elapsed": t.elapsed, "time/cpu_seconds": t.cpu_elapsed, **metrics})
            console.print(pieces.summary(t.step, config.max_steps, metrics), soft_wrap=True)
            if t.step % config.checkpoint.every == 0 or last:
                pieces.save(t)
                last_saved = t.step
            if out_of_time:
                console.print(f"{out_of_time} reached at {unit} {t.step}")
                break
    except KeyboardInterrupt:
        if t.step > 0 and last_saved != t.step:
            console.print(f"interrupted: saving a checkpoint of the last finished {unit} (Ctrl-C again to abandon it)")
            pieces.save(t)
        refresh_report(run_.path, console)
        trackers.close()
        raise UserError(f"interrupted at {unit} {t.step}; continue with: sparring train --resume {run_.path}") from None


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the run the way Ctrl-C does: the last finished step is saved, and resume continues it.

    A batch scheduler's preemption, ``kill`` and ``timeout`` send SIGTERM, and a run started in the
    background of a script has SIGINT ignored, so without this the only clean stop would be unavailable
    and up to ``checkpoint.every`` steps would be lost. Signals reach only the main thread's handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def out_of_budget(config: TrainConfig, t: Progress) -> str:
    """Which time budget the run has used up ("" if none)."""
    if config.max_minutes is not None and t.elapsed > config.max_minutes * 60:
        return f"time budget of {config.max_minutes} min"
    if config.max_cpu_minutes is not None and t.cpu_elapsed > config.max_cpu_minutes * 60:
        return f"CPU budget of {config.max_cpu_minutes} min"
    return ""
