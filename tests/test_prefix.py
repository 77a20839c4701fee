"""Running a shared prefix once gives exactly the logits and gradients of running every sequence whole."""

from __future__ import annotations

import torch

from sparring.prefix import common_prefix_len, suffix_logits, token_logprobs


def test_common_prefix_len_leaves_every_sequence_a_token():
    assert common_prefix_len([[1, 2, 3, 4], [1, 2, 3, 5]]) == 3
    assert common_prefix_len([[1, 2, 3], [1, 2, 3, 4]]) == 2
    assert common_prefix_len([[7, 8], [9]]) == 0
    assert common_prefix_len([]) == 0


def sequences():
    torch.manual_seed(1)
    prefix = torch.randint(5, 500, (20,)).tolist()
    return [prefix + torch.randint(5, 500, (n,)).tolist() for n in (4, 9, 6)]


def full_logprobs(model, prompts, responses):
    """Reference: each sequence alone, no padding, no cache."""
    out = []
    for p, r in zip(prompts, responses, strict=True):
        logits = model(input_ids=torch.tensor([p + r])).logits[0].float()
        lp = torch.log_softmax(logits, -1)
        out.append(lp[torch.arange(len(p) - 1, len(p) + len(r) - 1), torch.tensor(r)])
    return out


def test_shared_prefix_logits_equal_plain_forward(tiny_model):
    seqs = sequences()
    shared, mask, prefix_len = suffix_logits(tiny_model, seqs, 0, torch.device("cpu"))
    plain, _, zero = suffix_logits(tiny_model, seqs, 0, torch.device("cpu"), min_prefix=10_000)
    assert prefix_len == 20 and zero == 0
    for i, s in enumerate(seqs):
        n = len(s) - prefix_len
        assert torch.allclose(shared[i, :n], plain[i, prefix_len : prefix_len + n], atol=1e-5)


def test_token_logprobs_equal_per_sequence_forward(tiny_model):
    seqs = sequences()
    prompts = [s[:22] for s in seqs]
    responses = [s[22:] for s in seqs]
    got, _ = token_logprobs(tiny_model, prompts, responses, 0, torch.device("cpu"))
    want = full_logprobs(tiny_model, prompts, responses)
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, atol=1e-5)


def test_identical_prompts_still_predict_the_first_response_token(tiny_model):
    prompt = list(range(10, 40))
    got, _ = token_logprobs(tiny_model, [prompt, prompt], [[5, 6], [7]], 0, torch.device("cpu"))
    want = full_logprobs(tiny_model, [prompt, prompt], [[5, 6], [7]])
    assert [len(g) for g in got] == [2, 1]
    assert all(torch.allclose(g, w, atol=1e-5) for g, w in zip(got, want, strict=True))


def test_gradients_through_shared_prefix_equal_plain(tiny_model):
    seqs = sequences()
    prompts = [s[:22] for s in seqs]
    responses = [s[22:] for s in seqs]
    got, _ = token_logprobs(tiny_model, prompts, responses, 0, torch.device("cpu"))
    torch.cat(got).sum().backward()
    shared_grads = [p.grad.clone() for p in tiny_model.parameters()]
    tiny_model.zero_grad()
    torch.cat(full_logprobs(tiny_model, prompts, responses)).sum().backward()
    for a, p in zip(shared_grads, tiny_model.parameters(), strict=True):
        assert torch.allclose(a, p.grad, atol=1e-5, rtol=1e-4)


def test_reserved_decoding_cache_gives_the_logits_of_a_plain_cache_even_when_it_must_grow(tiny_model):
    from transformers import DynamicCache

    from sparring.prefix import cache_kwargs, decoding_cache

    tokens = sequences()[1]  # 29 tokens: a 20-token prompt, then nine decoded one at a time

    def run(cache) -> torch.Tensor:
        logits = [
            tiny_model(input_ids=torch.tensor([tokens[:20]]), use_cache=True, **cache_kwargs(tiny_model, cache)).logits[0, -1]
        ]
        for t in tokens[20:]:
            step = tiny_model(input_ids=torch.tensor([[t]]), use_cache=True, **cache_kwargs(tiny_model, cache))
            logits.append(step.logits[0, -1])
        return torch.stack(logits)

    with torch.inference_mode():
        plain = run(DynamicCache(config=tiny_model.config))
        reserved_cache = decoding_cache(tiny_model, capacity=24)  # too small: grows by doubling at token 25
        reserved = run(reserved_cache)
    assert type(reserved_cache.layers[0]).__name__ == "_ReservedLayer"
    assert reserved_cache.layers[0].keys.shape[-2] == len(tokens)
    assert torch.allclose(reserved, plain, atol=1e-5)


def test_repeated_rows_run_once_and_give_each_copy_its_logprobs_and_gradient(tiny_model):
    """A batch that repeats sequences (self-play's usual case) gives every row, and the weighted gradient,
    what running every row separately gives."""
    seqs = sequences()
    prompts = [s[:22] for s in seqs]
    responses = [s[22:] for s in seqs]
    order = [0, 1, 0, 2, 1, 0]
    prompts, responses = [prompts[i] for i in order], [responses[i] for i in order]
    weights = [1.0, -2.0, 0.5, 1.5, 3.0, -1.0]  # per-row, as advantages weigh samples

    calls = []
    hook = tiny_model.register_forward_pre_hook(lambda _m, _a, kw: calls.append(kw["input_ids"].shape[0]), with_kwargs=True)
    try:
        got, entropies = token_logprobs(tiny_model, prompts, responses, 0, torch.device("cpu"), entropy="value")
    finally:
        hook.remove()
    assert max(calls) == 3  # three distinct rows went through the model, never six
    want = full_logprobs(tiny_model, prompts, responses)
    assert all(torch.allclose(g, w, atol=1e-5) for g, w in zip(got, want, strict=True))
    assert entropies is not None and torch.equal(entropies[0], entropies[2])

    sum(w * g.sum() for w, g in zip(weights, got, strict=True)).backward()
    deduplicated = [p.grad.clone() for p in tiny_model.parameters()]
    tiny_model.zero_grad()
    sum(w * g.sum() for w, g in zip(weights, full_logprobs(tiny_model, prompts, responses), strict=True)).backward()
    for a, p in zip(deduplicated, tiny_model.parameters(), strict=True):
        assert torch.allclose(a, p.grad, atol=1e-5, rtol=1e-4)


def test_spans_score_only_their_tokens_and_read_zero_between(tiny_model):
    """A trajectory's answers are scored exactly as in a full scoring; the observations between them cost
    nothing and read 0, and repeated rows with other spans are not merged."""
    seqs = sequences()
    prompts = [s[:22] for s in seqs] + [seqs[1][:22]]
    responses = [s[22:] for s in seqs] + [seqs[1][22:]]
    spans = [[(1, 2)], [(0, 2), (4, 6)], [(0, 4)], [(0, 7)]]  # responses of 2, 7, 4 and 7 tokens
    got, entropies = token_logprobs(tiny_model, prompts, responses, 0, torch.device("cpu"), entropy="value", spans=spans)
    want, want_entropies = token_logprobs(tiny_model, prompts, responses, 0, torch.device("cpu"), entropy="value")
    for g, w, e, we, row in zip(got, want, entropies, want_entropies, spans, strict=True):
        inside = torch.zeros(len(w), dtype=torch.bool)
        for a, b in row:
            inside[a:b] = True
        assert torch.allclose(g[inside], w[inside], atol=1e-5) and torch.allclose(e[inside], we[inside], atol=1e-5)
        assert not g[~inside].any() and not e[~inside].any()
