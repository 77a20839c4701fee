"""Advantage estimators, checked against arithmetic done by hand (written out in the comments)."""

from __future__ import annotations

import json
import math
import random

import pytest

from sparring.advantages import (
    ESTIMATORS,
    RoleBaselines,
    drop_zero_advantage,
    estimate,
    grpo,
    mars,
    rae,
    reinforce,
)
from sparring.samples import TurnSample

approx = pytest.approx


def seat(
    game: str,
    game_id: int,
    role: int,
    ret: float,
    n: int,
    invalid_last: bool = False,
    gamma: float = 1.0,
) -> list[TurnSample]:
    """The n turns of one seat in one game whose return is ``ret`` (turn k's reward is ret * gamma**(n-1-k), as rollout)."""
    return [
        TurnSample(
            game=game,
            role=role,
            seat=role,
            turn=k,
            prompt_ids=[1],
            response_ids=[2],
            response_logprobs=[-0.1],
            reward=ret * gamma ** (n - 1 - k),
            game_id=game_id,
            last_turn=k == n - 1,
            info={"invalid": "illegal move" if invalid_last and k == n - 1 else None},
        )
        for k in range(n)
    ]


def advs(samples: list[TurnSample]) -> list[float]:
    return [s.advantage for s in samples]


# --- RAE -------------------------------------------------------------------------------------------------------------------


def test_rae_subtracts_baseline_read_before_update_and_updates_with_game_weighted_mean():
    b = RoleBaselines()
    # role 0: game 0 returns +1 over 2 turns, game 1 returns -0.5 over 3 turns; role 1: -1 (2 turns), +0.5 (2 turns).
    batch = seat("ttt", 0, 0, 1.0, 2) + seat("ttt", 1, 0, -0.5, 3) + seat("ttt", 0, 1, -1.0, 2) + seat("ttt", 1, 1, 0.5, 2)
    rae(batch, b)
    # Baselines start at 0 and are read before the update, so A = reward.
    assert advs(batch) == approx([1, 1, -0.5, -0.5, -0.5, -1, -1, 0.5, 0.5])
    # role 0: b = 0.95*0 + 0.05*mean([1, -0.5]) = 0.05*0.25 = 0.0125.
    # (Turn-weighted would be 0.05*(2*1 + 3*-0.5)/5 = 0.005: the test fails if turns, not games, are averaged.)
    assert b.get("ttt", 0) == approx(0.0125)
    # role 1: b = 0.05*mean([-1, 0.5]) = 0.05*-0.25 = -0.0125.
    assert b.get("ttt", 1) == approx(-0.0125)

    nxt = seat("ttt", 0, 0, 1.0, 1) + seat("ttt", 0, 1, -1.0, 1)
    rae(nxt, b)
    # A = R - b_old: 1 - 0.0125 = 0.9875; -1 - (-0.0125) = -0.9875.
    assert advs(nxt) == approx([0.9875, -0.9875])
    # b0 = 0.95*0.0125 + 0.05*1 = 0.011875 + 0.05 = 0.061875; b1 = 0.95*-0.0125 + 0.05*-1 = -0.061875.
    assert b.get("ttt", 0) == approx(0.061875)
    assert b.get("ttt", 1) == approx(-0.061875)


def test_rae_keeps_separate_baselines_per_game_and_role():
    b = RoleBaselines()
    rae(seat("tic_tac_toe", 0, 0, 1.0, 3) + seat("kuhn_poker", 1, 0, -2.0, 1), b)
    # Same role 0, different games: b_ttt = 0.05*1 = 0.05, b_kuhn = 0.05*-2 = -0.1 (shared would be 0.05*-0.5 = -0.025).
    assert b.state_dict() == approx({"kuhn_poker/0": -0.1, "tic_tac_toe/0": 0.05})
    nxt = seat("tic_tac_toe", 0, 0, 1.0, 1) + seat("kuhn_poker", 1, 0, 1.0, 1)
    rae(nxt, b)
    # A_ttt = 1 - 0.05 = 0.95; A_kuhn = 1 - (-0.1) = 1.1.
    assert advs(nxt) == approx([0.95, 1.1])


def test_rae_rate_override_and_store_rate():
    b = RoleBaselines(rate=0.5, init=0.2)
    batch = seat("ttt", 0, 0, 1.0, 1)
    rae(batch, b)
    # init 0.2 read first: A = 1 - 0.2 = 0.8; store's rate 0.5: b = 0.5*0.2 + 0.5*1 = 0.6.
    assert advs(batch) == approx([0.8])
    assert b.get("ttt", 0) == approx(0.6)
    rae(seat("ttt", 0, 0, 0.0, 1), b, rate=0.9)
    # override 0.9: b = 0.9*0.6 + 0.1*0 = 0.54.
    assert b.get("ttt", 0) == approx(0.54)


def test_rae_does_not_depend_on_the_order_of_samples_in_the_batch():
    def run(samples: list[TurnSample]) -> tuple[dict, dict]:
        b = RoleBaselines()
        b.load_state_dict({"ttt/0": 0.3, "ttt/1": -0.2})
        rae(samples, b)
        return {(s.game_id, s.role, s.turn): s.advantage for s in samples}, b.state_dict()

    batch = [s for g in range(6) for s in seat("ttt", g, 0, (-1.0) ** g * g, g % 3 + 1) + seat("ttt", g, 1, g / 4, 2)]
    shuffled = batch.copy()
    random.Random(0).shuffle(shuffled)
    a1, b1 = run(batch)
    a2, b2 = run([TurnSample(**vars(s)) for s in shuffled])
    assert a1 == approx(a2)
    assert b1 == approx(b2)


def test_rae_requires_a_baseline_store():
    with pytest.raises(ValueError, match="RoleBaselines"):
        rae(seat("ttt", 0, 0, 1.0, 1), None)  # type: ignore[arg-type]


# --- baseline checkpoints --------------------------------------------------------------------------------------------------


def test_baseline_state_dict_round_trips_through_json():
    b = RoleBaselines()
    b.update("tic_tac_toe", 0, 1.0)  # 0.05
    b.update("kuhn_poker", 1, -2.0)  # -0.1
    b.update("textarena/Nim", 1, 4.0)  # a game name with '/' in it: 0.2
    state = json.loads(json.dumps(b.state_dict()))
    assert state == approx({"tic_tac_toe/0": 0.05, "kuhn_poker/1": -0.1, "textarena/Nim/1": 0.2})
    fresh = RoleBaselines()
    fresh.load_state_dict(state)
    assert fresh.values == b.values
    assert fresh.get("textarena/Nim", 1) == approx(0.2)
    assert fresh.get("tic_tac_toe", 1) == 0.0  # never seen: init


def test_baseline_load_rejects_malformed_keys():
    with pytest.raises(ValueError, match="game/role"):
        RoleBaselines().load_state_dict({"tic_tac_toe": 0.1})


# --- GRPO / REINFORCE ------------------------------------------------------------------------------------------------------


def test_grpo_subtracts_the_game_weighted_group_mean():
    # group (ttt, 0): returns 1 (2 turns), 0 (1 turn), -0.5 (3 turns) -> mean over games = 0.5/3 = 1/6
    # (turn-weighted would be (2 + 0 - 1.5)/6 = 1/12).
    batch = seat("ttt", 0, 0, 1.0, 2) + seat("ttt", 1, 0, 0.0, 1) + seat("ttt", 2, 0, -0.5, 3)
    grpo(batch)
    # 1 - 1/6 = 5/6; 0 - 1/6 = -1/6; -0.5 - 1/6 = -2/3.
    assert advs(batch) == approx([5 / 6, 5 / 6, -1 / 6, -2 / 3, -2 / 3, -2 / 3])


def test_grpo_normalizes_by_the_std_of_game_returns():
    batch = seat("ttt", 0, 0, 1.0, 2) + seat("ttt", 1, 0, 0.0, 1) + seat("ttt", 2, 0, -0.5, 3)
    grpo(batch, normalize_std=True, eps=1e-6)
    # deviations 5/6, -1/6, -2/3; squares 25/36 + 1/36 + 16/36 = 42/36; / (3 - 1) = 7/12; std = sqrt(7/12) ~ 0.76376.
    sd = math.sqrt(7 / 12) + 1e-6
    assert advs(batch) == approx([5 / 6 / sd] * 2 + [-1 / 6 / sd] + [-2 / 3 / sd] * 3)
    assert batch[0].advantage == approx(1.091089, abs=1e-5)  # 0.833333 / 0.763763


def test_grpo_groups_by_game_and_role_and_a_lone_game_gets_zero():
    batch = (
        seat("ttt", 0, 0, 1.0, 1)
        + seat("ttt", 1, 0, -1.0, 1)  # ttt role 0: mean 0 -> A = +1, -1
        + seat("ttt", 0, 1, 0.5, 1)
        + seat("ttt", 1, 1, 0.5, 1)  # ttt role 1: mean 0.5 -> A = 0, 0
        + seat("kuhn", 2, 0, 2.0, 2, gamma=0.5)
    )  # kuhn role 0: one game -> 0 (not 1 - 2)
    grpo(batch)
    assert advs(batch) == approx([1, -1, 0, 0, 0, 0])


def test_reinforce_uses_the_reward_itself():
    batch = seat("ttt", 0, 0, 1.0, 2, gamma=0.5) + seat("ttt", 0, 1, -1.5, 1)
    reinforce(batch)
    assert advs(batch) == approx([0.5, 1.0, -1.5])


# --- MARS ------------------------------------------------------------------------------------------------------------------


def mars_batch() -> list[TurnSample]:
    """Two tic-tac-toe games and two identical Kuhn hands."""
    return (
        seat("ttt", 0, 0, 0.5, 2)
        + seat("ttt", 0, 1, -1.5, 2, invalid_last=True)  # seat 1 forfeits
        + seat("ttt", 1, 0, 1.0, 3)
        + seat("ttt", 1, 1, -1.0, 2)
        + seat("kuhn", 2, 0, 1.0, 1)
        + seat("kuhn", 2, 1, -1.0, 1)
        + seat("kuhn", 3, 0, 1.0, 1)
        + seat("kuhn", 3, 1, -1.0, 1)
    )


def test_mars_pipeline_by_hand_without_whitening():
    batch = mars(mars_batch(), whiten=False)  # format_bonus 0.05
    # Step 0, r = (return on last turn) + 0.05 if valid:
    #   ttt g0 s0: 0.05, 0.55        ttt g0 s1: 0.05, -1.5 (invalid: no bonus)
    #   ttt g1 s0: 0.05, 0.05, 1.05  ttt g1 s1: 0.05, -0.95
    #   kuhn s0: 1.05, 1.05          kuhn s1: -0.95, -0.95
    # Step 1, centre per (game, role):
    #   (ttt, 0): mean 1.75/5 = 0.35 -> g0: -0.3, 0.2; g1: -0.3, -0.3, 0.7
    #   (ttt, 1): mean -2.35/4 = -0.5875 -> g0: 0.6375, -0.9125; g1: 0.6375, -0.3625
    #   (kuhn, *): every value equals its group mean -> 0
    # Step 3, reward-to-go over the seat's own turns:
    #   ttt g0 s0: -0.1, 0.2   g0 s1: -0.275, -0.9125   g1 s0: 0.1, 0.4, 0.7   g1 s1: 0.275, -0.3625   kuhn: 0
    # Step 4, per role over all games, the mean of the DISTINCT values:
    #   role 0: {-0.1, 0.2, 0.1, 0.4, 0.7, 0} -> 1.3/6 = 13/60 (with the duplicate 0 it would be 1.3/7)
    #   role 1: {-0.275, -0.9125, 0.275, -0.3625, 0} -> -1.275/5 = -0.255
    expected = (
        [-0.1 - 13 / 60, 0.2 - 13 / 60]  # -19/60, -1/60
        + [-0.275 + 0.255, -0.9125 + 0.255]  # -0.02, -0.6575
        + [0.1 - 13 / 60, 0.4 - 13 / 60, 0.7 - 13 / 60]  # -7/60, 11/60, 29/60
        + [0.275 + 0.255, -0.3625 + 0.255]  # 0.53, -0.1075
        + [-13 / 60, 0.255, -13 / 60, 0.255]
    )
    assert advs(batch) == approx(expected)
    assert advs(batch)[:4] == approx([-19 / 60, -1 / 60, -0.02, -0.6575])


def test_mars_whitening_gives_the_whitened_unwhitened_pipeline():
    # Step 2 divides every centred reward by one number s (their mean is already 0 after step 1); steps 3 and 4 are
    # linear and keep distinct values distinct, so before step 5 everything is the whiten=False result divided by s.
    # Step 5 then removes the scale: the result is whiten(expected) with Bessel-corrected std.
    plain = advs(mars(mars_batch(), whiten=False))
    white = advs(mars(mars_batch(), whiten=True))
    mu = sum(plain) / len(plain)  # (-13/60 + 0.255) / 13, from the sums of the expected values above
    assert mu == approx((-13 / 60 + 0.255) / 13)
    sd = math.sqrt(sum((a - mu) ** 2 for a in plain) / (len(plain) - 1))
    assert white == approx([(a - mu) / sd for a in plain], abs=1e-6)
    assert sum(white) == approx(0.0, abs=1e-9)


def test_mars_reward_to_go_follows_turn_order_not_list_order():
    turns = seat("ttt", 0, 0, 1.0, 3)
    batch = [turns[2], turns[0], turns[1]]
    mars(batch, format_bonus=0.0, whiten=False)
    # r = 0, 0, 1 -> centred -1/3, -1/3, 2/3 -> to-go (by turn) t0: 0, t1: 1/3, t2: 2/3
    # -> minus mean of distinct {0, 1/3, 2/3} = 1/3 -> t0: -1/3, t1: 0, t2: 1/3.
    assert [s.advantage for s in turns] == approx([-1 / 3, 0.0, 1 / 3])


def test_mars_format_bonus_only_for_valid_moves():
    # One seat, two turns, format_bonus 0.25, return -1, last move invalid:
    # r = 0.25 (valid, not last), 0 - 1 + 0 (invalid last, return -1) -> centred 0.625, -0.625 -> to-go 0, -0.625
    # -> minus mean of distinct {0, -0.625} = -0.3125 -> 0.3125, -0.3125.
    batch = mars(seat("ttt", 0, 0, -1.0, 2, invalid_last=True), format_bonus=0.25, whiten=False)
    assert advs(batch) == approx([0.3125, -0.3125])
    # with the last move valid: r = 0.25, -0.75 -> centred 0.5, -0.5 -> to-go 0, -0.5 -> 0.25, -0.25.
    assert advs(mars(seat("ttt", 0, 0, -1.0, 2), format_bonus=0.25, whiten=False)) == approx([0.25, -0.25])


# --- filtering and the registry --------------------------------------------------------------------------------------------


def test_drop_zero_advantage_keeps_only_nonzero_and_changes_nothing():
    batch = seat("ttt", 0, 0, 0.0, 4)
    for s, a in zip(batch, [0.0, 1e-9, -0.5, 0.0], strict=True):
        s.advantage = a
    assert drop_zero_advantage(batch) == [batch[1], batch[2]]
    assert drop_zero_advantage(batch, eps=1e-6) == [batch[2]]
    assert advs(batch) == [0.0, 1e-9, -0.5, 0.0]


def test_rae_draws_against_zero_baseline_are_dropped():
    batch = seat("ttt", 0, 0, 0.0, 2) + seat("ttt", 1, 0, 1.0, 1)
    kept = drop_zero_advantage(estimate("rae", batch, RoleBaselines()))
    assert kept == [batch[2]]


def test_estimate_dispatches_by_name_and_passes_baselines_only_where_needed():
    assert set(ESTIMATORS) == {"rae", "grpo", "reinforce", "mars"}
    b = RoleBaselines()
    batch = seat("ttt", 0, 0, 1.0, 1) + seat("ttt", 1, 0, 0.0, 1)
    assert estimate("rae", batch, b) is batch
    assert b.get("ttt", 0) == approx(0.025)  # 0.05 * mean([1, 0])
    # grpo ignores the store: mean 0.5, std sqrt(0.5) -> (1 - 0.5)/0.7071 = 0.7071.
    assert advs(estimate("grpo", batch, b, normalize_std=True)) == approx([math.sqrt(0.5), -math.sqrt(0.5)], rel=1e-5)
    assert b.get("ttt", 0) == approx(0.025)
    assert advs(estimate("reinforce", batch)) == [1.0, 0.0]


def test_unknown_estimator_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown advantage estimator 'ppo'.*grpo, mars, rae, reinforce"):
        estimate("ppo", [], RoleBaselines())


# --- RAE with an observation baseline -------------------------------------------------------------------------------------


def at(obs: list[int], reward: float, role: int = 0, game_id: int = 0) -> TurnSample:
    return TurnSample("kuhn", role, role, 0, obs, [2], [-0.1], reward=reward, game_id=game_id, last_turn=True)


def test_observation_baseline_is_the_leave_one_out_mean_of_the_same_observation():
    # observation [7]: rewards 1, 2, -1 -> baselines (2-1)/2=0.5, (1-1)/2=0, (1+2)/2=1.5
    # observation [8]: one turn, never seen, role baseline 0 (init) -> advantage = reward
    samples = [at([7], 1.0, game_id=0), at([7], 2.0, game_id=1), at([7], -1.0, game_id=2), at([8], -2.0, game_id=3)]
    store = RoleBaselines(rate=0.5)
    rae(samples, store, baseline="observation")
    assert advs(samples) == approx([0.5, 2.0, -2.5, -2.0])
    # the role EMA still moves with the mean game return ((1 + 2 - 1 - 2) / 4 = 0), each observation's EMA with its mean
    assert store.roles() == {"kuhn/0": approx(0.0)}
    again = [at([8], 1.0)]  # [8] alone again: its own EMA (0.5 * 0 + 0.5 * -2 = -1) is now the baseline
    rae(again, store, baseline="observation")
    assert advs(again) == approx([2.0])


def answered(obs: list[int], answer: int, reward: float, game_id: int = 0) -> TurnSample:
    return TurnSample("kuhn", 1, 1, 0, obs, [answer], [-0.1], reward=reward, game_id=game_id, last_turn=True)


def test_interaction_baseline_takes_away_an_answers_edge_in_every_state():
    # Step 1: answer 8 is right on task [1] and wrong on [2]; answer 5 wrong on both. Nothing is known of the
    # answers yet, so this is the observation baseline: [1] -> 1 - 0 = 1 and 0 - 1 = -1; [2] -> 0 and 0.
    store = RoleBaselines(rate=0.5)
    first = [answered([1], 8, 1.0, 0), answered([1], 5, 0.0, 1), answered([2], 8, 0.0, 2), answered([2], 5, 0.0, 3)]
    rae(first, store, baseline="interaction")
    assert advs(first) == approx([1.0, -1.0, 0.0, 0.0])
    # Answer 8's EMA: 0.5 * 0 + 0.5 * mean(1, 0) = 0.25; answer 5's: 0. The role's: 0.5 * mean(1, 0, 0, 0) = 0.125.
    # Step 2, read before the update: answer 8's edge 0.25 - 0.125 = 0.125 comes off its turns; answer 5, below
    # the average (0 - 0.125), keeps its blame; a new answer (3) has no edge yet.
    second = [answered([1], 8, 1.0, 0), answered([1], 5, 0.0, 1), answered([3], 3, 1.0, 2), answered([3], 8, 0.0, 3)]
    rae(second, store, baseline="interaction")
    assert advs(second) == approx([1.0 - 0.125, -1.0, 1.0, -1.0 - 0.125])
    observation_only = [answered([1], 8, 1.0, 0), answered([1], 5, 0.0, 1)]
    rae(observation_only, RoleBaselines(rate=0.5), baseline="observation")
    assert advs(observation_only) == approx([1.0, -1.0])  # the same turns without the answers' edges
    copy = RoleBaselines()
    copy.load_state_dict(json.loads(json.dumps(store.state_dict())))
    assert copy.values == store.values and sum(str(role).startswith("ans:") for _, role in store.values) == 3


def test_observation_baselines_survive_a_state_dict_round_trip():
    store = RoleBaselines()
    rae([at([7], 1.0), at([7], 3.0, game_id=1), at([9], 1.0, role=1, game_id=2)], store, baseline="observation")
    copy = RoleBaselines()
    copy.load_state_dict(json.loads(json.dumps(store.state_dict())))
    assert copy.values == store.values and len(store.values) == 4  # two roles, two observations
    assert set(store.roles()) == {"kuhn/0", "kuhn/1"}
