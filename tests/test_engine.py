"""HFEngine: batched sampling is the same as one prompt at a time, seeded, and honest about log-probs."""

from __future__ import annotations

import pytest
import torch
from precision import FP32

from sparring.engines.base import SamplingParams
from sparring.engines.hf import HFEngine
from sparring.games import make_game
from sparring.prompts import encode_chat, render_messages


@pytest.fixture
def engine(tiny_model, bundled_tokenizer):
    """fp32: these tests hold batched against single and sampled against scored to 1e-4."""
    return HFEngine(tiny_model, bundled_tokenizer, autocast=FP32)


def prompts(tokenizer, n=6):
    """Tic-tac-toe prompts after 0, 1 or 2 moves: same rules prefix, different boards."""
    game = make_game("tic_tac_toe")
    out = []
    for i in range(n):
        state = game.new_state(i)
        for move in ["4", "0", "8"][: i % 3]:
            state.apply(move)
        out.append(encode_chat(tokenizer, render_messages(game, state, state.current_player)))
    return out


def test_batched_greedy_equals_one_at_a_time(engine, bundled_tokenizer):
    ps = prompts(bundled_tokenizer)
    params = SamplingParams(temperature=0, max_new_tokens=8, ignore_eos=True)
    batched = engine.generate(ps, params)
    single = [engine.generate([p], params)[0] for p in ps]
    for b, s in zip(batched, single, strict=True):
        assert b.token_ids == s.token_ids
        assert b.logprobs == pytest.approx(s.logprobs, abs=1e-4)


def test_same_seed_same_samples_and_different_seed_differs(engine, bundled_tokenizer):
    ps = prompts(bundled_tokenizer)
    a = engine.generate(ps, SamplingParams(max_new_tokens=6, seed=3, ignore_eos=True))
    b = engine.generate(ps, SamplingParams(max_new_tokens=6, seed=3, ignore_eos=True))
    c = engine.generate(ps, SamplingParams(max_new_tokens=6, seed=4, ignore_eos=True))
    assert [g.token_ids for g in a] == [g.token_ids for g in b]
    assert [g.token_ids for g in a] != [g.token_ids for g in c]


def test_logprobs_are_those_of_scoring_the_same_tokens(engine, bundled_tokenizer):
    ps = prompts(bundled_tokenizer)
    gens = engine.generate(ps, SamplingParams(temperature=0.7, max_new_tokens=6, seed=1, ignore_eos=True))
    scored = engine.score(ps, [g.token_ids for g in gens], temperature=0.7)
    for g, s in zip(gens, scored, strict=True):
        assert g.logprobs == pytest.approx(s, abs=1e-4)


def test_stop_ids_strings_and_length(engine, bundled_tokenizer):
    ps = prompts(bundled_tokenizer, 3)
    free = engine.generate(ps, SamplingParams(temperature=0, max_new_tokens=5, ignore_eos=True))
    assert all(g.finish_reason == "length" and len(g.token_ids) == 5 for g in free)
    stop_at = free[0].token_ids[2]
    stopped = engine.generate(ps[:1], SamplingParams(temperature=0, max_new_tokens=5, ignore_eos=True, stop_token_ids=(stop_at,)))
    first = free[0].token_ids.index(stop_at)
    assert stopped[0].finish_reason == "stop" and stopped[0].token_ids == free[0].token_ids[: first + 1]
    text_stop = bundled_tokenizer.decode(free[0].token_ids[:2], skip_special_tokens=True)
    if text_stop.strip():
        by_text = engine.generate(ps[:1], SamplingParams(temperature=0, max_new_tokens=5, ignore_eos=True, stop=(text_stop,)))
        assert by_text[0].finish_reason == "stop" and len(by_text[0].token_ids) <= 2


def test_prompt_ids_plus_generated_ids_round_trip(engine, bundled_tokenizer):
    """The learner trains on prompt ids + generated ids: decoding them gives back the prompt text and the answer."""
    ps = prompts(bundled_tokenizer, 2)
    gens = engine.generate(ps, SamplingParams(max_new_tokens=6, seed=0))
    for p, g in zip(ps, gens, strict=True):
        full = bundled_tokenizer.decode(p + g.token_ids, skip_special_tokens=False)
        assert full.startswith(bundled_tokenizer.decode(p, skip_special_tokens=False))
        assert bundled_tokenizer.decode(g.token_ids, skip_special_tokens=True) == g.text


def test_load_weights_in_place(engine, tiny_model, tmp_path):
    before = engine.generate(prompts(engine.tokenizer, 1), SamplingParams(temperature=0, max_new_tokens=4, ignore_eos=True))
    state = {k: torch.zeros_like(v) for k, v in tiny_model.state_dict().items()}
    engine.load_weights(state)
    assert all(p.detach().abs().sum().item() == 0 for p in tiny_model.parameters())
    after = engine.generate(prompts(engine.tokenizer, 1), SamplingParams(temperature=0, max_new_tokens=4, ignore_eos=True))
    assert after[0].logprobs != before[0].logprobs
    with pytest.raises(ValueError, match="do not fit"):
        engine.load_weights({"nonsense.weight": torch.zeros(2)})
    with pytest.raises(FileNotFoundError):
        engine.load_weights(tmp_path)
