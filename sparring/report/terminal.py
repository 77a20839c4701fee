"""``sparring replay``: read a replay file and print its games in the terminal with rich.

The HTML report is the place to browse; this is for a quick look over ssh:
one game turn by turn, or the list of games in a file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sparring.checkpoint import RunDir
from sparring.errors import UserError
from sparring.report.data import read_jsonl


def load_replay_file(path: Path) -> list[dict[str, Any]]:
    """The complete games of a replay file; a user error (one line) if it is missing, a directory or empty."""
    if path.is_dir():
        found = sorted(RunDir(path).replays_dir.glob("*.jsonl")) or sorted(path.glob("*.jsonl"))
        hint = f"; replay files there: {', '.join(str(p) for p in found)}" if found else ""
        raise UserError(f"{path} is a directory; give a replay file such as RUN_DIR/replays/train.jsonl{hint}")
    if not path.exists():
        raise UserError(f"replay file not found: {path}")
    games, _, _ = read_jsonl(path)
    games = [g for g in games if isinstance(g.get("turns"), list)]
    if not games:
        raise UserError(f"{path} holds no complete replay games")
    return games


def pick_game(games: list[dict[str, Any]], index: int, path: Path) -> dict[str, Any]:
    if not 0 <= index < len(games):
        raise UserError(f"--game-index {index} is out of range: {path} has {len(games)} games (valid: 0-{len(games) - 1})")
    return games[index]


def _signed(x: Any) -> str:
    return f"{x:+.3f}" if isinstance(x, int | float) else "-"


def _ending(game: dict[str, Any]) -> str:
    if game.get("invalid_seat") is not None:
        return f"invalid move by {seat_label(game, game['invalid_seat'])}"
    return "turn limit" if game.get("truncated") else "finished"


def games_table(games: list[dict[str, Any]], path: Path) -> Table:
    table = Table("index", "step", "game", "players", "returns", "turns", "end", title=f"{path}: {len(games)} games")
    for k, g in enumerate(games):
        table.add_row(
            str(k),
            str(g.get("step", "-")),
            str(g.get("game", "?")),
            " vs ".join(map(str, g.get("players") or [])),
            " / ".join(_signed(r) for r in g.get("returns") or []),
            str(len(g["turns"])),
            _ending(g),
        )
    return table


def token_text(turn: dict[str, Any]) -> Text:
    """The generated tokens, each coloured by its probability (green likely ... red unlikely)."""
    text = Text()
    tokens = turn.get("tokens") or [f"<{i}>" for i in turn.get("token_ids") or []]
    for token, lp in zip(tokens, turn.get("logprobs") or [], strict=False):
        p = math.exp(lp)
        style = "green" if p >= 0.9 else "default" if p >= 0.5 else "yellow" if p >= 0.1 else "bold red"
        text.append(token, style=style)
    return text


def logprob_summary(turn: dict[str, Any]) -> str:
    """Count, mean and the least likely tokens: where the model hesitated."""
    lps = turn.get("logprobs") or []
    if not lps:
        return "no tokens (a fixed player's move)"
    tokens = turn.get("tokens") or [f"<{i}>" for i in turn.get("token_ids") or []] or ["?"] * len(lps)
    lowest = sorted(range(len(lps)), key=lambda i: lps[i])[:3]
    least = ", ".join(f"{tokens[i]!r} {lps[i]:.2f}" for i in lowest)
    mean = sum(lps) / len(lps)
    return f"{len(lps)} tokens ({turn.get('finish_reason') or '?'}), mean log-prob {mean:.3f}; least likely: {least}"


def seat_label(game: dict[str, Any], seat: Any) -> str:
    """``seat 1`` or, in a role game, ``seat 1, solver`` (replays written before roles were recorded have none)."""
    roles = game.get("roles") or []
    role = roles[seat] if isinstance(seat, int) and 0 <= seat < len(roles) else None
    return f"seat {seat}, {role}" if role else f"seat {seat}"


def print_game(game: dict[str, Any], index: int, console: Console) -> None:
    """One game turn by turn: observation, what was said, the action or invalid reason, reward and advantage."""
    players = ", ".join(f"{seat_label(game, s)}: {p}" for s, p in enumerate(game.get("players") or []))
    returns = " / ".join(_signed(r) for r in game.get("returns") or [])
    header = f"{game.get('game')} · step {game.get('step')} · seed {game.get('seed')} · {players}"
    console.print(Text(f"game {index}: ", style="bold").append(header, style="default"))
    for k, turn in enumerate(game["turns"]):
        said = token_text(turn) if turn.get("logprobs") else Text(str(turn.get("text") or ""))
        result = Text()
        if turn.get("invalid"):
            result.append(f"invalid: {turn['invalid']}", style="bold red")
        else:
            result.append(f"action: {turn.get('action')}", style="bold")
        if "reward" in turn:
            result.append(f"   reward {_signed(turn.get('reward'))}   advantage {_signed(turn.get('advantage'))}")
        body = Group(
            Text(str(turn.get("observation") or ""), style="dim"),
            Text("said: ", style="bold").append_text(said),
            result,
            Text(logprob_summary(turn), style="dim"),
        )
        title = f"turn {k + 1}/{len(game['turns'])} · {seat_label(game, turn.get('seat'))} ({turn.get('player')})"
        console.print(Panel(body, title=Text(title), title_align="left", expand=False))
    reason = f": {game['invalid_reason']}" if game.get("invalid_reason") else ""
    console.print(Text(f"returns {returns} · {_ending(game)}{reason}"))
