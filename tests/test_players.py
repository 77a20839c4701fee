"""Baseline players do what their names promise, checked against known results."""

from __future__ import annotations

import inspect

import pytest

from sparring.errors import UserError
from sparring.evaluate.arena import play_games, summarize
from sparring.evaluate.exploitability import exploitability
from sparring.games import make_game
from sparring.players import HumanPlayer, make_player, player_entries
from sparring.players.human import GameAbandoned, play_against
from sparring.specs import SPEC_TYPES, spec_type


@pytest.fixture(scope="module")
def ttt():
    return make_game("tic_tac_toe")


def test_minimax_never_loses_to_random(ttt):
    records = play_games(ttt, [make_player("minimax", ttt, 1), make_player("random", ttt, 2)], 60, seed=0)
    stats = summarize(records, ["minimax", "random"])["minimax"]
    assert stats["loss"] == 0.0
    assert stats["win"] > 0.8


def test_minimax_against_itself_always_draws(ttt):
    records = play_games(ttt, [make_player("minimax", ttt, 1), make_player("minimax", ttt, 2)], 10, seed=0)
    assert all(r.returns == [0.0, 0.0] for r in records)


def test_minimax_takes_the_win_and_blocks(ttt):
    mm = make_player("minimax", ttt)
    win = ttt.new_state(0)
    for m in ["0", "3", "1", "4"]:  # X on 0,1; O on 3,4: X to move wins at 2
        win.apply(m)
    assert mm.act(win, 0) == "2"
    block = ttt.new_state(0)
    for m in ["0", "4", "1"]:  # X threatens 2; O must block
        block.apply(m)
    assert mm.act(block, 1) == "2"


def test_noisy_minimax_plays_that_share_of_random_moves(ttt):
    block = ttt.new_state(0)
    for m in ["0", "4", "1"]:  # X threatens 2: the one move perfect play allows O
        block.apply(m)
    noisy = make_player("minimax:epsilon=0.3", ttt, seed=3)
    moves = [noisy.act(block, 1) for _ in range(2000)]
    # The block is taken 70% + 30% x 1/6 of the time (a random move hits it one time in six).
    assert moves.count("2") / len(moves) == pytest.approx(0.7 + 0.3 / 6, abs=0.03)
    assert set(moves) == set(block.legal_actions())
    perfect, zero = make_player("minimax", ttt, seed=3), make_player("minimax:epsilon=0", ttt, seed=3)
    opening = ttt.new_state(0)  # every cell draws: the seeded tie-breaks must match with and without epsilon=0
    assert [perfect.act(opening, 0) for _ in range(20)] == [zero.act(opening, 0) for _ in range(20)]
    with pytest.raises(UserError, match="epsilon is a probability"):
        make_player("minimax:epsilon=1.5", ttt)


def test_mcts_beats_random(ttt):
    records = play_games(ttt, [make_player("mcts:sims=100", ttt, 1), make_player("random", ttt, 2)], 20, seed=0)
    stats = summarize(records, ["mcts", "random"])["mcts"]
    assert stats["win"] >= 0.7 and stats["loss"] <= 0.15


def test_cfr_policy_is_nearly_unexploitable():
    kuhn = make_game("kuhn_poker")
    assert exploitability(kuhn, make_player("cfr:iters=300", kuhn)).exploitability < 0.01


def test_cfr_beats_random_at_kuhn():
    kuhn = make_game("kuhn_poker")
    records = play_games(kuhn, [make_player("cfr:iters=300", kuhn, 1), make_player("random", kuhn, 2)], 400, seed=0)
    assert summarize(records, ["cfr", "random"])["cfr"]["mean_return"] > 0.1


def test_search_bots_refuse_games_they_cannot_play():
    negotiation = make_game("simple_negotiation")
    with pytest.raises(UserError, match="OpenSpiel games only"):
        make_player("mcts", negotiation)
    with pytest.raises(UserError, match="OpenSpiel games only"):
        make_player("cfr", negotiation)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("alphazero", "unknown player 'alphazero'"),
        ("mcts:sim=5", "unexpected keyword argument 'sim'.*parameters: sims"),
        ("mcts:sims=0", "sims and rollouts must be at least 1"),
        ("cfr:variant=dcfr", "variant must be"),
        ("", "empty player spec"),
        ("model:bundled,style=r1", "style must be one of sparring, spiral"),
        ("model:bundled,style=spiral,answer_format=brackets", "style=spiral answers in"),
    ],
)
def test_bad_player_specs_are_one_clear_error(ttt, spec, message):
    game = make_game("kuhn_poker") if spec.startswith("cfr") else ttt
    with pytest.raises(UserError, match=message):
        make_player(spec, game)


def spec_parameters() -> list[tuple[str, str, type]]:
    """(player, parameter, declared type) of every parameter every registered player's spec can set."""
    found = []
    for entry in player_entries():
        params = list(inspect.signature(entry.make).parameters.values())[2:]  # after the game and the seed
        found += [(entry.name, p.name, spec_type(p.annotation)) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    return found


PARAMETERS = spec_parameters()
REQUIRED = {"api": "api:some-model,", "model": "model:bundled,"}
"""The start of a spec for players that need a positional argument before any key=value."""
WRONG_TYPE = {int: ["abc", "1.5", "true"], float: ["abc", "false"], bool: ["abc", "3"], str: []}
ODD_VALUE = {int: ["0", "-1"], float: ["0", "-1", "5"], bool: ["false"], str: ["zzz"]}


def spec_for(player: str, param: str, value: str) -> str:
    return f"{REQUIRED.get(player, player + ':')}{param}={value}"


def test_every_player_parameter_declares_a_type_a_spec_can_carry():
    assert {player for player, _, _ in PARAMETERS} >= {"mcts", "minimax", "cfr", "model", "api"}
    assert all(kind in SPEC_TYPES for _, _, kind in PARAMETERS), [p for p in PARAMETERS if p[2] not in SPEC_TYPES]


@pytest.mark.parametrize(("player", "param", "kind"), PARAMETERS, ids=[f"{p}.{n}" for p, n, _ in PARAMETERS])
def test_every_player_parameter_of_the_wrong_type_is_one_clear_error(player, param, kind):
    kuhn = make_game("kuhn_poker")
    for value in WRONG_TYPE[kind]:
        with pytest.raises(UserError, match=f"{param} must be {SPEC_TYPES[kind]}") as err:
            make_player(spec_for(player, param, value), kuhn)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize(("player", "param", "kind"), PARAMETERS, ids=[f"{p}.{n}" for p, n, _ in PARAMETERS])
def test_every_player_parameter_at_an_odd_value_is_refused_in_one_line_or_plays(player, param, kind):
    """Zero, negative, out of range or nonsense text: a one-line UserError, or a player that plays whole games."""
    kuhn = make_game("kuhn_poker")
    for value in ODD_VALUE[kind]:
        try:
            bot = make_player(spec_for(player, param, value), kuhn, seed=1)
        except UserError as err:
            assert "\n" not in str(err)
            continue
        if player != "api":  # an API player would need a server to play
            play_games(kuhn, [bot, make_player("random", kuhn, 2)], 2, seed=0)


def test_uniform_policy_view_sums_to_one(ttt):
    probs = make_player("uniform", ttt).action_probabilities(ttt.new_state(0), 0)
    assert len(probs) == 9 and sum(probs.values()) == pytest.approx(1.0)


def scripted(lines):
    it = iter(lines)
    return lambda prompt: next(it)


def test_human_is_reprompted_after_bad_input(ttt, capsys):
    human = HumanPlayer(read=scripted(["", "banana", "9", "4"]))
    assert human.act(ttt.new_state(0), 0) == "4"
    out = capsys.readouterr().out
    assert out.count("Not accepted") == 2 and "Type a move" in out


def test_human_quit_and_closed_input_abandon_cleanly(ttt):
    with pytest.raises(GameAbandoned):
        HumanPlayer(read=scripted(["quit"])).act(ttt.new_state(0), 0)

    def closed(prompt):
        raise EOFError

    with pytest.raises(GameAbandoned):
        HumanPlayer(read=closed).act(ttt.new_state(0), 0)


def test_play_against_minimax_as_second_seat(ttt, capsys):
    # Whatever the human does (first legal cell each time), minimax in seat 0 never loses.
    class FirstCell(HumanPlayer):
        def act(self, state, seat):
            return state.legal_actions()[0]

    returns = play_against(ttt, make_player("minimax", ttt), seat=1, seed=0, human=FirstCell())
    assert returns[0] >= returns[1]
    assert "Opponent (seat 0) plays" in capsys.readouterr().out
