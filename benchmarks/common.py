"""Shared plumbing for the learning benchmarks: run training in a subprocess, read its metrics."""

from __future__ import annotations

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


def wait_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"a training run failed (exit {p.returncode}); see its log")


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


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table: columns are (key, header, format)."""
    head = " | ".join(h for _, h, _ in columns)
    lines = [head, "-" * len(head)]
    for row in rows:
        lines.append(" | ".join(format(row.get(k, float("nan")), f) if row.get(k) is not None else "-" for k, _, f in columns))
    return "\n".join(lines)
