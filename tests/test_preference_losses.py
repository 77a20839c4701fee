"""The preference losses against values worked out by hand, and the learner that applies them."""

from __future__ import annotations

import math

import pytest
import torch

from sparring.config import LearnerSection
from sparring.preference.learner import Comparison, PreferenceLearner
from sparring.preference.losses import dno_loss, ipo_loss, pair_losses, sigmoid_loss, sppo_loss
from sparring.prefix import token_logprobs

T = torch.tensor


def by_hand_margin() -> torch.Tensor:
    # policy: chosen -1, rejected -3; reference: both -2  ->  m = (-1 + 2) - (-3 + 2) = 2
    return pair_losses("dpo", T([-1.0]), T([-3.0]), T([-2.0]), T([-2.0]), T([1.0]), beta=1.0)


def test_dpo_and_spin_are_the_logistic_loss_of_the_margin():
    # beta 0.5, m 2: -log sigmoid(1) = log(1 + e^-1)
    expected = math.log(1 + math.exp(-1))
    for name in ("dpo", "spin"):
        got = pair_losses(name, T([-1.0]), T([-3.0]), T([-2.0]), T([-2.0]), T([1.0]), beta=0.5)
        assert got.item() == pytest.approx(expected, abs=1e-7)
    assert expected == pytest.approx(0.3132616875, abs=1e-9)
    assert sigmoid_loss(T([0.0]), 0.1).item() == pytest.approx(math.log(2))


def test_ipo_regresses_the_margin_to_one_over_two_beta():
    # beta 0.5: target margin 1; m 2 -> (2 - 1)^2 = 1; m 1 -> 0
    assert pair_losses("ipo", T([-1.0]), T([-3.0]), T([-2.0]), T([-2.0]), T([1.0]), beta=0.5).item() == pytest.approx(1.0)
    assert ipo_loss(T([1.0]), 0.5).item() == 0.0
    assert ipo_loss(T([0.0]), 0.25).item() == pytest.approx(4.0)  # (0 - 2)^2


def test_dno_is_cross_entropy_against_the_preference_probability():
    # beta m = 1, p = 0.75: 0.75 * log(1 + e^-1) + 0.25 * log(1 + e) = 0.5632616875
    got = pair_losses("dno", T([-1.0]), T([-3.0]), T([-2.0]), T([-2.0]), T([0.75]), beta=0.5).item()
    assert got == pytest.approx(0.75 * math.log(1 + math.exp(-1)) + 0.25 * math.log(1 + math.e), abs=1e-7)
    assert got == pytest.approx(0.5632616875, abs=1e-8)
    # a certain preference is DPO's loss
    assert dno_loss(T([2.0]), T([1.0]), 0.5).item() == pytest.approx(sigmoid_loss(T([2.0]), 0.5).item())


def test_sppo_regresses_each_log_ratio_to_eta_times_win_probability_minus_a_half():
    # log ratio 0.3, P(win) 0.8, eta 2: target 0.6, loss 0.09
    assert sppo_loss(T([0.3]), T([0.8]), 2.0).item() == pytest.approx(0.09, abs=1e-7)
    assert sppo_loss(T([0.0]), T([0.5]), 5.0).item() == 0.0


def test_sppo_with_hard_probabilities_is_trls_sppo_hard():
    """TRL's ``sppo_hard`` (P = 1 for the winner, 0 for the loser, target 1/(2 beta)) is our per-response sum."""
    beta, a, b = 0.1, T([1.3]), T([-0.4])
    trl = (a - 0.5 / beta) ** 2 + (b + 0.5 / beta) ** 2  # read from TRL 1.16 dpo_trainer.py, loss_type == "sppo_hard"
    ours = sppo_loss(a, T([1.0]), 1 / beta) + sppo_loss(b, T([0.0]), 1 / beta)
    assert ours.item() == pytest.approx(trl.item())


def test_unknown_pair_loss_is_refused():
    with pytest.raises(ValueError, match="unknown pair loss"):
        pair_losses("kto", T([0.0]), T([0.0]), T([0.0]), T([0.0]), T([1.0]), 0.1)


# ----------------------------------------------------------------------------- the learner
def comparisons(n: int = 6, per_response: bool = False) -> list[Comparison]:
    """Pairs (target P(first > second)), or with ``per_response`` SPPO items (a win probability per response)."""
    prefix = list(range(3, 15))  # a shared "system prompt" of 12 tokens, so the prefix path runs
    p = [1.0 if i % 2 else 0.75 for i in range(n)]
    return [
        Comparison(prefix + [20 + i, 21], [[30 + i, 31, 2], [40 + i, 2]], [p[i], 1 - p[i]] if per_response else [p[i]])
        for i in range(n)
    ]


def test_learner_loss_is_the_formula_on_summed_token_logprobs(tiny_model):
    learner = PreferenceLearner(tiny_model, 0, LearnerSection(lr=1e-3), "dno", beta=0.5, eta=1.0, batch_size=8)
    items = comparisons(3)
    for item in items:
        item.ref_logps = [-5.0, -4.0]
    with torch.no_grad():
        losses, _ = learner.terms(items, learner.sequence_logps(tiny_model, items))
        for item, loss in zip(items, losses, strict=True):
            lp, _ = token_logprobs(tiny_model, [item.prompt_ids] * 2, item.responses, 0, torch.device("cpu"))
            margin = (lp[0].sum() + 5.0) - (lp[1].sum() + 4.0)
            assert loss.item() == pytest.approx(dno_loss(margin, T(item.targets[0]), 0.5).item(), rel=1e-5)


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
@pytest.mark.parametrize("loss", ["dpo", "sppo"])
def test_micro_batches_accumulate_to_the_full_batch_gradient(tiny_model, loss):
    import copy

    grads = []
    for micro in (64, 2):
        model = copy.deepcopy(tiny_model)
        learner = PreferenceLearner(model, 0, LearnerSection(lr=1e-3, micro_batch_size=micro), loss, 0.5, 2.0, batch_size=6)
        items = comparisons(6, per_response=loss == "sppo")
        learner.score_reference(items)
        learner.optimizer.step = lambda: None  # keep the gradient, skip the move
        learner.update(items)
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_a_dpo_step_raises_the_chosen_over_the_rejected(tiny_model):
    learner = PreferenceLearner(tiny_model, 0, LearnerSection(lr=3e-3), "dpo", beta=0.5, eta=1.0, batch_size=6, epochs=3)
    items = comparisons(6)
    learner.score_reference(items)
    before = [lp[0] - lp[1] for lp in learner.sequence_logps(tiny_model, items)]
    metrics = learner.step(items)
    after = [lp[0] - lp[1] for lp in learner.sequence_logps(tiny_model, items)]
    assert all(a > b for a, b in zip(after, before, strict=True))
    assert metrics["pref/updates"] == 3 and metrics["pref/accuracy"] > 0.5


def test_a_round_without_comparisons_is_no_update(tiny_model):
    learner = PreferenceLearner(tiny_model, 0, LearnerSection(lr=1e-3), "dpo", beta=0.5, eta=1.0, batch_size=4)
    learner.score_reference([])
    assert learner.step([]) == {"pref/items": 0.0} and learner.updates == 0
