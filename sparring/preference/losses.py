"""Preference losses on sequence log-ratios, all in one place (the PPO loss is ``sparring.learner``).

Every loss reads the log-ratio ``h(y) = log pi(y|x) - log pi_ref(y|x)`` of whole
responses (sums over the response tokens, computed by ``sparring.prefix`` with
the prompts' shared prefix run once), where ``pi_ref`` is the frozen previous
iterate (or the initial model). With ``m = h(chosen) - h(rejected)``:

    dpo / spin   -log sigmoid(beta * m)                              DPO; SPIN's logistic loss is the same
    ipo          (m - 1 / (2 * beta))^2                              IPO (sums, not TRL's per-token means)
    dno          -(p log sigmoid(beta m) + (1 - p) log sigmoid(-beta m))
                                                                     DNO's regression of sigma(beta m) on the
                                                                     oracle's P(chosen > rejected) = p
    sppo         (h(y) - eta * (P(y wins) - 1/2))^2, per response    SPPO's square loss

Each function returns one value per term (a pair, or an SPPO response); the
learner averages them. Tests check each against a hand-computed value.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAIR_LOSSES = ("dpo", "spin", "ipo", "dno")
LOSSES = (*PAIR_LOSSES, "sppo")


def sigmoid_loss(margin: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO's (and SPIN's) logistic loss on the log-ratio margin of chosen over rejected."""
    return -F.logsigmoid(beta * margin)


def ipo_loss(margin: torch.Tensor, beta: float) -> torch.Tensor:
    """IPO: regress the margin to 1/(2 beta) instead of pushing it to infinity (bounded when preferences are certain)."""
    return (margin - 1.0 / (2.0 * beta)) ** 2


def dno_loss(margin: torch.Tensor, target: torch.Tensor, beta: float) -> torch.Tensor:
    """Cross-entropy of sigma(beta m) against the oracle's preference probability; p = 1 is DPO's loss."""
    return -(target * F.logsigmoid(beta * margin) + (1 - target) * F.logsigmoid(-beta * margin))


def sppo_loss(log_ratio: torch.Tensor, win_prob: torch.Tensor, eta: float) -> torch.Tensor:
    """SPPO: each response's log-ratio regressed toward eta * (its win probability - 1/2)."""
    return (log_ratio - eta * (win_prob - 0.5)) ** 2


def pair_losses(
    name: str,
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    target: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Per-pair loss ``name`` (dpo, spin, ipo, dno) from sequence log-probs; ``target`` is P(chosen > rejected)."""
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    if name in ("dpo", "spin"):
        return sigmoid_loss(margin, beta)
    if name == "ipo":
        return ipo_loss(margin, beta)
    if name == "dno":
        return dno_loss(margin, target, beta)
    raise ValueError(f"unknown pair loss {name!r}; pair losses: {', '.join(PAIR_LOSSES)}")
