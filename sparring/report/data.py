"""Everything the report shows, read from a run directory that may be incomplete.

A run can be killed at any instruction, so nothing here assumes a file is
present or whole: each reader returns what it could read, and the gaps are
collected in ``missing`` and ``notes`` so the report says what it could not
show instead of failing. The result is plain JSON-ready data (no NaN: the
browser's ``JSON.parse`` rejects it), so the page and the tests read the
same thing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from sparring.checkpoint import CheckpointDir, RunDir, list_checkpoints, read_best
from sparring.errors import UserError
from sparring.evaluate.stats import wilson_interval
from sparring.report.curves import chart_specs

MAX_REPLAYS = 400
"""Games embedded in the page: enough to browse a long run, few enough that the file stays a few MB."""

RATES = ("win", "draw", "loss", "non_loss", "invalid")


def finite(value: Any) -> Any:
    """``value`` with every NaN/inf float (anywhere inside) replaced by None, so it survives ``JSON.parse``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], bool, int]:
    """Objects of a JSON-lines file, whether its last line was cut off, and how many other lines were unreadable.

    A last line without its newline is what a kill mid-write leaves; it is dropped (as
    :meth:`RunDir.read_metrics` does). A damaged line in the middle is skipped and counted
    rather than fatal: a report of the rest is still worth having.
    """
    data = path.read_bytes()
    torn = bool(data) and not data.endswith(b"\n")
    complete = data[: data.rfind(b"\n") + 1]
    records, bad = [], 0
    for line in complete.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            bad += 1
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    return records, torn, bad


def looks_like_run(run: RunDir) -> bool:
    """True if any part of the run layout exists: a run killed early may have only one of them."""
    parts = (run.config_path, run.metrics_path, run.checkpoints_dir, run.replays_dir, run.eval_dir, run.league_path)
    return run.path.is_dir() and any(p.exists() for p in parts)


def gather(run_dir: Path) -> dict[str, Any]:
    """All the report's data for ``run_dir``; raises :class:`UserError` if it is not a run directory at all."""
    run = RunDir(run_dir)
    if not looks_like_run(run):
        raise UserError(
            f"{run_dir} is not a sparring run directory (none of config.yaml, metrics.jsonl, checkpoints/, replays/ found)"
        )
    missing: list[str] = []
    notes: list[str] = []
    config = read_config(run, missing, notes)
    metrics = read_metrics(run, missing, notes)
    checkpoints = checkpoint_steps(run)
    if not checkpoints:
        missing.append("checkpoints: no complete checkpoint was saved")
    replays = read_all_replays(run, missing, notes)
    name = (config.pop("values") or {}).get("name") or run.path.name
    return finite(
        {
            "run": {"name": str(name), "path": str(run.path.resolve())},
            "missing": missing,
            "notes": notes,
            "config": config,
            "progress": progress(metrics, checkpoints),
            "best": best_record(run),
            "charts": chart_specs(metrics),
            "eval": eval_table(run, metrics),
            "league": read_league(run, notes),
            "replays": replays,
        }
    )


# --------------------------------------------------------------------------- config and progress


SUMMARY_FIELDS = [
    ("name", ("name",)),
    ("model", ("model", "path")),
    ("seed", ("seed",)),
    ("max steps", ("max_steps",)),
    ("games per step", ("rollout", "games_per_step")),
    ("opponent", ("opponent", "kind")),
    ("advantage", ("advantage", "estimator")),
    ("learning rate", ("learner", "lr")),
    ("KL coef", ("learner", "kl_coef")),
    ("temperature", ("sampling", "temperature")),
    ("max new tokens", ("sampling", "max_new_tokens")),
    ("prompt style", ("prompt", "style")),
    ("answer format", ("prompt", "answer_format")),
    ("eval every / games", None),
]


def read_config(run: RunDir, missing: list[str], notes: list[str]) -> dict[str, Any]:
    """The config's YAML text, its parsed values (not embedded in the page) and the few fields a reader wants first."""
    if not run.config_path.exists():
        missing.append("config.yaml: no config summary")
        return {"text": None, "values": None, "summary": []}
    text = run.config_path.read_text(errors="replace")
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as err:
        notes.append(f"config.yaml could not be parsed ({type(err).__name__}); shown as text only")
        values = None
    if not isinstance(values, dict):
        return {"text": text, "values": None, "summary": []}
    summary: list[list[str]] = []
    for label, path in SUMMARY_FIELDS:
        if path is None:
            ev = values.get("eval") or {}
            value: Any = f"{ev.get('every', '?')} / {ev.get('games', '?')}" if ev else None
        else:
            value = values
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            summary.append([label, str(value)])
    game_names = [g.get("name", "?") for g in values.get("games") or [] if isinstance(g, dict)]
    if game_names:
        summary.insert(1, ["games", ", ".join(game_names)])
    return {"text": text, "values": values, "summary": summary}


def read_metrics(run: RunDir, missing: list[str], notes: list[str]) -> list[dict[str, Any]]:
    if not run.metrics_path.exists():
        missing.append("metrics.jsonl: no learning curves")
        return []
    records, torn, bad = read_jsonl(run.metrics_path)
    records = [r for r in records if isinstance(r.get("step"), int | float)]
    if torn:
        notes.append("metrics.jsonl: the last line was cut off (the run was killed while writing it) and is left out")
    if bad:
        notes.append(f"metrics.jsonl: {bad} damaged line(s) skipped")
    if not records:
        missing.append("metrics: metrics.jsonl has no complete record")
    return records


def checkpoint_steps(run: RunDir) -> list[int]:
    """Steps of the complete checkpoints (a ``step-K`` directory with its manifest, written last)."""
    return [step for step, path in list_checkpoints(run) if CheckpointDir(path).manifest_path.exists()]


def best_record(run: RunDir) -> dict[str, Any] | None:
    """``RUN/best``'s record (step, metric, value, which model), if the run keeps one and it verifies: the model a
    reader should take from a run whose last checkpoint is not its best."""
    record = read_best(run)
    return {k: record.get(k) for k in ("step", "metric", "value", "model")} if isinstance(record, dict) else None


def progress(metrics: list[dict[str, Any]], checkpoints: list[int]) -> dict[str, Any]:
    elapsed = [r["time/elapsed"] for r in metrics if isinstance(r.get("time/elapsed"), int | float)]
    return {
        "last_step": max((int(r["step"]) for r in metrics), default=None),
        "records": len(metrics),
        "elapsed_s": elapsed[-1] if elapsed else None,
        "checkpoints": checkpoints,
    }


# --------------------------------------------------------------------------- evaluation and league


def latest_eval_file(run: RunDir) -> Path | None:
    found = run.eval_results()
    return found[-1][1] if found else None


def _cell(stats: dict[str, Any], key: str, games: int) -> list[float] | None:
    """``[rate, low, high]`` for one outcome; the interval is the file's own, else Wilson from the count."""
    if key == "non_loss":
        loss = _cell(stats, "loss", games)
        return None if loss is None else [1 - loss[0], 1 - loss[2], 1 - loss[1]]
    value = stats.get(key)
    if not isinstance(value, int | float):
        return None
    interval = (stats.get("intervals") or {}).get(key)
    if not (isinstance(interval, list | tuple) and len(interval) == 2):
        interval = wilson_interval(round(value * games), games) if games else (0.0, 1.0)
    return [float(value), float(interval[0]), float(interval[1])]


def _row(game: str, opponent: str, stats: dict[str, Any], seat: str | None = None) -> dict[str, Any]:
    games = int(stats.get("games") or 0)
    return {"game": game, "opponent": opponent, "seat": seat, "games": games, **{k: _cell(stats, k, games) for k in RATES}}


def eval_table(run: RunDir, metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest evaluation as rows with 95% intervals: from ``eval/step-K.json`` if there is one, else metrics."""
    path = latest_eval_file(run)
    if path is not None:
        try:
            doc = json.loads(path.read_text())
            return eval_from_file(doc, f"{path.parent.name}/{path.name}")
        except (json.JSONDecodeError, OSError, AttributeError, TypeError, ValueError):
            pass  # a damaged file: fall back to the metrics, which hold the same numbers without seats
    for record in reversed(metrics):
        table = eval_from_metrics(record)
        if table is not None:
            return table
    return None


GAME_INFO = {
    "exploitability": "exploitability",
    "team_return": "team_return",
    "team_optimum": "team_optimum",
    "response_tokens": "mean_response_tokens",
}
"""Per-game evaluation figures: the report's name -> the key in an eval file (a metric is ``eval/<game>/<name>``)."""


def _no_game_info() -> dict[str, Any]:
    return dict.fromkeys(GAME_INFO)


def eval_from_file(doc: dict[str, Any], source: str) -> dict[str, Any]:
    rows, games_info = [], {}
    for game, entry in (doc.get("games") or {}).items():
        for opponent, stats in (entry.get("vs") or {}).items():
            rows.append(_row(game, opponent, stats))
            for seat, seat_stats in sorted((stats.get("by_seat") or {}).items()):
                rows.append(_row(game, opponent, seat_stats, seat=str(seat)))
        games_info[game] = {**_no_game_info(), **{k: entry.get(v) for k, v in GAME_INFO.items()}}
    return {"source": source, "step": doc.get("step"), "checkpoint": doc.get("checkpoint"), "rows": rows, "games": games_info}


def eval_from_metrics(record: dict[str, Any]) -> dict[str, Any] | None:
    """The eval part of one metrics record (``eval/<game>/<opponent>/<stat>``), or None if it has none."""
    per: dict[tuple[str, str], dict[str, Any]] = {}
    games_info: dict[str, dict[str, Any]] = {}
    for key, value in record.items():
        parts = key.split("/")
        if parts[0] != "eval" or len(parts) < 3:
            continue
        game = parts[1]
        if len(parts) == 3:
            if parts[2] in GAME_INFO:
                games_info.setdefault(game, _no_game_info())[parts[2]] = value
            continue
        opponent = "/".join(parts[2:-1])  # a spec such as model:runs/x/checkpoints/step-40 holds slashes
        per.setdefault((game, opponent), {})[parts[-1]] = value
    if not per and not games_info:
        return None
    rows = [_row(game, opp, stats) for (game, opp), stats in per.items() if "games" in stats]
    for game, _ in per:
        games_info.setdefault(game, _no_game_info())
    return {"source": "metrics.jsonl", "step": record.get("step"), "rows": rows, "games": games_info}


def read_league(run: RunDir, notes: list[str]) -> dict[str, Any] | None:
    path = run.league_path
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
        players = sorted(doc.get("players") or [], key=lambda p: -(p.get("elo") or 0))
        notes_ = [str(n) for n in doc.get("notes") or []]
        return {"game": doc.get("game"), "players": players, "matrix": doc.get("matrix") or {}, "notes": notes_}
    except (json.JSONDecodeError, OSError, AttributeError, TypeError) as err:
        notes.append(f"league.json could not be read ({type(err).__name__})")
        return None


# --------------------------------------------------------------------------- replays


def replay_files(run: RunDir) -> list[Path]:
    return sorted(run.replays_dir.glob("*.jsonl")) if run.replays_dir.is_dir() else []


def read_all_replays(run: RunDir, missing: list[str], notes: list[str]) -> list[dict[str, Any]]:
    """Games of every replay file, each tagged with its file and index (what ``sparring replay --game-index`` takes)."""
    games: list[dict[str, Any]] = []
    for path in replay_files(run):
        records, torn, bad = read_jsonl(path)
        if torn or bad:
            notes.append(f"replays/{path.name}: {int(torn) + bad} unreadable line(s) skipped")
        for index, game in enumerate(records):
            games.append({**game, "file": path.name, "index": index})
    if not games:
        missing.append("replays: no replay games")
        return []
    if len(games) > MAX_REPLAYS:
        notes.append(f"showing {MAX_REPLAYS} of {len(games)} replay games, spread evenly over the run")
        stride = len(games) / MAX_REPLAYS
        games = [games[int(k * stride)] for k in range(MAX_REPLAYS - 1)] + [games[-1]]
    return games
