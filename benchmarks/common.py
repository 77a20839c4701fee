"""Shared plumbing for the learning benchmarks: run training in a subprocess, read its metrics."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def launch(
    recipe: str, run_dir: Path, overrides: list[str], threads: int | None = None, log: Path | None = None
) -> subprocess.Popen:
    """Start ``sparring train RECIPE overrides --run-dir run_dir`` in the background."""
    env = dict(os.environ)
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115  (closed by the child's exit)
    cmd = [sys.executable, "-m", "sparring", "train", recipe, *overrides, "--run-dir", str(run_dir)]
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def chosen_variants(spec: str, known: dict[str, Any], root: Path, report_only: bool = False) -> list[str]:
    """The comma-separated variant names of ``spec``, checked against ``known``; none may have a run dir yet
    (with ``report_only``, each must have one: its runs are scored again, not trained). Makes ``root``."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(known)}")
    for name in names:
        if (root / name).exists() != report_only:
            raise SystemExit(f"{root / name} {'is missing' if report_only else 'exists; remove it or pass --root'}")
    root.mkdir(parents=True, exist_ok=True)
    return names


def learning_arguments(
    parser: argparse.ArgumentParser, name: str, variants: dict[str, Any], default: str, every: int
) -> argparse.ArgumentParser:
    """The arguments every learning benchmark takes (variants, budget, parallel runs, checkpoint cadence, seed,
    where runs and results go, extra overrides, scoring existing runs again); ``name`` names its defaults."""
    parser.add_argument("--variants", default=default, help=f"comma-separated, from: {', '.join(variants)}")
    parser.add_argument("--minutes", type=float, default=15.0, help="CPU-minute budget per run (one thread each)")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time (one CPU thread each)")
    parser.add_argument("--every", type=int, default=every, help="steps between kept checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=f"benchmarks/runs/{name}", help="run directories")
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides for every run, applied last")
    parser.add_argument("--report-only", action="store_true", help="score the existing runs under --root again")
    parser.add_argument("--out", default=f"benchmarks/results/{name}.json", help="JSON results")
    return parser


def budget_overrides(minutes: float, every: int, seed: int) -> list[str]:
    """A run bounded by CPU minutes of its process (one thread: a core's minutes, the same whether or not
    other work shares the machine) that keeps every ``every``-th checkpoint and evaluates only afterwards
    (in-run evaluation would eat the budget): what every learning benchmark's runs share."""
    return [
        f"max_cpu_minutes={minutes}",
        "max_steps=100000",
        f"checkpoint.every={every}",
        "checkpoint.keep_last=null",
        "eval.every=0",
        "eval.games=2",
        "logging.replay_games=0",
        f"seed={seed}",
    ]


def run_variants(variants: dict[str, tuple[str, list[str]]], common: list[str], root: Path, parallel: int) -> None:
    """Train each variant's (recipe, overrides) -- ``common`` overrides, then the variant's -- ``parallel``
    runs at a time, one CPU thread each, into ``root/<variant>`` with a log beside it; wait for all."""
    pending = list(variants)
    running: list[tuple[str, subprocess.Popen]] = []
    while pending or running:
        while pending and len(running) < parallel:
            name = pending.pop(0)
            recipe, overrides = variants[name]
            proc = launch(recipe, root / name, [*common, *overrides], threads=1, log=root / f"{name}.log")
            running.append((name, proc))
            print(f"started {name}", flush=True)
        time.sleep(5)
        for name, proc in list(running):
            if proc.poll() is not None:
                running.remove((name, proc))
                status = "done" if proc.returncode == 0 else f"FAILED (exit {proc.returncode}, see {root / name}.log)"
                print(f"{name}: {status}", flush=True)


def wait_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"a training run failed (exit {p.returncode}); see its log")


def cpu_minutes(run_dir: Path) -> dict[int, float]:
    """Each logged step's CPU minutes of the training process (wall-clock minutes for runs logged before
    ``time/cpu_seconds`` existed)."""
    return {m["step"]: m.get("time/cpu_seconds", m.get("time/elapsed", 0.0)) / 60 for m in read_metrics(run_dir)}


def start_model(run_dir: Path) -> Path:
    """The model directory a run started from (its step 0), as its config names it."""
    from sparring.config import load_run_config
    from sparring.engines.paths import resolve_model_path

    return resolve_model_path(load_run_config(run_dir).model.path)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def machine() -> dict[str, Any]:
    import torch

    from sparring.device import cpu_has_fast_bf16

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "fast_bf16": cpu_has_fast_bf16(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    print(f"wrote {path}")


def run_record(
    benchmark: str,
    game: str,
    args: Any,
    recipe: str,
    common: list[str],
    variants: dict[str, tuple],
    names: list[str],
    **rest: Any,
) -> dict[str, Any]:
    """What every learning benchmark's JSON says about how it ran (then ``rest``: curves, summary...).

    ``args`` is the script's parsed arguments (``minutes``, ``set``, ``parallel``); ``variants`` maps a name to
    (overrides, what it is) and ``names`` are the ones run."""
    return {
        "benchmark": benchmark,
        "game": game,
        "machine": machine(),
        "minutes": args.minutes,
        "recipe": recipe,
        "overrides": common,
        "set_last": args.set,
        "variants": {n: {"overrides": variants[n][0], "what": variants[n][1]} for n in names},
        "threads_per_run": 1,
        "parallel_runs": args.parallel,
        **rest,
    }


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: columns are (key, header, format)."""
    head = " | ".join(h for _, h, _ in columns)
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(" | ".join(format(row.get(k, float("nan")), f) if row.get(k) is not None else "-" for k, _, f in columns))
    return "\n".join(lines)


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, x_label: str, y_label: str) -> str:
    """A small standalone SVG line chart (no plotting library needed): one polyline per series, with a legend."""
    width, height, left, right, top, bottom = 720, 420, 60, 20, 40, 110
    points = [p for pts in series.values() for p in pts]
    if not points:
        svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60">'
        return svg + f'<text x="10" y="30">{title}: no data</text></svg>'
    x_max = max(x for x, _ in points) or 1.0
    y_max = max(max(y for _, y in points), 1e-9) * 1.05
    sx = lambda x: left + x / x_max * (width - left - right)  # noqa: E731
    sy = lambda y: top + (1 - y / y_max) * (height - top - bottom)  # noqa: E731
    mid = (top + sy(0)) / 2
    colors = ["#c0392b", "#e67e22", "#2471a3", "#27ae60", "#8e44ad"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
        f'<line x1="{left}" y1="{sy(0)}" x2="{width - right}" y2="{sy(0)}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{sy(0)}" stroke="black"/>',
        f'<text x="{width / 2}" y="{sy(0) + 32}" text-anchor="middle">{x_label}</text>',
        f'<text x="15" y="{mid}" transform="rotate(-90 15 {mid})" text-anchor="middle">{y_label}</text>',
    ]
    for k in range(6):
        x, y = x_max * k / 5, y_max * k / 5
        out.append(f'<text x="{sx(x)}" y="{sy(0) + 16}" text-anchor="middle">{x:.0f}</text>')
        out.append(f'<text x="{left - 6}" y="{sy(y) + 4}" text-anchor="end">{y:.2f}</text>')
        out.append(f'<line x1="{left}" y1="{sy(y)}" x2="{width - right}" y2="{sy(y)}" stroke="#eee"/>')
    for i, (name, pts) in enumerate(series.items()):
        color = colors[i % len(colors)]
        dash = ' stroke-dasharray="5,4"' if "mixture" in name else ""
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        ly = sy(0) + 50 + 18 * i
        out.append(f'<line x1="{left}" y1="{ly - 4}" x2="{left + 30}" y2="{ly - 4}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{left + 38}" y="{ly}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)
