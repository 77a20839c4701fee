"""The ``sparring`` command line: games, arena, exploitability, play (and, later, train/eval/report).

Every mistake a user can make ends in one line, ``error: ...``, with exit
status 2 (see :class:`sparring.errors.UserError`); Ctrl-C exits with 130.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sparring.errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Train language models by self-play; evaluate players honestly.",
)
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def _with_interval(stats: dict, key: str) -> str:
    low, high = stats["intervals"][key]
    return f"{_percent(stats[key])} ({100 * low:.0f}-{100 * high:.0f})"


@app.command()
def games(as_json: JsonFlag = False) -> None:
    """List every game: name, players, source, description (and whether it is available)."""
    from sparring.games import game_entries

    entries = [e.as_dict() for e in game_entries()]
    if as_json:
        print(json.dumps(entries, indent=2))
        return
    table = Table("game", "players", "source", "description")
    for e in entries:
        desc = e["description"] if e["available"] else f"[dim]unavailable: {e['unavailable_reason']}[/dim]"
        table.add_row(e["name"], str(e["num_players"]), e["source"], desc)
    console.print(table)


@app.command()
def players(as_json: JsonFlag = False) -> None:
    """List the player specs the arena, play and train commands accept."""
    from sparring.players.registry import describe_players

    rows = describe_players()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("spec", "description")
    for row in rows:
        table.add_row(row["example"], row["description"])
    console.print(table)


def arena_table(game_name: str, summary: dict, num_games: int) -> Table:
    table = Table(
        "player",
        "games",
        "win (95% CI)",
        "draw",
        "loss",
        "invalid",
        "mean return",
        title=f"{game_name}: {num_games} games, seats alternated",
    )
    for label, stats in summary.items():
        for seat_label, s in [("", stats), *((f"  seat {k}", v) for k, v in stats["by_seat"].items())]:
            table.add_row(
                seat_label or label,
                str(s["games"]),
                _with_interval(s, "win"),
                _with_interval(s, "draw"),
                _with_interval(s, "loss"),
                _percent(s["invalid"]),
                f"{s['mean_return']:+.3f}",
                style="dim" if seat_label else None,
            )
    return table


@app.command()
def arena(
    game: Annotated[str, typer.Argument(help="Game spec, e.g. tic_tac_toe or kuhn_poker:hands=5.")],
    player_a: Annotated[str, typer.Argument(help="Player spec, e.g. mcts:sims=200.")],
    player_b: Annotated[str, typer.Argument(help="Player spec for the other seat(s).")],
    num_games: Annotated[int, typer.Option("--games", "-n", help="Games to play; seats alternate.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the first game (game i uses seed + i).")] = 0,
    max_turns: Annotated[int, typer.Option(help="Moves after which a game is called a draw.")] = 200,
    show: Annotated[int, typer.Option(help="Print the final position of the first N games.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Play a match and print win/draw/loss per player with 95% Wilson intervals."""
    from sparring.evaluate.arena import play_games, summarize
    from sparring.games import make_game
    from sparring.players import make_player

    if num_games < 1:
        raise UserError("--games must be at least 1")
    g = make_game(game)
    if g.num_players != 2:
        raise UserError(f"arena takes two players; {g.name} has {g.num_players} seats")
    specs = [player_a, player_b]
    players_ = [make_player(spec, g, seed=seed + 7919 * k) for k, spec in enumerate(specs)]
    records = play_games(g, players_, num_games, seed=seed, max_turns=max_turns, progress=not as_json)
    summary = summarize(records, [p.name for p in players_])
    if as_json:
        print(json.dumps({"game": game, "games": num_games, "seed": seed, "players": summary}, indent=2))
        return
    for record in records[:show]:
        replay = g.new_state(record.seed)
        for turn in record.turns:
            if turn.invalid is None:
                replay.apply(turn.action)
        console.print(
            f"[bold]game seed {record.seed}[/bold]: seats {[specs[p] for p in record.seating]}, returns {record.returns}"
        )
        console.print(replay.render(), markup=False)
    console.print(arena_table(game, summary, num_games))


@app.command()
def exploitability(
    game: Annotated[str, typer.Argument(help="A two-player zero-sum OpenSpiel game, e.g. kuhn_poker.")],
    player: Annotated[str, typer.Argument(help="A player with a policy view: uniform, cfr:iters=N, model:PATH.")],
    seed: Annotated[int, typer.Option(help="Seed for the player.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Exact NashConv and exploitability of a player's policy (OpenSpiel best response)."""
    from sparring.evaluate.exploitability import exploitability as exact
    from sparring.games import make_game
    from sparring.players import make_player

    g = make_game(game)
    result = exact(g, make_player(player, g, seed=seed))
    if as_json:
        print(json.dumps({"game": game, "player": player, **result.as_dict()}, indent=2))
        return
    table = Table("game", "player", "information states", "NashConv", "exploitability")
    table.add_row(game, player, str(result.info_states), f"{result.nash_conv:.4f}", f"{result.exploitability:.4f}")
    console.print(table)


@app.command()
def play(
    game: Annotated[str, typer.Argument(help="Game spec, e.g. tic_tac_toe.")],
    opponent: Annotated[str, typer.Option("--opponent", "-o", help="Opponent player spec.")] = "random",
    seat: Annotated[int, typer.Option(help="Your seat (0 moves first).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed for the deal and the opponent.")] = 0,
) -> None:
    """Play a game yourself in the terminal against any player."""
    from sparring.games import make_game
    from sparring.players import make_player
    from sparring.players.human import play_against

    g = make_game(game)
    if not 0 <= seat < g.num_players:
        raise UserError(f"bad seat {seat}: {g.name} has seats {', '.join(map(str, range(g.num_players)))}")
    play_against(g, make_player(opponent, g, seed=seed), seat, seed, console)


@app.command()
def pretrain(
    out: Annotated[str, typer.Option(help="Directory to write the model to.")] = "sparring/assets/models/sparring-tiny",
    minutes: Annotated[float, typer.Option(help="Training time budget in minutes.")] = 20.0,
    scale: Annotated[float, typer.Option(help="Multiply the corpus size (turns per game) by this.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for corpus, tokenizer and weights.")] = 0,
) -> None:
    """Make the bundled base model: synthetic random-play corpus, BPE tokenizer, tiny Llama."""
    from pathlib import Path

    from sparring.pretrain import PretrainConfig
    from sparring.pretrain import pretrain as run_pretrain

    if minutes <= 0 or scale <= 0:
        raise UserError("--minutes and --scale must be positive")
    config = PretrainConfig(minutes=minutes, seed=seed)
    config.mix = {k: max(1, int(v * scale)) for k, v in config.mix.items()}
    info = run_pretrain(Path(out), config)
    console.print(
        f"wrote {out}: {info['parameters'] / 1e6:.2f}M parameters, {info['corpus_turns']} turns, "
        f"{info['steps']} steps, final loss {info['final_loss']:.3f}, {info['total_seconds'] / 60:.1f} min"
    )


@app.command(context_settings={"allow_extra_args": False})
def train(
    recipe: Annotated[str | None, typer.Argument(help="Recipe name (spiral-tictactoe, spiral-kuhn, ...) or a YAML path.")] = None,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. learner.lr=1e-4 games.0.name=kuhn_poker")
    ] = None,
    run_dir: Annotated[str | None, typer.Option(help="Run directory (default: runs/<name>, numbered if taken).")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue the run in this directory from its latest intact checkpoint.")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Train up to this many steps in total.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (overrides the recipe).")] = None,
) -> None:
    """Self-play training. ``sparring train spiral-tictactoe`` or ``sparring train --resume runs/x``."""
    from sparring.config import load_config
    from sparring.train import load_run_config
    from sparring.train import train as run_training

    if resume:
        if recipe or overrides:
            raise UserError("--resume takes the run's saved config; give no recipe or overrides (only --max-steps)")
        config = load_run_config(Path(resume))
        run_training(config, Path(resume), resume=True, console=console, max_steps=max_steps)
        return
    if recipe is None:
        from sparring.config import recipe_names

        raise UserError(f"name a recipe ({', '.join(recipe_names())}) or a YAML file, or --resume a run directory")
    extra = list(overrides or [])
    if seed is not None:
        extra.append(f"seed={seed}")
    if max_steps is not None:
        extra.append(f"max_steps={max_steps}")
    config = load_config(recipe, extra)
    path = Path(run_dir) if run_dir else next_run_dir(config.name)
    console.print(f"run directory: {path}")
    run_training(config, path, console=console)


def next_run_dir(name: str) -> Path:
    base = Path("runs") / name
    k = 1
    path = base
    while path.exists() and any(path.iterdir()):
        k += 1
        path = Path(f"{base}-{k}")
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit status 2.

    Click (inside typer) already turns usage mistakes into a message and exit
    status 2, and Ctrl-C into "Aborted!"; our own ``UserError`` gets the same
    treatment here.
    """
    try:
        app(args=argv, standalone_mode=True)
    except UserError as err:
        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {err}")
        return 2
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
