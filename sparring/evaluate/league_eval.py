"""``sparring league``: a round robin of a run's checkpoints and fixed bots, rated by Elo.

Win rates against fixed opponents say whether a checkpoint beats *them*;
they cannot say whether step 40 is better than step 20. A league answers
that: every pair of players plays ``games`` games (seats alternating, the same
deals for every pair), and one maximum-likelihood Elo fit over all results puts
everyone on one scale. ``random`` is pinned at 1000 when it plays (see
:mod:`sparring.evaluate.elo`), so a rating means the same in every league.
Uncertainty comes from a bootstrap over games; a 95% interval that overlaps
another player's is no evidence that either is better.

Self-play can cycle -- a later checkpoint learns to beat the last one and
forgets how to beat an older one -- so the league also points out later
checkpoints that score under 50% against earlier ones, and non-transitive
triples (a beats b beats c beats a).

All games are played in one lockstep loop, so each checkpoint generates for
every game it is in (against every opponent) in one batched call per tick.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from sparring.checkpoint import RunDir
from sparring.errors import UserError
from sparring.evaluate.checkpoints import (
    Target,
    Warn,
    checkpoint_model_dir,
    intact_checkpoints,
    load_engine,
    load_run,
    no_warnings,
    prompt_and_sampling,
)
from sparring.evaluate.elo import Outcome, bootstrap_elo, fit_elo, player_totals, score_matrix
from sparring.evaluate.suite import default_opponents
from sparring.games import Game, make_game
from sparring.players import Player, make_player
from sparring.players.lm import LMPlayer
from sparring.rollout import GameRecord, Table, pairwise_scores, play_tables

LEAGUE_SEED = 20_000_003
ANCHOR = "random"
PRIOR_DRAWS = 1.0
"""Virtual draws per pair: keeps the rating of a player who won or lost every game finite (see elo.py)."""
BOOTSTRAP_SAMPLES = 200


def default_bots(game_spec: str) -> list[str]:
    """``random`` plus the game's strongest evaluation opponent (minimax, cfr:iters=200, mcts...)."""
    strong = [s for s in default_opponents(game_spec) if s != "random"]
    return ["random", *strong[-1:]]


def round_robin(
    game: Game, players: dict[str, Player], num_games: int, seed: int = LEAGUE_SEED, max_turns: int = 200, progress: bool = False
) -> tuple[list[Outcome], list[GameRecord]]:
    """Every group of ``game.num_players`` players plays ``num_games`` games; game i of every group uses deal ``seed + i``.

    Two seats: every pair, seats alternating. N seats: every N players, the
    seating rotated one place each game. Elo stays pairwise: a game counts as
    one result between every two of its seats, ranked by return
    (:func:`sparring.rollout.pairwise_scores`), so a 3-seat game gives three
    results. Those three share one game, so they are not independent; the
    bootstrap, which resamples results, reads them as if they were and its
    intervals are then somewhat too narrow.
    """
    names = list(players)
    n = game.num_players
    if len(names) < n:
        raise UserError(f"{game.name} has {n} seats: a league needs at least {n} players, got {len(names)}")
    tables = []
    for group in itertools.combinations(range(len(names)), n):
        for i in range(num_games):
            seating = [group[(s + i) % n] for s in range(n)]
            tables.append(Table(game, seed + i, [players[names[p]] for p in seating], seating))
    records = play_tables(tables, max_turns=max_turns, progress=progress, label=f"league: {game.name}")
    outcomes = [
        Outcome(names[r.seating[s]], names[r.seating[t]], score) for r in records for s, t, score in pairwise_scores(r.returns)
    ]
    return outcomes, records


def league_notes(matrix: dict[str, dict[str, float]], checkpoints: list[str], limit: int = 5) -> list[str]:
    """Plain-language warnings: later checkpoints losing to earlier ones, and non-transitive triples."""
    notes = []
    regressions = [
        (later, earlier, matrix[later][earlier])
        for i, earlier in enumerate(checkpoints)
        for later in checkpoints[i + 1 :]
        if matrix.get(later, {}).get(earlier, 0.5) < 0.5
    ]
    for later, earlier, score in regressions[:limit]:
        notes.append(f"{later} scores {score:.2f} against the earlier {earlier}")
    if len(regressions) > limit:
        notes.append(f"... and {len(regressions) - limit} more later-vs-earlier losses")
    if regressions:
        notes.append("later checkpoints do not always beat earlier ones: training may be cycling (or the gap is noise)")
    names = list(matrix)
    cycles = [
        (a, b, c)
        for a, b, c in itertools.permutations(names, 3)
        if a == min(a, b, c) and matrix[a].get(b, 0.5) > 0.5 and matrix[b].get(c, 0.5) > 0.5 and matrix[c].get(a, 0.5) > 0.5
    ]
    for a, b, c in cycles[:limit]:
        notes.append(f"non-transitive: {a} beats {b}, {b} beats {c}, {c} beats {a}")
    return notes


def rate_players(outcomes: list[Outcome], names: list[str], samples: int = BOOTSTRAP_SAMPLES, seed: int = 0) -> list[dict]:
    """Elo, 95% bootstrap interval, games and mean score per player, best first."""
    anchor = ANCHOR if ANCHOR in names else None
    elo = fit_elo(outcomes, names, anchor=anchor, prior_draws=PRIOR_DRAWS)
    interval = bootstrap_elo(outcomes, names, anchor=anchor, prior_draws=PRIOR_DRAWS, samples=samples, seed=seed)
    totals = player_totals(outcomes)
    rows = [
        {
            "name": p,
            "elo": elo[p],
            "elo_low": interval[p][0],
            "elo_high": interval[p][1],
            "games": totals[p][0],
            "score": totals[p][1],
        }
        for p in names
    ]
    return sorted(rows, key=lambda r: -r["elo"])


def run_league(
    run_dir: str,
    players: list[str] | None = None,
    game: str | None = None,
    num_games: int = 20,
    last: int | None = None,
    temperature: float | None = None,
    device: str | None = None,
    seed: int = 0,
    progress: bool = False,
    warn: Warn = no_warnings,
) -> dict[str, Any]:
    """Play the league of a run and return the ``league.json`` object."""
    config = load_run(Path(run_dir))
    if num_games < 2:
        raise UserError("--games must be at least 2 (one per seat)")
    if last is not None and last < 1:
        raise UserError("--last must be at least 1")
    spec = game or config.games[0].name
    g = make_game(spec)
    checkpoints = intact_checkpoints(RunDir(run_dir), warn)
    if not checkpoints:
        raise UserError(f"no intact checkpoint in {RunDir(run_dir).checkpoints_dir}; train the run first")
    checkpoints = checkpoints[-last:] if last else checkpoints
    bots = players or default_bots(spec)
    prompt, sampling = prompt_and_sampling(config, temperature)
    table: dict[str, Player] = {}
    for k, bot in enumerate(bots):
        player = make_player(bot, g, seed=seed + 7919 * (k + 1))
        if player.name in table:
            raise UserError(f"player {player.name!r} is listed twice")
        table[player.name] = player
    for step, path in checkpoints:
        engine = load_engine(Target(checkpoint_model_dir(path), Path(run_dir), step, path, config), device)
        engine.rng.manual_seed(seed + step)
        table[f"step-{step}"] = LMPlayer(engine, g, prompt, sampling, name=f"step-{step}")
    outcomes, records = round_robin(g, table, num_games, LEAGUE_SEED + seed, config.rollout.max_turns, progress)
    names = list(table)
    matrix = score_matrix(outcomes)
    invalid, played = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
    for record in records:
        for p in record.seating:
            played[names[p]] += 1
        if record.invalid_seat is not None:
            invalid[names[record.seating[record.invalid_seat]]] += 1
    rows = rate_players(outcomes, names, seed=seed)
    for row in rows:  # games played, not pairwise results (a 3-seat game is two results per player)
        row["games"] = played[row["name"]]
        row["invalid"] = invalid[row["name"]] / row["games"]
    return {
        "game": spec,
        "games_per_pair": num_games,
        "seats": g.num_players,
        "anchor": {"player": ANCHOR, "elo": 1000.0} if ANCHOR in names else {"player": "mean", "elo": 1000.0},
        "prior_draws": PRIOR_DRAWS,
        "bootstrap": {"samples": BOOTSTRAP_SAMPLES, "level": 0.95},
        "players": rows,
        "matrix": {a: {b: matrix[a][b] for b in names if b in matrix[a]} for a in names},
        "notes": league_notes(matrix, [f"step-{s}" for s, _ in checkpoints]),
    }
