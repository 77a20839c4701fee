"""LoRA self-play: train small low-rank adapters on a frozen base model (PEFT).

Why: full fine-tuning of a multi-billion-parameter policy needs the weights,
their gradients, two Adam moments and -- with a KL term -- a frozen reference
copy. With LoRA (``model.lora`` in the config) only the adapters train, and
the reference costs nothing: LoRA starts with ``B = 0``, so the policy at step
0 *is* the base model, and "the base model with its adapters disabled" is
exactly the initial-policy reference, computed by the same module. A magnet
reference (``reference.update_every``) is kept as a snapshot of the adapter
weights, again no second model.

Where the pieces go:

* :func:`wrap` turns the loaded HF model into a ``PeftModel`` (train.build);
  the HF engine keeps sharing that module, so rollouts sample from the adapted policy;
* :class:`AdapterReference` gives the learner its reference log-probs;
* :func:`save_adapter` / :func:`load_adapter` write and read a checkpoint's adapter
  directory (``adapter_model.safetensors``, ``adapter_config.json``, the tokenizer;
  where it is: ``sparring.checkpoint.CheckpointDir``), and the checkpoint's state
  names the base model (:func:`base_model_pointer`);
* :func:`merge_checkpoint` (``sparring merge``) makes a plain HF model directory
  from a checkpoint; :func:`engine_weights` gives merged weights to an engine
  that does not share the module (vLLM), and :func:`save_model_dir` writes the
  current policy as a plain model directory (league pool snapshots).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

from sparring.checkpoint import CheckpointDir, RunDir
from sparring.config import LoRASection
from sparring.errors import UserError
from sparring.prefix import token_logprobs

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def is_lora(model: Any) -> bool:
    """True for a PEFT-wrapped model; checked without importing peft, so full-weight runs never load it."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(model, peft.PeftModel)


def wrap(model: torch.nn.Module, section: LoRASection) -> torch.nn.Module:
    """The model with LoRA adapters on ``section.target_modules``; only adapter parameters stay trainable."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=section.r,
        lora_alpha=section.alpha,
        lora_dropout=section.dropout,
        target_modules=list(section.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as err:  # e.g. no module of the model matches target_modules
        names = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})
        first = str(err).strip().splitlines()[0]
        raise UserError(f"model.lora: {first} (linear layers of this model: {', '.join(names)})") from None


def adapter_parameters(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """The adapter parameters by their name in ``model`` (what the optimizer trains)."""
    return {name: p for name, p in model.named_parameters() if ".lora_" in name}


# ----------------------------------------------------------------------------- reference without a second model
class _WithWeights:
    """``model`` called with some parameters replaced, via ``functional_call``.

    The policy's own parameters are never written, so the autograd graph of a
    policy forward pass that is waiting for ``backward`` stays valid.
    """

    def __init__(self, model: torch.nn.Module, weights: dict[str, torch.Tensor]):
        self.model = model
        self.weights = weights

    @property
    def config(self) -> Any:
        return self.model.config

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return torch.func.functional_call(self.model, self.weights, args, kwargs)


class AdapterReference:
    """The KL reference of a LoRA policy, held as adapter weights instead of a frozen model copy.

    Until :meth:`move_to_policy` is called the reference is the base model
    (adapters disabled) -- the initial policy, since LoRA starts at ``B = 0``.
    After it, the reference is the policy of that moment (a magnet): a copy of
    the adapter weights only, applied with ``functional_call``.
    """

    def __init__(self, model: torch.nn.Module):
        if not is_lora(model):
            raise TypeError("AdapterReference needs a PEFT (LoRA) model")
        self.model = model
        self.magnet: dict[str, torch.Tensor] | None = None

    def logprobs(
        self,
        prompts: list[list[int]],
        responses: list[list[int]],
        pad_id: int,
        device: torch.device,
        temperature: float = 1.0,
    ) -> list[torch.Tensor]:
        """Reference log-probs of each response token (no gradients; LoRA dropout off)."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                if self.magnet is None:
                    with self.model.disable_adapter():
                        rows, _ = token_logprobs(self.model, prompts, responses, pad_id, device, temperature)
                else:
                    magnet = _WithWeights(self.model, self.magnet)
                    rows, _ = token_logprobs(magnet, prompts, responses, pad_id, device, temperature)  # type: ignore[arg-type]
        finally:
            self.model.train(was_training)
        return rows

    def move_to_policy(self) -> None:
        """Magnetic mirror descent: the reference becomes the current policy (a snapshot of its adapters)."""
        self.magnet = {name: p.detach().clone() for name, p in adapter_parameters(self.model).items()}

    def state_dict(self) -> dict[str, Any]:
        return {"magnet": self.magnet}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        magnet = state.get("magnet")
        device = next(self.model.parameters()).device
        self.magnet = None if magnet is None else {k: v.to(device) for k, v in magnet.items()}


def base_logprobs(
    model: torch.nn.Module,
    prompts: list[list[int]],
    responses: list[list[int]],
    pad_id: int,
    device: torch.device,
    temperature: float = 1.0,
) -> list[torch.Tensor]:
    """Log-probs of the base model under a LoRA policy (adapters disabled): the initial-policy reference."""
    return AdapterReference(model).logprobs(prompts, responses, pad_id, device, temperature)


# ----------------------------------------------------------------------------- merged weights
def merged_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The policy as plain HF weights (``W + B A * alpha / r`` per adapted layer), keyed like the base model.

    The module is not modified (no merge/unmerge round trip, whose rounding
    would change the frozen base weights), so training can go on. This is what
    an engine that does not share the module (vLLM) loads after each step.
    """
    from peft.tuners.lora import LoraLayer

    base = model.get_base_model()
    out: dict[str, torch.Tensor] = {}
    for key, value in base.state_dict().items():
        if ".lora_" not in key:
            out[key.replace(".base_layer.", ".")] = value.detach()
    with torch.no_grad():
        for name, module in base.named_modules():
            if isinstance(module, LoraLayer) and not module.merged:
                delta = sum(module.get_delta_weight(a) for a in module.active_adapters if a in module.lora_A)
                out[f"{name}.weight"] = out[f"{name}.weight"] + delta
    return out


def engine_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Weights for an engine with its own copy of the model: merged for a LoRA policy, else the state dict."""
    return merged_state_dict(model) if is_lora(model) else model.state_dict()


def save_model_dir(model: torch.nn.Module, tokenizer: Any, directory: Path) -> None:
    """Write the current policy as a plain HF model directory (adapters merged), loadable by AutoModelForCausalLM."""
    if is_lora(model):
        model.get_base_model().save_pretrained(directory, state_dict=merged_state_dict(model), safe_serialization=True)
    else:
        model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


# ----------------------------------------------------------------------------- checkpoints
def save_adapter(model: torch.nn.Module, tokenizer: Any, directory: Path) -> None:
    """``adapter_model.safetensors`` + ``adapter_config.json`` + the tokenizer: a self-contained PEFT adapter dir."""
    model.save_pretrained(directory, safe_serialization=True, save_embedding_layers=False)
    tokenizer.save_pretrained(directory)


def load_adapter(model: torch.nn.Module, directory: Path) -> None:
    """Load saved adapter weights into the (already wrapped) model, in place, so the optimizer keeps its parameters."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    if not is_lora(model):
        raise UserError(f"{directory} holds a LoRA adapter but the run's model has no adapters (model.lora is not set)")
    result = set_peft_model_state_dict(model, load_file(Path(directory) / ADAPTER_WEIGHTS))
    missing = [k for k in result.missing_keys if ".lora_" in k]
    if missing or result.unexpected_keys:
        raise UserError(
            f"the adapter in {directory} does not fit the model (different model.lora settings?): "
            f"missing {missing[:2]}, unexpected {list(result.unexpected_keys)[:2]}"
        )


def base_model_pointer(path: str) -> str:
    """What a checkpoint records as its base model: ``bundled``, or the absolute model directory."""
    from sparring.engines.paths import BUNDLED, resolve_model_path

    resolved = resolve_model_path(path).resolve()
    return "bundled" if resolved == BUNDLED.resolve() else str(resolved)


def _checkpoint_base(checkpoint: Path) -> str:
    """The base model a LoRA checkpoint was trained on (its state; else the adapter config)."""
    ckpt = CheckpointDir(checkpoint)
    if ckpt.state_path.is_file():
        base = json.loads(ckpt.state_path.read_text()).get("base_model")
        if base:
            return str(base)
    base = json.loads((ckpt.adapter_dir / ADAPTER_CONFIG).read_text()).get("base_model_name_or_path")
    if not base:
        raise UserError(f"{checkpoint} does not say which base model its adapter belongs to (no base_model in state.json)")
    return str(base)


def merge_checkpoint(checkpoint: Path, out: Path) -> Path:
    """``sparring merge``: base model + a checkpoint's adapter, merged, written as a plain HF model directory.

    ``checkpoint`` is ``RUN/checkpoints/step-K`` or a run directory (its newest intact checkpoint).
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from sparring.checkpoint import latest_valid_checkpoint, verify_checkpoint
    from sparring.engines.paths import resolve_model_path

    checkpoint = Path(checkpoint)
    if not checkpoint.is_dir():
        raise UserError(f"checkpoint directory not found: {checkpoint}")
    if RunDir(checkpoint).checkpoints_dir.is_dir():
        found = latest_valid_checkpoint(RunDir(checkpoint))
        if found is None:
            raise UserError(f"run {checkpoint} has no intact checkpoint")
        checkpoint = found[1]
    ckpt = CheckpointDir(checkpoint)
    adapter = ckpt.adapter_dir
    if not (adapter / ADAPTER_CONFIG).is_file():
        hint = f"; its {ckpt.model_dir.name}/ directory already is a Hugging Face model" if ckpt.model_dir.is_dir() else ""
        raise UserError(f"{checkpoint} has no LoRA adapter ({adapter.name}/{ADAPTER_CONFIG}){hint}")
    if ckpt.manifest_path.is_file():
        verify_checkpoint(checkpoint)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"--out {out} exists and is not an empty directory")
    base_path = resolve_model_path(_checkpoint_base(checkpoint))
    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(adapter).save_pretrained(out)
    return out
