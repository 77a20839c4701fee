"""HFEngine: batched sampling from any Hugging Face causal LM, CPU or GPU.

One forward pass over the left-padded batch of prompts fills a KV cache; each
decoding step then feeds one token per sequence. Sampling draws from a
``torch.Generator`` seeded per call, so a seed reproduces the samples. The
forward runs under bfloat16 autocast only where the hardware makes it fast
(see ``sparring.device``); the weights stay fp32 on CPU, so the learner can
share the very same module.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from sparring.device import autocast, autocast_dtype
from sparring.engines.base import EngineStats, Generation, SamplingParams
from sparring.prefix import cache_kwargs, common_prefix_len, decoding_cache, expanded_prefix_cache, token_logprobs


def end_token_ids(tokenizer: Any, model: Any | None = None) -> set[int]:
    """Ids that end an assistant turn: eos, chat end-of-turn markers."""
    ids: set[int] = set()
    for tok in (tokenizer.eos_token, "<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
        if tok is not None:
            tid = tokenizer.convert_tokens_to_ids(tok)
            if isinstance(tid, int) and tid != tokenizer.unk_token_id and tid >= 0:
                ids.add(tid)
    eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    return ids


class HFEngine:
    """Engine over a ``transformers`` causal LM (a path, or a module to share with a learner)."""

    def __init__(
        self,
        model: str | Path | torch.nn.Module,
        tokenizer: Any | None = None,
        device: str = "cpu",
        autocast: str | None = "auto",
        max_batch_size: int = 256,
    ):
        if isinstance(model, str | Path):
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(model)
            model = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32 if device == "cpu" else torch.bfloat16)
            model.to(device)
        if tokenizer is None:
            raise ValueError("a tokenizer is needed when a model object is passed")
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.max_batch_size = max_batch_size
        self.autocast_dtype = autocast_dtype(self.device, autocast)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.end_ids = end_token_ids(tokenizer, model)
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(0)
        self.stats = EngineStats()

    # -- weights ------------------------------------------------------------
    def load_weights(self, weights: Any) -> None:
        if isinstance(weights, str | Path):
            from safetensors.torch import load_file

            files = sorted(Path(weights).glob("*.safetensors"))
            if not files:
                raise FileNotFoundError(f"no .safetensors files in {weights}")
            weights = {k: v for f in files for k, v in load_file(f).items()}
        missing, unexpected = self.model.load_state_dict(weights, strict=False)
        # Tied output embeddings are legitimately absent from saved files.
        missing = [k for k in missing if not k.endswith("lm_head.weight")]
        if missing or unexpected:
            raise ValueError(f"weights do not fit the model: missing {missing[:3]}, unexpected {unexpected[:3]}")

    def before_learning(self) -> None:
        """Nothing to free: the learner trains the module this engine samples from."""

    def after_learning(self, model: Any) -> None:
        """Nothing to load: the engine shares the learner's module (load_weights() takes foreign weights)."""

    # -- forward ------------------------------------------------------------
    def _autocast(self):
        return autocast(self.device, self.autocast_dtype)

    def _left_pad(self, prompts: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p) :] = 1
        return ids.to(self.device), mask.to(self.device)

    @torch.inference_mode()
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        if not prompts:
            return []
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        if params.seed is not None:
            self.rng.manual_seed(params.seed)
        start = time.perf_counter()
        out: list[Generation] = []
        for lo in range(0, len(prompts), self.max_batch_size):
            out.extend(self._generate_batch(prompts[lo : lo + self.max_batch_size], params))
        self.stats.calls += 1
        self.stats.generate_seconds += time.perf_counter() - start
        self.stats.generated_tokens += sum(len(g.token_ids) for g in out)
        return out

    def _generate_batch(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        was_training = self.model.training
        self.model.eval()
        n = len(prompts)
        # The prompts' shared prefix (the rules) is run once and its cache expanded to the batch;
        # each prompt's own suffix is left-padded after it, masked, with positions continuing from it.
        shared = common_prefix_len(prompts) if n > 1 else 0
        shared = shared if shared >= 8 else 0
        ids, mask = self._left_pad([p[shared:] for p in prompts])
        positions = shared + (mask.cumsum(-1) - 1).clamp(min=0)
        capacity = shared + ids.shape[1] + params.max_new_tokens
        if shared:
            with self._autocast():
                cache = expanded_prefix_cache(self.model, prompts[0][:shared], n, self.device, capacity=capacity)
            mask = torch.cat([torch.ones((n, shared), dtype=torch.long, device=self.device), mask], dim=1)
        else:
            cache = decoding_cache(self.model, capacity)
        stop_set = set(params.stop_token_ids) | (set() if params.ignore_eos else self.end_ids)
        stop_ids = torch.tensor(sorted(stop_set) or [-1], device=self.device)
        tokens: list[list[int]] = [[] for _ in range(n)]
        logps: list[list[float]] = [[] for _ in range(n)]
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        stopped = [False] * n
        step_ids, step_pos = ids, positions
        for _ in range(params.max_new_tokens):
            with self._autocast():
                logits = (
                    self.model(
                        input_ids=step_ids,
                        attention_mask=mask,
                        position_ids=step_pos,
                        use_cache=True,
                        **cache_kwargs(self.model, cache),
                        logits_to_keep=1,
                    )
                    .logits[:, -1, :]
                    .float()
                )
            token, logp = self._sample(logits, params)
            token = torch.where(done, torch.full_like(token, self.pad_id), token)
            for i in (~done).nonzero().flatten().tolist():
                tokens[i].append(int(token[i]))
                logps[i].append(float(logp[i]))
            newly = ~done & torch.isin(token, stop_ids)
            if params.stop:
                for i in (~done & ~newly).nonzero().flatten().tolist():
                    tail = self.tokenizer.decode(tokens[i][-8:], skip_special_tokens=True)
                    if any(tail.endswith(s) for s in params.stop):
                        newly[i] = True
            for i in newly.nonzero().flatten().tolist():
                stopped[i] = True
            done |= newly
            if bool(done.all()):
                break
            step_ids = token.unsqueeze(1)
            step_pos = step_pos[:, -1:] + 1
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        self.model.train(was_training)
        return [
            Generation(
                tokens[i],
                logps[i],
                self.tokenizer.decode(tokens[i], skip_special_tokens=True),
                "stop" if stopped[i] else "length",
            )
            for i in range(n)
        ]

    def _sample(self, logits: torch.Tensor, params: SamplingParams) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw one token per row; return it with its log-prob at ``temperature``."""
        if params.temperature <= 0:
            logprobs = torch.log_softmax(logits, dim=-1)
            token = logits.argmax(-1)
            return token, logprobs.gather(-1, token.unsqueeze(-1)).squeeze(-1)
        logprobs = torch.log_softmax(logits / params.temperature, dim=-1)
        probs = logprobs.exp()
        if params.top_k > 0:
            kth = probs.topk(min(params.top_k, probs.shape[-1]), dim=-1).values[:, -1:]
            probs = torch.where(probs < kth, torch.zeros_like(probs), probs)
        if params.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            keep = sorted_p.cumsum(-1) - sorted_p < params.top_p
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p * keep)
        token = torch.multinomial(probs, 1, generator=self.rng).squeeze(-1)
        return token, logprobs.gather(-1, token.unsqueeze(-1)).squeeze(-1)

    @torch.inference_mode()
    def score(self, prompts: list[list[int]], continuations: list[list[int]], temperature: float = 1.0) -> list[list[float]]:
        """Teacher-forced log-probs of each continuation token (shared prompt prefixes computed once)."""
        was_training = self.model.training
        self.model.eval()
        out: list[list[float]] = []
        for lo in range(0, len(prompts), self.max_batch_size):
            hi = lo + self.max_batch_size
            with self._autocast():
                rows, _ = token_logprobs(self.model, prompts[lo:hi], continuations[lo:hi], self.pad_id, self.device, temperature)
            out.extend(r.tolist() for r in rows)
        self.model.train(was_training)
        return out
