"""``api:MODEL``: any OpenAI-compatible chat-completions endpoint as a player.

A hosted model (OpenAI, or any server speaking its chat-completions protocol:
vLLM's ``vllm serve``, llama.cpp, Ollama, LiteLLM...) is a strong fixed
opponent or evaluator that needs no local weights. It sees exactly what the
``model:`` player sees: the same system message with the rules and the same
observation, rendered by :func:`sparring.prompts.render_messages`, and its text
is parsed the same way.

A remote service fails in ways a local model does not, so the player is built
to never stop a game or a run over it:

- every request has a timeout; timeouts, connection errors, HTTP 429 and 5xx
  are retried with exponential backoff and jitter (``Retry-After`` honoured),
  other 4xx are not (a bad key or model name will not fix itself);
- a shared token-bucket limiter keeps all threads under ``rpm`` requests a
  minute, so a batch does not burst into the provider's rate limit;
- whatever comes back -- an error page, JSON without ``choices``, text with no
  answer -- becomes ``Move(None, reason)``: the arena counts an invalid move
  and the game goes on being scored. The raw text, token usage, attempts and
  latency ride along in ``Move.text`` / ``Move.info`` for replays.

Only the standard library is used (``urllib``), so this costs no dependency.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from sparring.errors import UserError
from sparring.games.base import Game, State
from sparring.players.base import Move
from sparring.prompts import INSTRUCTIONS, PROMPT_STYLES, PromptConfig, read_move, render_messages

DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_WAIT_S = 60.0
"""Longest single wait between attempts, whatever the backoff or ``Retry-After`` says (a game should not stall for hours)."""
SNIPPET = 300
"""How much of an error body goes into a reason (the full raw text stays in ``Move.text``)."""

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RateLimiter:
    """A token bucket shared by all request threads: at most ``rpm`` requests a minute.

    Tokens refill continuously at ``rpm / 60`` per second up to ``burst``. A
    caller takes a token even when the bucket is empty -- the balance goes
    negative -- and sleeps until its token would have arrived, so waiting
    threads are served in arrival order without polling. With ``burst=1``
    requests are spaced evenly, which is the safest reading of a provider's
    per-minute limit. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(self, rpm: float, burst: float = 1.0, clock: Clock = time.monotonic, sleep: Sleep = time.sleep):
        if rpm <= 0:
            raise ValueError("rpm must be positive")
        self.rate = rpm / 60.0
        self.burst = burst
        self.clock = clock
        self.sleep = sleep
        self._tokens = burst
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping as long as needed; returns the seconds waited."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self.sleep(wait)
        return wait


@dataclass
class Completion:
    """One chat-completions call, retries included: the text, or why there is none."""

    text: str = ""
    error: str | None = None
    """Why no usable completion came back (``HTTP 500 ...``, ``timed out ...``); None on success."""
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    latency_s: float = 0.0


class _Failure(Exception):
    """One failed attempt: what went wrong, whether trying again can help, and how long the server asked us to wait."""

    def __init__(self, reason: str, retry: bool, wait: float | None = None, body: str = ""):
        super().__init__(reason)
        self.reason, self.retry, self.wait, self.body = reason, retry, wait, body


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), or None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_message(body: str) -> str:
    """The provider's own message from an error body (``{"error": {"message": ...}}``), else the body's start."""
    try:
        error = json.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
        if isinstance(message, str) and message:
            return message[:SNIPPET]
    except (ValueError, AttributeError):
        pass
    return " ".join(body.split())[:SNIPPET]


def _http_failure(err: urllib.error.HTTPError) -> _Failure:
    """Classify an HTTP error status: 429 and 5xx are worth retrying, other 4xx are not."""
    try:
        body = err.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        body = ""
    detail = _error_message(body) or (err.reason if isinstance(err.reason, str) else "")
    reason = f"HTTP {err.code}" + (f": {detail}" if detail else "")
    retry = err.code == 429 or 500 <= err.code < 600
    wait = retry_after_seconds(err.headers.get("Retry-After")) if err.headers is not None else None
    return _Failure(reason, retry, wait, body)


def read_completion(raw: str) -> Completion:
    """Read a chat-completions response body; anything malformed becomes ``Completion.error``, never an exception."""
    try:
        payload = json.loads(raw)
    except ValueError:
        return Completion(text=raw, error=f"response is not JSON: {' '.join(raw.split())[:80]!r}")
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return Completion(text=raw, error="response has no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    finish = choices[0].get("finish_reason")
    if not isinstance(content, str):
        return Completion(text=raw, error="response has no message content", finish_reason=finish, usage=usage)
    return Completion(text=content, finish_reason=finish, usage=usage)


class ChatClient:
    """POSTs chat-completions requests with a timeout, a shared rate limit, and retries with backoff."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 1.0,
        limiter: RateLimiter | None = None,
        seed: int = 0,
        sleep: Sleep = time.sleep,
    ):
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "sparring"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.limiter = limiter
        self.sleep = sleep
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def complete(self, body: dict[str, Any]) -> Completion:
        """Send ``body`` until it succeeds, fails for good, or the retries run out; never raises."""
        start = time.monotonic()
        for attempt in range(self.retries + 1):
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                raw = self._post(body)
            except _Failure as fail:
                if not fail.retry or attempt == self.retries:
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    return Completion(fail.body, fail.reason + tries, attempts=attempt + 1, latency_s=time.monotonic() - start)
                self.sleep(self.delay(attempt, fail.wait))
                continue
            done = read_completion(raw)
            done.attempts, done.latency_s = attempt + 1, time.monotonic() - start
            return done
        raise AssertionError("unreachable: the last attempt always returns")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry ``attempt + 1``: the server's ``Retry-After``, else backoff * 2^attempt plus <= 50% jitter.

        Jitter spreads the retries of many parallel requests so they do not hit
        a recovering server at the same instant.
        """
        if retry_after is not None:
            return min(retry_after, MAX_WAIT_S)
        base = self.backoff * 2**attempt
        with self._rng_lock:
            jitter = self._rng.uniform(0.0, 0.5 * base)
        return min(base + jitter, MAX_WAIT_S)

    def _post(self, body: dict[str, Any]) -> str:
        """One attempt; returns the response body or raises :class:`_Failure` saying whether to retry."""
        request = urllib.request.Request(self.url, json.dumps(body).encode(), self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as err:
            raise _http_failure(err) from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                raise _Failure(f"timed out after {self.timeout:g}s", retry=True) from None
            raise _Failure(f"connection failed: {err.reason}", retry=True) from None
        except TimeoutError:
            raise _Failure(f"timed out after {self.timeout:g}s", retry=True) from None
        except (OSError, http.client.HTTPException) as err:
            raise _Failure(f"connection failed: {type(err).__name__}: {err}", retry=True) from None


class APIPlayer:
    """A chat-completions model as a player; a batch of decisions goes out as parallel requests."""

    def __init__(
        self,
        client: ChatClient,
        model: str,
        game: Game | None = None,
        prompt: PromptConfig | None = None,
        temperature: float = 0.7,
        max_tokens: int = 512,
        concurrency: int = 8,
        name: str | None = None,
    ):
        self.client = client
        self.model = model
        self.game = game
        self.prompt = prompt or PromptConfig()
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.concurrency = concurrency
        self.name = name or f"api:{model}"

    def request_body(self, game: Game, state: State, seat: int) -> dict[str, Any]:
        """The chat-completions request for one decision: the ``model:`` player's messages, our sampling settings."""
        return {
            "model": self.model,
            "messages": render_messages(game, state, seat, self.prompt),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def act(self, state: State, seat: int) -> Move:
        return self.act_batch([state], [seat])[0]

    def act_batch(self, states: list[State], seats: list[int]) -> list[Move]:
        if self.game is None:
            raise ValueError("APIPlayer needs a game to render prompts; pass game= or use act_batch_games")
        return self.act_batch_games([self.game] * len(states), states, seats)

    def act_batch_games(self, games: list[Game], states: list[State], seats: list[int]) -> list[Move]:
        """One request per decision, at most ``concurrency`` in flight; moves come back in input order."""
        bodies = [self.request_body(g, s, seat) for g, s, seat in zip(games, states, seats, strict=True)]
        if len(bodies) == 1:
            completions = [self.client.complete(bodies[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(bodies))) as pool:
                completions = list(pool.map(self.client.complete, bodies))
        return [self.to_move(c, s) for c, s in zip(completions, states, strict=True)]

    def to_move(self, done: Completion, state: State) -> Move:
        """Turn a completion into a move: an API failure or an unparsable answer is an invalid move with its reason."""
        info = {
            "model": self.model,
            "attempts": done.attempts,
            "latency_s": round(done.latency_s, 4),
            "usage": done.usage,
            "finish_reason": done.finish_reason,
        }
        if done.error is not None:
            return Move(None, f"api error: {done.error}", done.text, info)
        parsed = read_move(done.text, state.legal_actions(), self.prompt, truncated=done.finish_reason == "length")
        return Move(parsed.action, parsed.reason, done.text, info)


def _api_key(key_env: str) -> str | None:
    """The key from the environment variable ``key_env``; ``none`` means a server without auth."""
    if key_env.lower() == "none":
        return None
    key = os.environ.get(key_env, "").strip()
    if not key:
        raise UserError(
            f"api player: environment variable {key_env} is not set; export it, "
            f"or pass key_env=NAME (or key_env=none for a local server without auth)"
        )
    return key


def _check_settings(base_url: str, answer_format: str, style: str, numbers: dict[str, tuple[float, float]]) -> None:
    """Refuse settings that cannot work, in one line, before any request is sent."""
    if not base_url.startswith(("http://", "https://")):
        raise UserError(f"api player: base_url must start with http:// or https://, not {base_url!r}")
    if answer_format not in INSTRUCTIONS:
        raise UserError(f"api player: answer_format must be one of {', '.join(INSTRUCTIONS)}, not {answer_format!r}")
    if style not in PROMPT_STYLES:
        raise UserError(f"api player: style must be one of {', '.join(PROMPT_STYLES)}, not {style!r}")
    if style == "spiral" and answer_format != "boxed":
        raise UserError(f"api player: style=spiral answers in \\boxed{{}}; drop answer_format={answer_format}")
    for key, (value, low) in numbers.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < low:
            raise UserError(f"api player: {key} must be a number >= {low:g}, not {value!r}")


def make_api_player(
    game: Game,
    seed: int = 0,
    model: str = "",
    base_url: str = DEFAULT_BASE_URL,
    key_env: str = "OPENAI_API_KEY",
    temperature: float = 0.7,
    max_tokens: int = 512,
    timeout: float = 30.0,
    retries: int = 4,
    rpm: float = 60.0,
    concurrency: int = 8,
    answer_format: str = "boxed",
    backoff: float = 1.0,
    style: str = "sparring",
) -> APIPlayer:
    """Factory for ``api:MODEL[,base_url=..,key_env=..,temperature=..,max_tokens=..,timeout=..,retries=..,rpm=..]``.

    ``rpm=0`` turns the client-side rate limit off (a local server needs none);
    ``backoff`` is the first retry's wait in seconds, doubled each retry.
    """
    model = str(model).strip()
    if not model:
        raise UserError("api player: name the model, e.g. api:gpt-4o-mini or api:Qwen/Qwen3-4B,base_url=http://localhost:8000/v1")
    base_url = str(base_url)
    _check_settings(
        base_url,
        answer_format,
        style,
        {
            "temperature": (temperature, 0),
            "max_tokens": (max_tokens, 1),
            "timeout": (timeout, 0.001),
            "retries": (retries, 0),
            "rpm": (rpm, 0),
            "concurrency": (concurrency, 1),
            "backoff": (backoff, 0),
        },
    )
    limiter = RateLimiter(rpm) if rpm > 0 else None
    client = ChatClient(base_url, _api_key(str(key_env)), timeout, int(retries), backoff, limiter, seed)
    prompt = PromptConfig(answer_format=answer_format, style=style)  # type: ignore[arg-type]  # checked above
    return APIPlayer(client, model, game, prompt, temperature, int(max_tokens), int(concurrency))
