"""Tiny Hanabi: its rules as text, the exact optimum of the team return, and evaluation reporting it."""

from __future__ import annotations

import itertools
import json

import pyspiel
import pytest

from sparring.errors import UserError
from sparring.evaluate.cooperative import optimal_team_return, require_team_game, team_return
from sparring.evaluate.suite import evaluate_game
from sparring.games import make_game
from sparring.players import make_player
from sparring.report.curves import chart_specs

PAYOFF = [float(x) for x in pyspiel.load_game("tiny_hanabi").get_parameters()["payoff"].split(";")]


def reward(c0: int, c1: int, a0: int, a1: int) -> float:
    return PAYOFF[((c0 * 2 + c1) * 3 + a0) * 3 + a1]


def brute_force() -> tuple[float, tuple[int, ...], tuple[int, ...]]:
    """Best (value, player 0's action per card, player 1's action per (card, seen action)), by plain loops."""
    best = (-1.0, (), ())
    for p0 in itertools.product(range(3), repeat=2):
        for p1 in itertools.product(range(3), repeat=6):
            value = sum(reward(c0, c1, p0[c0], p1[c1 * 3 + p0[c0]]) for c0 in range(2) for c1 in range(2)) / 4
            best = max(best, (value, p0, p1))
    return best


class Convention:
    """A deterministic joint policy: player 0 maps its card to an action, player 1 its (card, seen action)."""

    name = "convention"

    def __init__(self, p0: tuple[int, ...], p1: tuple[int, ...]):
        self.p0, self.p1 = p0, p1

    def action_probabilities(self, state, seat: int) -> dict[str, float]:
        history = state.pstate.history()
        move = self.p0[history[0]] if seat == 0 else self.p1[history[1] * 3 + history[2]]
        return {m: float(m == f"a{move}") for m in state.legal_actions()}

    def act(self, state, seat: int) -> str:
        return max(self.action_probabilities(state, seat).items(), key=lambda kv: kv[1])[0]


def deal(c0: int, c1: int):
    game = make_game("tiny_hanabi")
    pstate = game.pyspiel_game.new_initial_state()
    pstate.apply_action(c0)
    pstate.apply_action(c1)
    return game.wrap(pstate)


def test_each_player_sees_its_own_card_and_player_1_sees_player_0s_action_only():
    state = deal(1, 0)
    assert "Your card: 1." in state.observation(0) and "Your card: 0." in state.observation(1)
    assert state.legal_actions() == ["a0", "a1", "a2"] and "Legal moves: a0, a1, a2" in state.observation(0)
    state.apply("a2")
    seen = state.observation(1)
    assert "player 0 played a2" in seen and "Your card: 0." in seen
    twin = deal(0, 0)  # the same for player 1 but player 0's card: player 1 cannot tell them apart
    twin.apply("a2")
    assert twin.observation(1) == seen and twin.observation(0) != state.observation(0)
    state.apply("a0")
    assert state.is_terminal() and state.returns() == [0.0, 0.0] and "Team reward: 0" in state.render()


def test_the_rules_text_states_every_entry_of_the_payoff_table_and_play_pays_it():
    rules = make_game("tiny_hanabi").describe()
    for c0, c1, a0, a1 in itertools.product(range(2), range(2), range(3), range(3)):
        line = next(ln for ln in rules.splitlines() if ln.startswith(f"- cards {c0} (player 0) and {c1} (player 1)"))
        block = line.split(f"a{a0} then (")[1].split(")")[0]
        assert f"a{a1} {reward(c0, c1, a0, a1):g}" in block.split(", ")
        state = deal(c0, c1)
        state.apply(f"a{a0}")
        state.apply(f"a{a1}")
        assert state.returns() == [reward(c0, c1, a0, a1)] * 2


def test_the_optimum_is_ten_and_agrees_with_a_brute_force_over_the_payoff_table():
    value, p0, p1 = brute_force()
    assert value == 10.0  # Foerster et al.'s game A: a signalling convention reaches 10 on every deal
    assert optimal_team_return(make_game("tiny_hanabi")) == value
    # ...and a policy playing that convention gets it exactly, as the expected return of its table.
    assert team_return(make_game("tiny_hanabi"), Convention(p0, p1)).expected == pytest.approx(10.0)


def test_uniform_play_gets_the_mean_of_the_table():
    game = make_game("tiny_hanabi")
    result = team_return(game, make_player("uniform", game))
    assert result.expected == pytest.approx(sum(PAYOFF) / len(PAYOFF)) and result.optimum == 10.0


def test_a_bad_convention_scores_below_the_optimum():
    # Player 0 always plays a2 (says nothing), player 1 always a0: 10 on deals (0,0) and (1,1) only -> 5.
    game = make_game("tiny_hanabi")
    assert team_return(game, Convention((2, 2), (0,) * 6)).expected == pytest.approx(5.0)


def test_only_registered_cooperative_games_have_a_team_optimum():
    with pytest.raises(UserError, match="not defined for kuhn_poker; it is for: tiny_hanabi"):
        require_team_game(make_game("kuhn_poker"))
    with pytest.raises(UserError, match="parameters: none"):
        make_game("tiny_hanabi:num_actions=2")


def test_evaluation_reports_team_return_against_the_optimum_where_zero_sum_games_report_exploitability():
    game = make_game("tiny_hanabi")
    result = evaluate_game(game, "tiny_hanabi", make_player("uniform", game), ["random"], num_games=4)
    metrics = result.metrics()
    assert metrics["eval/tiny_hanabi/team_return"] == pytest.approx(134 / 36)
    assert metrics["eval/tiny_hanabi/team_optimum"] == 10.0 and result.exploitability is None
    assert metrics["eval/tiny_hanabi/random/draw"] == 1.0  # one shared return: every game is a tie
    kuhn = make_game("kuhn_poker")
    other = evaluate_game(kuhn, "kuhn_poker", make_player("uniform", kuhn), ["random"], num_games=2).metrics()
    assert "eval/kuhn_poker/exploitability" in other and not any("team" in k for k in other)
    charts = {c["id"]: c for c in chart_specs([{"step": 0, **metrics}, {"step": 5, **metrics}])}
    team = charts["team-tiny_hanabi"]
    assert team["title"] == "Team return vs optimum: tiny_hanabi"
    assert [s["name"] for s in team["series"]] == ["team return", "optimum"] and team["series"][1]["points"] == [
        [0, 10.0],
        [5, 10.0],
    ]
    assert "team-kuhn_poker" not in {c["id"] for c in chart_specs([{"step": 0, **other}])}


def test_a_tiny_hanabi_run_trains_and_logs_the_team_return(tmp_path):
    from rich.console import Console
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.config import load_config
    from sparring.train import train

    config = load_config("spiral-kuhn", [*TINY_RUN, "games.0.name=tiny_hanabi", "games.0.eval_opponents=[random]", "max_steps=1"])
    train(config, tmp_path / "run", console=Console(quiet=True))
    metrics = RunDir(tmp_path / "run").read_metrics()
    assert metrics[-1]["learner/samples"] >= 0 and "train/tiny_hanabi/return/seat1" in metrics[-1]
    assert 0.0 <= metrics[0]["eval/tiny_hanabi/team_return"] <= 10.0 and metrics[0]["eval/tiny_hanabi/team_optimum"] == 10.0


def test_the_eval_table_captions_the_team_return_with_its_optimum():
    from sparring.evaluate.tables import eval_tables

    game = make_game("tiny_hanabi")
    result = evaluate_game(game, "tiny_hanabi", make_player("uniform", game), ["random"], num_games=2)
    doc = {"model": "m", "games": {"tiny_hanabi": {"vs": result.vs, "team_return": 3.7222, "team_optimum": 10.0}}}
    (table,) = eval_tables(doc)
    assert table.caption == "team return 3.722 of an optimum 10 (playing every seat)"


def test_a_forfeit_in_a_cooperative_game_costs_the_offender_and_pays_the_partner_nothing():
    from sparring.rollout import play_games

    class Babbler:
        name = "babbler"

        def act(self, state, seat: int) -> str:
            return "a9"

    game = make_game("tiny_hanabi")
    records = play_games(game, [Babbler(), make_player("random", game)], 2, forfeit=(-1.5, 0.5))
    assert [r.returns for r in records] == [[-1.5, 0.0], [0.0, -1.5]]  # seat 0, then seat 1 (seats rotate)
    kuhn = play_games(
        make_game("kuhn_poker"), [Babbler(), make_player("random", make_game("kuhn_poker"))], 1, forfeit=(-1.5, 0.5)
    )
    assert kuhn[0].returns == [-1.5, 0.5]  # zero-sum games keep SPIRAL's forfeit


def test_team_return_command_and_exploitability_pointing_at_it(capsys):
    from sparring.cli import main

    assert main(["team-return", "tiny_hanabi", "uniform", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["team_return"] == pytest.approx(134 / 36) and out["team_optimum"] == 10.0
    assert main(["exploitability", "tiny_hanabi", "uniform"]) == 2
    err = capsys.readouterr().err
    assert "cooperative" in err and "team-return" in err and err.count("\n") == 1
    assert main(["team-return", "kuhn_poker", "uniform"]) == 2
    assert "not defined for kuhn_poker" in capsys.readouterr().err


def test_a_game_that_is_only_not_zero_sum_keeps_the_usual_forfeit_and_system_message():
    from sparring.games.registry import game_entry
    from sparring.prompts import render_messages
    from sparring.rollout import play_games

    game = make_game("propose_solve")
    assert not game_entry("propose_solve").zero_sum and not game_entry("propose_solve").cooperative
    state = game.new_state(0)
    refused = next(t for t in ("x" * 5000, "   ", "[Offer: 5 Unicorn -> 1 Gold]") if _refuses(state, t))

    class Babbler:
        name = "babbler"

        def act(self, state, seat: int) -> str:
            return refused

    records = play_games(game, [Babbler(), make_player("random", game)], 1, forfeit=(-1.5, 0.5))
    assert records[0].invalid_seat == 0 and records[0].returns == [-1.5, 0.5]
    assert render_messages(game, state, 0)[0]["content"].startswith("You are playing a two-player zero-sum game.")


def _refuses(state, text: str) -> bool:
    from sparring.games import InvalidAction

    try:
        state.clone().apply(text)
    except InvalidAction:
        return True
    return False


def test_the_prior_is_the_myopic_best_response_to_a_uniform_partner_and_stays_weak():
    """40% on the action with the best mean reward for what the player sees (computed here by plain loops)."""
    from sparring.games.tiny_hanabi import prior
    from sparring.pretrain import check_distill

    game = make_game("tiny_hanabi")
    for c0, c1, a0 in itertools.product(range(2), range(2), range(3)):
        state = game.wrap(game.pyspiel_game.new_initial_state().child(c0).child(c1))
        first = [sum(reward(c0, o, a, b) for o in range(2) for b in range(3)) / 6 for a in range(3)]
        best = [f"a{a}" for a in range(3) if first[a] == max(first)]
        expected = {f"a{a}": 0.6 / 3 + (0.4 / len(best) if f"a{a}" in best else 0.0) for a in range(3)}
        assert prior(state) == pytest.approx(expected)
        state.apply(f"a{a0}")
        second = [sum(reward(o, c1, a0, b) for o in range(2)) / 2 for b in range(3)]
        best = [f"a{b}" for b in range(3) if second[b] == max(second)]
        expected = {f"a{b}": 0.6 / 3 + (0.4 / len(best) if f"a{b}" in best else 0.0) for b in range(3)}
        assert prior(state) == pytest.approx(expected)

    class Prior:
        name = "prior"

        def action_probabilities(self, state, seat):
            return prior(state)

    value = team_return(game, Prior()).expected
    uniform = team_return(game, make_player("uniform", game)).expected
    assert uniform < value < optimal_team_return(game) - 4  # reads the table, not a convention: far from 10
    check_distill({"tiny_hanabi": 10})  # pretraining can distil it: OpenSpiel enumerates its information states
