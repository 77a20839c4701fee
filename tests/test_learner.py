"""Learner invariants (TRL-style): accumulation equals the full batch, updates go the intended way,
clipping stops the gradient, bad numbers skip the step."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from precision import FP32, in_use

from sparring.config import LearnerSection, load_config
from sparring.engines.hf import HFEngine
from sparring.errors import UserError
from sparring.learner import Learner
from sparring.samples import TurnSample


def make_samples(model, tokenizer, n=6, advantages=None):
    """Samples whose old log-probs are the fp32 model's: a fp32 learner starts at a PPO ratio of exactly 1."""
    engine = HFEngine(model, tokenizer, autocast=FP32)
    torch.manual_seed(0)
    prefix = tokenizer.encode("<|im_start|>system\nRules of a game.<|im_end|>\n", add_special_tokens=False)
    samples = []
    for i in range(n):
        prompt = prefix + torch.randint(5, 900, (3 + i % 3,)).tolist()
        response = torch.randint(5, 900, (2 + i % 4,)).tolist()
        old = engine.score([prompt], [response])[0]
        adv = advantages[i] if advantages else (1.0 if i % 2 else -0.5)
        samples.append(
            TurnSample("g", i % 2, i % 2, 0, prompt, response, old, reward=adv, advantage=adv, game_id=i, last_turn=True)
        )
    return samples


def grads_after_one_backward(model, tokenizer, samples, **cfg):
    # fp32 (precision=None): accumulation must equal the full batch up to float reordering, on every CPU.
    learner = Learner(model, tokenizer.pad_token_id, LearnerSection(**cfg), max_new_tokens=8, precision=None)
    num_tokens = sum(len(s.response_ids) for s in samples)
    model.zero_grad()
    for batch in learner.micro_batches(samples):
        loss, _ = learner.micro_batch_loss(batch, len(samples), num_tokens)
        loss.backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("normalizer", ["constant", "tokens", "sequences"])
def test_accumulated_micro_batches_equal_one_full_batch(tiny_model, bundled_tokenizer, normalizer):
    samples = make_samples(tiny_model, bundled_tokenizer)
    full = grads_after_one_backward(tiny_model, bundled_tokenizer, samples, micro_batch_size=64, loss_normalizer=normalizer)
    accumulated = grads_after_one_backward(tiny_model, bundled_tokenizer, samples, micro_batch_size=2, loss_normalizer=normalizer)
    assert any(float(g.abs().sum()) > 0 for g in full)
    for a, b in zip(full, accumulated, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)


def test_step_raises_logprob_of_rewarded_answers_and_lowers_punished_ones(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=4, advantages=[1.0, -1.0, 1.0, -1.0])
    # The step in the precision in use; before and after measured alike, in fp32.
    learner = Learner(tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(lr=1e-2), max_new_tokens=8, precision=in_use())
    before = [sum(s.response_logprobs) for s in samples]
    metrics = learner.step(samples)
    after = [
        sum(x)
        for x in HFEngine(tiny_model, bundled_tokenizer, autocast=FP32).score(
            [s.prompt_ids for s in samples], [s.response_ids for s in samples]
        )
    ]
    assert metrics["learner/skipped"] == 0 and metrics["learner/grad_norm"] > 0
    for s, b, a in zip(samples, before, after, strict=True):
        assert (a > b) if s.advantage > 0 else (a < b)


def test_clipped_tokens_give_no_gradient(tiny_model, bundled_tokenizer):
    # Positive advantage and a ratio far above 1 + eps: the clipped term is constant, so no gradient flows.
    samples = make_samples(tiny_model, bundled_tokenizer, n=2, advantages=[1.0, 1.0])
    for s in samples:
        s.response_logprobs = [x - 5.0 for x in s.response_logprobs]
    grads = grads_after_one_backward(tiny_model, bundled_tokenizer, samples)
    assert all(float(g.abs().sum()) == 0 for g in grads)


def test_non_finite_loss_skips_the_step_and_keeps_weights(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=2)
    samples[0].response_logprobs = [math.nan] * len(samples[0].response_ids)
    before = [p.detach().clone() for p in tiny_model.parameters()]
    metrics = Learner(tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(lr=1e-2), max_new_tokens=8).step(samples)
    assert metrics["learner/skipped"] == 1
    assert all(torch.equal(a, b) for a, b in zip(before, tiny_model.parameters(), strict=True))


def test_kl_to_reference_is_zero_at_start_and_grows(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=4)
    learner = Learner(
        tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(lr=5e-2, kl_coef=0.1), max_new_tokens=8, precision=in_use()
    )
    first = learner.step(samples)
    second = learner.step(samples)
    assert first["learner/kl"] == pytest.approx(0.0, abs=1e-6)
    assert second["learner/kl"] > 1e-5
    learner.move_reference_to_policy()
    assert learner.step(samples)["learner/kl"] == pytest.approx(0.0, abs=1e-6)


def test_entropy_bonus_is_reported(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=2)
    learner = Learner(
        tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(entropy_coef=0.01), max_new_tokens=8, precision=in_use()
    )
    metrics = learner.step(samples)
    assert metrics["learner/entropy"] > 1.0  # a random init over ~1000 tokens is near-uniform


def test_micro_batches_group_by_game(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=6)
    for s in samples[::2]:
        s.game = "other"
    learner = Learner(tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(micro_batch_size=2), max_new_tokens=8)
    batches = learner.micro_batches(samples)
    assert all(len({s.game for s in b}) == 1 for b in batches)
    assert sorted(id(s) for b in batches for s in b) == sorted(id(s) for s in samples)


def test_entropy_is_measured_without_a_bonus_and_kl_only_with_a_reference(tiny_model, bundled_tokenizer):
    # The report plots what the learner reports: an entropy it never measured, or a KL with nothing to compare
    # with, would be a flat 0 that reads like a collapse (or like a policy that stays put).
    samples = make_samples(tiny_model, bundled_tokenizer, n=4)
    plain, bonus = (
        Learner(copy.deepcopy(tiny_model), bundled_tokenizer.pad_token_id, LearnerSection(entropy_coef=c), max_new_tokens=8)
        for c in (0.0, 0.01)
    )
    measured, with_bonus = plain.step(samples), bonus.step(samples)
    assert measured["learner/entropy"] > 1.0  # near-uniform over ~1000 tokens, measured before the update
    assert measured["learner/entropy"] == pytest.approx(with_bonus["learner/entropy"], rel=1e-5)
    assert "learner/kl" not in measured and "learner/kl" not in with_bonus
    kl = Learner(copy.deepcopy(tiny_model), bundled_tokenizer.pad_token_id, LearnerSection(kl_coef=0.1), max_new_tokens=8)
    assert kl.step(samples)["learner/kl"] == pytest.approx(0.0, abs=1e-6)


def first_epoch_metrics(model, tokenizer, samples, **cfg):
    learner = Learner(model, tokenizer.pad_token_id, LearnerSection(lr=1e-2, epochs=1, **cfg), max_new_tokens=8)
    return learner.step(samples)


def test_recomputed_old_logprobs_make_the_first_ratio_exactly_one(tiny_model, bundled_tokenizer):
    # As if the rollout engine (vLLM in bf16) had recorded log-probs 0.3 nats off the learner's.
    samples = make_samples(tiny_model, bundled_tokenizer, n=6)
    for s in samples:
        s.response_logprobs = [x + 0.3 for x in s.response_logprobs]
    recorded = [list(s.response_logprobs) for s in samples]
    metrics = first_epoch_metrics(tiny_model, bundled_tokenizer, samples, recompute_old_logprobs=True)
    assert metrics["learner/ratio"] == 1.0
    assert metrics["learner/clip_frac"] == 0.0
    assert [s.response_logprobs for s in samples] == recorded  # the samples keep what the rollout recorded


def test_without_recompute_the_ratio_reflects_the_engines_log_probs(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=6)
    for s in samples:
        s.response_logprobs = [x + 0.3 for x in s.response_logprobs]
    metrics = first_epoch_metrics(tiny_model, bundled_tokenizer, samples, recompute_old_logprobs=False)
    assert metrics["learner/ratio"] == pytest.approx(math.exp(-0.3), abs=1e-4)
    assert metrics["learner/clip_frac"] == 1.0  # exp(-0.3) = 0.74 < 1 - 0.2: every token is clipped


@pytest.mark.parametrize(
    ("setting", "engine", "expected"), [("auto", "vllm", True), ("auto", "hf", False), (True, "hf", True), (False, "vllm", False)]
)
def test_recompute_old_logprobs_auto_follows_the_engine(tiny_model, bundled_tokenizer, setting, engine, expected):
    section = LearnerSection(recompute_old_logprobs=setting)
    assert Learner(tiny_model, bundled_tokenizer.pad_token_id, section, 8, rollout_engine=engine).recompute_old is expected


def test_minibatches_split_every_sample_once_and_take_one_optimizer_step_each(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=7)
    learner = Learner(
        tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(lr=1e-3, epochs=2, minibatches=3), max_new_tokens=8
    )
    parts = learner.minibatches(samples)
    assert sorted(len(p) for p in parts) == [2, 2, 3]
    assert sorted(id(s) for p in parts for s in p) == sorted(id(s) for s in samples)
    assert [[id(s) for s in p] for p in learner.minibatches(samples)] == [[id(s) for s in p] for p in parts]  # seeded
    metrics = learner.step(samples)
    assert learner.scheduler.last_epoch == 6  # 2 epochs x 3 minibatches
    assert learner.minibatches(samples) != parts  # the next batch is split another way
    # after the first optimizer step the policy has moved: the ratio is no longer exactly 1
    assert metrics["learner/ratio"] != 1.0


def test_one_minibatch_keeps_the_full_batch_order(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=5)
    learner = Learner(tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(), max_new_tokens=8)
    assert learner.minibatches(samples) == [samples]


def test_trust_region_clips_later_minibatches_where_one_pass_never_clips(tiny_model, bundled_tokenizer):
    """One epoch of one minibatch: the ratio is 1 and nothing is clipped. Many small steps at a large lr move the
    policy far within the batch, and the clip then acts on the later ones."""
    plain = Learner(tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(lr=1e-2), max_new_tokens=8)
    assert plain.step(make_samples(tiny_model, bundled_tokenizer, n=8))["learner/clip_frac"] == 0.0
    region = Learner(
        tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(lr=1e-2, epochs=4, minibatches=4), max_new_tokens=8
    )
    assert region.step(make_samples(tiny_model, bundled_tokenizer, n=8))["learner/clip_frac"] > 0.0


@pytest.mark.parametrize(
    ("decay", "update", "expected"),
    [
        ("constant", 50, 1.0),
        ("linear", 0, 1.0),
        ("linear", 50, 0.55),  # halfway from 1 to 0.1
        ("linear", 100, 0.1),
        ("linear", 500, 0.1),  # past the horizon it holds
        ("cosine", 50, 0.55),
        ("cosine", 25, 0.1 + 0.9 * (0.5 + 0.5 * math.cos(math.pi / 4))),
        ("cosine", 100, 0.1),
    ],
)
def test_learning_rate_decays_from_lr_to_its_floor_at_the_horizon(decay, update, expected):
    from sparring.learner import lr_factor

    assert lr_factor(update, LearnerSection(lr_decay=decay, min_lr_ratio=0.1), 100) == pytest.approx(expected)


def test_warm_up_comes_before_the_decay():
    from sparring.learner import lr_factor

    section = LearnerSection(warmup_steps=10, lr_decay="linear", min_lr_ratio=0.0)
    assert [lr_factor(u, section, 110) for u in (0, 4, 9)] == pytest.approx([0.1, 0.5, 1.0])
    assert lr_factor(60, section, 110) == pytest.approx(0.5)  # halfway through the 100 updates after warm-up


def test_weight_average_moves_a_share_of_the_way_to_the_policy_each_step(tiny_model, bundled_tokenizer):
    samples = make_samples(tiny_model, bundled_tokenizer, n=4, advantages=[1.0, -1.0, 1.0, -1.0])
    section = LearnerSection(lr=1e-2, average_weights=0.75)
    learner = Learner(tiny_model, bundled_tokenizer.pad_token_id, section, max_new_tokens=8, precision=None)
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    assert learner.average is not None
    learner.step(samples)
    after = tiny_model.state_dict()
    moved = [k for k in before if not torch.equal(before[k], after[k])]
    assert moved
    for name in moved:
        expected = 0.75 * before[name] + 0.25 * after[name]
        assert torch.allclose(learner.average.state_dict()[name], expected, atol=1e-6)
    assert not any(p.requires_grad for p in learner.average.parameters())


def test_an_average_magnet_is_the_weight_average_and_moves_with_it(tiny_model, bundled_tokenizer):
    """``reference.magnet: average``: the KL reference is the average module itself, so it moves after every
    step (a snapshot magnet stays put until ``update_every``), and no third copy of the model is made."""
    samples = make_samples(tiny_model, bundled_tokenizer, n=4, advantages=[1.0, -1.0, 1.0, -1.0])
    section = LearnerSection(lr=1e-2, average_weights=0.5, kl_coef=0.5)
    learner = Learner(tiny_model, bundled_tokenizer.pad_token_id, section, max_new_tokens=8, magnet_is_average=True)
    assert learner.reference is learner.average
    start = {k: v.clone() for k, v in learner.reference.state_dict().items()}
    first = learner.step(samples)
    assert "learner/kl" in first and first["learner/kl"] == pytest.approx(0.0, abs=1e-6)  # policy == magnet at step 0
    assert any(not torch.equal(start[k], v) for k, v in learner.reference.state_dict().items())
    second = learner.step(samples)
    assert second["learner/kl"] > 0  # the policy has run ahead of its own average


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["learner.average_weights=0"], "weight average"),
        (["learner.kl_coef=0"], "weight average"),
        (["reference.update_every=20"], "update_every at 0"),
    ],
)
def test_an_average_magnet_needs_an_average_a_kl_and_no_jumps(overrides, message):
    average_magnet = ["learner.average_weights=0.995", "learner.kl_coef=0.5", "reference.magnet=average"]
    assert load_config("spiral-kuhn", average_magnet).reference.magnet == "average"
    with pytest.raises(UserError, match=message):
        load_config("spiral-kuhn", [*average_magnet, *overrides])


def test_no_weight_average_unless_asked(tiny_model, bundled_tokenizer):
    assert Learner(tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(), max_new_tokens=8).average is None


def test_repeated_sequences_share_a_micro_batch_and_accumulate_to_the_full_batch(tiny_model, bundled_tokenizer):
    """Self-play repeats (prompt, response) pairs; copies ride in one micro-batch (run once), each keeps its own
    advantage, and the accumulated gradient is still the full batch's."""
    distinct = make_samples(tiny_model, bundled_tokenizer, n=4)
    samples = []
    for k, i in enumerate([0, 1, 0, 2, 3, 1, 0]):
        samples.append(copy.copy(distinct[i]))
        samples[-1].advantage = float(k) - 2.5
    learner = Learner(tiny_model, bundled_tokenizer.pad_token_id, LearnerSection(micro_batch_size=2), max_new_tokens=8)
    batches = learner.micro_batches(samples)
    assert [len({(tuple(s.prompt_ids), tuple(s.response_ids)) for s in b}) for b in batches] == [2, 2]
    assert sorted(id(s) for b in batches for s in b) == sorted(id(s) for s in samples)
    full = grads_after_one_backward(tiny_model, bundled_tokenizer, samples, micro_batch_size=64)
    accumulated = grads_after_one_backward(tiny_model, bundled_tokenizer, samples, micro_batch_size=2)
    for a, b in zip(full, accumulated, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
