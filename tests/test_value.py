"""The learned value baseline: it reads the policy's features exactly, learns state values, and never moves the policy."""

from __future__ import annotations

import pytest
import torch

from sparring.advantages import RoleBaselines, rae
from sparring.prefix import last_token_states
from sparring.samples import TurnSample
from sparring.value import ValueBaseline


def prompts(tokenizer, cards: list[str]) -> list[list[int]]:
    head = tokenizer.encode("<|im_start|>system\nKuhn poker rules go here.<|im_end|>\n", add_special_tokens=False)
    return [head + tokenizer.encode(f"<|im_start|>user\nYour card: {c}.<|im_end|>\n", add_special_tokens=False) for c in cards]


def test_last_token_states_equal_a_plain_forward_per_sequence(tiny_model, bundled_tokenizer):
    seqs = prompts(bundled_tokenizer, ["J", "Q", "K and more words"])
    got = last_token_states(tiny_model, seqs, bundled_tokenizer.pad_token_id, torch.device("cpu"))
    for row, seq in zip(got, seqs, strict=True):
        with torch.no_grad():
            plain = tiny_model.model(input_ids=torch.tensor([seq])).last_hidden_state[0, -1]
        assert torch.allclose(row, plain, atol=1e-5)


def test_value_head_learns_state_values_without_touching_the_policy(tiny_model, bundled_tokenizer):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    cards = ["J", "Q", "K"] * 8
    reward = {"J": -1.0, "Q": 0.0, "K": 1.0}
    samples = [
        TurnSample("kuhn", 0, 0, 0, p, [5], [-0.1], reward=reward[c], game_id=i, last_turn=True)
        for i, (p, c) in enumerate(zip(prompts(bundled_tokenizer, cards), cards, strict=True))
    ]
    value = ValueBaseline(tiny_model, bundled_tokenizer.pad_token_id, fit_steps=200, lr=3e-3)
    features = value.features(samples)
    first = value.fit(features, [s.reward for s in samples])
    predicted = value.predict(features)
    assert value.fit(features, [s.reward for s in samples]) < 0.05 < first
    assert predicted[0] < predicted[1] < predicted[2]  # J < Q < K
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())
    for s, v in zip(samples, predicted, strict=True):
        s.value = v
    rae(samples, RoleBaselines(), baseline="value")
    assert [s.advantage for s in samples[:3]] == pytest.approx([-1 - predicted[0], -predicted[1], 1 - predicted[2]])


def test_value_baseline_needs_values():
    sample = TurnSample("kuhn", 0, 0, 0, [1], [2], [-0.1], reward=1.0, last_turn=True)
    with pytest.raises(ValueError, match="value"):
        rae([sample], RoleBaselines(), baseline="value")
