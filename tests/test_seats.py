"""Games of three seats end to end: rollout -> advantages -> learner, evaluation, league, replays and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import browser, open_report  # noqa: F401  (fixtures: chromium, a report open in a page)
from tiny_runs import TINY_RUN

from sparring.cli import main
from sparring.errors import UserError
from sparring.evaluate.arena import summarize
from sparring.evaluate.elo import Outcome
from sparring.evaluate.exploitability import exploitability
from sparring.evaluate.league_eval import round_robin
from sparring.games import make_game
from sparring.games.base import pairwise_scores, placement
from sparring.players import make_player
from sparring.rollout import play_games

THREE = "liars_dice:players=3"
RUN = [
    *TINY_RUN,
    f"games.0.name={THREE}",
    "games.0.eval_opponents=[random]",
    "eval.every=1",
    "eval.games=3",
    "checkpoint.every=1",
    "logging.replay_every=1",
    "rollout.games_per_step=12",
    "logging.replay_games=12",  # every game: the learner sits in seat 2 of four, and the random seats rarely end all four
    "max_steps=1",
    "opponent.kind=fixed",  # the learner's seat rotates among random players: the bundled model, pre-trained on
    "opponent.fixed=random",  # two-seat text, forfeits its first 3-seat move, so self-play never reaches seats 1 and 2
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One step of 3-seat liar's dice on the bundled model against random players, evaluated, checkpointed, replayed."""
    from rich.console import Console

    from sparring.config import load_config
    from sparring.train import train

    path = tmp_path_factory.mktemp("seats") / "run"
    train(load_config("spiral-kuhn", RUN), path, console=Console(quiet=True))
    return path


def test_placement_and_pairwise_scores_rank_any_number_of_seats():
    assert [placement([1.0, -1.0], s) for s in range(2)] == ["win", "loss"]
    assert [placement([0.0, 0.0, 0.0], s) for s in range(3)] == ["draw"] * 3
    assert [placement([0.5, -1.0, 0.5], s) for s in range(3)] == ["win", "loss", "win"]
    assert [placement([1.0, 0.0, -1.0], s) for s in range(3)] == ["win", "draw", "loss"]
    assert pairwise_scores([0.5, -1.0, 0.5]) == [(0, 1, 1.0), (0, 2, 0.5), (1, 2, 0.0)]
    assert pairwise_scores([1.0, -1.0]) == [(0, 1, 1.0)]


def test_three_seat_arena_rotates_every_player_through_every_seat():
    game = make_game(THREE)
    players = [make_player(s, game, seed=k) for k, s in enumerate(["random", "random", "random"])]
    records = play_games(game, players, 6, seed=3)
    assert [r.seating for r in records[:3]] == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    assert all(sorted(r.returns) == [-1.0, 0.5, 0.5] for r in records)
    summary = summarize(records, ["random"] * 3)
    assert list(summary) == ["random", "random#2", "random#3"]
    for stats in summary.values():
        assert stats["win"] + stats["loss"] == pytest.approx(1.0) and stats["draw"] == 0.0
        assert set(stats["by_seat"]) == {"0", "1", "2"}
    assert sum(s["loss"] for s in summary.values()) * 6 == pytest.approx(6)  # one loser per game


def test_arena_cli_fills_every_other_seat_with_the_second_player(capsys):
    assert main(["arena", THREE, "random", "uniform", "--games", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["players"]
    assert set(out) == {"random", "uniform", "uniform#2"} and out["random"]["games"] == 3


def test_league_round_robin_plays_every_group_and_scores_each_game_pairwise():
    game = make_game(THREE)
    names = ["random", "uniform", "prior", "random-b"]
    table = {n: make_player(n.removesuffix("-b"), game, seed=k) for k, n in enumerate(names)}
    outcomes, records = round_robin(game, table, num_games=3, seed=11)
    assert len(records) == 4 * 3  # four groups of three, three games each
    assert len(outcomes) == 3 * len(records)  # three pairs per game
    for r in records:
        assert len(set(r.seating)) == 3
    first = records[0]
    want = {(names[first.seating[s]], names[first.seating[t]], v) for s, t, v in pairwise_scores(first.returns)}
    assert {(o.a, o.b, o.score) for o in outcomes[:3]} == want
    with pytest.raises(UserError, match="at least 3 players"):
        round_robin(game, {n: table[n] for n in names[:2]}, 2)
    assert all(isinstance(o, Outcome) for o in outcomes)


def test_exploitability_refuses_three_seats_with_a_clear_message(capsys):
    game = make_game(THREE)
    with pytest.raises(UserError, match="two-player zero-sum games; liars_dice has 3 seats"):
        exploitability(game, make_player("uniform", game))
    assert main(["exploitability", THREE, "uniform"]) == 2
    err = capsys.readouterr().err
    assert "has 3 seats" in err and err.count("\n") == 1


def test_a_three_seat_run_trains_every_role_and_evaluates_without_exploitability(run_dir):
    from sparring.checkpoint import RunDir

    metrics = RunDir(run_dir).read_metrics()
    last = metrics[-1]
    assert last["step"] == 1 and last["learner/samples"] > 0
    for seat in range(3):
        assert f"train/liars_dice/return/seat{seat}" in last and f"baseline/liars_dice/{seat}" in last
    # evaluation is keyed by the game spec; the policy sat in every seat against two random players
    assert {f"eval/{THREE}/random/win", f"eval/{THREE}/random/seat2/non_loss"} <= set(last)
    assert last[f"eval/{THREE}/random/games"] == 3
    assert not any(k.endswith("/exploitability") for m in metrics for k in m)
    replays = [json.loads(line) for line in (run_dir / "replays" / "train.jsonl").read_text().splitlines()]
    assert replays and all(len(g["players"]) == 3 and len(g["returns"]) == 3 for g in replays)
    assert all(sorted(g["players"]) == ["policy", "random", "random"] for g in replays)
    assert {t["seat"] for g in replays for t in g["turns"]} == {0, 1, 2}


def test_a_three_seat_step_gives_each_role_its_own_samples_baseline_and_gradient(tmp_path):
    from sparring.checkpoint import RunDir
    from sparring.config import load_config
    from sparring.train import build, train_step

    t = build(load_config("spiral-kuhn", [*RUN, "eval.every=0", "opponent.kind=self"]), RunDir(tmp_path / "run"))
    metrics, _, records, samples = train_step(t)
    assert all(len(r.returns) == 3 for r in records)
    seats = {s.seat for s in samples}
    assert seats <= {0, 1, 2} and all(s.role == s.seat for s in samples)
    for seat in range(3):
        returns = [r.returns[seat] for r in records]
        # the role baseline read every game's return to that seat: b = 0.05 * mean
        assert t.baselines.get("liars_dice", seat) == pytest.approx(0.05 * sum(returns) / len(returns))
    for s in samples:
        assert s.advantage == pytest.approx(s.reward)  # baselines started at 0
    assert metrics["learner/samples"] == len([s for s in samples if s.advantage != 0])


def test_against_fixed_players_the_learner_plays_and_learns_in_every_one_of_three_seats(tmp_path):
    from sparring.checkpoint import RunDir
    from sparring.config import load_config
    from sparring.train import build, train_step

    t = build(load_config("spiral-kuhn", [*RUN, "eval.every=0", "rollout.games_per_step=12"]), RunDir(tmp_path / "run"))
    metrics, _, records, samples = train_step(t)
    assert {s.role for s in samples} == {0, 1, 2}  # samples of every role, each with its own baseline
    for seat in range(3):
        assert t.baselines.known("liars_dice", seat) and f"train/liars_dice/return/seat{seat}" in metrics
    assert metrics["learner/samples"] > 0


def test_league_on_a_three_seat_run_rates_checkpoints_and_bots(run_dir, capsys):
    code = main(["league", str(run_dir), "--games", "3", "--players", "random", "--players", "uniform", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    league = json.loads(captured.out)
    assert league["seats"] == 3 and {p["name"] for p in league["players"]} == {"random", "uniform", "step-1"}
    for p in league["players"]:
        assert p["games"] == 3  # one group of three, three games: every player sat in every game
    matrix = league["matrix"]
    assert matrix["random"]["uniform"] + matrix["uniform"]["random"] == pytest.approx(1.0)
    assert main(["league", str(run_dir), "--games", "3", "--players", "random", "--players", "uniform"]) == 0
    assert "group of 3" in capsys.readouterr().out
    assert main(["league", str(run_dir), "--games", "3", "--players", "random"]) == 2
    assert "a league needs at least 3 players, got 2" in capsys.readouterr().err


def test_report_and_replay_show_all_three_seats(run_dir, capsys):
    from sparring.report import build_report, gather

    assert all(len(g["players"]) == 3 for g in gather(run_dir)["replays"])
    assert build_report(run_dir).exists()
    path = run_dir / "replays" / "train.jsonl"
    games = [json.loads(line) for line in path.read_text().splitlines()]
    k = next(k for k, g in enumerate(games) if any(t["seat"] == 2 for t in g["turns"]))
    players = games[k]["players"]
    assert main(["replay", str(path), "--game-index", str(k)]) == 0
    out = capsys.readouterr().out
    assert f"seat 0: {players[0]}, seat 1: {players[1]}, seat 2: {players[2]}" in out
    assert "seat 2 (" in out  # a turn of the third seat is printed
    assert main(["replay", str(path), "--list"]) == 0
    assert " vs ".join(players) in capsys.readouterr().out


def test_the_default_system_message_names_the_seat_count_and_leaves_two_player_games_as_they_were():
    from sparring.prompts import DEFAULT_SYSTEM, PromptConfig, render_messages

    two, three = make_game("liars_dice"), make_game(THREE)
    system = render_messages(two, two.new_state(0), 0)[0]["content"]
    assert system.startswith("You are playing a two-player zero-sum game.") and DEFAULT_SYSTEM.startswith(system[:40])
    system = render_messages(three, three.new_state(0), 0)[0]["content"]
    assert system.startswith("You are playing a three-player zero-sum game.") and "There are 3 players" in system
    custom = PromptConfig(system="Game: {rules} {instruction}")
    assert render_messages(three, three.new_state(0), 0, custom)[0]["content"].startswith("Game: Liar's dice. Each")


def test_the_report_page_renders_a_three_seat_replay(run_dir, open_report):  # noqa: F811
    from sparring.report import build_report

    report = open_report(build_report(run_dir))
    page = report.page
    games = report.data()["replays"]
    k, game = next((k, g) for k, g in enumerate(games) if any(t["seat"] == 2 for t in g["turns"]))
    row = page.locator("tr.game-row").nth(k)
    assert " vs ".join(game["players"]) in row.text_content()
    row.click()
    title = page.locator("h3.game-title").text_content()
    assert ", ".join(f"seat {s}: {p}" for s, p in enumerate(game["players"])) in title
    third = next(i for i, t in enumerate(game["turns"]) if t["seat"] == 2)
    for _ in range(third):
        page.click("#next-turn")
    assert page.locator("pre.observation").text_content() == game["turns"][third]["observation"]
    assert report.problems == []


def test_a_pool_snapshot_scores_a_three_seat_game_by_placement():
    from sparring.config import OpponentSection
    from sparring.league import League, PoolEntry
    from sparring.rollout import GameRecord

    game = make_game(THREE)
    lg = League(
        OpponentSection(kind="pool", self_play_share=0.0),
        [(THREE, game, 1.0)],
        make_player("random", game),
        seed=1,
        load_opponent=lambda path: make_player("random", game),
    )
    lg.pool = [PoolEntry(1, "snap", score=0.5)]
    plan = lg.plan(0, 3)
    assert plan.learner_seats == [[0], [1], [2]] and plan.opponents == ["snap"] * 3
    # Seat 0 survives (a win: +1/2 like the other survivor), seat 1 loses, seat 2 survives.
    records = [GameRecord("liars_dice", 0, t.seating, [0.5, -1.0, 0.5]) for t in plan.tables]
    lg.record(plan, records)
    entry = lg.pool[0]
    assert entry.games == 3 and entry.score == pytest.approx(((0.5 * 0.9 + 0.1) * 0.9) * 0.9 + 0.1)


def test_the_default_system_message_calls_a_cooperative_game_cooperative_and_an_unregistered_game_zero_sum():
    from dataclasses import replace

    from sparring.prompts import render_messages

    hanabi = make_game("tiny_hanabi")
    system = render_messages(hanabi, hanabi.new_state(0), 0)[0]["content"]
    assert system.startswith("You are playing a two-player cooperative game.")
    outside = replace(make_game("liars_dice:players=3"), name="my_dice")  # built outside the registry, as in a test
    assert render_messages(outside, outside.new_state(0), 0)[0]["content"].startswith("You are playing a three-player zero-sum")
