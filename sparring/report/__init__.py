"""A run's report: one self-contained ``report.html`` with curves, evaluation, league and replays.

``build_report(run_dir)`` reads whatever the run directory holds (``data``),
fills the page (``html``; CSS/JS in ``static/``) and writes it next to the run's
other files. Training calls :func:`refresh_report` at its end; ``sparring
report RUN_DIR`` does the same on demand, for a finished, running or killed run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from rich.console import Console

from sparring.checkpoint import RunDir
from sparring.report.data import gather
from sparring.report.html import embed_json, render_html

__all__ = ["build_report", "embed_json", "gather", "refresh_report", "render_html"]


def build_report(run_dir: Path) -> Path:
    """Write ``RUN_DIR/report.html`` and return its path; raises ``UserError`` if ``run_dir`` is not a run.

    Written to a temporary file and renamed, so a browser refreshing the page while
    training rewrites it never sees half a file.
    """
    run = RunDir(run_dir)
    page = render_html(gather(run.path))
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=run.path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, run.report_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return run.report_path


def refresh_report(run_dir: Path, console: Console) -> Path | None:
    """Build the report at the end of training and say where it is; a failure is a warning, never a lost run."""
    try:
        path = build_report(run_dir)
    except Exception as err:  # noqa: BLE001 -- the report is a convenience; the trained model matters more
        console.print(f"[yellow]warning:[/yellow] could not write the report: {type(err).__name__}: {err}")
        return None
    console.print(f"report: {path}")
    return path
