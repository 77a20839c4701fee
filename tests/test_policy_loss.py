"""Dual-clip PPO: the per-token loss against hand-computed values, and its effect on the learner's gradient."""

from __future__ import annotations

import pytest
import torch
from test_learner import grads_after_one_backward, make_samples

from sparring.config import LearnerSection, load_config
from sparring.errors import UserError
from sparring.policy_loss import ppo_token_loss

RATIOS = torch.tensor([0.5, 1.0, 1.1, 1.5, 4.0])


def test_plain_ppo_matches_hand_computed_values():
    # A = -2: loss = 2 * max(ratio, clip(ratio, 0.8, 1.2)); A = +2: loss = -2 * min(ratio, clip(ratio, 0.8, 1.2)).
    assert ppo_token_loss(RATIOS, -2.0, 0.2).tolist() == pytest.approx([1.6, 2.0, 2.2, 3.0, 8.0])
    assert ppo_token_loss(RATIOS, 2.0, 0.2).tolist() == pytest.approx([-1.0, -2.0, -2.2, -2.4, -2.4])


@pytest.mark.parametrize(("c", "negative"), [(3.0, [1.6, 2.0, 2.2, 3.0, 6.0]), (1.4, [1.6, 2.0, 2.2, 2.8, 2.8])])
def test_dual_clip_caps_the_loss_of_negative_advantages_at_c_times_their_size(c, negative):
    # c = 3 (Ye et al.) caps only the ratio of 4 (8 -> 6); MARS's c = 1.4 caps at 2.8, so the ratio 1.5 too.
    assert ppo_token_loss(RATIOS, -2.0, 0.2, dual_clip=c).tolist() == pytest.approx(negative)


@pytest.mark.parametrize("c", [1.4, 3.0])
def test_dual_clip_changes_nothing_for_positive_or_zero_advantages(c):
    for adv in (2.0, 0.5, 0.0):
        assert torch.equal(ppo_token_loss(RATIOS, adv, 0.2, dual_clip=c), ppo_token_loss(RATIOS, adv, 0.2))


def test_dual_clip_zero_or_none_is_plain_ppo():
    assert torch.equal(ppo_token_loss(RATIOS, -2.0, 0.2, dual_clip=0), ppo_token_loss(RATIOS, -2.0, 0.2))
    assert LearnerSection(dual_clip=0).dual_clip is None and LearnerSection().dual_clip is None


def test_dual_clip_must_be_above_one():
    with pytest.raises(ValueError, match="dual_clip must be above 1"):
        LearnerSection(dual_clip=0.9)
    with pytest.raises(UserError, match="dual_clip must be above 1"):
        load_config("spiral-kuhn", ["learner.dual_clip=1"])
    assert load_config("spiral-kuhn", ["learner.dual_clip=1.4"]).learner.dual_clip == 1.4


def test_a_token_far_past_the_dual_clip_gives_no_gradient_where_plain_ppo_pushes_it(tiny_model, bundled_tokenizer):
    # Negative advantage, ratio e^5 ~ 148: PPO's loss is 148 |A| and its gradient grows with the ratio;
    # the dual clip holds the loss at c |A|, a constant.
    samples = make_samples(tiny_model, bundled_tokenizer, n=2, advantages=[-1.0, -1.0])
    for s in samples:
        s.response_logprobs = [x - 5.0 for x in s.response_logprobs]
    plain = grads_after_one_backward(tiny_model, bundled_tokenizer, samples)
    dual = grads_after_one_backward(tiny_model, bundled_tokenizer, samples, dual_clip=3.0)
    assert any(float(g.abs().sum()) > 0 for g in plain)
    assert all(float(g.abs().sum()) == 0 for g in dual)
    # A positive advantage at the same ratios: the dual clip leaves PPO's gradient exactly as it was.
    for s in samples:
        s.advantage = 1.0
        s.response_logprobs = [x + 5.2 for x in s.response_logprobs]  # ratio ~ e^-0.2, inside PPO's own range
    plain = grads_after_one_backward(tiny_model, bundled_tokenizer, samples)
    dual = grads_after_one_backward(tiny_model, bundled_tokenizer, samples, dual_clip=3.0)
    assert any(float(g.abs().sum()) > 0 for g in plain)
    assert all(torch.equal(a, b) for a, b in zip(plain, dual, strict=True))
