"""The per-token policy-gradient term of the learner's loss: PPO's clip, and optionally the dual clip.

    pg_t = -min(ratio_t * A, clip(ratio_t, 1 - eps, 1 + eps) * A)                 (PPO)
    pg_t = min(pg_t, -c * A)   where A < 0                                        (dual clip, c > 1)

PPO's clip stops the gain from pushing a ratio further, but for a negative
advantage the unclipped branch is ``-ratio * A = ratio * |A|``: a token whose
probability has already grown far past the old one (a ratio of 50 after a few
updates, or from stale samples) gets a loss, and a gradient, that grows with
the ratio without bound. The dual clip (Ye et al., 2020, "Mastering Complex
Control in MOBA Games with Deep Reinforcement Learning", c = 3) caps that loss
at ``c * |A|``; the capped tokens then give no gradient. MARS uses it with
c = 1 + 2 * 0.2 = 1.4 (``shared/reference/self-play-algorithms.md``, B4). With
A >= 0 nothing changes.
"""

from __future__ import annotations

import torch


def ppo_token_loss(ratio: torch.Tensor, advantage: float, clip: float, dual_clip: float | None = None) -> torch.Tensor:
    """Per-token policy-gradient loss of one sample (advantage ``advantage``) at ratios ``ratio``.

    ``dual_clip`` is c (> 1), or None / 0 for plain PPO.
    """
    loss = -torch.minimum(ratio * advantage, ratio.clamp(1 - clip, 1 + clip) * advantage)
    if dual_clip and advantage < 0:
        loss = torch.clamp(loss, max=-dual_clip * advantage)
    return loss
