"""VLLMEngine: the engine protocol on vLLM, for GPUs (extra ``gpu``).

HFEngine decodes one token per forward pass for a fixed batch; vLLM pages the
KV cache, batches continuously and runs CUDA graphs, which is what makes
4096-token reasoning turns affordable. The contract is HFEngine's, exactly:

- prompts are token ids and the learner trains on the ids that were sampled;
- ``Generation.logprobs`` is log p(token) under the sampling distribution at
  ``temperature``, *before* top-p/top-k renormalisation (so the PPO ratio
  compares like with like);
- stop ids are the tokenizer's end-of-turn ids unless ``ignore_eos``; stop
  strings stay in the output; the finish reason is ``stop`` or ``length``;
- the same ``seed`` reproduces the samples: every request gets its own vLLM
  seed drawn from ``self.rng`` (a ``torch.Generator``, like HFEngine's, so the
  training loop seeds and checkpoints it the same way).

vLLM keeps its own copy of the weights, so after every learner step it loads
the new ones (:meth:`VLLMEngine.after_learning`), and while the learner trains
the engine sleeps (:meth:`VLLMEngine.before_learning`), which gives the KV
cache's memory back to the learner on a shared GPU (SPIRAL collocates them
the same way, vLLM at 0.45 of the GPU).

vLLM API assumptions (checked against vLLM 0.33.0's source; written for 0.8+):

- ``LLM(model, tokenizer, dtype, seed, gpu_memory_utilization, tensor_parallel_size,
  max_model_len, enable_sleep_mode, enable_lora, max_lora_rank, logprobs_mode)``,
  ``LLM.generate(list of {"prompt_token_ids": ids}, list of SamplingParams,
  use_tqdm=False, lora_request=...)`` returning outputs in input order,
  ``LLM.sleep(level)`` / ``LLM.wake_up()``, ``LLM.collective_rpc(callable, args=...)``
  and ``LLM.reset_prefix_cache()``: all present from 0.8 to 0.33.
- ``logprobs_mode="processed_logprobs"`` (engine argument, vLLM >= 0.10, from
  vllm-project/vllm#21398; detected from ``EngineArgs``' fields, not the version
  number) makes the sampled token's log-prob the one after temperature *and*
  top-k/top-p. It equals HFEngine's when ``top_p == 1`` and ``top_k == 0``
  (SPIRAL's training setting) and for greedy decoding. Older vLLM returns the
  raw (temperature 1) log-probs, which equal HFEngine's at temperature 1 or 0.
  In every other case :meth:`VLLMEngine.generate` rescores the sampled ids
  (:func:`logprobs_are_exact` decides; ``stats.extra["rescored_calls"]`` counts it).
- ``prompt_logprobs`` are always of the raw model distribution (temperature 1),
  whatever ``logprobs_mode`` says (vLLM 0.33 documents this), so :meth:`score`
  uses them at temperature 1 and hands any other temperature to an optional
  ``scorer`` engine (the training loop passes an HFEngine over the learner's module).
  Some early V1 releases (0.8.x) refuse prompt log-probs with prefix caching on;
  pass ``enable_prefix_caching=False`` there.
- Weight updates call the model's own ``load_weights(iterable of (name, tensor))``
  (HF parameter names; vLLM fuses q/k/v and gate/up itself) inside the worker,
  through ``collective_rpc`` with a callable. With one GPU the engine runs in
  this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``), so the callable gets the
  learner's tensors by reference with no copy; with tensor parallelism the
  tensors go to CPU and are pickled to the workers
  (``VLLM_ALLOW_INSECURE_SERIALIZATION=1``, needed for callables since ~0.9).
- LoRA adapters are served with ``LoRARequest(name, int_id, path)``; an engine
  started with ``enable_lora`` wraps its layers, so it takes adapters
  (:meth:`VLLMEngine.load_lora`), not full weights.

The conversions between sparring's records and vLLM's are pure functions at
the top of this module, tested on a CPU without vLLM installed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

import torch

from sparring.device import autocast_dtype
from sparring.engines.base import EngineStats, Generation, SamplingParams
from sparring.errors import UserError

if TYPE_CHECKING:
    from sparring.config import TrainConfig

INSTALL_HINT = "pip install 'sparring[gpu]'"
LogprobsMode = Literal["processed_logprobs", "raw_logprobs"]


# ----------------------------------------------------------------------------- pure conversions (no vLLM needed)
def sampling_kwargs(params: SamplingParams, end_ids: Iterable[int], seed: int | None) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one request, with HFEngine's semantics.

    The tokenizer's end ids become explicit stop ids (vLLM alone knows only the
    model's eos), the stop string is kept in the text as HFEngine keeps it,
    ``logprobs=0`` asks for the sampled token's log-prob only, and text is
    detokenized by vLLM only when stop strings need it (sparring decodes ids itself).
    """
    greedy = params.temperature <= 0
    stop_ids = set(params.stop_token_ids) | (set() if params.ignore_eos else set(end_ids))
    return {
        "n": 1,
        "temperature": 0.0 if greedy else float(params.temperature),
        "top_p": 1.0 if greedy else float(params.top_p),
        "top_k": params.top_k if params.top_k > 0 and not greedy else -1,  # -1: off, accepted by every vLLM
        "max_tokens": params.max_new_tokens,
        "stop": list(params.stop),
        "stop_token_ids": sorted(stop_ids),
        "include_stop_str_in_output": True,
        "ignore_eos": params.ignore_eos,
        "seed": None if greedy else seed,
        "logprobs": 0,
        "detokenize": bool(params.stop),
        "skip_special_tokens": True,
    }


def logprobs_are_exact(params: SamplingParams, mode: LogprobsMode) -> bool:
    """Whether vLLM's sampled-token log-probs in ``mode`` equal HFEngine's for ``params``.

    HFEngine reports log softmax(logits / T) before top-p/top-k. ``processed_logprobs``
    is taken after top-p/top-k (renormalised over the kept tokens), ``raw_logprobs``
    before temperature. Greedy decoding reports temperature-1 log-probs in both.
    """
    if params.temperature <= 0:
        return True
    if mode == "processed_logprobs":
        return params.top_p >= 1.0 and params.top_k <= 0
    return abs(params.temperature - 1.0) < 1e-6


def finish_reason(reason: str | None) -> Literal["stop", "length"]:
    """vLLM's ``stop`` (end id, stop id or stop string) is a stop; anything else (length, abort) was cut off."""
    return "stop" if reason == "stop" else "length"


def _logprob_value(entry: Any) -> float:
    """vLLM stores ``Logprob(logprob, rank, decoded_token)`` objects; plain floats are accepted too."""
    return float(getattr(entry, "logprob", entry))


def sampled_logprobs(token_ids: Sequence[int], position_logprobs: Sequence[Mapping[int, Any]] | None) -> list[float]:
    """The log-prob of each sampled id, picked from vLLM's per-position {token id: Logprob} maps."""
    if position_logprobs is None:
        raise ValueError("vLLM returned no log-probs; the request must set logprobs=0")
    if len(position_logprobs) != len(token_ids):
        raise ValueError(f"vLLM returned {len(position_logprobs)} log-prob positions for {len(token_ids)} tokens")
    return [_logprob_value(by_id[tok]) for tok, by_id in zip(token_ids, position_logprobs, strict=True)]


def to_generation(request_output: Any, decode: Any) -> Generation:
    """One vLLM ``RequestOutput`` (n=1) as a Generation; ``decode(ids) -> str`` makes the text from the ids.

    The text is decoded from the ids (not vLLM's detokenized text) so that
    ``decode(g.token_ids) == g.text`` exactly as with HFEngine.
    """
    completion = request_output.outputs[0]
    token_ids = [int(t) for t in completion.token_ids]
    return Generation(
        token_ids=token_ids,
        logprobs=sampled_logprobs(token_ids, completion.logprobs),
        text=decode(token_ids),
        finish_reason=finish_reason(completion.finish_reason),
    )


def continuation_logprobs(
    prompt_logprobs: Sequence[Mapping[int, Any] | None] | None, prompt_len: int, continuation: Sequence[int]
) -> list[float]:
    """Teacher-forced log-probs of ``continuation`` from vLLM's ``prompt_logprobs`` of prompt + continuation.

    vLLM gives one {token id: Logprob} map per position of the request's
    prompt (None for the first), holding at least the token actually there.
    """
    if not continuation:
        return []
    if prompt_logprobs is None or len(prompt_logprobs) < prompt_len + len(continuation):
        raise ValueError("vLLM returned too few prompt log-probs; the request must set prompt_logprobs=0")
    return [
        _logprob_value(prompt_logprobs[prompt_len + j][tok])  # type: ignore[index]
        for j, tok in enumerate(continuation)
    ]


def request_seeds(rng: torch.Generator, n: int) -> list[int]:
    """One vLLM seed per request, drawn from the engine's stream (so seeding ``rng`` reproduces a batch)."""
    return [int(s) for s in torch.randint(0, 1 << 62, (n,), generator=rng).tolist()]


def llm_kwargs(
    model: str | Path,
    *,
    dtype: str = "auto",
    seed: int = 0,
    gpu_memory_utilization: float = 0.45,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    enable_sleep_mode: bool = False,
    enable_lora: bool = False,
    max_lora_rank: int = 16,
    logprobs_mode: LogprobsMode | None = "processed_logprobs",
    enforce_eager: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM``; ``logprobs_mode=None`` where the installed vLLM predates it."""
    kwargs: dict[str, Any] = {
        "model": str(model),
        "tokenizer": str(model),
        "dtype": dtype,
        "seed": seed,
        "gpu_memory_utilization": gpu_memory_utilization,
        "tensor_parallel_size": tensor_parallel_size,
        "enable_sleep_mode": enable_sleep_mode,
        "enforce_eager": enforce_eager,
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    if enable_lora:
        kwargs["enable_lora"] = True
        kwargs["max_lora_rank"] = max_lora_rank
    if logprobs_mode is not None:
        kwargs["logprobs_mode"] = logprobs_mode
    kwargs.update(extra)
    return kwargs


def lora_rank(adapter_dir: str | Path) -> int:
    """The rank ``r`` of a PEFT adapter directory (vLLM must be started with ``max_lora_rank`` >= it)."""
    config = Path(adapter_dir) / "adapter_config.json"
    if not config.exists():
        raise UserError(f"{adapter_dir} is not a PEFT LoRA adapter directory (no adapter_config.json)")
    return int(json.loads(config.read_text())["r"])


VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
"""The ``max_lora_rank`` values vLLM accepts (0.8 to 0.33; 0.33 also takes 1)."""


def vllm_max_lora_rank(rank: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds an adapter of rank ``rank``."""
    for allowed in VLLM_LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise UserError(f"LoRA rank {rank} is above vLLM's largest max_lora_rank {VLLM_LORA_RANKS[-1]}")


def read_safetensors_dir(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    files = sorted(Path(path).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no .safetensors files in {path}")
    return {k: v for f in files for k, v in load_file(f).items()}


# ----------------------------------------------------------------------------- vLLM itself
def import_vllm() -> Any:
    """The ``vllm`` module, or a one-line UserError saying how to install it."""
    try:
        import vllm
    except ImportError as err:
        raise UserError(f"vLLM cannot be imported ({err}); install the GPU extra: {INSTALL_HINT}") from None
    return vllm


def supported_logprobs_mode() -> LogprobsMode:
    """``processed_logprobs`` where the installed vLLM has ``logprobs_mode`` (>= 0.10), else ``raw_logprobs``."""
    from vllm.engine.arg_utils import EngineArgs

    return "processed_logprobs" if "logprobs_mode" in {f.name for f in dataclasses.fields(EngineArgs)} else "raw_logprobs"


def _load_weights_on_worker(worker: Any, weights: dict[str, torch.Tensor]) -> int:
    """Runs inside each vLLM worker: copy HF-named tensors into the model's (fused, sharded) parameters."""
    from vllm.config import set_current_vllm_config

    model = worker.get_model() if hasattr(worker, "get_model") else worker.model_runner.model
    config = getattr(worker, "vllm_config", None)  # some weight loaders read the current config, as at start-up
    with set_current_vllm_config(config) if config is not None else nullcontext():
        loaded = model.load_weights(weights.items())
    return len(loaded) if loaded is not None else len(weights)


class VLLMEngine:
    """Engine over a vLLM ``LLM`` on one or more CUDA GPUs (see the module docstring for the contract)."""

    def __init__(
        self,
        model: str | Path,
        tokenizer: Any | None = None,
        *,
        dtype: str = "bfloat16",
        seed: int = 0,
        gpu_memory_utilization: float = 0.45,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        enable_sleep_mode: bool = False,
        sleep_level: int = 1,
        lora_dir: str | Path | None = None,
        enable_lora: bool = False,
        max_lora_rank: int | None = None,
        scorer: Any | None = None,
        enforce_eager: bool = False,
        **llm_extra: Any,
    ):
        """``scorer``: an engine for :meth:`score` at temperatures other than 1 (and rescoring), e.g. an
        HFEngine over the learner's module. ``lora_dir`` (implies ``enable_lora``): serve that adapter."""
        if not torch.cuda.is_available():
            raise UserError("VLLMEngine needs a CUDA GPU and none is visible; use engine.kind=hf on this machine")
        vllm = import_vllm()
        from transformers import AutoTokenizer, GenerationConfig

        from sparring.engines.hf import end_token_ids

        self.path = Path(model)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(self.path)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        try:
            generation_config = GenerationConfig.from_pretrained(self.path)
        except OSError:
            generation_config = None
        self.end_ids = end_token_ids(self.tokenizer, SimpleNamespace(generation_config=generation_config))
        self.tensor_parallel_size = tensor_parallel_size
        self.enable_sleep_mode = enable_sleep_mode
        self.sleep_level = sleep_level
        self.enable_lora = enable_lora or lora_dir is not None
        self.scorer = scorer
        self.logprobs_mode = supported_logprobs_mode()
        # One GPU: run the engine in this process, so weight pushes pass tensors by reference.
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        if tensor_parallel_size > 1:  # workers in other processes receive the weight-loading callable pickled
            os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")
        rank = vllm_max_lora_rank(max_lora_rank or (lora_rank(lora_dir) if lora_dir is not None else 16))
        self._vllm = vllm
        self.llm = vllm.LLM(
            **llm_kwargs(
                self.path,
                dtype=dtype,
                seed=seed,
                gpu_memory_utilization=gpu_memory_utilization,
                tensor_parallel_size=tensor_parallel_size,
                max_model_len=max_model_len,
                enable_sleep_mode=enable_sleep_mode,
                enable_lora=self.enable_lora,
                max_lora_rank=rank,
                logprobs_mode=self.logprobs_mode if self.logprobs_mode == "processed_logprobs" else None,
                enforce_eager=enforce_eager,
                **llm_extra,
            )
        )
        self.rng = torch.Generator()
        self.rng.manual_seed(seed)
        self.stats = EngineStats(extra={"rescored_calls": 0, "weight_loads": 0})
        self.asleep = False
        self.lora_request: Any | None = None
        self._lora_ids = 0
        if lora_dir is not None:
            self.load_lora(lora_dir)

    # -- text ------------------------------------------------------------------
    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    # -- sampling --------------------------------------------------------------
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        if not prompts:
            return []
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        exact = logprobs_are_exact(params, self.logprobs_mode)
        if not exact and abs(params.temperature - 1.0) > 1e-6 and self.scorer is None:
            raise ValueError(
                f"with vLLM's {self.logprobs_mode} the log-probs at temperature {params.temperature} and "
                f"top_p {params.top_p} / top_k {params.top_k} must be rescored, which needs a scorer engine"
            )
        self.wake_up()
        if params.seed is not None:
            self.rng.manual_seed(params.seed)
        seeds = request_seeds(self.rng, len(prompts))
        requests = [self._vllm.SamplingParams(**sampling_kwargs(params, self.end_ids, s)) for s in seeds]
        start = time.perf_counter()
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(p)} for p in prompts], requests, use_tqdm=False, lora_request=self.lora_request
        )
        generations = [to_generation(o, self.decode) for o in outputs]
        if not exact:
            rescored = self.score(prompts, [g.token_ids for g in generations], params.temperature)
            for g, logprobs in zip(generations, rescored, strict=True):
                g.logprobs = logprobs
            self.stats.extra["rescored_calls"] += 1
        self.stats.calls += 1
        self.stats.generate_seconds += time.perf_counter() - start
        self.stats.generated_tokens += sum(len(g.token_ids) for g in generations)
        return generations

    def score(self, prompts: list[list[int]], continuations: list[list[int]], temperature: float = 1.0) -> list[list[float]]:
        """Teacher-forced log-probs of each continuation: vLLM's prompt log-probs at temperature 1, else the scorer."""
        if abs(temperature - 1.0) > 1e-6:
            if self.scorer is None:
                raise ValueError(
                    f"vLLM scores only at temperature 1 (its prompt log-probs are of the raw model); "
                    f"temperature {temperature} needs a scorer engine"
                )
            return self.scorer.score(prompts, continuations, temperature)
        self.wake_up()
        todo = [i for i, c in enumerate(continuations) if c]
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False)
        outputs = self.llm.generate(
            [{"prompt_token_ids": list(prompts[i]) + list(continuations[i])} for i in todo],
            params,
            use_tqdm=False,
            lora_request=self.lora_request,
        )
        out: list[list[float]] = [[] for _ in prompts]
        for i, o in zip(todo, outputs, strict=True):
            out[i] = continuation_logprobs(o.prompt_logprobs, len(prompts[i]), continuations[i])
        return out

    # -- weights ---------------------------------------------------------------
    def load_weights(self, weights: Mapping[str, torch.Tensor] | str | Path) -> None:
        """Copy full weights (a state dict with transformers names, or a safetensors directory) into vLLM in place."""
        if self.enable_lora:
            raise ValueError(
                "this engine serves LoRA adapters (enable_lora); push an adapter with load_lora(dir), "
                "or start the engine without LoRA to load merged weights"
            )
        if isinstance(weights, str | Path):
            weights = read_safetensors_dir(weights)
        tensors = dict(weights)
        if self.tensor_parallel_size > 1:  # pickled to worker processes: CPU tensors only
            tensors = {k: v.detach().to("cpu") for k, v in tensors.items()}
        self.wake_up()
        self.llm.collective_rpc(_load_weights_on_worker, args=(tensors,))
        self.llm.reset_prefix_cache()  # cached prefixes hold keys/values of the old weights
        self.stats.extra["weight_loads"] += 1

    def load_from_model(self, model: torch.nn.Module) -> None:
        """Load a transformers model's current weights; a LoRA policy's adapters merged in (the merged-LoRA path)."""
        from sparring.lora import engine_weights

        self.load_weights(engine_weights(model))

    def load_lora(self, adapter_dir: str | Path) -> None:
        """Serve this PEFT adapter directory for every later call (vLLM LoRARequest; adapter path)."""
        if not self.enable_lora:
            raise ValueError("start the engine with enable_lora=True (or lora_dir=...) to serve LoRA adapters")
        if not (Path(adapter_dir) / "adapter_config.json").exists():
            raise UserError(f"{adapter_dir} is not a PEFT LoRA adapter directory (no adapter_config.json)")
        from vllm.lora.request import LoRARequest

        # A fresh id per load: vLLM caches adapters by id, so reusing one would serve the stale adapter.
        self._lora_ids += 1
        self.lora_request = LoRARequest(f"sparring-{self._lora_ids}", self._lora_ids, str(Path(adapter_dir).resolve()))
        self.llm.reset_prefix_cache()

    def clear_lora(self) -> None:
        """Generate with the base weights again."""
        self.lora_request = None
        self.llm.reset_prefix_cache()

    # -- memory ----------------------------------------------------------------
    def sleep(self) -> None:
        """Free the KV cache (and, at level 1, move the weights to CPU) while the learner uses the GPU."""
        if self.enable_sleep_mode and not self.asleep:
            self.llm.sleep(level=self.sleep_level)
            self.asleep = True

    def wake_up(self) -> None:
        """Take the GPU memory back; called by every method that needs the model, so forgetting it is harmless."""
        if self.asleep:
            self.llm.wake_up()
            self.asleep = False

    # -- around a learner step (the Engine protocol's hooks) --------------------
    def before_learning(self) -> None:
        """Sleep (with ``enable_sleep_mode``): the learner gets the KV cache's memory while it trains."""
        self.sleep()

    def after_learning(self, model: torch.nn.Module) -> None:
        """Wake up and load the learner's new weights (a LoRA policy's adapters merged in)."""
        self.wake_up()
        self.load_from_model(model)

    def close(self) -> None:
        """Release the engine's GPU memory as far as vLLM allows in-process (best effort)."""
        engine_core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if engine_core is not None and hasattr(engine_core, "shutdown"):
            engine_core.shutdown()
        del self.llm
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------- glue for the training loop
def vllm_engine_for(config: TrainConfig, tokenizer: Any, scorer: Any | None = None) -> VLLMEngine:
    """The rollout engine of ``engine.kind: vllm``, from the run's config (model, engine section, seed)."""
    from sparring.engines.paths import resolve_model_path

    if not config.model.device.startswith("cuda"):
        raise UserError(f"engine.kind=vllm runs on GPUs; set model.device=cuda (it is {config.model.device!r})")
    section = config.engine
    return VLLMEngine(
        resolve_model_path(config.model.path),
        tokenizer,
        dtype="float32" if autocast_dtype(config.model.device, config.model.precision) is None else "bfloat16",
        seed=config.seed,
        gpu_memory_utilization=section.gpu_memory_utilization,
        tensor_parallel_size=section.tensor_parallel_size,
        max_model_len=section.max_model_len,
        enable_sleep_mode=section.sleep_between_steps,
        scorer=scorer,
    )
