"""Shared fixtures: every available game, small and fast."""

from __future__ import annotations

import pytest

from sparring.games import game_entries

AVAILABLE = [e.name for e in game_entries() if e.unavailable is None]
# Variants with parameters that change the rules are swept too.
VARIANTS = ["kuhn_poker:hands=3", "simple_negotiation:max_turns=4"]


@pytest.fixture(params=AVAILABLE + VARIANTS)
def game_spec(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def bundled_tokenizer():
    from transformers import AutoTokenizer

    from sparring.engines import BUNDLED

    return AutoTokenizer.from_pretrained(BUNDLED)


@pytest.fixture
def tiny_model(bundled_tokenizer):
    """A freshly initialised, very small Llama over the bundled tokenizer (fast invariant tests)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(bundled_tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        eos_token_id=bundled_tokenizer.eos_token_id,
        pad_token_id=bundled_tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def bundled_engine():
    from sparring.engines import BUNDLED
    from sparring.engines.hf import HFEngine

    return HFEngine(BUNDLED)
