"""rollout.invalid_in_stakes: a forfeit counted in the game's largest stake is never better than a legal loss."""

from __future__ import annotations

import pytest

from sparring.config import load_config
from sparring.games import make_game
from sparring.players import make_player
from sparring.rollout import Table, forfeit_scores, play_tables


class Babbler:
    name = "babbler"

    def act(self, state, seat: int) -> str:
        return "no idea"


@pytest.mark.parametrize(("name", "stakes"), [("leduc_poker", 13.0), ("kuhn_poker", 2.0), ("tic_tac_toe", 1.0)])
def test_a_forfeit_in_stakes_is_worse_than_the_worst_legal_result(name, stakes):
    game = make_game(name)
    table = Table(game, 0, [Babbler(), make_player("random", game)])
    (unit,) = play_tables([table], forfeit=(-1.5, 0.5))
    (scaled,) = play_tables([table], forfeit=(-1.5, 0.5), forfeit_in_stakes=True)
    assert unit.returns == [-1.5, 0.5]  # the default stays SPIRAL's
    assert scaled.returns == [-1.5 * stakes, 0.5 * stakes]
    worst = game.pyspiel_game.min_utility()  # folding the largest pot (Leduc -13) still beats a forfeit
    assert scaled.returns[0] < worst
    if name == "leduc_poker":
        assert unit.returns[0] > worst  # the unit forfeit is what a policy could prefer to folding


def test_a_team_games_forfeit_in_stakes_still_pays_the_partner_nothing():
    assert forfeit_scores(make_game("tiny_hanabi"), (-1.5, 0.5), in_stakes=True)[1] == 0.0


def test_the_knob_is_off_unless_asked():
    assert load_config("spiral-kuhn", []).rollout.invalid_in_stakes is False


def test_the_local_and_ray_rollouts_play_by_the_runs_rules():
    """play_by_rules is the one call both rollouts make: a run's forfeit scores, their unit and turn limit."""
    from sparring.rollout import play_by_rules

    game = make_game("leduc_poker")
    table = Table(game, 0, [Babbler(), make_player("random", game)])
    rules = load_config("leduc", []).rollout  # forfeits in stakes
    assert play_by_rules([table], rules)[0].returns == [rules.invalid_penalty * 13, rules.invalid_opponent_reward * 13]
    plain = load_config("spiral-kuhn", ["games.0.name=leduc_poker", "rollout.invalid_penalty=-2"]).rollout
    assert play_by_rules([table], plain)[0].returns == [-2.0, plain.invalid_opponent_reward]
