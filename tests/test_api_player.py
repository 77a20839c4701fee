"""The ``api:`` player against a real local HTTP server that plays a scripted OpenAI-compatible API.

The server runs in a background thread on 127.0.0.1 (ephemeral port); each
test scripts its replies -- good answers, 500s, 429s, hangs, garbage -- and
checks what the player sent and what move came out. No real API is called.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sparring.errors import UserError
from sparring.evaluate.arena import summarize
from sparring.games import make_game
from sparring.players import APIPlayer, make_player
from sparring.players.api import ChatClient, RateLimiter, retry_after_seconds
from sparring.rollout import play_games

KEY_ENV = "SPARRING_TEST_API_KEY"


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to stall before answering (cut short when the test ends)."""


def answer(text: str, finish_reason: str = "stop") -> Reply:
    """A well-formed chat-completions response carrying ``text``."""
    payload = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57},
    }
    return Reply(body=json.dumps(payload))


def first_legal(body: dict[str, Any]) -> str:
    """The first legal move listed in the observation the player sent (so a scripted server plays legally)."""
    observation = body["messages"][-1]["content"]
    return re.search(r"Legal moves: (.*)", observation).group(1).split(", ")[0]


class FakeAPI:
    """A chat-completions endpoint whose replies come from ``script(index, body)``; it records every request."""

    def __init__(self, script: Callable[[int, dict[str, Any]], Reply]):
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.fake = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def record(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        with self._lock:
            self.requests.append({"path": path, "body": body, "headers": headers})
            self.arrivals.append(time.monotonic())
            return len(self.requests) - 1

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        fake: FakeAPI = self.server.fake  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.loads(raw)
        index = fake.record(self.path, body, {k.lower(): v for k, v in self.headers.items()})
        reply = fake.script(index, body)
        if reply.delay and fake.release.wait(reply.delay):
            return
        data = reply.body.encode()
        try:
            self.send_response(reply.status)
            for key, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve(monkeypatch) -> Iterator[Callable[..., FakeAPI]]:
    """Start a fake API with a script; every server is shut down after the test."""
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers: list[FakeAPI] = []

    def start(script: Callable[[int, dict[str, Any]], Reply]) -> FakeAPI:
        servers.append(FakeAPI(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def ttt():
    return make_game("tic_tac_toe")


def api_player(game, server: FakeAPI, extra: str = "", record_waits: list[float] | None = None) -> APIPlayer:
    """The player as a user builds it, from a spec string; ``rpm=0`` and ``backoff=0`` unless ``extra`` says otherwise."""
    spec = f"api:test-model,base_url={server.url},key_env={KEY_ENV},rpm=0,backoff=0"
    player = make_player(spec + (f",{extra}" if extra else ""), game, seed=0)
    assert isinstance(player, APIPlayer)
    if record_waits is not None:
        player.client.sleep = record_waits.append  # record the backoff instead of waiting it out
    return player


# -- a well-behaved server ----------------------------------------------------


def test_sends_rules_observation_settings_and_key_and_plays_the_answer(serve, ttt):
    server = serve(lambda i, body: answer("The centre is strongest. \\boxed{4}"))
    player = api_player(ttt, server, "temperature=0.2,max_tokens=64")
    state = ttt.new_state(0)
    move = player.act(state, 0)
    assert (move.action, move.reason) == ("4", None)
    assert move.text == "The centre is strongest. \\boxed{4}"
    assert move.info["usage"]["total_tokens"] == 57 and move.info["attempts"] == 1 and move.info["latency_s"] >= 0
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test-123"
    body = request["body"]
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("test-model", 0.2, 64)
    system, user = body["messages"]
    assert system["role"] == "system" and ttt.describe() in system["content"] and "\\boxed{}" in system["content"]
    assert user == {"role": "user", "content": state.observation(0)}


def test_answer_spelled_loosely_maps_to_the_legal_move_and_no_answer_is_invalid(serve, ttt):
    replies = ["\\boxed{[7]}", "I would rather not say."]
    server = serve(lambda i, body: answer(replies[i]))
    player = api_player(ttt, server, "concurrency=1")
    loose, silent = player.act_batch([ttt.new_state(0), ttt.new_state(1)], [0, 0])
    assert loose.action == "7"
    assert silent.action is None and silent.reason == "no \\boxed{} answer found"
    assert silent.text == "I would rather not say."


def test_spiral_style_sends_one_user_turn_and_reads_answers_strictly(serve, ttt):
    replies = ["Centre. \\boxed{ 4 }", "Centre. \\boxed{4}", "4"]
    server = serve(lambda i, body: answer(replies[i]))
    player = api_player(ttt, server, "concurrency=1,style=spiral")
    state = ttt.new_state(0)
    spaced, boxed, bare = player.act_batch([state] * 3, [0] * 3)
    assert spaced.action is None and "'[ 4 ]'" in spaced.reason  # SPIRAL keeps inner spaces: [ 4 ] is not [4]
    assert (boxed.action, bare.action) == ("4", "4")  # a bare short answer is wrapped as [4]
    [user] = server.requests[0]["body"]["messages"]
    assert user["role"] == "user" and ttt.describe() in user["content"] and state.observation(0) in user["content"]
    assert user["content"].endswith("Please reason step by step, and put your final answer within \\boxed{}.")


def test_key_env_none_sends_no_authorization(serve, ttt):
    server = serve(lambda i, body: answer("\\boxed{0}"))
    player = make_player(f"api:local,base_url={server.url},key_env=none,rpm=0", ttt)
    assert player.act(ttt.new_state(0), 0).action == "0"
    assert "authorization" not in server.requests[0]["headers"]


def test_missing_key_is_a_user_error_naming_the_variable(monkeypatch, ttt):
    monkeypatch.delenv("SPARRING_NO_SUCH_KEY", raising=False)
    with pytest.raises(UserError, match="SPARRING_NO_SUCH_KEY"):
        make_player("api:gpt-4o-mini,key_env=SPARRING_NO_SUCH_KEY", ttt)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("api", "name the model"),
        ("api:m,key_env=none,base_url=localhost:8000", "base_url"),
        ("api:m,key_env=none,concurrency=0", "concurrency"),
        ("api:m,key_env=none,answer_format=json", "answer_format"),
        ("api:m,key_env=none,style=r1", "style must be one of sparring, spiral"),
        ("api:m,key_env=none,style=spiral,answer_format=brackets", "style=spiral answers in"),
    ],
)
def test_bad_settings_are_one_line_user_errors(spec, message, ttt):
    with pytest.raises(UserError, match=message):
        make_player(spec, ttt)


# -- failures, retries and backoff ------------------------------------------


def test_two_server_errors_then_success_plays_the_move_after_backing_off(serve, ttt):
    server = serve(lambda i, body: Reply(500, '{"error": {"message": "overloaded"}}') if i < 2 else answer("\\boxed{2}"))
    waits: list[float] = []
    move = api_player(ttt, server, "backoff=0.1", waits).act(ttt.new_state(0), 0)
    assert move.action == "2" and move.info["attempts"] == 3
    assert len(server.requests) == 3
    assert 0.1 <= waits[0] <= 0.15 and 0.2 <= waits[1] <= 0.3  # doubled each retry, plus at most 50% jitter


def test_a_server_that_always_fails_gives_an_invalid_move_after_exactly_retries_plus_one_requests(serve, ttt):
    server = serve(lambda i, body: Reply(500, '{"error": {"message": "boom"}}'))
    move = api_player(ttt, server, "retries=2").act(ttt.new_state(0), 0)
    assert move.action is None
    assert move.reason == "api error: HTTP 500: boom (after 3 attempts)"
    assert len(server.requests) == 3


def test_client_errors_are_not_retried(serve, ttt):
    server = serve(lambda i, body: Reply(401, '{"error": {"message": "Incorrect API key provided"}}'))
    move = api_player(ttt, server, "retries=4").act(ttt.new_state(0), 0)
    assert move.action is None and "401" in move.reason and "Incorrect API key" in move.reason
    assert len(server.requests) == 1


def test_rate_limited_request_waits_as_long_as_retry_after_says(serve, ttt):
    server = serve(lambda i, body: Reply(429, '{"error": "slow down"}', {"Retry-After": "3"}) if i == 0 else answer("\\boxed{5}"))
    waits: list[float] = []
    move = api_player(ttt, server, "backoff=0.1", waits).act(ttt.new_state(0), 0)
    assert move.action == "5"
    assert waits == [3.0]
    assert len(server.requests) == 2


def test_a_hanging_server_times_out_quickly_into_an_invalid_move(serve, ttt):
    server = serve(lambda i, body: Reply(delay=30.0))
    start = time.monotonic()
    move = api_player(ttt, server, "timeout=0.3,retries=1").act(ttt.new_state(0), 0)
    elapsed = time.monotonic() - start
    assert move.action is None and move.reason == "api error: timed out after 0.3s (after 2 attempts)"
    assert len(server.requests) == 2
    assert elapsed < 2.0


def test_an_unreachable_server_gives_an_invalid_move_not_an_exception(monkeypatch, ttt):
    monkeypatch.setenv(KEY_ENV, "sk-test-123")
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    player = make_player(f"api:m,base_url=http://127.0.0.1:{port}/v1,key_env={KEY_ENV},rpm=0,backoff=0,retries=1", ttt)
    move = player.act(ttt.new_state(0), 0)
    assert move.action is None and move.reason.startswith("api error: connection failed")
    assert move.info["attempts"] == 2


@pytest.mark.parametrize(
    "reply, reason",
    [
        (Reply(body="<html>502 Bad Gateway</html>"), "api error: response is not JSON: '<html>502 Bad Gateway</html>'"),
        (Reply(body='{"object": "error"}'), "api error: response has no choices"),
        (Reply(body='{"choices": []}'), "api error: response has no choices"),
        (
            Reply(body='{"choices": [{"message": {"role": "assistant", "content": null}}]}'),
            "api error: response has no message content",
        ),
    ],
)
def test_garbage_responses_become_invalid_moves_with_a_clear_reason(serve, ttt, reply, reason):
    server = serve(lambda i, body: reply)
    move = api_player(ttt, server).act(ttt.new_state(0), 0)
    assert (move.action, move.reason) == (None, reason)
    assert move.text == reply.body
    assert len(server.requests) == 1


def test_backoff_grows_exponentially_with_bounded_jitter_and_is_capped():
    client = ChatClient("http://127.0.0.1:1/v1", None, backoff=1.0, seed=3)
    for attempt in range(4):
        assert 2**attempt <= client.delay(attempt) <= 1.5 * 2**attempt
    assert client.delay(20) == 60.0
    assert client.delay(0, retry_after=7.0) == 7.0 and client.delay(0, retry_after=1e6) == 60.0


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    now = time.time()
    assert 28 <= retry_after_seconds(formatdate(now + 30, usegmt=True), now=now) <= 31


# -- rate limit and concurrency ----------------------------------------------


class FakeClock:
    """Time that passes only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_spaces_requests_evenly_at_the_requested_rate():
    clock = FakeClock()
    limiter = RateLimiter(rpm=120, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(5):
        limiter.acquire()
        times.append(clock.now)
    assert times == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


def test_rate_limiter_saves_no_more_than_its_burst_while_idle():
    clock = FakeClock()
    limiter = RateLimiter(rpm=60, burst=3, clock=clock, sleep=clock.sleep)
    clock.now = 100.0  # a long idle spell refills the bucket, but only to 3
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.0, 0.0, 1.0, 1.0])


def test_rate_limit_is_shared_by_parallel_requests(serve, ttt):
    server = serve(lambda i, body: answer(f"\\boxed{{{first_legal(body)}}}"))
    player = api_player(ttt, server, "rpm=600,concurrency=5")  # one request every 0.1 s, however many threads
    start = time.monotonic()
    moves = player.act_batch([ttt.new_state(s) for s in range(5)], [0] * 5)
    assert all(m.action == "0" for m in moves)
    assert time.monotonic() - start >= 0.38
    gaps = [b - a for a, b in zip(sorted(server.arrivals), sorted(server.arrivals)[1:], strict=False)]
    assert min(gaps) >= 0.08


def test_a_batch_goes_out_in_parallel_and_comes_back_in_input_order(serve, ttt):
    states, seats = [], []
    for k in range(4):  # state k has moves 0..k-1 played, so its first legal move is k
        state = ttt.new_state(k)
        for move in range(k):
            state.apply(str(move))
        states.append(state)
        seats.append(state.current_player)

    def slowest_first(i: int, body: dict[str, Any]) -> Reply:
        move = first_legal(body)
        reply = answer(f"\\boxed{{{move}}}")
        reply.delay = 0.6 - 0.1 * int(move)  # replies finish in reverse input order
        return reply

    server = serve(slowest_first)
    player = api_player(ttt, server, "concurrency=4")
    start = time.monotonic()
    moves = player.act_batch(states, seats)
    elapsed = time.monotonic() - start
    assert [m.action for m in moves] == ["0", "1", "2", "3"]
    assert elapsed < 1.2  # one after another would take 1.8 s
    assert len(server.requests) == 4


# -- in a match ---------------------------------------------------------------


def test_arena_match_against_random_finishes_and_counts_garbage_as_invalid_moves(serve, ttt):
    garbage: list[int] = []

    def mostly_legal(i: int, body: dict[str, Any]) -> Reply:
        if i % 4 == 3:
            garbage.append(i)
            return Reply(body="not json at all")
        return answer(f"I take the first free cell. \\boxed{{{first_legal(body)}}}")

    server = serve(mostly_legal)
    player = api_player(ttt, server)
    records = play_games(ttt, [player, make_player("random", ttt, 1)], num_games=8, seed=0)
    assert len(records) == 8 and not any(r.truncated for r in records)
    stats = summarize(records, ["api", "random"])
    assert garbage, "the script should have served some garbage"
    assert round(stats["api"]["invalid"] * 8) == len(garbage)
    assert stats["random"]["invalid"] == 0.0
    invalid = [r for r in records if r.invalid_seat is not None]
    assert all(r.invalid_reason.startswith("api error: response is not JSON") for r in invalid)
    assert len(server.requests) == sum(t.seat == r.seating.index(0) for r in records for t in r.turns)
