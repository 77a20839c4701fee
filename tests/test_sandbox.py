"""Hostile programs in the sandbox: each ends as a clean verdict, the test process survives, nothing outside changes.

Every program runs in each isolation layer this machine has (``bwrap`` when
bubblewrap can build namespaces here, and always the ``rlimits`` fallback).
Some run a second time with the audit hook off, to show that the kernel, not
the hook, is what stops them where the layer claims it does.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import pytest

from sparring.errors import UserError
from sparring.sandbox import Limits, RunResult, choose, isolation, run_python

REPO = Path(__file__).resolve().parent.parent
FAST = Limits(wall_seconds=1.5, cpu_seconds=1)
RUNNER_MARK = "The trusted first half of a sandboxed process"


def _layers() -> list:
    out = []
    try:
        choose("bwrap")
        out.append("bwrap")
    except UserError as err:
        out.append(pytest.param("bwrap", marks=pytest.mark.skip(reason=f"bubblewrap unavailable here: {err}")))
    return [*out, "rlimits"]


@pytest.fixture(params=_layers())
def layer(request) -> str:
    return request.param


@pytest.fixture
def world(tmp_path):
    """A canary file, a secret, and a way to assert that none of it (nor the repo) changed or leaked."""
    canary = tmp_path / "canary.txt"
    canary.write_text("canary")
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-42")
    before = _snapshot(tmp_path)
    repo_before = sorted(p.name for p in REPO.iterdir())

    class World:
        def __init__(self):
            self.dir, self.canary, self.secret = tmp_path, canary, secret

        def unchanged(self, result: RunResult) -> None:
            assert _snapshot(tmp_path) == before, "a file outside the sandbox changed"
            assert sorted(p.name for p in REPO.iterdir()) == repo_before, "the repository changed"
            assert "TOPSECRET" not in result.stdout + result.detail, "a secret leaked into the output"
            assert _no_runner_within(seconds=3.0), "a sandboxed process outlived its run"

    return World()


def _snapshot(directory: Path) -> dict[str, tuple[int, int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size, p.read_bytes()) for p in sorted(directory.iterdir())}


def _no_runner_within(seconds: float) -> bool:
    """No runner process left, allowing the kernel a moment: SIGKILL is immediate, but a killed process that
    holds hundreds of MB (deep recursion) takes a while to release them, under load longer."""
    deadline = time.monotonic() + seconds
    while _live_runners():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _live_runners() -> list[int]:
    """Processes still running the sandbox runner (zombies waiting for init to reap them are not running)."""
    live = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = (proc / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if RUNNER_MARK in cmdline and state != "Z":
            live.append(int(proc.name))
    return live


def hostile(source: str, layer: str, **limits) -> RunResult:
    result = run_python(source, Limits(**{**FAST.__dict__, **limits}), layer)
    assert result.isolation == layer
    return result


# ----------------------------------------------------------------------------- the good case
def test_a_plain_program_runs_and_its_output_comes_back(layer):
    result = hostile("import math\nprint(math.factorial(5))", layer)
    assert (result.ok, result.reason, result.stdout) == (True, "ok", "120\n")


def test_the_working_directory_is_empty_and_writable(layer):
    result = hostile("import os\nprint(os.listdir('.'))\nopen('x.txt', 'w').write('hi')\nprint(open('x.txt').read())", layer)
    assert result.ok and result.stdout == "[]\nhi\n"


# ----------------------------------------------------------------------------- resource exhaustion
@pytest.mark.parametrize("audit", [True, False])
def test_fork_bomb_is_refused(layer, world, audit):
    result = hostile("import os\nwhile True:\n    os.fork()", layer, audit=audit)
    assert not result.ok and result.reason == ("forbidden" if audit else "crashed")
    if not audit:
        assert "Resource temporarily unavailable" in result.detail  # the kernel's process limit, not the hook
    world.unchanged(result)


def test_infinite_loop_times_out_on_the_wall_clock(layer, world):
    result = hostile("while True:\n    pass", layer, wall_seconds=1.0, cpu_seconds=5)
    assert result.reason == "timeout" and result.seconds < 2.0
    world.unchanged(result)


def test_cpu_limit_ends_a_busy_loop_before_the_wall_clock(layer):
    result = hostile("while True:\n    pass", layer, wall_seconds=20.0, cpu_seconds=1)
    assert result.reason == "timeout" and "CPU" in result.detail and result.seconds < 20.0


def test_sleeping_forever_times_out(layer, world):
    result = hostile("import time\ntime.sleep(60)", layer, wall_seconds=1.0)
    assert result.reason == "timeout" and result.seconds < 2.0
    world.unchanged(result)


def test_memory_hog_hits_the_address_space_limit(layer, world):
    result = hostile("x = bytearray(8 * 1024 ** 3)\nprint(len(x))", layer)
    assert (result.ok, result.reason, result.stdout) == (False, "memory", "")
    world.unchanged(result)


def test_gigabytes_of_output_are_cut_at_the_limit(layer, world):
    result = hostile("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", layer, max_output_bytes=100_000)
    assert result.reason == "output_limit" and len(result.stdout) <= 100_000 and result.seconds < 1.5
    world.unchanged(result)


def test_deep_recursion_crashes_cleanly(layer, world):
    source = "import sys\nsys.setrecursionlimit(10 ** 7)\ndef f(n):\n    return f(n + 1)\nf(0)"
    result = hostile(source, layer)
    # Python 3.11 keeps Python frames off the C stack, so this ends on whichever limit comes first
    assert not result.ok and result.reason in ("crashed", "memory", "timeout")
    world.unchanged(result)
    plain = hostile("def f(n):\n    return f(n + 1)\nf(0)", layer)
    assert plain.reason == "crashed" and "RecursionError" in plain.detail


def test_a_large_file_is_stopped_by_the_file_size_limit(layer, world):
    result = hostile("open('big', 'wb').write(b'x' * (4 << 20))", layer, file_bytes=1 << 20)
    assert not result.ok and result.reason == "crashed"
    world.unchanged(result)


# ----------------------------------------------------------------------------- the file system
def test_writing_outside_the_working_directory_changes_nothing(layer, world):
    for path in (world.canary, world.dir / "new.txt", REPO / "PWNED"):
        result = hostile(f"open({str(path)!r}, 'w').write('pwned')", layer)
        assert not result.ok
        world.unchanged(result)


def test_bwrap_keeps_the_host_out_of_reach_even_without_the_hook(world):
    if "bwrap" not in [p if isinstance(p, str) else None for p in _layers()]:
        pytest.skip("bubblewrap unavailable here")
    source = f"import os\nprint(sorted(os.listdir('/')))\nopen({str(world.canary)!r}, 'w').write('pwned')"
    result = hostile(source, "bwrap", audit=False)
    assert "work" not in result.stdout and "root" not in result.stdout and "etc" not in result.stdout
    assert not result.ok and "No such file or directory" in result.detail
    world.unchanged(result)


def test_project_files_home_keys_and_secrets_cannot_be_read(layer, world):
    for path in (world.secret, REPO / "sparring" / "__init__.py", Path.home() / ".ssh" / "id_rsa", Path("/etc/passwd")):
        result = hostile(f"print(open({str(path)!r}).read())", layer)
        assert not result.ok and result.stdout == ""
        world.unchanged(result)


def test_symlinks_out_of_the_working_directory_do_not_help(layer, world):
    result = hostile(f"import os\nos.symlink({str(world.secret)!r}, 'link')\nprint(open('link').read())", layer)
    assert not result.ok
    world.unchanged(result)


# ----------------------------------------------------------------------------- network, processes, signals
@pytest.mark.parametrize("audit", [True, False])
def test_no_connection_reaches_a_listening_socket(layer, world, audit):
    if layer == "rlimits" and not audit:
        pytest.skip("the fallback has the host's network; only the hook refuses sockets there (documented)")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        result = hostile(
            f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=0.5)\nprint('in')", layer, audit=audit
        )
        assert not result.ok and "in" not in result.stdout
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    world.unchanged(result)


def test_spawning_a_shell_is_refused(layer, world):
    marker = world.dir / "shell-was-here"
    for source in (
        f"import subprocess\nsubprocess.run(['sh', '-c', 'touch {marker}'])",
        f"import os\nos.system('touch {marker}')",
        f"import os\nos.execv('/bin/sh', ['sh', '-c', 'touch {marker}'])",
        f"import os\nos.posix_spawn('/bin/sh', ['sh', '-c', 'touch {marker}'], {{}})",
    ):
        result = hostile(source, layer)
        assert not result.ok and not marker.exists()
        world.unchanged(result)


def test_killing_the_parent_or_this_test_fails(layer, world):
    for target in ("os.getppid()", str(os.getpid()), "0", "-1"):
        result = hostile(f"import os, signal\nos.kill({target}, signal.SIGKILL)", layer)
        assert not result.ok
        world.unchanged(result)  # and this test process is still here to check


def test_ctypes_is_refused(layer):
    result = hostile("import ctypes\nctypes.CDLL(None).kill(1, 9)", layer)
    assert result.reason == "forbidden"


# ----------------------------------------------------------------------------- tricks with the exit and the output
def test_exit_tricks_never_turn_a_failure_into_success(layer, world):
    assert hostile("print(42)\nimport sys\nsys.exit(5)", layer).reason == "crashed"
    assert hostile("print(42)\nraise SystemExit('boom')", layer).reason == "crashed"
    assert hostile("import sys\nsys.stdout.close()", layer).reason == "crashed"
    # replacing the exit function does not keep the process alive or fake anything: the runner kept its own
    result = hostile("import os\nos._exit = lambda code: None\nprint(1)", layer)
    assert (result.reason, result.stdout) == ("ok", "1\n")
    # a clean sys.exit(0) is a clean end, with the output printed so far
    assert hostile("print(7)\nimport sys\nsys.exit(0)", layer).stdout == "7\n"
    world.unchanged(result)


def test_odd_bytes_in_the_output_come_back_as_safe_text(layer):
    source = "import sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\x00\\x1b[2J\\xed\\xa0\\x80 \\xd9\\xa4\\xd9\\xa2\\r\\n')"
    result = hostile(source, layer)
    assert result.ok
    result.stdout.encode("utf-8")  # no lone surrogates: every bad byte became U+FFFD
    assert "\ufffd" in result.stdout and "\u0664\u0662" in result.stdout


def test_an_oversized_program_is_refused(layer):
    result = hostile("x = 1\n" * 20_000, layer, max_source_bytes=1000)
    assert result.reason == "crashed" and "too long" in result.detail


# ----------------------------------------------------------------------------- choosing the layer
def test_missing_bubblewrap_falls_back_to_rlimits_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(isolation, "find_bwrap", lambda: None)
    isolation._bwrap_layer.cache_clear()
    isolation._warn_fallback.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="sparring.sandbox"):
            assert choose("auto").name == "rlimits"
        assert "not a security boundary" in caplog.text
        with pytest.raises(UserError, match="bwrap is not available"):
            choose("bwrap")
    finally:
        isolation._bwrap_layer.cache_clear()
        isolation._warn_fallback.cache_clear()


def test_an_unknown_isolation_is_one_line_error():
    with pytest.raises(UserError, match="unknown sandbox isolation 'docker'"):
        choose("docker")
