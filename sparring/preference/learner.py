"""The preference learner: comparisons in, one optimizer step per minibatch, the losses of ``losses.py``.

It reads a response's probability exactly as the game learner does
(``sparring.prefix.token_logprobs``: the token ids that were sampled, the shared
system prompt run once per micro-batch) and sums it over the response. The
reference log-probs are scored once per round, before any update, with no
gradient: when the reference is the previous iterate -- SPIN's, SPPO's and
DNO's -- that is the current model at the round's start, so no second copy
of the model is held. A fixed reference (the initial model) is a frozen copy.

Micro-batches are scaled so that accumulating them gives the minibatch's mean
loss gradient exactly, as in ``sparring.learner``, whose AdamW and warm-up
(``learner.*``) it shares.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import torch

from sparring.config import LearnerSection
from sparring.device import autocast
from sparring.learner import optimizer_and_schedule
from sparring.preference.losses import LOSSES, pair_losses, sppo_loss
from sparring.prefix import token_logprobs


@dataclass
class Comparison:
    """One training unit: a prompt, its responses, and what the oracle said about them.

    Pair losses: ``responses = [chosen, rejected]``, ``targets = [P(chosen > rejected)]``.
    SPPO: ``responses`` are the K samples, ``targets`` each one's win probability.
    """

    prompt_ids: list[int]
    responses: list[list[int]]
    targets: list[float]
    ref_logps: list[float] = field(default_factory=list)
    """Sequence log-probs under the reference, filled by :meth:`PreferenceLearner.score_reference`."""


class PreferenceLearner:
    def __init__(
        self,
        model: torch.nn.Module,
        pad_id: int,
        config: LearnerSection,
        loss: str,
        beta: float,
        eta: float,
        batch_size: int,
        epochs: int = 1,
        device: str | torch.device = "cpu",
        precision: torch.dtype | None = None,
    ):
        if loss not in LOSSES:
            raise ValueError(f"unknown preference loss {loss!r}; losses: {', '.join(LOSSES)}")
        self.model = model
        self.pad_id = pad_id
        self.config = config
        self.loss = loss
        self.beta = beta
        self.eta = eta
        self.batch_size = batch_size
        self.epochs = epochs
        self.device = torch.device(device)
        self.precision = precision
        self.optimizer, self.scheduler = optimizer_and_schedule(model, config)
        self.updates = 0

    # -- log-probs --------------------------------------------------------------
    def sequence_logps(self, model: torch.nn.Module, items: list[Comparison]) -> list[torch.Tensor]:
        """Per item, the summed log-prob of each of its responses (one forward per micro-batch of items)."""
        out: list[torch.Tensor] = []
        if not items:  # a round whose samples all tied makes no comparison
            return out
        size = max(1, self.config.micro_batch_size // max(1, max(len(i.responses) for i in items)))
        for lo in range(0, len(items), size):
            chunk = items[lo : lo + size]
            prompts = [c.prompt_ids for c in chunk for _ in c.responses]
            responses = [r for c in chunk for r in c.responses]
            with autocast(self.device, self.precision):
                logps, _ = token_logprobs(model, prompts, responses, self.pad_id, self.device)
            sums = torch.stack([lp.float().sum() for lp in logps])
            k = 0
            for c in chunk:
                out.append(sums[k : k + len(c.responses)])
                k += len(c.responses)
        return out

    @torch.no_grad()
    def score_reference(self, items: list[Comparison], reference: torch.nn.Module | None = None) -> None:
        """Fill ``ref_logps`` with the reference's log-probs: ``reference``, or the model as it is now (the previous iterate)."""
        model = reference if reference is not None else self.model
        was_training = model.training
        model.eval()
        for item, logps in zip(items, self.sequence_logps(model, items), strict=True):
            item.ref_logps = logps.tolist()
        model.train(was_training)

    # -- loss -------------------------------------------------------------------
    def terms(self, items: list[Comparison], policy: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The per-term losses of ``items`` (a pair, or an SPPO response, is one term) and sums for statistics."""
        ref = [torch.tensor(i.ref_logps, device=p.device) for i, p in zip(items, policy, strict=True)]
        if self.loss == "sppo":
            if any(len(i.targets) != len(i.responses) for i in items):
                raise ValueError("sppo needs one target (a win probability) per response")
            ratio = torch.cat([p - r for p, r in zip(policy, ref, strict=True)])
            wins = torch.tensor([t for i in items for t in i.targets], device=ratio.device)
            losses = sppo_loss(ratio, wins, self.eta)
            return losses, {"log_ratio": ratio.detach().sum().item(), "terms": float(len(losses))}
        pc, pr = torch.stack([p[0] for p in policy]), torch.stack([p[1] for p in policy])
        rc, rr = torch.stack([r[0] for r in ref]), torch.stack([r[1] for r in ref])
        target = torch.tensor([i.targets[0] for i in items], device=pc.device)
        losses = pair_losses(self.loss, pc, pr, rc, rr, target, self.beta)
        margin = ((pc - rc) - (pr - rr)).detach()
        return losses, {"margin": margin.sum().item(), "accuracy": (margin > 0).sum().item(), "terms": float(len(losses))}

    def minibatches(self, items: list[Comparison]) -> list[list[Comparison]]:
        """Shuffled parts of ``batch_size`` items; the shuffle is seeded by the update count (same after a resume)."""
        order = list(range(len(items)))
        random.Random(f"preference/{self.updates}").shuffle(order)
        return [[items[i] for i in order[k : k + self.batch_size]] for k in range(0, len(order), self.batch_size)]

    def update(self, items: list[Comparison]) -> dict[str, float] | None:
        """One optimizer step on the mean loss of ``items``; None if it was not finite (skipped)."""
        self.optimizer.zero_grad(set_to_none=True)
        total_terms = sum(1 if self.loss != "sppo" else len(i.responses) for i in items)
        size = max(1, self.config.micro_batch_size // max(len(i.responses) for i in items))
        sums: dict[str, float] = {}
        loss_value = 0.0
        for lo in range(0, len(items), size):
            chunk = items[lo : lo + size]
            losses, stats = self.terms(chunk, self.sequence_logps(self.model, chunk))
            loss = losses.sum() / total_terms
            if not torch.isfinite(loss):
                self.optimizer.zero_grad(set_to_none=True)
                return None
            loss.backward()
            loss_value += loss.item()
            for key, value in stats.items():
                sums[key] = sums.get(key, 0.0) + value
        params = [p for p in self.model.parameters() if p.requires_grad]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip))
        if not math.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        self.optimizer.step()
        self.scheduler.step()
        self.updates += 1
        out = {"pref/loss": loss_value, "pref/grad_norm": grad_norm}
        terms = sums.pop("terms")
        out.update({f"pref/{k}": v / terms for k, v in sums.items()})
        return out

    def step(self, items: list[Comparison]) -> dict[str, float]:
        """``epochs`` passes over ``items`` in minibatches; the metrics are the last epoch's means."""
        if not items:
            return {"pref/items": 0.0}
        self.model.train()
        metrics: dict[str, float] = {}
        skipped = 0
        for _ in range(self.epochs):
            epoch: dict[str, float] = {}
            done = 0
            for part in self.minibatches(items):
                result = self.update(part)
                if result is None:
                    skipped += 1
                    continue
                done += 1
                for key, value in result.items():
                    epoch[key] = epoch.get(key, 0.0) + value
            if done:
                metrics = {k: v / done for k, v in epoch.items()}
        metrics.update({"pref/items": float(len(items)), "pref/skipped": float(skipped), "pref/updates": float(self.updates)})
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.updates = state["updates"]
