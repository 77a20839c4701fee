"""The ``sparring`` command line: games, arena, exploitability, play (and, later, train/eval/report).

Every mistake a user can make ends in one line, ``error: ...``, with exit
status 2 (see :class:`sparring.errors.UserError`); Ctrl-C exits with 130.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sparring.device import forced_precision
from sparring.errors import UserError

if TYPE_CHECKING:
    from sparring.config import TrainConfig

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
        players = f"{e['num_players']} ({', '.join(e['roles'])})" if e["roles"] else str(e["num_players"])
        table.add_row(e["name"], players, e["source"], desc)
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
    specs = [player_a, *[player_b] * (g.num_players - 1)]  # player_b takes every other seat (own seed each)
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
    cells = {"information states": str(result.info_states), "NashConv": f"{result.nash_conv:.4f}"}
    _show_exact(game, player, result.as_dict(), as_json, {**cells, "exploitability": f"{result.exploitability:.4f}"})


def _show_exact(game: str, player: str, values: dict[str, Any], as_json: bool, cells: dict[str, str]) -> None:
    """One exact figure of a player in a game: JSON, or a one-row table of ``cells``."""
    if as_json:
        print(json.dumps({"game": game, "player": player, **values}, indent=2))
        return
    table = Table("game", "player", *cells)
    table.add_row(game, player, *cells.values())
    console.print(table)


@app.command("team-return")
def team_return_command(
    game: Annotated[str, typer.Argument(help="A cooperative game with an exact optimum, e.g. tiny_hanabi.")],
    player: Annotated[str, typer.Argument(help="A player with a policy view: uniform, model:PATH.")],
    seed: Annotated[int, typer.Option(help="Seed for the player.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Exact expected team return of a player in every seat of a cooperative game, and the best joint policy's."""
    from sparring.evaluate.cooperative import team_return
    from sparring.games import make_game
    from sparring.players import make_player

    g = make_game(game)
    result = team_return(g, make_player(player, g, seed=seed))
    cells = {"team return": f"{result.expected:.4f}", "optimum": f"{result.optimum:g}"}
    _show_exact(game, player, result.as_dict(), as_json, cells)


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
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 2400,
    scale: Annotated[float, typer.Option(help="Multiply the corpus size (turns per game) by this.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed for corpus, tokenizer and weights.")] = 0,
    init: Annotated[
        str | None, typer.Option(help="Continue from this model directory (its tokenizer and weights) instead of from scratch.")
    ] = None,
    distill: Annotated[
        str | None,
        typer.Option(
            help="Steps afterwards on every information state of a game OpenSpiel lists, else on a pool of prior-play "
            "turns, e.g. kuhn_poker=600,spy=200 (default: the bundled model's; 'none' for no such phase)."
        ),
    ] = None,
    format_steps: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Steps afterwards of REINFORCE on well-formed moves alone, per game or game@seat, "
            "e.g. sneaky_critic@0=60,spy=40 (sparring/pretrain_format.py; default none).",
        ),
    ] = None,
    minutes: Annotated[float, typer.Option(help="Safety cap on the corpus phase's wall-clock time.")] = 120.0,
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config",
            help="YAML/JSON of PretrainConfig fields (e.g. sparring-tiny/stages/*.yaml); replaces --steps, --seed and "
            "--minutes, while --init, --distill, --format and --scale still apply.",
        ),
    ] = None,
) -> None:
    """Make a base model: a corpus of each game's weak prior play, a BPE tokenizer, a tiny Llama."""
    from sparring.pretrain import PretrainConfig, check_distill, load_pretrain_config, parse_distill
    from sparring.pretrain import pretrain as run_pretrain

    if steps < 0 or scale <= 0 or minutes <= 0:
        raise UserError("--steps must be >= 0, --scale and --minutes positive")
    if config_file is not None:
        config = load_pretrain_config(Path(config_file))
    else:
        config = PretrainConfig(steps=steps, seed=seed, minutes=minutes)
    config.init = init if init is not None else config.init
    if config.init is not None and not (Path(config.init) / "config.json").is_file():
        raise UserError(f"--init {config.init}: not a model directory (no config.json)")
    if distill is not None:
        config.distill = parse_distill(distill)
    check_distill(config.distill)
    if format_steps is not None:
        config.format = parse_distill(format_steps, "--format")
    check_distill(config.format, "--format")
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
    """Self-play training (games, or preference rounds: spin, sppo...): ``sparring train RECIPE`` or ``--resume runs/x``."""
    from sparring.config import load_config, load_run_config

    if resume:
        if recipe or overrides:
            raise UserError("--resume takes the run's saved config; give no recipe or overrides (only --max-steps)")
        config = load_run_config(Path(resume))
        _runner(config)(config, Path(resume), resume=True, console=console, max_steps=max_steps)
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
    _runner(config)(config, path, console=console)


def _runner(config: TrainConfig) -> Callable[..., object]:
    """Game self-play (``sparring.train``), or preference rounds when the config has a ``preference`` section."""
    if config.preference is not None:
        from sparring.preference.rounds import train_rounds

        return train_rounds
    from sparring.train import train as run_training

    return run_training


def next_run_dir(name: str) -> Path:
    base = Path("runs") / name
    k = 1
    path = base
    while path.exists() and any(path.iterdir()):
        k += 1
        path = Path(f"{base}-{k}")
    return path


def _warn(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[yellow]warning:[/yellow] {message}")


@app.command("eval")
def eval_(
    target: Annotated[
        str, typer.Argument(help="A run directory (its newest intact checkpoint), RUN/checkpoints/step-K, or a model directory.")
    ],
    game: Annotated[
        list[str] | None, typer.Option("--game", "-g", help="Game to evaluate on (repeatable); required for a model directory.")
    ] = None,
    num_games: Annotated[
        int | None, typer.Option("--games", "-n", help="Games per opponent, seats alternating (default: the run's eval.games).")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (default: the run's eval.temperature; 0 for --benchmark).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the model's sampling.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: the run's model.device).")] = None,
    benchmark: Annotated[
        Path | None, typer.Option(help="Score math problems from a JSONL (problem/question + answer) instead of games.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="With --benchmark: only the first N problems.")] = None,
    max_new_tokens: Annotated[int, typer.Option(help="With --benchmark: longest answer per problem.")] = 512,
    out: Annotated[Path | None, typer.Option(help="With --benchmark: per-problem results file (default: RUN/eval/).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Evaluate a checkpoint: win/draw/loss vs fixed opponents in both seats and exploitability, or a math benchmark."""
    from sparring.evaluate.checkpoints import evaluate_target, resolve_target, save_eval
    from sparring.evaluate.tables import benchmark_table, eval_tables

    if benchmark is not None:
        from sparring.evaluate.benchmark import require_math_verify, run_benchmark

        require_math_verify()
        if game:
            raise UserError("--benchmark scores math problems; it takes no --game")
        resolved = resolve_target(target, _warn)
        t = 0.0 if temperature is None else temperature
        summary = run_benchmark(resolved, benchmark, limit, max_new_tokens, t, device, out, progress=not as_json)
        if as_json:
            print(json.dumps(summary, indent=2))
            return
        console.print(benchmark_table(summary))
        console.print(f"per-problem results: {summary['results_file'] or 'not saved (pass --out FILE)'}")
        return
    if limit is not None or out is not None:
        raise UserError("--limit and --out go with --benchmark")
    resolved = resolve_target(target, _warn)
    result = evaluate_target(resolved, game, num_games, temperature, seed, device, progress=not as_json)
    saved = save_eval(resolved, result)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for table in eval_tables(result):
        console.print(table)
    console.print(f"saved {saved}" if saved else "not saved: a plain model directory has no run directory")


@app.command()
def league(
    run_dir: Annotated[str, typer.Argument(help="A run directory; its intact checkpoints join the league.")],
    players_: Annotated[
        list[str] | None,
        typer.Option("--players", "-p", help="Fixed player spec (repeatable); default: random and the game's strong bot."),
    ] = None,
    game: Annotated[str | None, typer.Option(help="Game spec (default: the run's first game).")] = None,
    num_games: Annotated[int, typer.Option("--games", "-n", help="Games per pair of players, seats alternating.")] = 20,
    last: Annotated[int | None, typer.Option(help="Only the newest N intact checkpoints (default: all).")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default: the run's eval.temperature).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for deals, bots and sampling.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: the run's model.device).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Round robin of a run's checkpoints and fixed bots; Elo by maximum likelihood (random = 1000), bootstrap CIs."""
    from sparring.checkpoint import RunDir
    from sparring.evaluate.checkpoints import write_json_atomically
    from sparring.evaluate.league_eval import run_league
    from sparring.evaluate.tables import league_tables

    result = run_league(run_dir, players_, game, num_games, last, temperature, device, seed, not as_json, _warn)
    path = RunDir(run_dir).league_path
    write_json_atomically(path, result)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for table in league_tables(result):
        console.print(table)
    for note in result["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"saved {path}")


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory (finished, running or killed).")]) -> None:
    """Write RUN_DIR/report.html: curves, evaluation, Elo and a replay viewer in one offline file."""
    from sparring.report import build_report

    print(build_report(run_dir))


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="A replay file, e.g. runs/x/replays/train.jsonl.")],
    game_index: Annotated[int, typer.Option("--game-index", "-k", help="Which game of the file to print.")] = 0,
    list_games: Annotated[bool, typer.Option("--list", help="List the file's games instead of printing one.")] = False,
) -> None:
    """Print a replayed game turn by turn: observation, what was said, action, reward, advantage, token log-probs."""
    from sparring.report.terminal import games_table, load_replay_file, pick_game, print_game

    games_ = load_replay_file(file)
    if list_games:
        console.print(games_table(games_, file))
        return
    print_game(pick_game(games_, game_index, file), game_index, console)


@app.command()
def sandbox(
    file: Annotated[Path, typer.Argument(help="A Python program to run, e.g. a proposed task saved from a replay.")],
    as_json: JsonFlag = False,
    isolation: Annotated[
        str, typer.Option(help="auto (bubblewrap when it can make namespaces, else rlimits), bwrap or rlimits.")
    ] = "auto",
) -> None:
    """Run FILE once under exactly the sandbox propose_solve's programs get; print how it ended (exit 1 unless ok)."""
    from dataclasses import asdict

    from sparring.games.propose_solve import SANDBOX
    from sparring.sandbox import ISOLATIONS, run_python

    if isolation not in ISOLATIONS:
        raise UserError(f"--isolation must be one of {', '.join(ISOLATIONS)}, got {isolation!r}")
    try:
        source = file.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as err:
        raise UserError(f"cannot read {file}: {err.strerror or err}") from None
    result = run_python(source, SANDBOX, isolation)  # type: ignore[arg-type]  # checked above
    if as_json:
        print(json.dumps({**asdict(result), "limits": asdict(SANDBOX)}, indent=2))
    else:
        table = Table(title=f"{file} in the sandbox", show_header=False)
        verdict = "[green]ok[/green]" if result.ok else f"[red]{result.reason}[/red]"
        limits = (
            f"{SANDBOX.wall_seconds:g} s wall, {SANDBOX.cpu_seconds} CPU s, {SANDBOX.memory_bytes >> 20} MB memory, "
            f"{SANDBOX.file_bytes >> 10} KB files, {SANDBOX.open_files} open files, {SANDBOX.processes} process, "
            f"{SANDBOX.max_output_bytes} bytes of output, {SANDBOX.max_source_bytes} bytes of source"
        )
        rows = [
            ("verdict", verdict),
            ("isolation", result.isolation),
            ("limits", limits),
            ("seconds", f"{result.seconds:.2f}"),
            ("detail", result.detail or "-"),
            ("stdout", repr(result.stdout)),
        ]
        for key, value in rows:
            table.add_row(key, value)
        console.print(table)
    if not result.ok:
        raise typer.Exit(1)


@app.command("fit-average")
def fit_average_command(
    run: Annotated[Path, typer.Argument(help="A run trained against the exploiter (opponent.kind=exploiter).")],
    game: Annotated[str | None, typer.Option(help="The game spec whose average to fit (default: the run's first).")] = None,
    kind: Annotated[str, typer.Option(help="linear (CFR+'s weighting by step) or uniform.")] = "linear",
    minutes: Annotated[float, typer.Option(help="CPU minutes of fitting.")] = 10.0,
    every: Annotated[float, typer.Option(help="CPU minutes between exact scorings.")] = 1.0,
    lr: Annotated[float, typer.Option(help="AdamW learning rate.")] = 5e-4,
    seed: Annotated[int, typer.Option(help="Batch order and weights' seed.")] = 0,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Model directory to write (default RUN/average-fit).")] = None,
) -> None:
    """Fit one model to the average of the policies a run passed through: a single checkpoint of the average iterate."""
    from sparring.fit_average import fit_average

    if minutes <= 0 or every <= 0 or lr <= 0:
        raise UserError("--minutes, --every and --lr must be positive")
    result = fit_average(str(run), game, kind, minutes, every, lr, seed=seed, out=str(out) if out else None, log=console.print)
    best = result.best
    console.print(
        f"wrote {result.out}: exploitability {best['exploitability']:.3f} after {best['minutes']:.1f} CPU min "
        f"(the average itself: {result.average_exploitability:.3f}; the start: {result.rows[0]['exploitability']:.3f})"
    )


@app.command()
def merge(
    checkpoint: Annotated[Path, typer.Argument(help="A LoRA checkpoint (RUN/checkpoints/step-K) or a run directory.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the merged model to (new or empty).")],
) -> None:
    """Merge a LoRA checkpoint's adapter into its base model: a plain Hugging Face model directory."""
    from sparring.lora import merge_checkpoint

    console.print(f"wrote {merge_checkpoint(checkpoint, out)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, turning user errors into one line and exit status 2.

    Click (inside typer) already turns usage mistakes into a message and exit
    status 2, and Ctrl-C into "Aborted!"; our own ``UserError`` gets the same
    treatment here.
    """
    # transformers' own "Loading weights" / "Writing model shards" bars would interleave with
    # ours at every checkpoint; they read this once, at import. Set it to 0 to see them.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        forced_precision()  # a bad SPARRING_PRECISION stops every command before it does anything
        app(args=argv, standalone_mode=True)
    except UserError as err:
        from rich.markup import escape

        Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {escape(str(err))}")
        return 2
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0 if done.code is None else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
