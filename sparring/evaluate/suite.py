"""Evaluate a policy on its games: fixed opponents in every other seat, and exact exploitability.

The policy takes each seat in turn (seats rotate game by game) with the
opponent in all the others; exact exploitability is for two-player games only.
A cooperative game reports, in its place, the policy's exact team return
against the best joint policy's (``sparring.evaluate.cooperative``).

Used inside training (every ``eval.every`` steps, logged as metrics) and by
``sparring eval``. The games are dealt from a fixed seed, so successive
evaluations of a run play the same deals and differ only by the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sparring.config import TrainConfig
from sparring.engines.base import SamplingParams
from sparring.errors import UserError
from sparring.evaluate.arena import summarize
from sparring.evaluate.cooperative import team_return
from sparring.evaluate.exploitability import exploitability, require_exact_game
from sparring.games import Game, game_entry
from sparring.players import Player, make_player
from sparring.rollout import GameRecord, play_games
from sparring.specs import parse_spec

DEFAULT_OPPONENTS: dict[str, list[str]] = {
    "tic_tac_toe": ["random", "minimax"],
    "kuhn_poker": ["random", "cfr:iters=200"],
    "leduc_poker": ["random", "cfr:iters=200"],
    "connect_four": ["random", "mcts:sims=50"],
    "breakthrough": ["random", "mcts:sims=50"],
}
EVAL_SEED = 10_000_019


def default_opponents(game_spec: str) -> list[str]:
    return DEFAULT_OPPONENTS.get(parse_spec(game_spec).name, ["random"])


def eval_sampling(config: TrainConfig, temperature: float | None = None) -> SamplingParams:
    """How a run's policy samples in evaluation: ``eval.temperature`` (or ``temperature``), ``eval.top_p``,
    and the training answer length. Training's evaluation and ``sparring eval`` both ask here."""
    return SamplingParams(
        temperature=config.eval.temperature if temperature is None else temperature,
        top_p=config.eval.top_p,
        max_new_tokens=config.sampling.max_new_tokens,
    )


@dataclass
class GameEval:
    game: str
    vs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Opponent spec -> the policy's arena stats (win/draw/loss/invalid with intervals, by seat)."""
    exploitability: float | None = None
    nash_conv: float | None = None
    team_return: float | None = None
    """Cooperative games: the policy's exact expected team return playing every seat (``evaluate.cooperative``)."""
    team_optimum: float | None = None
    """... and the best any joint policy gets."""
    mean_response_tokens: float | None = None
    records: dict[str, list[GameRecord]] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        """Flat ``eval/<game>/<opponent>/<stat>`` metrics for logging."""
        out: dict[str, float] = {}
        for opp, stats in self.vs.items():
            for key in ("win", "draw", "loss", "invalid"):
                out[f"eval/{self.game}/{opp}/{key}"] = stats[key]
            out[f"eval/{self.game}/{opp}/non_loss"] = 1.0 - stats["loss"]
            out[f"eval/{self.game}/{opp}/games"] = float(stats["games"])
            out[f"eval/{self.game}/{opp}/mean_return"] = stats["mean_return"]  # a cooperative game's only score
            for seat, by_seat in stats.get("by_seat", {}).items():
                out[f"eval/{self.game}/{opp}/seat{seat}/non_loss"] = 1.0 - by_seat["loss"]
        if self.exploitability is not None:
            out[f"eval/{self.game}/exploitability"] = self.exploitability
        if self.team_return is not None and self.team_optimum is not None:
            out[f"eval/{self.game}/team_return"] = self.team_return
            out[f"eval/{self.game}/team_optimum"] = self.team_optimum
        if self.mean_response_tokens is not None:
            out[f"eval/{self.game}/response_tokens"] = self.mean_response_tokens
        return out


def evaluate_game(
    game: Game,
    game_spec: str,
    policy: Player,
    opponents: list[str],
    num_games: int,
    with_exploitability: bool = True,
    seed: int = EVAL_SEED,
    progress: bool = False,
) -> GameEval:
    """The policy against each opponent (seats alternate) and, where defined, its exploitability."""
    result = GameEval(game_spec)
    tokens, turns = 0, 0
    for k, spec in enumerate(opponents):
        opponent = make_player(spec, game, seed=seed + k)
        others = [opponent] * (game.num_players - 1)  # one opponent object answers for every other seat
        records = play_games(game, [policy, *others], num_games, seed=seed, progress=progress)
        result.vs[spec] = summarize(records, [policy.name, *[spec] * len(others)])[policy.name]
        result.records[spec] = records
        for r in records:
            for t in r.turns:
                if r.seating[t.seat] == 0 and "response_ids" in t.info:
                    tokens += len(t.info["response_ids"])
                    turns += 1
    result.mean_response_tokens = tokens / turns if turns else None
    entry = game_entry(parse_spec(game_spec).name)
    if with_exploitability and entry.team_optimum and hasattr(policy, "action_probabilities"):  # cooperative: no exploiter
        team = team_return(game, policy)
        result.team_return, result.team_optimum = team.expected, team.optimum
    if with_exploitability and entry.exploitability and hasattr(policy, "action_probabilities"):
        try:
            require_exact_game(game)
        except UserError:  # e.g. kuhn_poker:hands=5 -- no exact value for a series
            return result
        exact = exploitability(game, policy)
        result.exploitability, result.nash_conv = exact.exploitability, exact.nash_conv
    return result


def eval_rows(metrics: dict[str, float]) -> dict[tuple[str, str], dict[str, float]]:
    """``eval/<game>/<opponent>/<stat>`` metrics regrouped as {(game, opponent): {stat: value}}."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if parts[0] == "eval" and len(parts) >= 4 and not (parts[-2].startswith("seat") and parts[-2][4:].isdigit()):
            game, opponent, stat = parts[1], "/".join(parts[2:-1]), parts[-1]
            rows.setdefault((game, opponent), {})[stat] = value
    return rows


def before_after_table(before: dict[str, float], after: dict[str, float], title: str = "before -> after training"):
    """A rich table of win/draw/loss (95% Wilson intervals) before and after, per game and opponent."""
    from rich.table import Table

    from sparring.evaluate.stats import wilson_interval

    def cell(stats: dict[str, float], key: str) -> str:
        n = int(stats.get("games", 0))
        if key not in stats:
            return "-"
        low, high = wilson_interval(round(stats[key] * n), n)
        return f"{100 * stats[key]:.0f}% ({100 * low:.0f}-{100 * high:.0f})"

    table = Table("game", "opponent", "when", "win", "draw", "loss", "invalid", title=title)
    first, last = eval_rows(before), eval_rows(after)
    for key in sorted(set(first) | set(last)):
        for when, rows in (("before", first), ("after", last)):
            stats = rows.get(key, {})
            table.add_row(
                *(key if when == "before" else ("", "")),
                when,
                cell(stats, "win"),
                cell(stats, "draw"),
                cell(stats, "loss"),
                cell(stats, "invalid"),
                style=None if when == "after" else "dim",
            )
    for game in sorted({k.split("/")[1] for k in {**before, **after} if k.endswith("/team_return")}):
        key = f"eval/{game}/team_return"
        optimum = after.get(f"eval/{game}/team_optimum", before.get(f"eval/{game}/team_optimum", float("nan")))
        table.add_row(
            game,
            f"team return (optimum {optimum:g})",
            "before / after",
            f"{before.get(key, float('nan')):.3f}",
            f"{after.get(key, float('nan')):.3f}",
            "",
            "",
        )
    for game in sorted({k.split("/")[1] for k in {**before, **after} if k.endswith("/exploitability")}):
        key = f"eval/{game}/exploitability"
        table.add_row(
            game,
            "exploitability",
            "before / after",
            f"{before.get(key, float('nan')):.3f}",
            f"{after.get(key, float('nan')):.3f}",
            "",
            "",
        )
    return table
