"""Rich tables for ``sparring eval`` and ``sparring league``, built from their JSON objects.

The tables read only the saved/printed JSON, so what a user sees in the
terminal and what ``--json`` (or the report) shows cannot disagree.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _ci(stats: dict[str, Any], key: str) -> str:
    low, high = stats["intervals"][key]
    return f"{100 * stats[key]:.0f}% ({100 * low:.0f}-{100 * high:.0f})"


def eval_tables(result: dict[str, Any]) -> list[Table]:
    """One table per game: win/draw/loss/invalid with 95% intervals per opponent, overall then by seat.

    Exploitability and mean answer length belong to the game, not to an opponent, so they are the caption.
    """
    who = f"step {result['step']}" if result.get("step") is not None else result["model"]
    settings = result.get("settings", {})
    tables = []
    for game, g in result["games"].items():
        caption = [f"mean answer {g['mean_response_tokens']:.1f} tokens"] if g.get("mean_response_tokens") is not None else []
        if g.get("exploitability") is not None:
            caption.insert(0, f"exploitability {g['exploitability']:.4f} (NashConv {g['nash_conv']:.4f})")
        if g.get("team_return") is not None:
            caption.insert(0, f"team return {g['team_return']:.3f} of an optimum {g['team_optimum']:g} (playing every seat)")
        table = Table(
            "opponent",
            "games",
            "win (95% CI)",
            "draw",
            "loss",
            "invalid",
            title=f"{game}, {who}: {settings.get('games', '?')} games per opponent, seats alternated, "
            f"temperature {settings.get('temperature')}",
            caption="; ".join(caption) or None,
        )
        for opponent, stats in g["vs"].items():
            rows = [(opponent, stats), *((f"  as seat {seat}", s) for seat, s in stats.get("by_seat", {}).items())]
            for label, s in rows:
                table.add_row(
                    label,
                    str(s["games"]),
                    _ci(s, "win"),
                    _ci(s, "draw"),
                    _ci(s, "loss"),
                    _ci(s, "invalid"),
                    style="dim" if label.startswith(" ") else None,
                )
        tables.append(table)
    return tables


def league_tables(league: dict[str, Any]) -> list[Table]:
    """The ratings (best first) and the score matrix (row player's mean score against the column player)."""
    anchor = league["anchor"]
    seats = league.get("seats", 2)
    group = "pair" if seats == 2 else f"group of {seats} (each game scored pairwise by return)"
    ratings = Table(
        "player",
        "Elo",
        "95% interval",
        "games",
        "score",
        "invalid",
        title=f"{league['game']}: {league['games_per_pair']} games per {group}; {anchor['player']} = {anchor['elo']:.0f}",
    )
    for p in league["players"]:
        ratings.add_row(
            p["name"],
            f"{p['elo']:.0f}",
            f"{p['elo_low']:.0f} to {p['elo_high']:.0f}",
            str(p["games"]),
            _pct(p["score"]),
            _pct(p.get("invalid", 0.0)),
        )
    names = [p["name"] for p in league["players"]]
    matrix = Table("score of row vs column", *names, title="score matrix (win 1, draw 0.5, loss 0)")
    for row in names:
        cells = []
        for col in names:
            value = league["matrix"].get(row, {}).get(col)
            color = "green" if value is not None and value > 0.5 else "red" if value is not None and value < 0.5 else None
            text = "-" if value is None else f"{value:.2f}"
            cells.append(f"[{color}]{text}[/{color}]" if color else text)
        matrix.add_row(row, *cells)
    return [ratings, matrix]


def benchmark_table(summary: dict[str, Any]) -> Table:
    table = Table("benchmark", "problems", "correct", "accuracy (95% CI)", "mean response tokens", "cut at max tokens")
    low, high = summary["interval"]
    table.add_row(
        summary["benchmark"],
        str(summary["problems"]),
        str(summary["correct"]),
        f"{_pct(summary['accuracy'])} ({100 * low:.0f}-{100 * high:.0f})",
        f"{summary['mean_response_tokens']:.1f}",
        _pct(summary["truncated"]),
    )
    return table
