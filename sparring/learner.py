"""The learner: a token-level policy-gradient update on turn samples.

For each response token t of a sample with advantage A:

    ratio_t = exp(log pi(t) - log pi_old(t))          (pi_old: see below)
    pg_t    = -min(ratio_t * A, clip(ratio_t, 1 - eps, 1 + eps) * A)     (PPO clip, eps = 0.2)
    kl_t    = exp(r_t) - r_t - 1, r_t = log pi_ref(t) - log pi(t)      (k3 estimator, optional)
    loss_t  = pg_t + kl_coef * kl_t - entropy_coef * H_t

A sample's loss is the sum over its tokens divided by a constant (the answer
length budget: Dr.GRPO, as SPIRAL) -- or the per-sequence or whole-batch
token mean -- and the batch loss is the mean over samples. A trajectory-view
sample (``prompt.view: trajectory``) is one seat's whole game: each of its
answers is a segment with its own turn's advantage, and it counts as that
many responses; the observations between segments are read but carry no
loss (:meth:`TurnSample.spans`; a turn sample is the one-segment case, on
the same code path). Micro-batches are
scaled so that accumulating them gives exactly the full-batch gradient (a
test checks it); over N processes each takes a shard and the gradients are
summed (a :class:`GradientSync`, implemented by ``sparring.distributed.ddp``),
which again gives that gradient.
Samples are grouped by game into micro-batches so each game's shared rules
prefix runs once (``sparring.prefix``). A step whose loss
or gradient is not finite is skipped, logged, and the run goes on.

``pi_old`` is either the log-prob the rollout engine recorded when it
sampled, or (``learner.recompute_old_logprobs``, SPIRAL/oat's way, the default
with vLLM) the learner's own log-prob of the same tokens, computed once
before the first epoch: vLLM samples with other kernels, often in bf16, and
without the recompute the first ratio is off 1 by that rounding alone, so
clipping fires on noise rather than on the update.
"""

from __future__ import annotations

import copy
import math
import random
from collections import defaultdict
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import torch

from sparring.config import LearnerSection
from sparring.device import autocast
from sparring.lora import AdapterReference, is_lora
from sparring.policy_loss import ppo_token_loss
from sparring.prefix import token_logprobs
from sparring.samples import TurnSample

if TYPE_CHECKING:
    from sparring.value import ValueBaseline

STATS = ("pg", "clipped", "ratio", "kl", "entropy")
"""The per-step sums of :meth:`Learner.micro_batch_loss` (over N processes they are summed with the gradients)."""


class GradientSync(Protocol):
    """What the learner needs to learn over N processes: its shard, and sums over all of them.

    Each process holds the whole batch, learns on its shard with the loss scaled by the
    global counts, and the shards' gradients are summed: the full batch's gradient.
    Keeping the processes' learners identical otherwise (who runs which call) is not the
    learner's business (``sparring.distributed.ddp``).
    """

    def shard(self, samples: list[TurnSample]) -> list[TurnSample]:
        """This process's samples of the batch."""
        ...

    def all_reduce(
        self, params: list[torch.nn.Parameter], finite: bool, loss: float, sums: dict[str, float]
    ) -> tuple[bool, float]:
        """Sum gradients, loss and the :data:`STATS` in ``sums`` (in place) over processes; finite only if finite on all."""
        ...


class Learner:
    def __init__(
        self,
        model: torch.nn.Module,
        pad_id: int,
        config: LearnerSection,
        max_new_tokens: int,
        temperature: float = 1.0,
        device: str | torch.device = "cpu",
        precision: torch.dtype | None = None,
        reference: torch.nn.Module | None = None,
        parallel: GradientSync | None = None,
        rollout_engine: str = "hf",
        total_steps: int = 1,
        magnet_is_average: bool = False,
    ):
        self.model = model
        self.parallel = parallel
        """N learner processes (:class:`GradientSync`): each takes a shard, gradients are summed."""
        self.pad_id = pad_id
        self.config = config
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.device = torch.device(device)
        self.precision = precision
        self.reference = reference
        self.value: ValueBaseline | None = None
        """A learned V(s) baseline (``advantage.baseline: value``), fitted by the loop, saved with the learner."""
        recompute = config.recompute_old_logprobs
        self.recompute_old = recompute if isinstance(recompute, bool) else rollout_engine == "vllm"
        """Score the samples once before the first epoch and use that as pi_old (``rollout_engine``: ``engine.kind``)."""
        # A LoRA policy's reference is its own base (adapters disabled) or an adapter snapshot: no model copy.
        self.adapter_reference = AdapterReference(model) if is_lora(model) and config.kl_coef > 0 else None
        self.average = frozen_copy(model) if config.average_weights > 0 else None
        """An exponential moving average of the weights (``learner.average_weights``), moved after every step."""
        if magnet_is_average:  # ``reference.magnet: average``: one module serves as both
            assert self.average is not None and config.kl_coef > 0, "validated by TrainConfig"
            self.reference = self.average
        elif reference is None and config.kl_coef > 0 and self.adapter_reference is None:
            self.reference = frozen_copy(model)
        self.optimizer, self.scheduler = optimizer_and_schedule(model, config, total_steps * config.epochs * config.minibatches)

    # -- batching -------------------------------------------------------------
    def micro_batches(self, samples: list[TurnSample]) -> list[list[TurnSample]]:
        """Samples grouped by game (shared prefix), at most ``micro_batch_size`` distinct sequences each.

        Copies of one (prompt, response) go into the same micro-batch, where the forward pass runs them
        once (``sparring.prefix.token_logprobs``): a Kuhn batch of ~150 turns holds ~25 distinct ones
        and is one micro-batch, not three. Order: games, then sequences, as they first appear.
        """
        by_game: dict[str, dict[tuple[tuple[int, ...], tuple[int, ...]], list[TurnSample]]] = defaultdict(dict)
        for s in samples:
            by_game[s.game].setdefault((tuple(s.prompt_ids), tuple(s.response_ids)), []).append(s)
        size = self.config.micro_batch_size
        batches = []
        for copies in by_game.values():
            groups = list(copies.values())
            batches += [[s for group in groups[i : i + size] for s in group] for i in range(0, len(groups), size)]
        return batches

    # -- loss -------------------------------------------------------------------
    def micro_batch_loss(
        self, batch: list[TurnSample], num_samples: int, num_tokens: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """This micro-batch's share of the full-batch loss, and sums for the step's statistics."""
        cfg = self.config
        prompts = [s.prompt_ids for s in batch]
        responses = [s.response_ids for s in batch]
        spans = learned_spans(batch)
        with autocast(self.device, self.precision):
            new, entropies = token_logprobs(
                self.model,
                prompts,
                responses,
                self.pad_id,
                self.device,
                self.temperature,
                entropy="grad" if cfg.entropy_coef > 0 else "value",  # always measured: a collapse shows in the report
                spans=spans,
            )
            ref = None
            if self.reference is not None and cfg.kl_coef > 0:
                with torch.no_grad():
                    ref, _ = token_logprobs(
                        self.reference, prompts, responses, self.pad_id, self.device, self.temperature, spans=spans
                    )
            elif self.adapter_reference is not None and cfg.kl_coef > 0:
                ref = self.adapter_reference.logprobs(prompts, responses, self.pad_id, self.device, self.temperature)
        total = torch.zeros((), device=self.device)
        stats = defaultdict(float)
        for k, s in enumerate(batch):
            logp = new[k]
            old = torch.tensor(s.response_logprobs, dtype=logp.dtype, device=logp.device)
            mask = learned_mask(s, logp)
            ratio = torch.exp(logp - old)
            per_token = torch.zeros_like(ratio)  # 0 between a trajectory's segments: read, never learned
            for a, b, adv in s.spans():
                per_token[a:b] = ppo_token_loss(ratio[a:b], adv, cfg.clip_ratio, cfg.dual_clip)
            stats["pg"] += (per_token * mask).sum().item()
            stats["clipped"] += (((ratio - 1).abs() > cfg.clip_ratio) * mask).sum().item()
            stats["ratio"] += (ratio * mask).sum().item()
            if ref is not None:
                r = (ref[k] - logp).clamp(-10, 10)
                kl = torch.exp(r) - r - 1
                per_token = per_token + cfg.kl_coef * kl
                stats["kl"] += (kl * mask).sum().item()
            if cfg.entropy_coef > 0:
                per_token = per_token - cfg.entropy_coef * entropies[k]
            stats["entropy"] += (entropies[k] * mask).sum().item()
            for start, end, _ in s.spans():  # one response per segment: a turn sample has one, a trajectory several
                total = total + self.aggregate(per_token[start:end], num_samples, num_tokens)
        return total, stats

    def aggregate(self, per_token: torch.Tensor, num_samples: int, num_tokens: int) -> torch.Tensor:
        """One sample's contribution to the batch loss, by ``loss_normalizer``."""
        norm = self.config.loss_normalizer
        if norm == "constant":
            return per_token.sum() / self.max_new_tokens / num_samples
        if norm == "sequences":
            return per_token.mean() / num_samples
        return per_token.sum() / num_tokens

    @property
    def measures_kl(self) -> bool:
        """The loss has a KL term (a reference or a LoRA base to compare with, and ``kl_coef`` > 0)."""
        return self.config.kl_coef > 0 and (self.reference is not None or self.adapter_reference is not None)

    # -- update -----------------------------------------------------------------
    def minibatches(self, samples: list[TurnSample]) -> list[list[TurnSample]]:
        """``samples`` split into ``minibatches`` parts, one optimizer step each.

        The split is a shuffle seeded by the number of optimizer steps taken so
        far, so it is the same on every learner process and after a resume.
        With one part the order is kept (and the update is the full-batch one).
        """
        parts = min(self.config.minibatches, len(samples))
        if parts == 1:
            return [samples]
        order = list(range(len(samples)))
        random.Random(f"minibatches/{self.scheduler.last_epoch}").shuffle(order)
        return [[samples[i] for i in order[k::parts]] for k in range(parts)]

    def step(self, samples: list[TurnSample]) -> dict[str, float]:
        """``epochs`` passes over ``samples``, each of ``minibatches`` optimizer steps; returns the statistics.

        After the first optimizer step of a batch the policy has moved, so the
        PPO ratio of the later minibatches and epochs differs from 1 and the
        clip bounds how far one batch can move any answer's probability: a
        trust region. With one epoch of one minibatch the ratio is 1 (exactly,
        with ``recompute_old_logprobs``; else up to the rollout engine's
        rounding) and the update is plain REINFORCE with a baseline.
        """
        if not samples:
            return {"learner/samples": 0.0, "learner/skipped": 0.0}
        metrics: dict[str, float] = {}
        skipped = 0
        self.model.train()
        if self.recompute_old:
            samples = self.with_own_logprobs(samples)
        for _ in range(self.config.epochs):
            epoch_metrics: dict[str, float] = defaultdict(float)
            for part in self.minibatches(samples):
                result = self.update(part)
                if result is None:
                    skipped += 1
                    continue
                for key, value in result.items():
                    epoch_metrics[key] += value
            if epoch_metrics:
                updates = epoch_metrics.pop("updates")
                metrics = {k: v / updates for k, v in epoch_metrics.items()}  # the last epoch's mean over its updates
        if self.average is not None and skipped < self.config.epochs * self.config.minibatches:
            self.move_average()
        metrics.update(
            {
                "learner/samples": float(len(samples)),
                "learner/tokens": float(sum(s.generated_tokens for s in samples)),
                "learner/sequence_tokens": float(sum(len(s.prompt_ids) + len(s.response_ids) for s in samples)),
                "learner/skipped": float(skipped),
                "learner/lr": self.optimizer.param_groups[0]["lr"],
            }
        )
        return metrics

    def update(self, samples: list[TurnSample]) -> dict[str, float] | None:
        """One optimizer step on ``samples`` (this process's shard of them); None if it was skipped as not finite."""
        mine = self.parallel.shard(samples) if self.parallel is not None else samples
        num_responses, num_tokens = response_counts(samples)
        self.optimizer.zero_grad(set_to_none=True)
        sums: dict[str, float] = defaultdict(float)
        loss_value, finite = 0.0, True
        for batch in self.micro_batches(mine):
            loss, stats = self.micro_batch_loss(batch, num_responses, num_tokens)
            if not torch.isfinite(loss):
                finite = False
                break
            loss.backward()
            loss_value += loss.item()
            for key, value in stats.items():
                sums[key] += value
        params = [p for p in self.model.parameters() if p.requires_grad]
        if self.parallel is not None:  # shards' gradients summed: the full batch's gradient on every rank
            finite, loss_value = self.parallel.all_reduce(params, finite, loss_value, sums)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)) if finite else math.nan
        if not finite or not math.isfinite(grad_norm):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        self.optimizer.step()
        self.scheduler.step()
        metrics = {
            "updates": 1.0,
            "learner/loss": loss_value,
            "learner/pg_loss": sums["pg"] / num_tokens,
            "learner/entropy": sums["entropy"] / num_tokens,
            "learner/clip_frac": sums["clipped"] / num_tokens,
            "learner/ratio": sums["ratio"] / num_tokens,
            "learner/grad_norm": grad_norm,
        }
        if self.measures_kl:  # without a reference there is no KL: no metric, rather than a flat 0
            metrics["learner/kl"] = sums["kl"] / num_tokens
        return metrics

    @torch.no_grad()
    def with_own_logprobs(self, samples: list[TurnSample]) -> list[TurnSample]:
        """``samples`` with ``response_logprobs`` replaced by the learner's own, before any update.

        Scored in the same minibatches and micro-batches, mode and precision
        as the first update, so in one process that update reproduces them and
        its ratio is 1 (bit for bit where the kernels are deterministic, as on
        CPU); the later minibatches and epochs see how far the policy moved.
        Every learner process scores the whole batch, since later epochs
        reshuffle which process holds which sample. The samples themselves are
        left as the rollout recorded them.
        """
        scored: dict[int, list[float]] = {}
        for batch in (b for part in self.minibatches(samples) for b in self.micro_batches(part)):
            with autocast(self.device, self.precision):
                logps, _ = token_logprobs(
                    self.model,
                    [s.prompt_ids for s in batch],
                    [s.response_ids for s in batch],
                    self.pad_id,
                    self.device,
                    self.temperature,
                    spans=learned_spans(batch),
                )
            for s, lp in zip(batch, logps, strict=True):
                scored[id(s)] = lp.float().tolist()
        return [replace(s, response_logprobs=scored[id(s)]) for s in samples]

    # -- reference / magnet -----------------------------------------------------
    def move_reference_to_policy(self) -> None:
        """Magnetic mirror descent: the magnet jumps to the current policy."""
        if self.reference is not None:
            self.reference.load_state_dict(self.model.state_dict())
        if self.adapter_reference is not None:
            self.adapter_reference.move_to_policy()

    def move_reference_to_best(self, average: bool) -> None:
        """``reference.magnet: best``: the magnet takes the weights just kept as the best -- the weight average's
        (``average``) or the policy's."""
        assert self.reference is not None and self.reference is not self.average, "validated by TrainConfig"
        self.reference.load_state_dict((self.average if average else self.model).state_dict())

    @torch.no_grad()
    def move_average(self) -> None:
        """average <- d * average + (1 - d) * policy, for every floating-point weight and buffer.

        Walks parameters, not the state dict: a tied tensor (input and output embeddings) appears there
        under two names and would be moved twice.
        """
        assert self.average is not None
        rate = 1.0 - self.config.average_weights
        pairs = [
            *zip(self.average.parameters(), self.model.parameters(), strict=True),
            *zip(self.average.buffers(), self.model.buffers(), strict=True),
        ]
        for mine, policy in pairs:
            if mine.is_floating_point():
                mine.lerp_(policy.to(mine.dtype), rate)

    def state_dict(self) -> dict[str, Any]:
        state = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
        if self.reference is not None and self.reference is not self.average:  # an average magnet is saved as average/
            state["reference"] = self.reference.state_dict()
        if self.adapter_reference is not None:
            state["adapter_reference"] = self.adapter_reference.state_dict()
        if self.value is not None:
            state["value"] = self.value.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.reference is not None and "reference" in state:
            self.reference.load_state_dict(state["reference"])
        if self.adapter_reference is not None and "adapter_reference" in state:
            self.adapter_reference.load_state_dict(state["adapter_reference"])
        if self.value is not None and "value" in state:
            self.value.load_state_dict(state["value"])


def response_counts(samples: list[TurnSample]) -> tuple[int, int]:
    """The batch's responses (one per segment: a trajectory counts each of its turns) and generated tokens.

    The loss normalisers divide by these, so a batch's loss has one scale in either view.
    """
    return sum(len(s.spans()) for s in samples), sum(s.generated_tokens for s in samples)


def learned_spans(batch: list[TurnSample]) -> list[list[tuple[int, int]]]:
    """Per sample, the stretches of its response the loss covers: only those are scored (``token_logprobs``)."""
    return [[(start, end) for start, end, _ in s.spans()] for s in batch]


def learned_mask(sample: TurnSample, like: torch.Tensor) -> torch.Tensor:
    """1 on the response tokens the loss covers (the sample's spans), 0 between them; the statistics count only those."""
    mask = torch.zeros(len(sample.response_ids), dtype=like.dtype)
    for start, end, _ in sample.spans():
        mask[start:end] = 1
    return mask.to(like.device)


def optimizer_and_schedule(
    model: torch.nn.Module, config: LearnerSection, total_updates: int = 1
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the trainable parameters with the ``learner.*`` settings, and its schedule (:func:`lr_factor`).

    Every learner (this one, ``sparring.preference.learner``) optimises the same way.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        trainable, lr=config.lr, betas=config.betas, eps=config.adam_eps, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, config, total_updates))
    return optimizer, scheduler


def lr_factor(update: int, config: LearnerSection, total_updates: int) -> float:
    """The learning rate's multiplier at optimizer step ``update``: linear warm-up, then ``lr_decay``.

    Warm-up counts optimizer steps (as before: one per batch with one epoch and minibatch); the decay
    runs from the end of warm-up to ``total_updates`` and then holds at ``min_lr_ratio``.
    """
    warmup = config.warmup_steps
    if warmup and update < warmup:
        return (update + 1) / warmup
    if config.lr_decay == "constant":
        return 1.0
    progress = min(1.0, (update - warmup) / max(1, total_updates - warmup))
    shape = 1.0 - progress if config.lr_decay == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
    return config.min_lr_ratio + (1.0 - config.min_lr_ratio) * shape


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    ref = copy.deepcopy(model)
    ref.eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref
