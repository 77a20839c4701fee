"""The trajectory view (MARS): a seat's prompt is its whole conversation, built append-only from sampled ids."""

from __future__ import annotations

import pytest
import torch
from precision import FP32
from tiny_runs import TINY_RUN

from sparring.config import load_config
from sparring.engines.base import SamplingParams
from sparring.engines.hf import HFEngine
from sparring.errors import UserError
from sparring.games import make_game
from sparring.players.lm import LMPlayer
from sparring.prompts import PromptConfig, render_messages
from sparring.rollout import play_games
from sparring.samples import turn_samples


@pytest.fixture(scope="module")
def games(bundled_tokenizer):
    """Six tic-tac-toe games of the bundled model against itself in the trajectory view."""
    from transformers import AutoModelForCausalLM

    from sparring.engines import BUNDLED

    # fp32: the re-scoring test compares log-probs to 1e-4, which bf16 autocast does not hold across batch shapes
    engine = HFEngine(AutoModelForCausalLM.from_pretrained(BUNDLED), bundled_tokenizer, autocast=FP32)
    game = make_game("tic_tac_toe")
    player = LMPlayer(engine, game, PromptConfig(view="trajectory"), SamplingParams(temperature=1.0, max_new_tokens=12))
    torch.manual_seed(0)
    return engine, game, play_games(game, [player, player], 6, seed=0)


def seat_turns(record, seat):
    return [t for t in record.turns if t.seat == seat]


def test_each_prompt_continues_the_last_one_token_for_token(games):
    _, _, records = games
    later = 0
    for record in records:
        for seat in (0, 1):
            turns = seat_turns(record, seat)
            for before, after in zip(turns, turns[1:], strict=False):
                sampled = before.info["prompt_ids"] + before.info["response_ids"]
                assert after.info["prompt_ids"][: len(sampled)] == sampled  # append-only: nothing re-tokenized
                later += 1
    assert later >= 4  # enough second and third turns for the check to mean something


def test_the_conversation_reads_as_the_chat_template_would_write_it_with_only_the_seats_own_answers(games, bundled_tokenizer):
    _, game, records = games
    checked = 0
    for record in records:
        replay = game.new_state(record.seed)
        history: dict[int, list[dict[str, str]]] = {0: [], 1: []}
        for t in record.turns:
            if not history[t.seat]:
                history[t.seat] = render_messages(game, replay, t.seat)
            else:
                history[t.seat].append({"role": "user", "content": replay.observation(t.seat)})
            if t.info["finish_reason"] == "stop" and len(history[t.seat]) > 2:
                want = bundled_tokenizer.apply_chat_template(history[t.seat], add_generation_prompt=True, tokenize=False)
                assert bundled_tokenizer.decode(t.info["prompt_ids"]) == want
                checked += 1
            history[t.seat].append({"role": "assistant", "content": t.text})
            if t.invalid is None:
                replay.apply(t.action)
    assert checked >= 4


def test_the_ids_the_learner_scores_are_the_ids_that_were_sampled(games):
    engine, _, records = games
    samples = turn_samples(records, lambda i, r: [0, 1])
    assert samples and max(len(s.prompt_ids) for s in samples) > min(len(s.prompt_ids) for s in samples)
    for s in samples:
        again = engine.score([s.prompt_ids], [s.response_ids])[0]
        assert again == pytest.approx(s.response_logprobs, abs=1e-4)


def test_the_turn_view_is_the_default_and_trajectory_needs_the_sparring_style():
    assert load_config("spiral-kuhn").prompt.view == "turn"
    with pytest.raises(UserError, match="needs style sparring"):
        load_config("spiral-kuhn", ["prompt.view=trajectory", "prompt.style=spiral"])
    with pytest.raises(ValueError, match="needs prompt style sparring"):
        PromptConfig(view="trajectory", style="spiral")


def test_a_training_step_in_the_trajectory_view(tmp_path):
    from sparring.checkpoint import RunDir
    from sparring.train import build, train_step

    config = load_config("spiral-tictactoe", [*TINY_RUN, "prompt.view=trajectory", "sampling.max_new_tokens=12"])
    t = build(config, RunDir(tmp_path / "run"))
    metrics, _, records, samples = train_step(t)
    assert metrics["learner/samples"] > 0
    later = [s for s in samples if s.turn > 0]
    assert later
    first = {(s.game_id, s.seat): s for s in samples if s.turn == 0}
    for s in later:
        start = first[(s.game_id, s.seat)]
        assert s.prompt_ids[: len(start.prompt_ids)] == start.prompt_ids  # every later prompt opens with the first
