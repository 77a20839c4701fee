"""Run one untrusted program in the sandbox and say, in one word, how it ended.

The parent side: start the layer's process in its own session, feed the
program on stdin, read at most ``max_output_bytes`` of stdout (killing the
process group the moment there is more), keep the last bytes of stderr, stop
everything at the wall-clock deadline, and classify the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sparring.sandbox.isolation import Isolation, choose, popen_user

RUNNER = (Path(__file__).parent / "runner.py").read_text()
EXIT_RAISED, EXIT_MEMORY, EXIT_FORBIDDEN = 1, 3, 4  # the runner's codes
Reason = Literal["ok", "timeout", "memory", "output_limit", "crashed", "forbidden"]


@dataclass(frozen=True)
class Limits:
    """What one run may use. The defaults suit short proposed programs; each is enforced by the kernel
    (rlimits, tmpfs size) or by the parent (wall clock, output), never by the program's goodwill."""

    wall_seconds: float = 2.0
    """Wall clock, after which the whole process group (the whole namespace under bubblewrap) is killed."""
    cpu_seconds: int = 1
    """RLIMIT_CPU: SIGXCPU at this many CPU seconds, SIGKILL one later."""
    memory_bytes: int = 256 << 20
    """RLIMIT_AS: the address space; allocation beyond it fails (MemoryError)."""
    file_bytes: int = 1 << 20
    """RLIMIT_FSIZE: the largest file it may write (SIGXFSZ beyond)."""
    tmp_bytes: int = 8 << 20
    """Size of the working directory's tmpfs under bubblewrap (all files together)."""
    open_files: int = 32
    """RLIMIT_NOFILE."""
    processes: int = 1
    """RLIMIT_NPROC: 1 means the program can start no process or thread at all (it needs none)."""
    max_output_bytes: int = 64 << 10
    """stdout read at most; one byte more kills the run (``output_limit``)."""
    max_source_bytes: int = 64 << 10
    audit: bool = True
    """Arm the audit hook (a tripwire that ends the run at the first network, process or outside-file call)."""


@dataclass(frozen=True)
class RunResult:
    """How a sandboxed run ended. ``ok`` only for a clean exit 0 within every limit."""

    ok: bool
    reason: Reason
    stdout: str
    """What it printed (at most ``max_output_bytes``), decoded as UTF-8 with bad bytes replaced."""
    detail: str = ""
    """Why, in words: the exit code or signal and the end of stderr."""
    seconds: float = 0.0
    isolation: str = ""
    """The layer it ran in: ``bwrap`` or ``rlimits``."""


def run_python(source: str, limits: Limits = Limits(), isolation: Isolation = "auto") -> RunResult:
    """Run ``source`` as a Python program in the sandbox; never raises for anything the program does."""
    layer = choose(isolation, limits.tmp_bytes)
    encoded = source.encode("utf-8", "surrogatepass")
    if len(encoded) > limits.max_source_bytes:  # refused before a process starts (the runner checks again)
        return RunResult(False, "crashed", "", f"program too long ({len(encoded)} bytes)", 0.0, layer.name)
    host_dir = None
    if layer.workdir is None:  # rlimits: an empty host directory of its own, handed to the sandbox user
        host_dir = tempfile.mkdtemp(prefix="sparring-sandbox-")
        if layer.user is not None:
            os.chown(host_dir, *layer.user)
    workdir = layer.workdir or host_dir
    config = {
        "workdir": workdir,
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_bytes,
        "file_bytes": limits.file_bytes,
        "open_files": limits.open_files,
        "processes": limits.processes,
        "max_source_bytes": limits.max_source_bytes,
        "audit": limits.audit,
    }
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": workdir}
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [*layer.prefix, layer.python, "-I", "-S", "-c", RUNNER, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=host_dir or "/",
            env=env,
            start_new_session=True,
            close_fds=True,
            **popen_user(layer),
        )
        try:
            out, err, why = _communicate(proc, encoded, limits)
        finally:
            _kill_group(proc)
        seconds = time.monotonic() - started
        reason, detail = _classify(proc.returncode, why, err)
        return RunResult(reason == "ok", reason, out.decode("utf-8", "replace"), detail, round(seconds, 3), layer.name)
    finally:
        if host_dir is not None:
            shutil.rmtree(host_dir, ignore_errors=True)


def _communicate(proc: subprocess.Popen, source: bytes, limits: Limits) -> tuple[bytes, bytes, str | None]:
    """stdout (capped), the tail of stderr, and ``timeout`` / ``output_limit`` if the parent had to stop it."""
    try:
        proc.stdin.write(source)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # it died before reading: its exit code says why
    deadline = time.monotonic() + limits.wall_seconds
    out, err = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    why = None
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            why = "timeout"
            break
        for key, _ in sel.select(timeout=left):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            key.data.extend(chunk)
            if key.data is err and len(err) > 8192:
                del err[:-4096]  # keep the tail, keep draining
        if len(out) > limits.max_output_bytes:
            why = "output_limit"
            break
    sel.close()
    if why is None:
        try:
            proc.wait(timeout=max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            why = "timeout"  # closed its output but kept running
    return bytes(out[: limits.max_output_bytes]), bytes(err[-2000:]), why


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the run's whole session (under bubblewrap the namespace's init dies, and with it everything inside)."""
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill()
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        stream.close()


def _classify(code: int, why: str | None, err: bytes) -> tuple[Reason, str]:
    tail = err.decode("utf-8", "replace").strip()[-500:]
    if why is not None:
        return why, f"stopped by the parent ({why})"  # type: ignore[return-value]
    if code == 0:
        return "ok", ""
    if code == EXIT_MEMORY:
        return "memory", "MemoryError: the address-space limit was reached"
    if code == EXIT_FORBIDDEN:
        return "forbidden", tail
    signum = -code if code < 0 else code - 128 if code > 128 else 0  # bubblewrap reports a signal as 128 + n
    if signum:
        sig = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        if signum in (signal.SIGXCPU, signal.SIGKILL):
            return "timeout", f"killed by {sig} (CPU time limit)"
        return "crashed", f"killed by {sig}" + (" (file size limit)" if signum == signal.SIGXFSZ else "")
    return "crashed", f"exit code {code}: {tail}"
