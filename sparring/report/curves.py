"""Which learning curves the report draws, from the metric names training writes.

The grouping lives here, in Python, rather than in the page's JavaScript: it is
the part that knows the metric names (``train/<game>/return/seat0``,
``eval/<game>/<opponent>/win``...), so it is tested with them, and the page
only has to draw the charts it is given.

A chart is ``{"id", "title", "y_label", "percent", "series": [{"name", "points": [[step, value], ...]}]}``;
charts with no points are left out.
"""

from __future__ import annotations

import math
from typing import Any

from sparring.games.registry import role_names

Points = list[list[float]]

SINGLE = [
    ("loss", "Loss", "learner/loss", "loss", False),
    ("kl", "KL to reference", "learner/kl", "KL", False),
    ("entropy", "Entropy", "learner/entropy", "nats / token", False),
    ("clip-frac", "PPO clip fraction", "learner/clip_frac", "fraction", True),
    ("games-per-s", "Games per second", "speed/games_per_s", "games / s", False),
    ("tokens-per-s", "Tokens per second", "speed/tokens_per_s", "tokens / s", False),
]


def collect(records: list[dict[str, Any]]) -> dict[str, Points]:
    """Every numeric metric as ``[step, value]`` points in step order (non-finite values are dropped)."""
    series: dict[str, Points] = {}
    for record in sorted(records, key=lambda r: r["step"]):
        step = record["step"]
        for key, value in record.items():
            if key == "step" or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if math.isfinite(value):
                series.setdefault(key, []).append([step, value])
    return series


def _chart(chart_id: str, title: str, y_label: str, percent: bool, series: dict[str, Points]) -> dict[str, Any] | None:
    named = [{"name": name, "points": pts} for name, pts in series.items() if pts]
    if not named:
        return None
    return {"id": chart_id, "title": title, "y_label": y_label, "percent": percent, "series": named}


def _games(series: dict[str, Points], prefix: str) -> list[str]:
    """Game names, in first-seen order, of keys ``<prefix>/<game>/...``."""
    seen: dict[str, None] = {}
    for key in series:
        parts = key.split("/")
        if parts[0] == prefix and len(parts) >= 3:
            seen.setdefault(parts[1], None)
    return list(seen)


def chart_specs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's charts, in reading order: returns, invalid moves, learner, evaluation, speed."""
    s = collect(records)
    charts: list[dict[str, Any] | None] = []
    for game in _games(s, "train"):
        names = role_names(game) or []

        def label(seat: str, names: list[str] = names) -> str:  # seat0 -> "seat0 proposer" in a role game
            k = int(seat) if seat.isdigit() else -1
            return f"seat{seat} {names[k]}" if 0 <= k < len(names) else f"seat{seat}"

        roles = {label(k.rsplit("seat", 1)[1]): v for k, v in s.items() if k.startswith(f"train/{game}/return/")}
        prefix = f"baseline/{game}"
        baselines = {f"baseline {label(k.rsplit('/', 1)[1])}": v for k, v in s.items() if k.rpartition("/")[0] == prefix}
        charts.append(_chart(f"return-{game}", f"Return per role: {game}", "mean return", False, roles | baselines))
    invalid = {g: s[f"train/{g}/invalid"] for g in _games(s, "train") if f"train/{g}/invalid" in s}
    charts.append(_chart("invalid", "Invalid-move rate (training)", "share of turns", True, invalid))
    for chart_id, title, key, y_label, percent in SINGLE[:4]:
        charts.append(_chart(chart_id, title, y_label, percent, {key: s.get(key, [])}))
    for game in _games(s, "eval"):
        for stat, label in (("win", "win rate"), ("non_loss", "non-loss rate")):
            per_opponent = {
                "/".join(k.split("/")[2:-1]): v
                for k, v in s.items()
                if k.startswith(f"eval/{game}/") and k.count("/") >= 3 and k.rsplit("/", 1)[1] == stat
            }
            charts.append(_chart(f"eval-{stat}-{game}", f"Eval {label} vs opponents: {game}", label, True, per_opponent))
    exploit = {g: s[f"eval/{g}/exploitability"] for g in _games(s, "eval") if f"eval/{g}/exploitability" in s}
    charts.append(_chart("exploitability", "Exploitability (0 = Nash)", "exploitability", False, exploit))
    for game in _games(s, "eval"):  # cooperative games, where exploitability would be
        team = {"team return": s.get(f"eval/{game}/team_return", []), "optimum": s.get(f"eval/{game}/team_optimum", [])}
        charts.append(_chart(f"team-{game}", f"Team return vs optimum: {game}", "expected team return", False, team))
    charts += preference_charts(s)
    for chart_id, title, key, y_label, percent in SINGLE[4:]:
        charts.append(_chart(chart_id, title, y_label, percent, {key: s.get(key, [])}))
    return [c for c in charts if c is not None]


def preference_charts(s: dict[str, Points]) -> list[dict[str, Any] | None]:
    """Preference self-play rounds (``sparring.preference``): held-out quality, win rate vs round 0, the loss."""
    quality = {"held-out": s.get("eval/quality", []), "training samples": s.get("train/quality", [])}
    wins = {"vs round 0 (judge)": s.get("eval/win_vs_round0", []), "worst case (intransitive)": s.get("eval/worst_case_win", [])}
    return [
        _chart("pref-quality", "Quality: exact answer / constraints passed", "pass rate", True, quality),
        _chart("pref-wins", "Win rate", "win rate", True, wins),
        _chart("pref-loss", "Preference loss", "loss", False, {"pref/loss": s.get("pref/loss", [])}),
    ]
