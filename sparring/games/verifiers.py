"""Verifiers for role games: does one answer match a question's reference answer?

SPELL and MAE let a model judge the responder's answer against the
questioner's reference instead of a rule, so that self-play reaches tasks no
rule can check. A model judge can be wrong, and its errors become the
responder's reward. So a game that takes a model verifier keeps the exact
rule running beside it as the control and reports how often the two agree
(``qrv``'s ``train/qrv/judge_*`` metrics).

``judge`` specs:

- ``exact``: the rule (the caller's comparison; no model).
- ``model:PATH`` (``model:bundled`` for the bundled model): a local causal
  LM is asked whether the response gives the reference's value. Its verdict
  is ``yes`` when log P("yes") > log P("no") as the reply's first tokens
  (teacher-forced, so it is deterministic and needs no sampling).
- ``api:MODEL[,base_url=..,key_env=..,rpm=..,timeout=..,retries=..]``: an
  OpenAI-compatible chat model at temperature 0. A reply that starts with
  "yes" accepts; anything else (including a failed call) rejects, and
  failed calls are counted.
- ``policy``: the model being trained, with its weights of the moment, asked
  as ``model:`` is (SPELL and MAE's one model in every role). Only the
  training loop can give a game its policy (:func:`bind_policy`, called for
  every game of a run, in each Ray worker too); its verdicts are not
  trained on, and not cached, since the weights change every step.

Verdicts of a fixed model are cached per (question, reference, response): a
responder often gives the same answer to the same question many times.
"""

from __future__ import annotations

from typing import Any, Protocol

from sparring.errors import UserError

VERIFIER_SYSTEM = "You check answers. Reply yes if the response gives the same value as the reference answer, otherwise no."


def verifier_messages(question: str, reference: str, response: str) -> list[dict[str, str]]:
    user = f"Question: {question}\nReference answer: {reference}\nResponse: {response}\nIs the response correct? Reply yes or no."
    return [{"role": "system", "content": VERIFIER_SYSTEM}, {"role": "user", "content": user}]


class Verifier(Protocol):
    name: str
    failures: int
    """Calls that returned no verdict (an API error); each counted as a rejection."""

    def accepts(self, question: str, reference: str, response: str) -> bool: ...


class _Cached:
    """Caches verdicts; subclasses implement ``_judge``."""

    name = "verifier"

    def __init__(self) -> None:
        self.failures = 0
        self._seen: dict[tuple[str, str, str], bool] = {}

    def accepts(self, question: str, reference: str, response: str) -> bool:
        key = (question, reference, response)
        if key not in self._seen:
            self._seen[key] = self._judge(question, reference, response)
        return self._seen[key]

    def _judge(self, question: str, reference: str, response: str) -> bool:
        raise NotImplementedError


class LMVerifier(_Cached):
    """A causal LM's yes/no verdict, from the teacher-forced log-probabilities of the two replies."""

    def __init__(self, tokenizer: Any, engine: Any, name: str, cache: bool = True):
        super().__init__()
        self.tokenizer, self.engine, self.name, self.cache = tokenizer, engine, name, cache
        self.replies = [self.tokenizer.encode(word, add_special_tokens=False) for word in ("yes", "no")]

    @classmethod
    def from_path(cls, path: str, device: str = "cpu") -> LMVerifier:
        from sparring.preference.judges import load_judge_model

        tokenizer, engine = load_judge_model(path, device)
        return cls(tokenizer, engine, f"model:{path}")

    def accepts(self, question: str, reference: str, response: str) -> bool:
        return super().accepts(question, reference, response) if self.cache else self._judge(question, reference, response)

    def _judge(self, question: str, reference: str, response: str) -> bool:
        from sparring.prompts import encode_chat

        prompt = encode_chat(self.tokenizer, verifier_messages(question, reference, response))
        yes, no = self.engine.score([prompt, prompt], self.replies)
        return sum(yes) > sum(no)


class APIVerifier(_Cached):
    """An OpenAI-compatible chat model's yes/no verdict at temperature 0."""

    def __init__(self, client: Any, model: str):
        super().__init__()
        self.client, self.model = client, model
        self.name = f"api:{model}"

    def _judge(self, question: str, reference: str, response: str) -> bool:
        messages = verifier_messages(question, reference, response)
        body = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": 3}
        done = self.client.complete(body)
        if done.error is not None:
            self.failures += 1
            return False
        return done.text.strip().lower().startswith("yes")


def check_verifier_spec(spec: str) -> None:
    """A one-line error for a spec that is none of ``exact``, ``policy``, ``model:PATH``, ``api:MODEL``; loads nothing."""
    kind, sep, rest = spec.partition(":")
    if spec in ("exact", "policy") or (sep and rest and kind in ("model", "api")):
        return
    raise ValueError(f"judge must be exact, policy, model:PATH or api:MODEL[,options], got {spec!r}")


def make_verifier(spec: str, device: str = "cpu") -> Verifier | None:
    """The verifier a spec names (None for ``exact``: the caller's rule); loads the model or builds the client."""
    check_verifier_spec(spec)
    kind, _, rest = spec.partition(":")
    if kind == "exact":
        return None
    if kind == "policy":
        raise UserError(
            "judge=policy judges with the weights being trained, so only `sparring train` can give it a model; "
            "elsewhere (arena, eval) name one: judge=model:PATH"
        )
    if kind == "model":
        return LMVerifier.from_path(rest, device)
    from sparring.preference.judges import api_client

    model, client, _ = api_client(rest, what="judge")
    return APIVerifier(client, model)


def bind_policy(game: Any, engine: Any, tokenizer: Any) -> None:
    """Give a game that judges with the policy (``judge=policy``) the training engine; other games are untouched."""
    if getattr(game, "judge", None) == "policy":
        game._verifier = LMVerifier(tokenizer, engine, "policy", cache=False)
