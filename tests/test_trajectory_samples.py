"""The trajectory view's samples (MARS): each seat's game is one sample whose segments are exactly the ids the
engine generated, each with its turn's advantage, and which learns exactly what its turns would one by one."""

from __future__ import annotations

import random

import pytest
import torch
from conftest import AVAILABLE, VARIANTS
from precision import FP32

from sparring.config import LearnerSection
from sparring.engines.base import Generation, SamplingParams
from sparring.engines.hf import HFEngine
from sparring.games import make_game
from sparring.learner import Learner
from sparring.players.lm import LMPlayer
from sparring.prompts import PromptConfig, format_answer
from sparring.rollout import play_games
from sparring.samples import TurnSample, trajectories, turn_samples


class RecordingEngine:
    """An engine that answers what the test tells it (a legal move, sometimes cut before its end token)
    and records every prompt it was given with the ids and log-probs it returned."""

    def __init__(self, tokenizer, seed: int = 0):
        self.tokenizer = tokenizer
        self.pad_id = tokenizer.pad_token_id
        self.rng = random.Random(seed)
        self.answers: list[str] = []
        self.calls: list[tuple[list[int], list[int], list[float]]] = []

    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        out = []
        for prompt, answer in zip(prompts, self.answers, strict=True):
            ids = self.tokenizer.encode(f"I play {format_answer(answer)}", add_special_tokens=False)
            stopped = self.rng.random() < 0.8  # else "cut at max new tokens": no end-of-turn token
            ids = ids + [self.tokenizer.eos_token_id] if stopped else ids
            logprobs = [-self.rng.random() for _ in ids]
            self.calls.append((list(prompt), ids, logprobs))
            out.append(
                Generation(ids, logprobs, self.tokenizer.decode(ids, skip_special_tokens=True), "stop" if stopped else "length")
            )
        return out


class ScriptedPlayer(LMPlayer):
    """A model player whose engine answers a random legal move (free text: a fixed line)."""

    def act_batch_games(self, games, states, seats, sampling=None):
        rng = self.engine.rng
        self.engine.answers = [rng.choice(s.legal_actions()) if s.legal_actions() else "[Accept]" for s in states]
        return super().act_batch_games(games, states, seats, sampling)


@pytest.mark.parametrize("spec", AVAILABLE + VARIANTS)
def test_every_segment_is_id_for_id_what_the_engine_read_and_wrote(spec, bundled_tokenizer):
    game = make_game(spec)
    engine = RecordingEngine(bundled_tokenizer)
    player = ScriptedPlayer(engine, game, PromptConfig(view="trajectory"))
    records = play_games(game, [player] * game.num_players, num_games=4, seed=3, max_turns=12, forfeit=(-1.5, 0.5))
    samples = turn_samples(records, lambda i, r: list(range(game.num_players)))
    for k, s in enumerate(samples):
        s.advantage = float(k + 1)
    merged = trajectories(samples)

    calls: dict[tuple[tuple[int, ...], tuple[int, ...]], list[list[float]]] = {}
    for p, r, lp in engine.calls:
        calls.setdefault((tuple(p), tuple(r)), []).append(lp)
    segments = 0
    for t in merged:
        ids = t.prompt_ids + t.response_ids
        base = len(t.prompt_ids)
        for start, end, _ in t.spans():
            read, wrote = tuple(ids[: base + start]), tuple(ids[base + start : base + end])
            assert (read, wrote) in calls, "a segment the engine never generated after exactly these ids"
            calls[(read, wrote)].remove(t.response_logprobs[start:end])  # each call is one segment, once
            segments += 1
        assert t.spans()[0][0] == 0, "a seat's first prompt is the trajectory's prompt"
    assert segments == len(engine.calls) == len(samples) and not any(calls.values())
    assert sorted(a for t in merged for *_, a in t.spans()) == sorted(s.advantage for s in samples)
    if spec in ("tic_tac_toe", "kuhn_poker", "connect_four"):
        assert any(len(t.spans()) > 1 for t in merged), "no seat moved twice: the test proved nothing about appending"


def test_turn_view_samples_are_refused_as_a_trajectory(bundled_tokenizer):
    game = make_game("tic_tac_toe")
    player = ScriptedPlayer(RecordingEngine(bundled_tokenizer), game)
    records = play_games(game, [player, player], num_games=1, seed=0)
    with pytest.raises(ValueError, match="not a prefix"):
        trajectories(turn_samples(records, lambda i, r: [0, 1]))


def split_into_turns(t: TurnSample) -> list[TurnSample]:
    """The turn samples a trajectory is made of: each segment, prompted by every id before it."""
    ids = t.prompt_ids + t.response_ids
    base = len(t.prompt_ids)
    return [
        TurnSample(t.game, t.role, t.seat, k, ids[: base + a], ids[base + a : base + b], t.response_logprobs[a:b], advantage=adv)
        for k, (a, b, adv) in enumerate(t.spans())
    ]


@pytest.fixture
def bundled_model():
    """The bundled model in fp32: it plays legal moves, so games last several turns."""
    from transformers import AutoModelForCausalLM

    from sparring.engines import BUNDLED

    return AutoModelForCausalLM.from_pretrained(BUNDLED, dtype=torch.float32)


def trajectory_batch(model, tokenizer) -> list[TurnSample]:
    """Trajectories of the real engine over ``model`` (fp32), with mixed advantages and some turns dropped."""
    engine = HFEngine(model, tokenizer, autocast=FP32)
    engine.rng.manual_seed(0)
    game = make_game("tic_tac_toe")
    player = LMPlayer(engine, game, PromptConfig(view="trajectory"), SamplingParams(max_new_tokens=8))
    records = play_games(game, [player, player], num_games=4, seed=0, max_turns=6, forfeit=(-1.0, 1.0))
    samples = turn_samples(records, lambda i, r: [0, 1])
    for k, s in enumerate(samples):
        s.advantage = [1.0, -0.5, 0.25, 0.0][k % 4]
    return trajectories(samples, [s for s in samples if s.advantage != 0])


def grads(model, learner, samples):
    from sparring.learner import response_counts

    responses, tokens = response_counts(samples)
    model.zero_grad()
    for batch in learner.micro_batches(samples):
        loss, _ = learner.micro_batch_loss(batch, responses, tokens)
        loss.backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("normalizer", ["constant", "tokens", "sequences"])
def test_a_trajectory_learns_exactly_what_its_turns_would(bundled_model, bundled_tokenizer, normalizer):
    """One code path: the loss of a trajectory is the loss of its segments as turn samples (the ids between
    segments are read, never learned), and micro-batches accumulate to the full batch."""
    merged = trajectory_batch(bundled_model, bundled_tokenizer)
    assert any(len(t.spans()) > 1 for t in merged)
    assert sum(len(t.spans()) for t in merged) < sum(t.info["turns"] for t in merged), "one zero-advantage turn is context only"
    config = {"loss_normalizer": normalizer, "micro_batch_size": 64}
    learner = Learner(bundled_model, bundled_tokenizer.pad_token_id, LearnerSection(**config), max_new_tokens=6)
    whole = grads(bundled_model, learner, merged)
    as_turns = grads(bundled_model, learner, [s for t in merged for s in split_into_turns(t)])
    learner.config = LearnerSection(**{**config, "micro_batch_size": 1})
    accumulated = grads(bundled_model, learner, merged)
    assert any(float(g.abs().sum()) > 0 for g in whole)
    # fp32 sums in another order (padding, batch shape, threads) differ by ~3e-5 of the gradient's scale;
    # a segment counted twice or missed moves whole entries by that scale
    atol = 1e-4 * max(float(g.abs().max()) for g in whole)
    for a, b, c in zip(whole, as_turns, accumulated, strict=True):
        assert torch.allclose(a, b, atol=atol, rtol=1e-4)
        assert torch.allclose(a, c, atol=atol, rtol=1e-4)


def test_the_learner_scores_the_segments_as_the_engine_sampled_them(bundled_model, bundled_tokenizer):
    merged = trajectory_batch(bundled_model, bundled_tokenizer)
    learner = Learner(bundled_model, bundled_tokenizer.pad_token_id, LearnerSection(), max_new_tokens=6)
    rescored = learner.with_own_logprobs(merged)
    for before, after in zip(merged, rescored, strict=True):
        for a, b, _ in before.spans():
            assert after.response_logprobs[a:b] == pytest.approx(before.response_logprobs[a:b], abs=1e-4)
    metrics = learner.step(merged)
    assert metrics["learner/tokens"] == sum(t.generated_tokens for t in merged)
    assert metrics["learner/sequence_tokens"] > 3 * metrics["learner/tokens"]
    assert metrics["learner/ratio"] == pytest.approx(1.0, abs=1e-4)


def test_a_training_step_in_the_trajectory_view_learns_one_sample_per_seat_and_game(tmp_path):
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.config import load_config
    from sparring.train import build, train_step

    config = load_config("spiral-tictactoe", [*TINY_RUN, "prompt.view=trajectory", "advantage.drop_zero=false"])
    t = build(config, RunDir(tmp_path / "run"))
    before = {k: v.clone() for k, v in t.model.state_dict().items()}
    metrics, _, records, samples = train_step(t)
    seats = {(s.game_id, s.seat) for s in samples}
    assert metrics["learner/samples"] == len(seats) < len(samples)  # whole games, not turns
    assert metrics["learner/tokens"] == sum(len(s.response_ids) for s in samples)
    assert metrics["learner/sequence_tokens"] > metrics["learner/tokens"]
    later = [s for s in samples if s.turn > 0]
    assert later, "no seat moved twice"
    for s in later:  # the seat read its own earlier prompt and answer before this turn
        earlier = next(e for e in samples if (e.game_id, e.seat, e.turn) == (s.game_id, s.seat, s.turn - 1))
        assert s.prompt_ids[: len(earlier.prompt_ids) + len(earlier.response_ids)] == earlier.prompt_ids + earlier.response_ids
    assert any(not torch.equal(before[k], v) for k, v in t.model.state_dict().items())


def test_the_mars_recipe_packs_a_competitive_and_a_cooperative_game_in_one_step(tmp_path):
    """Issue 15's "done when": the mars recipe trains on both kinds of game together, in the trajectory view."""
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.config import load_config
    from sparring.games import make_game
    from sparring.games.registry import is_cooperative
    from sparring.train import build, train_step

    config = load_config("mars", [*TINY_RUN, "rollout.games_per_step=9"])
    assert (config.prompt.view, config.advantage.estimator) == ("trajectory", "mars")
    assert (config.learner.dual_clip, config.learner.kl_coef, config.reference.update_every) == (1.4, 0.2, 0)
    t = build(config, RunDir(tmp_path / "run"))
    metrics, _, _, samples = train_step(t)
    games = {s.game for s in samples}
    assert {"tic_tac_toe", "kuhn_poker", "tiny_hanabi"} <= games
    assert [is_cooperative(make_game(g)) for g in ("tic_tac_toe", "kuhn_poker", "tiny_hanabi")] == [False, False, True]
    assert metrics["learner/samples"] <= len({(s.game_id, s.seat) for s in samples}) < len(samples)
